"""Queries of the tree: unit(id | code), units(filter), unitKinds."""

from __future__ import annotations

from typing import Annotated

import strawberry
from graphql import GraphQLError

from resolute.api.errors import ErrorCode
from resolute.api.org import reads
from resolute.api.org.reads import UnitFilter
from resolute.schema.context import Info
from resolute.schema.filters import unit_path
from resolute.schema.ids import decode_id
from resolute.schema.org.types import UnitFilterInput, UnitKindType, UnitType
from resolute.schema.pagination import AFTER_DESCRIPTION, BY_CODE, FIRST_DESCRIPTION, Connection, build_connection, check_first

__all__ = ["OrgQuery", "unit_filter"]

def unit_filter(given: UnitFilterInput, *, under_path: str | None, matches_nothing: bool) -> UnitFilter:
    """The read-side filter of a `units` list (shared with the compiled read path)."""
    search = given.search[:100] if given.search else None
    return UnitFilter(
        kind=given.kind, under_path=under_path, search=search, include_archived=given.include_archived, updated_since=given.updated_since,
        matches_nothing=matches_nothing,
    )


async def _filter(info: Info, given: UnitFilterInput | None) -> UnitFilter:
    given = given or UnitFilterInput()
    under_path, nothing = await unit_path(info, given.under, "filter.under")
    return unit_filter(given, under_path=under_path, matches_nothing=nothing)


@strawberry.type
class OrgQuery:
    @strawberry.field(description="One unit by global id or by code (give exactly one); null if it does not exist or is out of your scope.")
    async def unit(self, info: Info, id: strawberry.ID | None = None, code: str | None = None) -> UnitType | None:
        if (id is None) == (code is None):
            raise GraphQLError("give exactly one of 'id' and 'code'", extensions={"code": ErrorCode.INVALID.value, "field": "id"})
        if id is not None:
            row = await info.context.loaders.units_by_id.load(decode_id(id, "Unit"))
        else:
            async with info.context.db.use() as session:
                row = await reads.unit_by_code(session, info.context.scope, code or "")
        return UnitType.of(row) if row else None

    @strawberry.field(description="The units you may see, in code order.")
    async def units(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_DESCRIPTION)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
        filter: UnitFilterInput | None = None,
    ) -> Connection[UnitType]:
        check_first(first)
        cursor = BY_CODE.decode(after)
        flt = await _filter(info, filter)
        ctx = info.context
        async with ctx.db.use() as session:
            rows = await reads.list_units(session, ctx.scope, flt, first=first, after=cursor)

        async def count() -> int:
            async with ctx.db.use() as session:
                return await reads.count_units(session, ctx.scope, flt)

        return build_connection(rows, first=first, after=after, ordering=BY_CODE, key=lambda row: row.code, wrap=UnitType.of, count=count)

    @strawberry.field(description="The kinds a unit may have.")
    async def unit_kinds(self, info: Info) -> list[UnitKindType]:
        async with info.context.db.use() as session:
            return [UnitKindType.of(row) for row in await reads.list_kinds(session)]
