"""Query: a resolution's published results."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolute.api.results import reads
from resolute.schema.context import Info
from resolute.schema.ids import decode_id
from resolute.schema.pagination import AFTER_DESCRIPTION, FIRST_DESCRIPTION, NEWEST_FIRST, Connection, build_connection, check_first
from resolute.schema.results.types import PublishedResultType

__all__ = ["ResultsQuery"]


@strawberry.type
class ResultsQuery:
    @strawberry.field(description="A resolution's published results (of one period, or all), newest first; empty if you may not read the resolution.")
    async def published_results(
        self,
        info: Info,
        resolution: strawberry.ID,
        period: str | None = None,
        first: Annotated[int, strawberry.argument(description=FIRST_DESCRIPTION)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
    ) -> Connection[PublishedResultType]:
        check_first(first)
        resolution_id = decode_id(resolution, "Resolution", "resolution")
        cursor = NEWEST_FIRST.decode(after)
        ctx = info.context
        async with ctx.db.use() as session:
            rows = await reads.list_published(session, ctx.scope, resolution_id=resolution_id, period=period, first=first, after=cursor)

        async def count() -> int:
            async with ctx.db.use() as session:
                return await reads.count_published(session, ctx.scope, resolution_id=resolution_id, period=period)

        return build_connection(rows, first=first, after=after, ordering=NEWEST_FIRST, key=lambda row: row.id, wrap=lambda row: PublishedResultType(row=row), count=count)
