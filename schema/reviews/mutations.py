"""Mutation: reviewRecord."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import strawberry

from resolute.api.reviews import service
from resolute.schema.context import IdempotencyKeyArg, Info, perform
from resolute.schema.errors import UserError, user_errors
from resolute.schema.ids import input_id
from resolute.schema.reviews.types import ReviewType

__all__ = ["ReviewsMutation"]


@strawberry.input
class ReviewConfidenceInput:
    key_result_id: strawberry.ID | None = strawberry.field(default=None, description="A key result of the objective reviewed (none for a KPI's review).")
    confidence: str = strawberry.field(description="on_track, at_risk or off_track.")
    note: str | None = None


@strawberry.input
class ReviewAdjustmentInput:
    kpi_id: strawberry.ID | None = strawberry.field(default=None, description="A KPI the review covers, with its new `target`; or")
    target: Decimal | None = None
    task_id: strawberry.ID | None = strawberry.field(default=None, description="a task of what the review covers, with its new `dueOn`.")
    due_on: date | None = None
    reason: str = strawberry.field(description="Why (required, at most 1,000 characters).")


@strawberry.input
class ReviewRecordInput:
    objective_id: strawberry.ID | None = strawberry.field(default=None, description="Review an objective (its key results), or")
    kpi_id: strawberry.ID | None = strawberry.field(default=None, description="a KPI: exactly one of the two.")
    cadence: str = strawberry.field(description="weekly, monthly or quarterly.")
    held_on: date = strawberry.field(description="When it was held (not in the future).")
    narrative: str
    decisions: str | None = None
    confidences: list[ReviewConfidenceInput] = strawberry.field(default_factory=list)
    adjustments: list[ReviewAdjustmentInput] = strawberry.field(default_factory=list, description=f"At most {service.MAX_ADJUSTMENTS}.")
    approved_by_id: strawberry.ID | None = strawberry.field(default=None, description="Who approved the adjustments: someone else who may define them there.")


@strawberry.type
class ReviewRecordPayload:
    review: ReviewType | None
    errors: list[UserError]


def _id(value: strawberry.ID | None, type_name: str, field: str) -> int | None:
    return None if value is None else input_id(value, type_name, field)


@strawberry.type
class ReviewsMutation:
    @strawberry.mutation(description="Record a held review check-in, its confidences and the adjustments it made (who may define what it reviews).")
    async def review_record(self, info: Info, input: ReviewRecordInput, idempotency_key: IdempotencyKeyArg = None) -> ReviewRecordPayload:
        confidences = [service.Confidence(_id(c.key_result_id, "KeyResult", f"confidences[{i}].keyResultId"), c.confidence, c.note)
                       for i, c in enumerate(input.confidences)]  # fmt: skip
        adjustments = [service.Adjustment(_id(a.kpi_id, "Kpi", f"adjustments[{i}].kpiId"), _id(a.task_id, "Task", f"adjustments[{i}].taskId"),
                                          a.target, a.due_on, a.reason) for i, a in enumerate(input.adjustments)]  # fmt: skip
        objective_id, kpi_id = _id(input.objective_id, "Objective", "objectiveId"), _id(input.kpi_id, "Kpi", "kpiId")
        approved_by_id = _id(input.approved_by_id, "User", "approvedById")
        outcome = await perform(info, idempotency_key, lambda uow: service.record_review(
            uow, objective_id=objective_id, kpi_id=kpi_id, cadence=input.cadence, held_on=input.held_on, narrative=input.narrative,
            decisions=input.decisions, confidences=confidences, adjustments=adjustments, approved_by_id=approved_by_id,
        ))  # fmt: skip
        return ReviewRecordPayload(review=ReviewType(row=outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))
