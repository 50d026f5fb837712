"""Queries: kpi(id | code), kpis(filter), measurements(filter)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from graphql import GraphQLError

from resolute.api.errors import ErrorCode
from resolute.api.kpis import reads
from resolute.api.kpis.reads import KpiFilter, MeasurementFilter
from resolute.schema.context import Info
from resolute.schema.filters import unit_path
from resolute.schema.ids import decode_id
from resolute.schema.kpis.types import KpiType, MeasurementType
from resolute.schema.pagination import AFTER_DESCRIPTION, BY_CODE, FIRST_DESCRIPTION, Connection, Ordering, build_connection, check_first

__all__ = ["BY_ID", "KpiFilterInput", "KpisQuery", "MeasurementFilterInput", "kpi_filter", "measurement_filter"]

BY_ID = Ordering("id", int)


@strawberry.input(description="Narrow a list of KPIs.")
class KpiFilterInput:
    resolution: strawberry.ID | None = None
    lead_under: strawberry.ID | None = strawberry.field(default=None, description="Only KPIs led by this unit or a unit below it.")
    group: str | None = None
    frequency: str | None = None
    search: str | None = strawberry.field(default=None, description="Part of the code or name; case and diacritics ignored. At most 100 characters.")
    updated_since: datetime | None = None


@strawberry.input(description="Narrow a list of measurements.")
class MeasurementFilterInput:
    kpi: strawberry.ID | None = None
    under: strawberry.ID | None = strawberry.field(default=None, description="Only values of this unit and the units below it.")
    period_from: str | None = strawberry.field(default=None, description="Inclusive, e.g. 2025-01 or 2025-Q1.")
    period_to: str | None = None
    updated_since: datetime | None = None



def kpi_filter(given: KpiFilterInput, *, lead_path: str | None, matches_nothing: bool) -> KpiFilter:
    """The read-side filter of a `kpis` list (shared with the compiled read path); a bad id raises a typed error."""
    return KpiFilter(
        resolution_id=decode_id(given.resolution, "Resolution", "filter.resolution") if given.resolution else None,
        lead_under_path=lead_path, group=given.group, frequency=given.frequency,
        search=given.search[:100] if given.search else None, updated_since=given.updated_since, matches_nothing=matches_nothing,
    )


def measurement_filter(given: MeasurementFilterInput, *, under_path: str | None, matches_nothing: bool) -> MeasurementFilter:
    """The read-side filter of a `measurements` list (shared with the compiled read path); a bad id raises a typed error."""
    return MeasurementFilter(
        kpi_id=decode_id(given.kpi, "Kpi", "filter.kpi") if given.kpi else None, under_path=under_path,
        period_from=given.period_from, period_to=given.period_to, updated_since=given.updated_since, matches_nothing=matches_nothing,
    )


@strawberry.type
class KpisQuery:
    @strawberry.field(description="One KPI by global id or code (exactly one).")
    async def kpi(self, info: Info, id: strawberry.ID | None = None, code: str | None = None) -> KpiType | None:
        if (id is None) == (code is None):
            raise GraphQLError("give exactly one of 'id' and 'code'", extensions={"code": ErrorCode.INVALID.value, "field": "id"})
        if id is not None:
            row = await info.context.loaders.kpis_by_id.load(decode_id(id, "Kpi"))
        else:
            async with info.context.db.use() as session:
                row = await reads.kpi_by_code(session, info.context.scope, code or "")
        return KpiType.of(row) if row else None

    @strawberry.field(description="The KPIs you may see, in code order.")
    async def kpis(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_DESCRIPTION)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
        filter: KpiFilterInput | None = None,
    ) -> Connection[KpiType]:
        check_first(first)
        cursor = BY_CODE.decode(after)
        given = filter or KpiFilterInput()
        lead_path, nothing = await unit_path(info, given.lead_under, "filter.leadUnder")
        flt = kpi_filter(given, lead_path=lead_path, matches_nothing=nothing)
        ctx = info.context
        async with ctx.db.use() as session:
            rows = await reads.list_kpis(session, ctx.scope, flt, first=first, after=cursor)

        async def count() -> int:
            async with ctx.db.use() as session:
                return await reads.count_kpis(session, ctx.scope, flt)

        return build_connection(rows, first=first, after=after, ordering=BY_CODE, key=lambda row: row.code, wrap=KpiType.of, count=count)

    @strawberry.field(description="The measurements you may see (those of units in your scope), oldest first.")
    async def measurements(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_DESCRIPTION)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
        filter: MeasurementFilterInput | None = None,
    ) -> Connection[MeasurementType]:
        check_first(first)
        cursor = BY_ID.decode(after)
        given = filter or MeasurementFilterInput()
        under_path, nothing = await unit_path(info, given.under, "filter.under")
        flt = measurement_filter(given, under_path=under_path, matches_nothing=nothing)
        ctx = info.context
        async with ctx.db.use() as session:
            rows = await reads.list_measurements(session, ctx.scope, flt, first=first, after=cursor)

        async def count() -> int:
            async with ctx.db.use() as session:
                return await reads.count_measurements(session, ctx.scope, flt)

        return build_connection(rows, first=first, after=after, ordering=BY_ID, key=lambda row: row.id, wrap=MeasurementType.of, count=count)
