"""Date arithmetic in SQL that reads the same on SQLite and PostgreSQL.

SQLite keeps dates as ISO text and has no date subtraction; PostgreSQL subtracts dates natively.
One construct, compiled per dialect, keeps the rules that count days free of dialect checks.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Date, Integer, String, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

__all__ = ["days_between", "period_key", "utc_day"]


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


class _month_of(FunctionElement[str]):
    type = String()
    name = "month_of"
    inherit_cache = True


class _quarter_of(FunctionElement[str]):
    type = String()
    name = "quarter_of"
    inherit_cache = True


def period_key(day: Any, granularity: str) -> FunctionElement[str]:
    """The month (2025-07) or quarter (2025-Q3) a date falls in, named as the KPI periods are."""
    return {"month": _month_of, "quarter": _quarter_of}[granularity](day)


@compiles(_month_of, "postgresql")
def _month_postgresql(element: _month_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM')"


@compiles(_month_of, "sqlite")
def _month_sqlite(element: _month_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)})"


@compiles(_quarter_of, "postgresql")
def _quarter_postgresql(element: _quarter_of, compiler: SQLCompiler, **kw: Any) -> str:
    day = compiler.process(element.clauses, **kw)
    return f"(to_char({day}, 'YYYY') || '-Q' || to_char({day}, 'Q'))"


@compiles(_quarter_of, "sqlite")
def _quarter_sqlite(element: _quarter_of, compiler: SQLCompiler, **kw: Any) -> str:
    day = compiler.process(element.clauses, **kw)
    return f"(strftime('%Y', {day}) || '-Q' || ((CAST(strftime('%m', {day}) AS INTEGER) + 2) / 3))"
