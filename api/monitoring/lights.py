"""KPI status: each (KPI, unit)'s latest value and traffic light, and the lights counted under a unit.

A unit's KPI status is that of its latest measurement (latest period): its light comes from the
KPI's thresholds and direction (api.kpis.rules.light, the same expression every measurement
shows), its change is the difference from the measurement of the period before it, and its
target share is how far it went from the KPI's baseline to its target: (value - baseline) /
(target - baseline), with the unit's own target when it has one (so it reads the same for a KPI
that should fall). Counting lights under a unit counts the latest light of every (KPI, unit)
pair of its subtree; the caller sees the measurements of the units in its scope, as everywhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from resolute.api.access.scope import Scope
from resolute.api.approvals.data import Approved
from resolute.api.keyset import after_key
from resolute.api.kpis.models import Kpi, KpiUnitTarget, Measurement
from resolute.api.kpis.rules import light
from resolute.api.monitoring.figures import fraction
from resolute.api.monitoring.grouping import Rows, per_child, unit_and_children
from resolute.api.org.models import Unit
from resolute.api.org.tree import in_subtree

__all__ = ["KpiFilter", "KpiStatus", "LightCounts", "LightRollup", "count_kpi_statuses", "kpi_statuses", "latest_lights", "light_columns", "light_rollup", "light_rows", "stream_kpi_statuses"]

LIGHTS = ("green", "yellow", "red")


@dataclass(frozen=True)
class KpiFilter:
    """Which KPIs count. Every condition must hold."""

    resolution_ids: tuple[int, ...] | None = None  # KPIs of these resolutions (a family: rollups.resolution_family)
    kpi_group: str | None = None
    kpi_id: int | None = None
    approved: Approved | None = None  # only measurements approved for a resolution and a period (api.approvals)


def _kpi_conditions(flt: KpiFilter, kpi: Any = Kpi) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if flt.resolution_ids is not None:
        conds.append(kpi.resolution_id.in_(flt.resolution_ids) if flt.resolution_ids else false())
    if flt.kpi_group is not None:
        conds.append(kpi.kpi_group == flt.kpi_group)
    if flt.kpi_id is not None:
        conds.append(kpi.id == flt.kpi_id)
    return conds


def _approved(view: Approved | None) -> list[ColumnElement[bool]]:
    """Over approved data: the measurements of the period (or of a period within it) of units that approved it,
    none held back by a return."""
    if view is None:
        return []
    return [Measurement.period.in_(view.within), view.approval_at(Measurement.unit_id), ~view.measurement_held(Measurement.id)]


def latest_lights(scope: Scope, flt: KpiFilter, under_path: str | None) -> Any:
    """Per (KPI, unit) of the subtree at `under_path` (None: anywhere), both the measurement and its KPI readable
    by the caller: the latest measurement and the one before it (rank 1 and 2 by period), with the unit's path."""
    member = aliased(Unit, name="member")
    order = (Measurement.period.desc(), Measurement.id.desc())
    return (
        select(
            Measurement.id, Measurement.kpi_id, Measurement.unit_id, Measurement.period, Measurement.value, member.path.label("unit_path"),
            func.row_number().over(partition_by=(Measurement.kpi_id, Measurement.unit_id), order_by=order).label("rank"),
        )
        .join(member, member.id == Measurement.unit_id)
        .join(Kpi, Kpi.id == Measurement.kpi_id)
        .where(*([in_subtree(member.path, under_path)] if under_path is not None else []), scope.visible_under(Measurement, under_path), scope.visible(Kpi),
               *_kpi_conditions(flt), *_approved(flt.approved))
        .subquery("ranked")
    )


@dataclass(frozen=True)
class LightCounts:
    green: int
    yellow: int
    red: int

    @property
    def measured(self) -> int:
        return self.green + self.yellow + self.red

    @property
    def green_share(self) -> float | None:
        """green / measured, rounded to 4 places; None when nothing is measured."""
        return fraction(self.green, self.measured)

    @classmethod
    def of(cls, row: Any) -> LightCounts:
        return cls(**{name: int(row[name] or 0) for name in LIGHTS})


@dataclass(frozen=True)
class LightRollup:
    unit: Unit  # (a row with a Unit's columns: api.monitoring.grouping.unit_and_children; so are the children's)
    counts: LightCounts  # the unit's whole subtree
    children: list[tuple[Unit, LightCounts]]  # each direct sub-unit the caller may read (not archived), in code order


def light_rows(scope: Scope, flt: KpiFilter, under_path: str | None) -> Rows:
    """The latest measurement of each (KPI, unit) pair (of the subtree at `under_path`, None: anywhere the
    caller may read), and how many of them are green, yellow and red."""
    ranked = latest_lights(scope, flt, under_path)
    colour = light(Kpi, ranked.c.value)
    rows = select(ranked.c.id).select_from(ranked).join(Kpi, Kpi.id == ranked.c.kpi_id).where(ranked.c.rank == 1)
    return Rows(rows, ranked.c.unit_path, {name: func.count().filter(colour == name) for name in LIGHTS})


