"""Mutation: resultsPublish."""

from __future__ import annotations

import strawberry

from resolute.api.results import service
from resolute.schema.context import IdempotencyKeyArg, Info, perform
from resolute.schema.errors import UserError, user_errors
from resolute.schema.ids import input_id
from resolute.schema.results.types import PublishedResultType

__all__ = ["ResultsMutation"]


@strawberry.input
class ResultsPublishInput:
    resolution_id: strawberry.ID
    period: str = strawberry.field(description="A month (2025-09), a quarter (2025-Q3) or a year (2025) that has begun.")
    reason: str | None = strawberry.field(default=None, description="Required for a correction (the period already has a version); at most 1,000 characters.")


@strawberry.type
class ResultsPublishPayload:
    published: PublishedResultType | None
    errors: list[UserError]


@strawberry.type
class ResultsMutation:
    @strawberry.mutation(description=(
        "Freeze a resolution's results for a period as its next version, over its issuing unit's subtree and its programmes down "
        "the chain (who may define the resolution)."
    ))
    async def results_publish(self, info: Info, input: ResultsPublishInput, idempotency_key: IdempotencyKeyArg = None) -> ResultsPublishPayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.publish_results(
            uow, resolution_id=input_id(input.resolution_id, "Resolution", "resolutionId"), period=input.period, reason=input.reason,
        ))
        return ResultsPublishPayload(published=PublishedResultType(row=outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))
