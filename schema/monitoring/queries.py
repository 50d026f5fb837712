"""Queries: progressRollup(unit, filter) and ranking(metric, childrenOf | kind, filter)."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from resolute.api.errors import ErrorCode
from resolute.api.monitoring import rollups
from resolute.api.monitoring.rollups import ProgressFilter
from resolute.schema.context import Info
from resolute.schema.ids import decode_id
from resolute.schema.monitoring.types import ProgressFilterInput, ProgressRollup, RankingMetric, RankingType

__all__ = ["MonitoringQuery", "progress_filter"]

MAX_TEXT = 32  # a KPI group code


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
    family = None
    if given.resolution is not None:
        family = await info.context.loaders.family_by_resolution_id.load(decode_id(given.resolution, "Resolution", "filter.resolution"))
    return ProgressFilter(resolution_ids=family, kpi_group=given.kpi_group, due_from=given.due_from, due_to=given.due_to)


@strawberry.type
class MonitoringQuery:
    @strawberry.field(description=(
        "Progress of the assignments you may read under a unit (default: your own), over its whole subtree "
        "and per direct sub-unit; null if the unit does not exist or is out of your scope."
    ))
    async def progress_rollup(self, info: Info, unit: strawberry.ID | None = None, filter: ProgressFilterInput | None = None) -> ProgressRollup | None:
        ctx = info.context
        unit_id = decode_id(unit, "Unit", "unit") if unit is not None else ctx.scope.principal.unit_id
        row = await ctx.loaders.units_by_id.load(unit_id)
        if row is None:
            return None
        flt = await progress_filter(info, filter)
        async with ctx.db.use() as session:
            found = await rollups.rollup(session, ctx.scope, row, flt, today=ctx.today)
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
    ) -> RankingType | None:
        if (children_of is None) == (kind is None):
            raise _invalid("childrenOf", "give exactly one of 'childrenOf' and 'kind'")
        if kind is not None and len(kind) > MAX_TEXT:
            raise _invalid("kind", f"at most {MAX_TEXT} characters", ErrorCode.TOO_LONG)
        ctx = info.context
        parent = None
        if children_of is not None:
            parent = await ctx.loaders.units_by_id.load(decode_id(children_of, "Unit", "childrenOf"))
            if parent is None:
                return None
        flt = await progress_filter(info, filter)
        async with ctx.db.use() as session:
            found = await rollups.ranking(
                session, ctx.scope, metric=metric.value, then_by=then_by.value if then_by else None, parent=parent, kind=kind, flt=flt, today=ctx.today
            )
        return RankingType.of(found, metric, then_by)
