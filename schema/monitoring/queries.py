"""Queries: progressRollup(unit, filter) and ranking(metric, childrenOf | kind, filter)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError

from resolute.api.approvals.data import Approved
from resolute.api.errors import ErrorCode
from resolute.api.kpis.periods import PERIOD_FORMS, is_period
from resolute.api.monitoring import discipline, lights, ranking, rollups, series
from resolute.api.monitoring.lights import KpiFilter
from resolute.api.monitoring.rollups import ProgressFilter
from resolute.api.org.tree import path_ids
from resolute.schema.context import Info
from resolute.schema.filters import unit_or_own
from resolute.schema.ids import decode_id
from resolute.schema.monitoring.types import (
    DisciplineRollup,
    Granularity,
    KpiLightRollup,
    KpiPointType,
    KpiStatusFilterInput,
    KpiStatusType,
    ProgressFilterInput,
    ProgressPointType,
    ProgressRollup,
    RankingMetric,
    RankingType,
)
from resolute.schema.pagination import AFTER_DESCRIPTION, FIRST_DESCRIPTION, Connection, KeyOrdering, build_connection, check_first

__all__ = ["MonitoringQuery", "progress_filter"]

MAX_TEXT = 32  # a KPI group code
MAX_POINTS = 120


def _invalid(field: str, message: str, code: ErrorCode = ErrorCode.INVALID) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code.value, "field": field})


async def progress_filter(info: Info, given: ProgressFilterInput | None) -> ProgressFilter:
    """The read-side filter of a rollup or ranking; a resolution the caller may not read counts nothing."""
    if given is None:
        return ProgressFilter()
    if given.due_from is not None and given.due_to is not None and given.due_from > given.due_to:
        raise _invalid("filter.dueTo", "dueTo is before dueFrom", ErrorCode.OUT_OF_RANGE)
    if given.kpi_group is not None and len(given.kpi_group) > MAX_TEXT:
        raise _invalid("filter.kpiGroup", f"at most {MAX_TEXT} characters", ErrorCode.TOO_LONG)
    family, approved = await _family(info, given.resolution, given.approved_for)
    return ProgressFilter(resolution_ids=family, kpi_group=given.kpi_group, due_from=given.due_from, due_to=given.due_to, approved=approved)


async def _family(info: Info, resolution: strawberry.ID | None, approved_for: str | None) -> tuple[tuple[int, ...] | None, Approved | None]:
    """A filter's resolution family (None: every resolution) and, with `approvedFor`, what its approval for that
    period covers; a resolution the caller may not read counts nothing."""
    if approved_for is not None and resolution is None:
        raise _invalid("filter.approvedFor", "approved data are asked for a resolution: give filter.resolution too", ErrorCode.REQUIRED)
    if approved_for is not None and not is_period(approved_for):
        raise _invalid("filter.approvedFor", PERIOD_FORMS)
    if resolution is None:
        return None, None
    pk = decode_id(resolution, "Resolution", "filter.resolution")
    family = await info.context.loaders.family_by_resolution_id.load(pk)
    return family, Approved.of(pk, family, approved_for) if approved_for is not None else None


STATUS_CURSORS = KeyOrdering("kpi_statuses", (str, str))
# the ranking metrics computed from reports as they arrive, not from approved figures
LIVE_ONLY = {RankingMetric.REPORTING_COMPLETENESS, RankingMetric.REPORTING_TIMELINESS, RankingMetric.DISCIPLINE_INDEX}



def _period(today: date, given: str | None) -> str:
    """A reporting period named by the caller, checked; by default the last complete month."""
    if given is None:
        return (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    if not is_period(given):
        raise _invalid("period", PERIOD_FORMS)
    return given


async def kpi_filter(info: Info, given: KpiStatusFilterInput | None) -> KpiFilter:
    """The read-side filter of KPI lights and statuses; a resolution the caller may not read counts nothing."""
    if given is None:
        return KpiFilter()
    if given.group is not None and len(given.group) > MAX_TEXT:
        raise _invalid("filter.group", f"at most {MAX_TEXT} characters", ErrorCode.TOO_LONG)
    family, approved = await _family(info, given.resolution, given.approved_for)
    kpi_id = decode_id(given.kpi, "Kpi", "filter.kpi") if given.kpi is not None else None
    return KpiFilter(resolution_ids=family, kpi_group=given.group, kpi_id=kpi_id, approved=approved)


async def find_rollup(info: Any, unit: str | None, filter: ProgressFilterInput | None) -> rollups.Rollup | None:
    """progressRollup's answer before it becomes GraphQL objects (also written directly: schema/compiled/direct.py);
    `info`: anything with the request's context."""
    ctx = info.context
    flt = await progress_filter(info, filter)  # a bad filter is refused whatever the unit
    if unit is None:  # the caller's own unit, as the principal read it: the rollup's statement checks it may be read
        own = ctx.scope.principal
        row: Any = rollups.UnitAt(id=own.unit_id, path=own.unit_path, depth=len(path_ids(own.unit_path)))
    else:
        row = await unit_or_own(info, unit)
        if row is None:
            return None
    async with ctx.db.use() as session:
        return await rollups.rollup(session, ctx.scope, row, flt, today=ctx.today)


