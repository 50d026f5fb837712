"""Queries: resolution(id | code), resolutions(filter)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from graphql import GraphQLError

from resolute.api.errors import ErrorCode
from resolute.api.resolutions import reads
from resolute.api.resolutions.reads import ResolutionFilter
from resolute.schema.context import Info
from resolute.schema.filters import unit_path
from resolute.schema.ids import decode_id
from resolute.schema.pagination import AFTER_DESCRIPTION, BY_CODE, FIRST_DESCRIPTION, Connection, build_connection, check_first
from resolute.schema.resolutions.types import ResolutionType

__all__ = ["ResolutionsQuery"]


@strawberry.input(description="Narrow a list of resolutions. Every condition must hold.")
class ResolutionFilterInput:
    kind: str | None = None
    status: str | None = None
    issued_under: strawberry.ID | None = strawberry.field(default=None, description="Only those issued by this unit or a unit below it.")
    implements: strawberry.ID | None = strawberry.field(default=None, description="Only the programmes implementing this resolution.")
    search: str | None = strawberry.field(default=None, description="Part of the code or title; case and diacritics ignored. At most 100 characters.")
    updated_since: datetime | None = strawberry.field(default=None, description="Only those changed at or after this instant (incremental sync).")


@strawberry.type
class ResolutionsQuery:
    @strawberry.field(description="One resolution by global id or code (exactly one); null if it does not exist or you may not see it.")
    async def resolution(self, info: Info, id: strawberry.ID | None = None, code: str | None = None) -> ResolutionType | None:
        if (id is None) == (code is None):
            raise GraphQLError("give exactly one of 'id' and 'code'", extensions={"code": ErrorCode.INVALID.value, "field": "id"})
        if id is not None:
            row = await info.context.loaders.resolutions_by_id.load(decode_id(id, "Resolution"))
        else:
            async with info.context.db.use() as session:
                row = await reads.resolution_by_code(session, info.context.scope, code or "")
        return ResolutionType.of(row) if row else None

    @strawberry.field(description="The resolutions you may see, in code order.")
    async def resolutions(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_DESCRIPTION)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
        filter: ResolutionFilterInput | None = None,
    ) -> Connection[ResolutionType]:
        check_first(first)
        cursor = BY_CODE.decode(after)
        given = filter or ResolutionFilterInput()
        under_path, nothing = await unit_path(info, given.issued_under, "filter.issuedUnder")
        implements_id = decode_id(given.implements, "Resolution", "filter.implements") if given.implements is not None else None
        flt = ResolutionFilter(
            kind=given.kind, status=given.status, issued_under_path=under_path, implements_id=implements_id,
            search=given.search[:100] if given.search else None, updated_since=given.updated_since, matches_nothing=nothing,
        )
        ctx = info.context
        async with ctx.db.use() as session:
            rows = await reads.list_resolutions(session, ctx.scope, flt, first=first, after=cursor)

        async def count() -> int:
            async with ctx.db.use() as session:
                return await reads.count_resolutions(session, ctx.scope, flt)

        return build_connection(rows, first=first, after=after, ordering=BY_CODE, key=lambda row: row.code, wrap=ResolutionType.of, count=count)
