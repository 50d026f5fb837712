"""GraphQL types of review check-ins."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from resolute.api.reviews.models import Review as Row
from resolute.api.reviews.models import ReviewAdjustment as AdjustmentRow
from resolute.api.reviews.models import ReviewConfidence as ConfidenceRow
from resolute.schema.accounts.types import UserType
from resolute.schema.context import Info
from resolute.schema.ids import encode_id
from resolute.schema.org.types import UnitType
from resolute.schema.pagination import AFTER_DESCRIPTION, FIRST_DESCRIPTION, NEWEST_FIRST, Connection, build_connection, check_first

if TYPE_CHECKING:
    from resolute.schema.kpis.types import KpiType
    from resolute.schema.resolutions.types import KeyResultType
    from resolute.schema.tasks.types import TaskType

__all__ = ["ReviewType", "reviews_of"]


@strawberry.type(name="ReviewConfidence", description="How confident a review is in a key result (for a KPI's review: in the KPI; no key result).")
class ReviewConfidenceType:
    row: strawberry.Private[ConfidenceRow]

    @strawberry.field(description="on_track, at_risk or off_track.")
    def confidence(self) -> str:
        return self.row.confidence

    @strawberry.field
    def note(self) -> str | None:
        return self.row.note

    @strawberry.field
    async def key_result(self, info: Info) -> Annotated[KeyResultType, strawberry.lazy("resolute.schema.resolutions.types")] | None:
        from resolute.schema.resolutions.types import KeyResultType

        if self.row.key_result_id is None:
            return None
        row = await info.context.loaders.key_results_by_id.load(self.row.key_result_id)
        return KeyResultType.of(row) if row else None


@strawberry.type(name="ReviewAdjustment", description="A target or a due date a review changed: what it was, what it became, why, who approved it.")
class ReviewAdjustmentType:
    row: strawberry.Private[AdjustmentRow]

    @strawberry.field(description="kpi (its target) or task (its due date).")
    def object_type(self) -> str:
        return self.row.object_type

    @strawberry.field
    def before(self) -> str:
        return self.row.before

    @strawberry.field
    def after(self) -> str:
        return self.row.after

    @strawberry.field
    def reason(self) -> str:
        return self.row.reason

    @strawberry.field
    async def approved_by(self, info: Info) -> UserType | None:
        row = await info.context.loaders.users_by_id.load(self.row.approved_by_id)
        return UserType.of(row) if row else None

    @strawberry.field
    async def kpi(self, info: Info) -> Annotated[KpiType, strawberry.lazy("resolute.schema.kpis.types")] | None:
        from resolute.schema.kpis.types import KpiType

        if self.row.object_type != "kpi":
            return None
        row = await info.context.loaders.kpis_by_id.load(self.row.object_id)
        return KpiType.of(row) if row else None

    @strawberry.field
    async def task(self, info: Info) -> Annotated[TaskType, strawberry.lazy("resolute.schema.tasks.types")] | None:
        from resolute.schema.tasks.types import TaskType

        if self.row.object_type != "task":
            return None
        row = await info.context.loaders.tasks_by_id.load(self.row.object_id)
        return TaskType(row=row) if row else None


@strawberry.type(name="Review", description="A review check-in of an objective (its key results) or of a KPI.")
class ReviewType:
    row: strawberry.Private[Row]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Review", self.row.id))

    @strawberry.field(description="weekly, monthly or quarterly.")
    def cadence(self) -> str:
        return self.row.cadence

    @strawberry.field
    def held_on(self) -> date:
        return self.row.held_on

    @strawberry.field
    def narrative(self) -> str:
        return self.row.narrative

    @strawberry.field
    def decisions(self) -> str | None:
        return self.row.decisions

    @strawberry.field
    def recorded_at(self) -> datetime:
        return self.row.recorded_at

    @strawberry.field(description="Where it was held: the unit that issued what it reviews.")
    async def unit(self, info: Info) -> UnitType | None:
        row = await info.context.loaders.nameable_units_by_id.load(self.row.unit_id)
        return UnitType.of(row) if row else None

    @strawberry.field
    async def recorded_by(self, info: Info) -> UserType | None:
        if self.row.recorded_by_id is None:
            return None
        row = await info.context.loaders.users_by_id.load(self.row.recorded_by_id)
        return UserType.of(row) if row else None

    @strawberry.field(description="At most one per key result (five an objective).")
    async def confidences(self, info: Info) -> list[ReviewConfidenceType]:
        return [ReviewConfidenceType(row=r) for r in await info.context.loaders.confidences_by_review_id.load(self.row.id)]

    @strawberry.field(description="At most twenty.")
    async def adjustments(self, info: Info) -> list[ReviewAdjustmentType]:
        return [ReviewAdjustmentType(row=r) for r in await info.context.loaders.adjustments_by_review_id.load(self.row.id)]


async def reviews_of(info: Info, subject: str, pk: int, first: int, after: str | None) -> Connection[ReviewType]:
    """An objective's or a KPI's reviews, newest first, paged (the field resolvers of both)."""
    check_first(first)
    loaders = info.context.loaders
    rows = await loaders.review_pages.load((pk, (("after", NEWEST_FIRST.decode(after)), ("first", first), ("subject", subject))))
    return build_connection(rows, first=first, after=after, ordering=NEWEST_FIRST, key=lambda row: row.id, wrap=lambda row: ReviewType(row=row),
                            count=lambda: loaders.review_counts.load((pk, (("subject", subject),))))  # fmt: skip


REVIEWS_FIRST = Annotated[int, strawberry.argument(description=FIRST_DESCRIPTION)]
REVIEWS_AFTER = Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)]
