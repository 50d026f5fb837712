"""Date arithmetic in SQL that reads the same on SQLite and PostgreSQL.

SQLite keeps dates as ISO text and has no date subtraction; PostgreSQL subtracts dates natively.
One construct, compiled per dialect, keeps the rules that count days free of dialect checks.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Date, Integer, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

__all__ = ["days_between", "utc_day"]


class days_between(FunctionElement[int]):
    """Whole days from `start` to `end` (negative when `end` is earlier); dates or date columns."""

    type = Integer()
    name = "days_between"
    inherit_cache = True

    def __init__(self, start: Any, end: Any) -> None:
        super().__init__(*(literal(d, Date()) if isinstance(d, date) else d for d in (start, end)))


def _ends(element: days_between, compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    start, end = element.clauses
    return compiler.process(start, **kw), compiler.process(end, **kw)


@compiles(days_between, "postgresql")
def _postgresql(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = _ends(element, compiler, **kw)
    return f"({end} - {start})"  # date - date is an integer number of days


@compiles(days_between, "sqlite")
def _sqlite(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = _ends(element, compiler, **kw)
    return f"CAST(julianday({end}) - julianday({start}) AS INTEGER)"


class utc_day(FunctionElement[date]):
    """The UTC calendar day of an instant column (UtcDateTime): the day it happened, wherever the server is."""

    type = Date()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(timezone('UTC', {compiler.process(element.clauses, **kw)}) AS DATE)"


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"  # stored as UTC text
