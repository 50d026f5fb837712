"""Reporting discipline per unit and period, counted as DHIS2 counts reporting rates: one statement.

For a period (a month 2025-09, a quarter 2025-Q3 or a year 2025) and the assignments the caller
may read under a unit:

- expected: assignments that had to report in the period: assigned before it ended, not
  cancelled, and not completed before it began;
- received: expected ones with a progress report dated in the period or within GRACE_DAYS after;
- on time: expected ones with a report dated in the period itself;
- completeness = received / expected, timeliness = on time / expected (4 places, null for none);
- acknowledgement: of the assignments assigned in the period, how many were acknowledged, how
  many within ACK_DAYS days, and the average delay in days (2 places) of those acknowledged;
- discipline index = 0.4 completeness + 0.4 timeliness + 0.2 (acknowledged within ACK_DAYS /
  assigned in the period), a weighted mean of the parts that are defined (a part with nothing to
  count is left out and the other weights scaled up), 4 places; null when no part is defined.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal_column, null, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from resolute.api.access.scope import Scope
from resolute.api.kpis.periods import period_bounds
from resolute.api.monitoring.grouping import Rows, per_child, unit_and_children
from resolute.api.monitoring.rollups import ProgressFilter, counted
from resolute.api.org.models import Unit
from resolute.api.org.tree import in_subtree
from resolute.api.sqlcalendar import days_between, utc_day
from resolute.api.tasks.models import Assignment, ProgressReport

__all__ = ["ACK_DAYS", "GRACE_DAYS", "Discipline", "DisciplineFigures", "discipline", "discipline_rows", "figures_columns", "period_bounds"]

GRACE_DAYS = 5
ACK_DAYS = 7
COUNTS = ("expected", "received", "on_time", "assigned", "acknowledged", "acknowledged_in_time", "ack_delay_sum")


def _counts(start: date, end: date) -> dict[str, ColumnElement[Any]]:
    def reported(until: date) -> ColumnElement[bool]:
        return (
            select(ProgressReport.id)
            .where(ProgressReport.assignment_id == Assignment.id, ProgressReport.reported_on >= start, ProgressReport.reported_on < until)
            .correlate(Assignment)
            .exists()
        )

    expected = and_(Assignment.assigned_on < end, Assignment.status != "cancelled", or_(Assignment.completed_on.is_(None), Assignment.completed_on >= start))
    assigned = and_(Assignment.assigned_on >= start, Assignment.assigned_on < end)
    acked = and_(assigned, Assignment.acknowledged_at.is_not(None))
    delay = days_between(Assignment.assigned_on, utc_day(Assignment.acknowledged_at))
    return {
        "expected": func.count().filter(expected),
        "received": func.count().filter(and_(expected, reported(end + timedelta(days=GRACE_DAYS)))),
        "on_time": func.count().filter(and_(expected, reported(end))),
        "assigned": func.count().filter(assigned),
        "acknowledged": func.count().filter(acked),
        "acknowledged_in_time": func.count().filter(and_(acked, delay <= ACK_DAYS)),
        "ack_delay_sum": func.coalesce(func.sum(case((acked, delay), else_=0)), 0),
    }


def _ratio(numerator: Any, denominator: Any, places: int) -> ColumnElement[Any]:
    return func.round(numerator * literal_column("1.0") / func.nullif(denominator, 0), literal_column(str(places)))


def _rates(c: dict[str, Any]) -> dict[str, ColumnElement[Any]]:
    completeness = c["received"] * literal_column("1.0") / func.nullif(c["expected"], 0)
    timeliness = c["on_time"] * literal_column("1.0") / func.nullif(c["expected"], 0)
    ack = c["acknowledged_in_time"] * literal_column("1.0") / func.nullif(c["assigned"], 0)
    index = case(
        (and_(c["expected"] > 0, c["assigned"] > 0), literal_column("0.4") * completeness + literal_column("0.4") * timeliness + literal_column("0.2") * ack),
        (c["expected"] > 0, (completeness + timeliness) / 2),
        (c["assigned"] > 0, ack),
        else_=null(),
    )
    return {
        "completeness": _ratio(c["received"], c["expected"], 4),
        "timeliness": _ratio(c["on_time"], c["expected"], 4),
        "average_ack_days": _ratio(c["ack_delay_sum"], c["acknowledged"], 2),
        "discipline_index": func.round(index, literal_column("4")),
    }


@dataclass(frozen=True)
class DisciplineFigures:
    expected: int
    received: int
    on_time: int
    assigned: int
    acknowledged: int
    acknowledged_in_time: int
    completeness: float | None
    timeliness: float | None
    average_ack_days: float | None
    discipline_index: float | None

    @classmethod
    def of(cls, row: Any) -> DisciplineFigures:
        def number(name: str) -> float | None:
            return None if row[name] is None else float(row[name])

        return cls(
            **{name: int(row[name] or 0) for name in COUNTS if name != "ack_delay_sum"},
            completeness=number("completeness"), timeliness=number("timeliness"),
            average_ack_days=number("average_ack_days"), discipline_index=number("discipline_index"),
        )


@dataclass(frozen=True)
class Discipline:
    unit: Unit  # (a row with a Unit's columns: api.monitoring.grouping.unit_and_children; so are the children's)
    period: str
    figures: DisciplineFigures  # the unit's whole subtree
    children: list[tuple[Unit, DisciplineFigures]]


def discipline_rows(scope: Scope, start: date, end: date, flt: ProgressFilter, under_path: str | None) -> Rows:
    """The assignments that count (the caller may read them; `flt` holds; of the subtree at `under_path`, None:
    anywhere) with their assignee's path, and the discipline counts of the period [start, end) over them."""
    member = aliased(Unit, name="member")
    within = in_subtree(member.path, under_path) if under_path is not None else scope.within(member.path, "unit", "read")
    rows = select(member.id).select_from(member).join(Assignment, Assignment.assignee_unit_id == member.id).where(within, *counted(scope, flt, member, under_path))
    return Rows(rows, member.path, _counts(start, end))


def figures_columns(grouped: Any) -> list[ColumnElement[Any]]:
    """The figures of a per-child subquery outer-joined to its units: zeros where nothing counts."""
    filled = {name: func.coalesce(grouped.c[name], 0) for name in COUNTS}
    return [c.label(name) for name, c in filled.items()] + [c.label(name) for name, c in _rates(filled).items()]


async def discipline(
    session: AsyncSession, scope: Scope, unit: Unit, period: str, *, resolution_ids: tuple[int, ...] | None
) -> Discipline | None:
    """The discipline of a unit's subtree (one the caller may read) and of each direct child in a period; None
    for a period that is not one."""
    bounds = period_bounds(period)
    if bounds is None:
        return None
    flt = ProgressFilter(resolution_ids=resolution_ids)
    head, rest = await unit_and_children(
        session, scope, unit, ("discipline", bounds, flt), lambda: per_child(unit, discipline_rows(scope, *bounds, flt, unit.path), "discipline"), figures_columns
    )
    return Discipline(
        unit=head, period=period, figures=DisciplineFigures.of(head._mapping),
        children=[(row, DisciplineFigures.of(row._mapping)) for row in rest],
    )
