"""GraphQL of plan approval: a programme's plan revisions and the mutations that submit, decide and revise them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolute.api.plans import service
from resolute.api.plans.models import PlanRevision as Row
from resolute.schema.accounts.types import UserType
from resolute.schema.context import IdempotencyKeyArg, Info, perform
from resolute.schema.errors import UserError, user_errors
from resolute.schema.ids import encode_id, input_id

__all__ = ["PlanRevisionType", "PlansMutation"]


@strawberry.type(name="PlanRevision", description=(
    "A revision of an action programme's plan (objectives, KPIs, tasks): draft, submitted to the unit above, approved "
    "(locked; its snapshot frozen) or returned with a reason. A submitted or approved plan is changed only through a new revision."
))
class PlanRevisionType:
    row: strawberry.Private[Row]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("PlanRevision", self.row.id))

    @strawberry.field
    def revision(self) -> int:
        return self.row.revision

    @strawberry.field(description="draft, submitted, approved or returned.")
    def state(self) -> str:
        return self.row.state

    @strawberry.field
    def submitted_at(self) -> datetime | None:
        return self.row.submitted_at

    @strawberry.field
    def decided_at(self) -> datetime | None:
        return self.row.decided_at

    @strawberry.field(description="Why it was returned, or why this revision was opened.")
    def reason(self) -> str | None:
        return self.row.reason

    @strawberry.field(description="The plan as approved (canonical JSON: objectives, KPIs with targets, tasks with dates and lead units).")
    def snapshot(self) -> str | None:
        return self.row.snapshot

    @strawberry.field
    async def submitted_by(self, info: Info) -> UserType | None:
        row = await info.context.loaders.users_by_id.load(self.row.submitted_by_id) if self.row.submitted_by_id else None
        return UserType.of(row) if row else None

    @strawberry.field
    async def decided_by(self, info: Info) -> UserType | None:
        row = await info.context.loaders.users_by_id.load(self.row.decided_by_id) if self.row.decided_by_id else None
        return UserType.of(row) if row else None


@strawberry.type
class PlanPayload:
    plan: PlanRevisionType | None
    errors: list[UserError]


def _payload(outcome: object) -> PlanPayload:
    value = getattr(outcome, "value", None)
    return PlanPayload(plan=PlanRevisionType(row=value) if value else None, errors=user_errors(getattr(outcome, "errors", [])))


@strawberry.type
class PlansMutation:
    @strawberry.mutation(description="Submit an action programme's plan to the unit above (who may define the programme); locked from then on.")
    async def plan_submit(self, info: Info, resolution_id: strawberry.ID, idempotency_key: IdempotencyKeyArg = None) -> PlanPayload:
        pk = input_id(resolution_id, "Resolution", "resolutionId")
        return _payload(await perform(info, idempotency_key, lambda uow: service.submit(uow, resolution_id=pk)))

    @strawberry.mutation(description="Approve the submitted plan, or return it with a reason (who may define resolutions at the unit above its issuer).")
    async def plan_decide(
        self, info: Info, resolution_id: strawberry.ID, approve: bool, reason: str | None = None, idempotency_key: IdempotencyKeyArg = None
    ) -> PlanPayload:
        pk = input_id(resolution_id, "Resolution", "resolutionId")
        return _payload(await perform(info, idempotency_key, lambda uow: service.decide(uow, resolution_id=pk, approve=approve, reason=reason)))

    @strawberry.mutation(description="Open a new revision of an approved plan to change it (a reason required); the approved one stays.")
    async def plan_revise(self, info: Info, resolution_id: strawberry.ID, reason: str, idempotency_key: IdempotencyKeyArg = None) -> PlanPayload:
        pk = input_id(resolution_id, "Resolution", "resolutionId")
        return _payload(await perform(info, idempotency_key, lambda uow: service.reopen(uow, resolution_id=pk, reason=reason)))
