"""GraphQL types of published results."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from resolute.api.results.models import PublishedResult as Row
from resolute.api.results.reads import verified
from resolute.schema.context import Info
from resolute.schema.ids import encode_id
from resolute.schema.org.types import UnitType

__all__ = ["PublishedResultType"]


@strawberry.type(name="PublishedResult", description=(
    "A resolution's results for a period as they were when published: never edited (a correction is a new version). "
    "`content` is canonical JSON (keys sorted, no spaces, UTF-8); `contentHash` is its SHA-256, also in the audit chain."
))
class PublishedResultType:
    row: strawberry.Private[Row]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("PublishedResult", self.row.id))

    @strawberry.field
    def period(self) -> str:
        return self.row.period

    @strawberry.field(description="1 for the first publication of the period, then one more for each correction.")
    def version(self) -> int:
        return self.row.version

    @strawberry.field(description="The figures: progress rollup and per sub-unit, ranking, KPI lights, reporting discipline.")
    def content(self) -> str:
        return self.row.content

    @strawberry.field(description="SHA-256 of `content`'s UTF-8 bytes, in hex: compute it yourself to check.")
    def content_hash(self) -> str:
        return self.row.content_hash

    @strawberry.field(description="Why this correction was published (null for a first version).")
    def reason(self) -> str | None:
        return self.row.reason

    @strawberry.field
    def published_at(self) -> datetime:
        return self.row.published_at

    @strawberry.field(description="Whether `content` hashes to `contentHash` and the audit chain recorded that same hash when it was published.")
    async def verified(self, info: Info) -> bool:
        return verified(self.row, await info.context.loaders.result_hashes_by_id.load(self.row.id))

    @strawberry.field(description="The unit whose subtree the figures cover (the resolution's issuing unit).")
    async def unit(self, info: Info) -> UnitType | None:
        row = await info.context.loaders.nameable_units_by_id.load(self.row.unit_id)
        return UnitType.of(row) if row else None

    @strawberry.field
    async def resolution(self, info: Info) -> Annotated[ResolutionType, strawberry.lazy("resolute.schema.resolutions.types")] | None:  # noqa: F821
        from resolute.schema.resolutions.types import ResolutionType

        row = await info.context.loaders.resolutions_by_id.load(self.row.resolution_id)
        return ResolutionType.of(row) if row else None