async def find_ranking(
    info: Any, metric: RankingMetric, then_by: RankingMetric | None, children_of: str | None, kind: str | None,
    filter: ProgressFilterInput | None, period: str | None,
) -> ranking.Ranking | None:
    """ranking's answer before it becomes GraphQL objects (also written directly); a bad argument is refused."""
    if (children_of is None) == (kind is None):
        raise _invalid("childrenOf", "give exactly one of 'childrenOf' and 'kind'")
    if kind is not None and len(kind) > MAX_TEXT:
        raise _invalid("kind", f"at most {MAX_TEXT} characters", ErrorCode.TOO_LONG)
    ctx = info.context
    bounds = discipline.period_bounds(_period(ctx.today, period))
    flt = await progress_filter(info, filter)  # a bad filter is refused whatever the unit
    if flt.approved is not None and {metric, then_by} & LIVE_ONLY:
        raise _invalid("filter.approvedFor", "reporting discipline is ranked over live data only: rank by a progress or KPI metric")
    parent = None
    if children_of is not None:
        parent = await ctx.loaders.units_by_id.load(decode_id(children_of, "Unit", "childrenOf"))
        if parent is None:
            return None
    inputs = ranking.RankingInputs(
        progress=flt, kpis=KpiFilter(resolution_ids=flt.resolution_ids, kpi_group=flt.kpi_group, approved=flt.approved), period=bounds, today=ctx.today  # type: ignore[arg-type]
    )
    async with ctx.db.use() as session:
        return await ranking.ranking(
            session, ctx.scope, metric=metric.value, then_by=then_by.value if then_by else None, parent=parent, kind=kind, inputs=inputs
        )


