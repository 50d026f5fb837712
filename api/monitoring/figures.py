"""Progress figures of a set of assignments, defined once in SQL: counts, then rates from the counts.

Every rollup, per-child table and ranking aggregates assignments with `counts()` and derives
its rates with `rates()` from those counts (never from other rates), so a total and the rows it
sums can be recomputed from one another, and a ranking orders by exactly the figure a rollup
shows. Definitions (also in the README):

- completion rate = completed / (total - cancelled): cancelled work is not owed;
- on-time rate = completed by the original due date / completed;
- completed within extension: after the original due date, by the extended one; late: after both;
- overdue: open (not started, in progress) and due before today;
- average progress = sum of progress / (total - cancelled), in percent.

Rates are fractions rounded to 4 places (half away from zero), averages to 2; null when the
denominator is 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal_column

from resolute.api.tasks import rules
from resolute.api.tasks.models import Assignment

__all__ = ["COUNTS", "RATES", "Figures", "counts", "fraction", "rates"]

# the count columns, in the order Figures declares them
COUNTS = (
    "total", "not_started", "in_progress", "completed", "cancelled", "overdue",
    "completed_on_time", "completed_within_extension", "completed_late", "progress_sum",
)
RATES = ("completion_rate", "on_time_rate", "average_progress")


def counts(today: date, model: Any = Assignment) -> dict[str, ColumnElement[int]]:
    """The aggregate of each count over the grouped assignments (`model` may be an alias)."""
    on_time = rules.timeliness(model)

    def where(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.count(model.id).filter(condition)

    return {
        "total": func.count(model.id),
        "not_started": where(model.status == "not_started"),
        "in_progress": where(model.status == "in_progress"),
        "completed": where(model.status == "completed"),
        "cancelled": where(model.status == "cancelled"),
        "overdue": where(rules.overdue(model, today)),
        "completed_on_time": where(on_time == "on_time"),
        "completed_within_extension": where(on_time == "within_extension"),
        "completed_late": where(on_time == "late"),
        "progress_sum": func.coalesce(func.sum(case((model.status != "cancelled", model.progress), else_=0)), 0),
    }


def _ratio(numerator: Any, denominator: Any, places: int, scale: int = 1) -> ColumnElement[Any]:
    """numerator * scale / denominator rounded, or null for a zero denominator (exact numeric on PostgreSQL)."""
    exact = numerator * literal_column(f"{scale}.0") / func.nullif(denominator, 0)  # a numeric literal: exact on PostgreSQL
    return func.round(exact, literal_column(str(places)))


def rates(c: Mapping[str, Any]) -> dict[str, ColumnElement[Any]]:
    """The rates from count columns `c` (a grouped subquery's columns, or the aggregates themselves)."""
    owed = c["total"] - c["cancelled"]
    return {
        "completion_rate": _ratio(c["completed"], owed, 4),
        "on_time_rate": _ratio(c["completed_on_time"], c["completed"], 4),
        "average_progress": _ratio(c["progress_sum"], owed, 2),
    }


def fraction(numerator: int, denominator: int) -> float | None:
    """numerator / denominator rounded to 4 places half away from zero, as the SQL rates are (None for 0): for the
    few figures summed in Python after the statement (a series' running totals, a light count's share)."""
    if not denominator:
        return None
    return float((Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Figures:
    """One group's figures as read from a row; rates are floats (or None)."""

    total: int
    not_started: int
    in_progress: int
    completed: int
    cancelled: int
    overdue: int
    completed_on_time: int
    completed_within_extension: int
    completed_late: int
    progress_sum: int
    completion_rate: float | None
    on_time_rate: float | None
    average_progress: float | None

    @classmethod
    def of(cls, row: Mapping[str, Any], prefix: str = "") -> Figures:
        """From a row whose columns are named as the fields (after `prefix`); a missing group is all zeros."""
        counts = [int(row[prefix + name] or 0) for name in _COUNT_FIELDS]
        rates = [None if (value := row[prefix + name]) is None else float(value) for name in _RATE_FIELDS]
        return cls(*counts, *rates)  # the fields' order: the counts, then the rates


_COUNT_FIELDS = tuple(f.name for f in fields(Figures) if f.name not in RATES)
_RATE_FIELDS = tuple(f.name for f in fields(Figures) if f.name in RATES)
assert [f.name for f in fields(Figures)] == [*_COUNT_FIELDS, *_RATE_FIELDS]

