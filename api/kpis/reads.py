"""Read queries over KPIs and measurements: batched, scoped, one statement each.

Measurements come with their traffic light from the one SQL definition in api.kpis.rules,
computed only against a KPI the caller may see (null otherwise).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import with_expression

from resolute.api.access.scope import Scope
from resolute.api.keyset import counts_by_parent, pages_by_code
from resolute.api.kpis.models import Kpi, KpiCoordinator, KpiUnitTarget, Measurement, MeasurementRevision
from resolute.api.kpis.rules import light
from resolute.api.org.models import Unit
from resolute.api.org.text import fold, like_escape
from resolute.api.org.tree import units_under

__all__ = [
    "KpiFilter",
    "MeasurementFilter",
    "coordinators_by_kpi_ids",
    "count_kpis",
    "count_measurements",
    "count_unit_targets",
    "kpi_by_code",
    "kpi_conditions",
    "kpis_by_ids",
    "kpis_by_resolution_ids",
    "latest_by_child",
    "list_kpis",
    "list_measurements",
    "measurement_conditions",
    "measurements_by_ids",
    "revisions_by_measurement_ids",
    "unit_target_pages",
]


@dataclass(frozen=True)
class KpiFilter:
    resolution_id: int | None = None
    lead_under_path: str | None = None
    group: str | None = None
    frequency: str | None = None
    search: str | None = None
    updated_since: datetime | None = None
    matches_nothing: bool = False


@dataclass(frozen=True)
class MeasurementFilter:
    kpi_id: int | None = None
    under_path: str | None = None
    period_from: str | None = None
    period_to: str | None = None
    updated_since: datetime | None = None
    matches_nothing: bool = False


def kpi_conditions(scope: Scope, flt: KpiFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [scope.visible(Kpi)] + ([false()] if flt.matches_nothing else [])
    if flt.resolution_id is not None:
        conds.append(Kpi.resolution_id == flt.resolution_id)
    if flt.lead_under_path:
        conds.append(units_under(Kpi.lead_unit_id, flt.lead_under_path))
    if flt.group:
        conds.append(Kpi.kpi_group == flt.group)
    if flt.frequency:
        conds.append(Kpi.frequency == flt.frequency)
    if flt.search and flt.search.strip():
        conds.append(Kpi.search_name.like(f"%{like_escape(fold(flt.search))}%", escape="\\"))
    if flt.updated_since is not None:
        conds.append(Kpi.updated_at >= flt.updated_since)
    return conds


def measurement_conditions(scope: Scope, flt: MeasurementFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [scope.visible(Measurement)] + ([false()] if flt.matches_nothing else [])
    if flt.kpi_id is not None:
        conds.append(Measurement.kpi_id == flt.kpi_id)
    if flt.under_path:
        conds.append(units_under(Measurement.unit_id, flt.under_path))
    if flt.period_from:
        conds.append(Measurement.period >= flt.period_from)
    if flt.period_to:
        conds.append(Measurement.period <= flt.period_to)
    if flt.updated_since is not None:
        conds.append(Measurement.updated_at >= flt.updated_since)
    return conds


async def kpis_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, Kpi]:
    return {row.id: row for row in await session.scalars(select(Kpi).where(Kpi.id.in_(set(ids)), scope.visible(Kpi)))}


async def kpi_by_code(session: AsyncSession, scope: Scope, code: str) -> Kpi | None:
    return await session.scalar(select(Kpi).where(Kpi.code == code, scope.visible(Kpi)))


async def kpis_by_resolution_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, list[Kpi]]:
    grouped: dict[int, list[Kpi]] = defaultdict(list)
    for row in await session.scalars(select(Kpi).where(Kpi.resolution_id.in_(set(ids)), scope.visible(Kpi)).order_by(Kpi.code)):
        grouped[row.resolution_id].append(row)
    return grouped


async def list_kpis(session: AsyncSession, scope: Scope, flt: KpiFilter, *, first: int, after: str | None) -> list[Kpi]:
    query = select(Kpi).where(*kpi_conditions(scope, flt)).order_by(Kpi.code).limit(first + 1)
    if after is not None:
        query = query.where(Kpi.code > after)
    return list(await session.scalars(query))


async def count_kpis(session: AsyncSession, scope: Scope, flt: KpiFilter) -> int:
    return int(await session.scalar(select(func.count()).select_from(Kpi).where(*kpi_conditions(scope, flt))) or 0)


async def coordinators_by_kpi_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, list[Unit]]:
    """The coordinating units of each KPI that the caller may see."""
    rows = await session.execute(
        select(KpiCoordinator.kpi_id, Unit).join(Unit, Unit.id == KpiCoordinator.unit_id).where(KpiCoordinator.kpi_id.in_(set(ids)), scope.visible(Unit)).order_by(Unit.code)
    )
    grouped: dict[int, list[Unit]] = defaultdict(list)
    for kpi_id, unit in rows.all():
        grouped[kpi_id].append(unit)
    return grouped


def _unit_targets(scope: Scope, ids: Sequence[int]) -> Select[tuple[Unit, object]]:
    return select(Unit, KpiUnitTarget.target).join(KpiUnitTarget, KpiUnitTarget.unit_id == Unit.id).where(KpiUnitTarget.kpi_id.in_(set(ids)), scope.visible(Unit))


async def unit_target_pages(session: AsyncSession, scope: Scope, ids: Sequence[int], *, first: int, after: str | None) -> dict[int, list[tuple[Unit, object]]]:
    """For each KPI, up to first+1 of its per-unit targets, for the units the caller may see, in unit code order after the cursor's code."""
    return await pages_by_code(session, _unit_targets(scope, ids), code=Unit.code, parent=KpiUnitTarget.kpi_id, first=first, after=after)