@strawberry.type
class MonitoringQuery:
    @strawberry.field(description=(
        "Progress of the assignments you may read under a unit (default: your own), over its whole subtree "
        "and per direct sub-unit; null if the unit does not exist or is out of your scope."
    ))
    async def progress_rollup(self, info: Info, unit: strawberry.ID | None = None, filter: ProgressFilterInput | None = None) -> ProgressRollup | None:
        found = await find_rollup(info, unit, filter)
        return ProgressRollup.of(found) if found else None

    @strawberry.field(description=(
        "The direct sub-units of a unit, or every unit of a kind (e.g. the provinces), that you may read, ranked by "
        "a metric and then by another (give exactly one of childrenOf and kind); null if childrenOf names a unit "
        "out of your scope."
    ))
    async def ranking(
        self,
        info: Info,
        metric: RankingMetric,
        then_by: RankingMetric | None = None,
        children_of: strawberry.ID | None = None,
        kind: str | None = None,
        filter: ProgressFilterInput | None = None,
        period: Annotated[str | None, strawberry.argument(description="The reporting period of the discipline metrics (default: the last complete month).")] = None,
    ) -> RankingType | None:
        found = await find_ranking(info, metric, then_by, children_of, kind, filter, period)
        return RankingType.of(found, metric, then_by) if found else None

    @strawberry.field(description=(
        "How many (KPI, unit) pairs stand green, yellow and red now under a unit (default: your own) and under each "
        "direct sub-unit, from the measurements you may read; null if the unit is out of your scope."
    ))
    async def kpi_lights(self, info: Info, unit: strawberry.ID | None = None, filter: KpiStatusFilterInput | None = None) -> KpiLightRollup | None:
        ctx = info.context
        flt = await kpi_filter(info, filter)  # a bad filter is refused whatever the unit
        row = await unit_or_own(info, unit)
        if row is None:
            return None
        async with ctx.db.use() as session:
            return KpiLightRollup.of(await lights.light_rollup(session, ctx.scope, row, flt))

    @strawberry.field(description=(
        "Each (KPI, unit) of a unit's subtree (default: your own) with a measurement you may read: its latest value, "
        "light, change and share of the target, in KPI code then unit code order. Empty if the unit is out of your scope."
    ))
    async def kpi_statuses(
        self,
        info: Info,
        unit: strawberry.ID | None = None,
        filter: KpiStatusFilterInput | None = None,
        first: Annotated[int, strawberry.argument(description=FIRST_DESCRIPTION)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
    ) -> Connection[KpiStatusType]:
        check_first(first)
        cursor = STATUS_CURSORS.decode(after)
        ctx = info.context
        row = await unit_or_own(info, unit)
        flt = await kpi_filter(info, filter)
        wanted = tuple(light.value for light in filter.light) if filter is not None and filter.light is not None else None
        if row is None:
            found: list[lights.KpiStatus] = []
        else:
            async with ctx.db.use() as session:
                found = await lights.kpi_statuses(session, ctx.scope, row, flt, light_in=wanted, first=first, after=cursor)

        async def count() -> int:
            if row is None:
                return 0
            async with ctx.db.use() as session:
                return await lights.count_kpi_statuses(session, ctx.scope, row, flt, light_in=wanted)

        return build_connection(
            found, first=first, after=after, ordering=STATUS_CURSORS, key=lambda s: (s.kpi.code, s.unit.code), wrap=KpiStatusType.of, count=count
        )

    @strawberry.field(description=(
        "How the assignments you may read under a unit (default: your own) reported in a period (a month 2025-09, a "
        "quarter 2025-Q3 or a year; default: the last complete month), over its subtree and per direct sub-unit; "
        "null if the unit is out of your scope."
    ))
    async def reporting_discipline(
        self, info: Info, unit: strawberry.ID | None = None, period: str | None = None, resolution: strawberry.ID | None = None
    ) -> DisciplineRollup | None:
        ctx = info.context
        period = _period(ctx.today, period)
        family = None
        if resolution is not None:
            family = await ctx.loaders.family_by_resolution_id.load(decode_id(resolution, "Resolution", "resolution"))
        row = await unit_or_own(info, unit)
        if row is None:
            return None
        async with ctx.db.use() as session:
            found = await discipline.discipline(session, ctx.scope, row, period, resolution_ids=family)
        return DisciplineRollup.of(found) if found else None

    @strawberry.field(description=(
        "Progress per month or quarter under a unit (default: your own), for charts: from the period holding `since` "
        "(default: a year ago) to the one holding `until` (default: today), at most 120 points; empty if the unit is out of your scope."
    ))
    async def progress_series(
        self,
        info: Info,
        unit: strawberry.ID | None = None,
        filter: ProgressFilterInput | None = None,
        granularity: Granularity = Granularity.MONTH,
        since: date | None = None,
        until: date | None = None,
    ) -> list[ProgressPointType]:
        ctx = info.context
        until = until or ctx.today
        since = since or date(until.year - 1, until.month, 1)
        if since > until:
            raise _invalid("since", "since is after until", ErrorCode.OUT_OF_RANGE)
        if len(series.periods_between(since, until, granularity.value)) > MAX_POINTS:
            raise _invalid("since", f"at most {MAX_POINTS} points", ErrorCode.OUT_OF_RANGE)
        flt = await progress_filter(info, filter)
        if flt.approved is not None:
            raise _invalid("filter.approvedFor", "a series is of live data: ask a rollup for approved data")
        row = await unit_or_own(info, unit)
        if row is None:
            return []
        async with ctx.db.use() as session:
            points = await series.progress_series(session, ctx.scope, row, flt, today=ctx.today, start=since, end=until, granularity=granularity.value)
        return [ProgressPointType.of(p) for p in points]

    @strawberry.field(description=(
        "A KPI's values per period under a unit (default: your own), the last `last` periods with a value, oldest first; "
        "empty if the KPI or the unit is out of your scope."
    ))
    async def kpi_series(self, info: Info, kpi: strawberry.ID, unit: strawberry.ID | None = None, last: int = 24) -> list[KpiPointType]:
        if not 1 <= last <= MAX_POINTS:
            raise _invalid("last", f"between 1 and {MAX_POINTS}", ErrorCode.OUT_OF_RANGE)
        ctx = info.context
        kpi_row = await ctx.loaders.kpis_by_id.load(decode_id(kpi, "Kpi", "kpi"))
        row = await unit_or_own(info, unit)
        if kpi_row is None or row is None:
            return []
        async with ctx.db.use() as session:
            points = await series.kpi_series(session, ctx.scope, kpi_row, row, last=last)
        return [KpiPointType.of(p) for p in points]
