"""GraphQL types: Resolution (with its implements chain and coverage), Objective, KeyResult."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated

import strawberry

from resolute.api.resolutions.models import KeyResult as KeyResultRow
from resolute.api.resolutions.models import Objective as ObjectiveRow
from resolute.api.resolutions.models import Resolution as ResolutionRow
from resolute.api.resolutions.reads import CoverageRow
from resolute.schema.context import Info
from resolute.schema.ids import encode_id
from resolute.schema.kpis.types import KpiType
from resolute.schema.node import Node, register_node
from resolute.schema.org.types import UnitType
from resolute.schema.pagination import (
    AFTER_DESCRIPTION,
    BY_CODE,
    FIRST_DESCRIPTION,
    FULL_PAGE_DESCRIPTION,
    MAX_PAGE,
    Connection,
    build_connection,
    check_first,
)
from resolute.schema.plans.types import PlanRevisionType
from resolute.schema.reviews.types import REVIEWS_AFTER, REVIEWS_FIRST, ReviewType, reviews_of

__all__ = ["CoverageState", "KeyResultType", "ObjectiveType", "ResolutionType"]


@strawberry.enum(description="Whether an expected unit issued its implementing programme in time.")
class CoverageState(Enum):
    ON_TIME = "on_time"
    LATE = "late"
    MISSING = "missing"
    PENDING = "pending"


@strawberry.type(description="One unit expected to implement a resolution, and what it did.")
class CoverageEntry:
    row: strawberry.Private[CoverageRow]

    @strawberry.field
    def unit(self) -> UnitType:
        return UnitType.of(self.row.unit)

    @strawberry.field
    def state(self) -> CoverageState:
        return CoverageState(self.row.state)

    @strawberry.field(description="Its implementing programme, if issued.")
    async def programme(self, info: Info) -> ResolutionType | None:
        if self.row.programme_id is None:
            return None
        row = await info.context.loaders.resolutions_by_id.load(self.row.programme_id)
        return ResolutionType.of(row) if row else None


@strawberry.type(description="Counts over the expected units you may see.")
class CoverageSummary:
    expected: int
    on_time: int
    late: int
    missing: int
    pending: int


@strawberry.type(name="KeyResult")
class KeyResultType(Node):
    row: strawberry.Private[KeyResultRow]

    @classmethod
    def of(cls, row: KeyResultRow) -> KeyResultType:
        return cls(row=row)  # type: ignore[call-arg]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("KeyResult", self.row.id))

    @strawberry.field(description="1 to 5 within its objective.")
    def position(self) -> int:
        return self.row.position

    @strawberry.field
    def title(self) -> str:
        return self.row.title

    @strawberry.field
    def version(self) -> int:
        return self.row.version

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @strawberry.field
    async def objective(self, info: Info) -> ObjectiveType | None:
        row = await info.context.loaders.objectives_by_id.load(self.row.objective_id)
        return ObjectiveType.of(row) if row else None


@strawberry.type(name="Objective")
class ObjectiveType(Node):
    row: strawberry.Private[ObjectiveRow]

    @classmethod
    def of(cls, row: ObjectiveRow) -> ObjectiveType:
        return cls(row=row)  # type: ignore[call-arg]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Objective", self.row.id))

    @strawberry.field
    def code(self) -> str:
        return self.row.code

    @strawberry.field
    def title(self) -> str:
        return self.row.title

    @strawberry.field
    def version(self) -> int:
        return self.row.version

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @strawberry.field
    async def resolution(self, info: Info) -> ResolutionType | None:
        row = await info.context.loaders.resolutions_by_id.load(self.row.resolution_id)
        return ResolutionType.of(row) if row else None

    @strawberry.field(description="At most five, in order.")
    async def key_results(self, info: Info) -> list[KeyResultType]:
        return [KeyResultType.of(row) for row in await info.context.loaders.key_results_by_objective_id.load(self.row.id)]

    @strawberry.field(description="Its review check-ins, newest first.")
    async def reviews(
        self, info: Info, first: REVIEWS_FIRST = 20, after: REVIEWS_AFTER = None
    ) -> Connection[ReviewType]:
        return await reviews_of(info, "objective", self.row.id, first, after)


@strawberry.type(name="Resolution", description="A strategic document issued by a unit; an action programme implements a higher one.")
class ResolutionType(Node):
    row: strawberry.Private[ResolutionRow]

    @classmethod
    def of(cls, row: ResolutionRow) -> ResolutionType:
        return cls(row=row)  # type: ignore[call-arg]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Resolution", self.row.id))

    @strawberry.field(description="e.g. 57-NQ/TW, CTr-57/P07.")
    def code(self) -> str:
        return self.row.code

    @strawberry.field
    def title(self) -> str:
        return self.row.title

    @strawberry.field(description="resolution, directive, conclusion, action_programme or plan.")
    def kind(self) -> str:
        return self.row.kind

    @strawberry.field(description="draft, in_effect, completed, superseded or cancelled.")
    def status(self) -> str:
        return self.row.status

    @strawberry.field
    def issued_on(self) -> date:
        return self.row.issued_on

    @strawberry.field
    def summary(self) -> str | None:
        return self.row.summary

    @strawberry.field
    def document_url(self) -> str | None:
        return self.row.document_url

    @strawberry.field(description="The kinds of units under the issuer expected to issue an implementing programme.")
    def implementer_kinds(self) -> list[str]:
        return self.row.implementer_kinds.split(",") if self.row.implementer_kinds else []

    @strawberry.field(description="By when the expected units must issue their programme.")
    def programme_due_on(self) -> date | None:
        return self.row.programme_due_on

    @strawberry.field
    def version(self) -> int:
        return self.row.version

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @strawberry.field(description="The unit that issued it: null only when it is neither in your scope nor above your unit.")
    async def issuing_unit(self, info: Info) -> UnitType | None:
        row = await info.context.loaders.nameable_units_by_id.load(self.row.issuing_unit_id)
        return UnitType.of(row) if row else None

    @strawberry.field(description="The higher resolution this programme implements (null if none or out of your sight).")
    async def implements(self, info: Info) -> ResolutionType | None:
        if self.row.implements_id is None:
            return None
        row = await info.context.loaders.resolutions_by_id.load(self.row.implements_id)
        return ResolutionType.of(row) if row else None

    @strawberry.field(description="Its plan's revisions (an action programme's), newest first; the first is the current one. At most 50.")
    async def plan_revisions(self, info: Info) -> list[PlanRevisionType]:
        return [PlanRevisionType(row=r) for r in await info.context.loaders.plan_revisions_by_resolution_id.load(self.row.id)]

    @strawberry.field(description="The programmes that implement this resolution, that you may see, in code order, paged (every province may issue one).")
    async def implemented_by(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FULL_PAGE_DESCRIPTION)] = MAX_PAGE,
        after: Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
    ) -> Connection[ResolutionType]:
        check_first(first)
        loaders = info.context.loaders
        rows = await loaders.programme_pages_by_resolution_id.load((self.row.id, (("after", BY_CODE.decode(after)), ("first", first))))
        resolution_id = self.row.id
        return build_connection(
            rows, first=first, after=after, ordering=BY_CODE, key=lambda row: row.code, wrap=ResolutionType.of,
            count=lambda: loaders.programme_count_by_resolution_id.load(resolution_id),
        )

    @strawberry.field(description="The KPIs of this resolution that you may see.")
    async def kpis(self, info: Info) -> list[KpiType]:
        return [KpiType.of(row) for row in await info.context.loaders.kpis_by_resolution_id.load(self.row.id)]

    @strawberry.field
    async def objectives(self, info: Info) -> list[ObjectiveType]:
        return [ObjectiveType.of(row) for row in await info.context.loaders.objectives_by_resolution_id.load(self.row.id)]

    @strawberry.field(description="The expected implementers you may see, in code order, with their programme and state.")
    async def coverage(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_DESCRIPTION)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
        state: CoverageState | None = None,
    ) -> Connection[CoverageEntry]:
        check_first(first)
        cursor = BY_CODE.decode(after)
        loaders = info.context.loaders
        args = (state.value if state else None, first, cursor, info.context.today)
        rows = await loaders.coverage_by_resolution_id.load((self.row.id, args))
        summary_key = self.row.id

        async def count() -> int:
            summary = await loaders.coverage_summary_by_resolution_id.load(summary_key)
            return summary[state.value] if state else sum(summary.values())

        return build_connection(rows, first=first, after=after, ordering=BY_CODE, key=lambda row: row.unit.code, wrap=lambda row: CoverageEntry(row=row), count=count)

    @strawberry.field(description="How many expected implementers you may see, by state.")
    async def coverage_summary(self, info: Info) -> CoverageSummary:
        counts = await info.context.loaders.coverage_summary_by_resolution_id.load(self.row.id)
        return CoverageSummary(expected=sum(counts.values()), **counts)


async def _resolution_node(info: Info, pk: int) -> ResolutionType | None:
    row = await info.context.loaders.resolutions_by_id.load(pk)
    return ResolutionType.of(row) if row else None


async def _objective_node(info: Info, pk: int) -> ObjectiveType | None:
    row = await info.context.loaders.objectives_by_id.load(pk)
    return ObjectiveType.of(row) if row else None


async def _key_result_node(info: Info, pk: int) -> KeyResultType | None:
    row = await info.context.loaders.key_results_by_id.load(pk)
    return KeyResultType.of(row) if row else None


register_node("Resolution", _resolution_node)
register_node("Objective", _objective_node)
register_node("KeyResult", _key_result_node)