async def count_unit_targets(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, int]:
    return await counts_by_parent(session, _unit_targets(scope, ids), parent=KpiUnitTarget.kpi_id)


def _measurements(scope: Scope) -> Select[tuple[Measurement]]:
    """Measurements with their light, refreshed even when the row already sits in the session.

    The light needs the KPI's thresholds, so it is null where the caller may not see the KPI.
    """
    lit = select(light(Kpi, Measurement.value)).where(Kpi.id == Measurement.kpi_id, scope.visible(Kpi)).correlate(Measurement)
    return select(Measurement).options(with_expression(Measurement.light, lit.scalar_subquery())).execution_options(populate_existing=True)


async def measurements_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, Measurement]:
    rows = await session.scalars(_measurements(scope).where(Measurement.id.in_(set(ids)), scope.visible(Measurement)))
    return {row.id: row for row in rows}


async def list_measurements(session: AsyncSession, scope: Scope, flt: MeasurementFilter, *, first: int, after: int | None) -> list[Measurement]:
    query = _measurements(scope).where(*measurement_conditions(scope, flt)).order_by(Measurement.id).limit(first + 1)
    if after is not None:
        query = query.where(Measurement.id > after)
    return list(await session.scalars(query))


async def count_measurements(session: AsyncSession, scope: Scope, flt: MeasurementFilter) -> int:
    return int(await session.scalar(select(func.count()).select_from(Measurement).where(*measurement_conditions(scope, flt))) or 0)


async def revisions_by_measurement_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, list[MeasurementRevision]]:
    visible = select(Measurement.id).where(Measurement.id.in_(set(ids)), scope.visible(Measurement))
    rows = await session.scalars(select(MeasurementRevision).where(MeasurementRevision.measurement_id.in_(visible)).order_by(MeasurementRevision.id))
    grouped: dict[int, list[MeasurementRevision]] = defaultdict(list)
    for row in rows:
        grouped[row.measurement_id].append(row)
    return grouped


async def latest_by_child(session: AsyncSession, scope: Scope, kpi_ids: Sequence[int], *, parent_id: int) -> dict[int, list[Measurement]]:
    """For each KPI, the latest measurement (latest period) of each direct sub-unit of `parent_id`
    that has one and that the caller may see, in unit code order: one statement."""
    children = select(Unit.id).where(Unit.parent_id == parent_id)
    ranked = (
        select(
            Measurement.id,
            func.row_number().over(partition_by=(Measurement.kpi_id, Measurement.unit_id), order_by=(Measurement.period.desc(), Measurement.id.desc())).label("rank"),
        )
        .where(Measurement.kpi_id.in_(set(kpi_ids)), Measurement.unit_id.in_(children), scope.visible(Measurement))
        .subquery()
    )
    query = (
        _measurements(scope)
        .join(ranked, ranked.c.id == Measurement.id)
        .join(Unit, Unit.id == Measurement.unit_id)
        .where(ranked.c.rank == 1)
        .order_by(Measurement.kpi_id, Unit.code)
    )
    grouped: dict[int, list[Measurement]] = defaultdict(list)
    for row in await session.scalars(query):
        grouped[row.kpi_id].append(row)
    return grouped