def light_columns(grouped: Any) -> list[ColumnElement[Any]]:
    """The light counts of a grouped subquery outer-joined to its units (zeros where none), and the green share."""
    filled = {name: func.coalesce(grouped.c[name], 0) for name in LIGHTS}
    measured = filled["green"] + filled["yellow"] + filled["red"]
    share = func.round(filled["green"] * literal_column("1.0") / func.nullif(measured, 0), literal_column("4"))
    return [c.label(name) for name, c in filled.items()] + [share.label("green_share")]


async def light_rollup(session: AsyncSession, scope: Scope, unit: Unit, flt: KpiFilter) -> LightRollup:
    """The lights under a unit (one the caller may read) and under each direct child: one statement."""
    head, rest = await unit_and_children(session, scope, unit, ("lights", flt), lambda: per_child(unit, light_rows(scope, flt, unit.path), "lights"), light_columns)
    return LightRollup(unit=head, counts=LightCounts.of(head._mapping), children=[(row, LightCounts.of(row._mapping)) for row in rest])


@dataclass(frozen=True)
class KpiStatus:
    kpi: Kpi
    unit: Unit
    period: str
    value: Decimal
    light: str
    previous_period: str | None
    previous_value: Decimal | None
    change: Decimal | None  # value - previous_value
    target: Decimal  # the unit's own, else the KPI's
    target_share: Decimal | None  # (value - baseline) / (target - baseline), 4 places; None when target = baseline




def _statuses(scope: Scope, flt: KpiFilter, under_path: str, light_in: tuple[str, ...] | None) -> Select[Any]:
    ranked = latest_lights(scope, flt, under_path)
    previous = aliased(ranked, name="previous")
    own = aliased(KpiUnitTarget, name="own")
    target = func.coalesce(own.target, Kpi.target)
    colour = light(Kpi, ranked.c.value)
    span = target - Kpi.baseline
    share = func.round((ranked.c.value - Kpi.baseline) * literal_column("1.0") / func.nullif(span, 0), literal_column("4"))
    query = (
        select(
            Kpi, Unit, ranked.c.period, ranked.c.value, colour.label("light"), previous.c.period.label("previous_period"),
            previous.c.value.label("previous_value"), target.label("target"), share.label("target_share"),
        )
        .select_from(ranked)
        .join(Kpi, Kpi.id == ranked.c.kpi_id)
        .join(Unit, Unit.id == ranked.c.unit_id)
        .outerjoin(previous, and_(previous.c.kpi_id == ranked.c.kpi_id, previous.c.unit_id == ranked.c.unit_id, previous.c.rank == 2))
        .outerjoin(own, and_(own.kpi_id == ranked.c.kpi_id, own.unit_id == ranked.c.unit_id))
        .where(ranked.c.rank == 1)
    )
    if light_in is not None:
        query = query.where(colour.in_(light_in) if light_in else false())
    return query


async def kpi_statuses(
    session: AsyncSession, scope: Scope, unit: Unit, flt: KpiFilter, *, light_in: tuple[str, ...] | None, first: int, after: tuple[str, str] | None
) -> list[KpiStatus]:
    """Up to first+1 (KPI, unit) statuses of the subtree of `unit` (one the caller may read), in KPI code then
    unit code order, after the key `after`: one statement."""
    query = _statuses(scope, flt, unit.path, light_in)
    keys = (Kpi.code, Unit.code)
    if after is not None:
        query = query.where(after_key(keys, after))
    rows = (await session.execute(query.order_by(*keys).limit(first + 1))).all()
    return [_status(row) for row in rows]


def _status(row: Any) -> KpiStatus:
    return KpiStatus(
        kpi=row[0], unit=row[1], period=row.period, value=row.value, light=row.light, previous_period=row.previous_period,
        previous_value=row.previous_value, change=None if row.previous_value is None else row.value - row.previous_value,
        target=row.target, target_share=None if row.target_share is None else Decimal(str(row.target_share)),
    )


async def stream_kpi_statuses(session: AsyncSession, scope: Scope, unit: Unit, flt: KpiFilter) -> AsyncIterator[KpiStatus]:
    """Every status of the subtree of `unit`, in the list's order, streamed from one statement (reports)."""
    result = await session.stream(_statuses(scope, flt, unit.path, None).order_by(Kpi.code, Unit.code))
    async for row in result:
        yield _status(row)


async def count_kpi_statuses(session: AsyncSession, scope: Scope, unit: Unit, flt: KpiFilter, *, light_in: tuple[str, ...] | None) -> int:
    query = _statuses(scope, flt, unit.path, light_in).subquery()
    return int(await session.scalar(select(func.count()).select_from(query)) or 0)
