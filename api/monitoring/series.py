"""Time series for charts: progress per month or quarter under a unit, a KPI's values per period.

Progress points count, per period, the assignments (not cancelled, readable, in the unit's
subtree, matching the filter) assigned, due and completed in it (and completed by their original
due date), and carry running totals from the very first assignment: the cumulative completion
rate of a period is completed so far / assigned so far. A period with nothing in it still has
its point. KPI points give, per period of the KPI, how many units of the subtree reported, the
average, lowest and highest value, their lights, and the unit's own value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, literal, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from resolute.api.access.scope import Scope
from resolute.api.kpis.models import Kpi, Measurement
from resolute.api.kpis.rules import light
from resolute.api.monitoring.figures import fraction
from resolute.api.monitoring.rollups import ProgressFilter, progress_rows
from resolute.api.org.models import Unit
from resolute.api.org.tree import in_subtree
from resolute.api.sqlcalendar import period_key
from resolute.api.tasks.models import Assignment

__all__ = ["KpiPoint", "ProgressPoint", "kpi_series", "periods_between", "progress_series"]

BEFORE = "0000"  # the bucket of everything before the first period: it only feeds the running totals
EVENTS = ("assigned", "due", "completed", "completed_on_time")


def periods_between(start: date, end: date, granularity: str) -> list[str]:
    """The names of the months or quarters from the one holding `start` to the one holding `end`."""
    step = 1 if granularity == "month" else 3
    month = (start.month - 1) // step * step
    year, names = start.year, []
    while (year, month) <= (end.year, end.month - 1):
        names.append(f"{year}-{month + 1:02d}" if granularity == "month" else f"{year}-Q{month // 3 + 1}")
        month += step
        year, month = year + month // 12, month % 12
    return names


@dataclass(frozen=True)
class ProgressPoint:
    period: str
    assigned: int
    due: int
    completed: int
    completed_on_time: int
    cumulative_assigned: int
    cumulative_completed: int
    cumulative_completion_rate: float | None  # cumulative completed / cumulative assigned, 4 places


async def progress_series(
    session: AsyncSession, scope: Scope, unit: Unit, flt: ProgressFilter, *, today: date, start: date, end: date, granularity: str
) -> list[ProgressPoint]:
    """One point per period from the one holding `start` to the one holding `end`: one statement."""
    names = periods_between(start, end, granularity)
    first_day = date(start.year, start.month if granularity == "month" else (start.month - 1) // 3 * 3 + 1, 1)
    rows = progress_rows(scope, flt, today, unit.path).select.where(Assignment.status != "cancelled")

    def branch(day: Any, event: str, *conditions: Any) -> Any:
        bucket = case((day < first_day, literal(BEFORE)), else_=period_key(day, granularity))
        flags = [literal(1 if e == event else 0).label(e) for e in EVENTS if e != "completed_on_time"]
        on_time = case((Assignment.completed_on <= Assignment.original_due_on, 1), else_=0) if event == "completed" else literal(0)
        return rows.with_only_columns(bucket.label("period"), *flags, on_time.label("completed_on_time")).where(day.is_not(None), *conditions)

    events = union_all(
        branch(Assignment.assigned_on, "assigned"),
        branch(Assignment.due_on, "due"),
        branch(Assignment.completed_on, "completed", Assignment.status == "completed"),
    ).subquery("events")
    per_period = select(events.c.period, *[func.sum(events.c[e]).label(e) for e in EVENTS]).group_by(events.c.period).subquery("per_period")
    running = [func.sum(per_period.c[e]).over(order_by=per_period.c.period).label(f"cumulative_{e}") for e in ("assigned", "completed")]
    query = select(per_period, *running).order_by(per_period.c.period)
    found = {row.period: row for row in (await session.execute(query)).all()}
    points, totals, carried = [], {"assigned": 0, "completed": 0}, [r for p, r in found.items() if p < (names[0] if names else BEFORE)]
    if carried:
        totals = {k: int(carried[-1]._mapping[f"cumulative_{k}"]) for k in totals}
    for name in names:
        row = found.get(name)
        if row is not None:
            totals = {k: int(row._mapping[f"cumulative_{k}"]) for k in totals}
        counts = {e: int(row._mapping[e]) if row is not None else 0 for e in EVENTS}
        rate = fraction(totals["completed"], totals["assigned"])
        points.append(ProgressPoint(period=name, **counts, cumulative_assigned=totals["assigned"], cumulative_completed=totals["completed"],
                                    cumulative_completion_rate=rate))
    return points


@dataclass(frozen=True)
class KpiPoint:
    period: str
    units: int  # how many units of the subtree reported a value
    average: Decimal | None
    lowest: Decimal | None
    highest: Decimal | None
    green: int
    yellow: int
    red: int
    own_value: Decimal | None  # the unit's own measurement


async def kpi_series(session: AsyncSession, scope: Scope, kpi: Kpi, unit: Unit, *, last: int) -> list[KpiPoint]:
    """The last `last` periods of a KPI with a value under `unit`, oldest first: one statement."""
    member = aliased(Unit, name="member")
    colour = light(Kpi, Measurement.value)
    query = (
        select(
            Measurement.period,
            func.count().label("units"),
            func.round(func.avg(Measurement.value * literal_column("1.0")), literal_column("2")).label("average"),
            func.min(Measurement.value).label("lowest"),
            func.max(Measurement.value).label("highest"),
            *[func.count().filter(colour == name).label(name) for name in ("green", "yellow", "red")],
            func.max(case((Measurement.unit_id == unit.id, Measurement.value))).label("own_value"),
        )
        .join(member, member.id == Measurement.unit_id)
        .join(Kpi, Kpi.id == Measurement.kpi_id)
        .where(Measurement.kpi_id == kpi.id, in_subtree(member.path, unit.path), scope.visible_under(Measurement, unit.path))
        .group_by(Measurement.period)
        .order_by(Measurement.period.desc())
        .limit(last)
    )
    rows = (await session.execute(query)).all()

    def amount(value: Any) -> Decimal | None:
        return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))

    return [
        KpiPoint(period=r.period, units=int(r.units), average=amount(r.average), lowest=amount(r.lowest), highest=amount(r.highest),
                 green=int(r.green), yellow=int(r.yellow), red=int(r.red), own_value=amount(r.own_value))
        for r in reversed(rows)
    ]
