"""Mutations: resolutionCreate, resolutionUpdate, objectiveCreate, objectiveUpdate, keyResultCreate, keyResultUpdate."""

from __future__ import annotations

from datetime import date

import strawberry

from resolute.api.resolutions import service
from resolute.schema.context import IdempotencyKeyArg, Info, perform
from resolute.schema.errors import UserError, user_errors
from resolute.schema.ids import input_id
from resolute.schema.resolutions.types import KeyResultType, ObjectiveType, ResolutionType

__all__ = ["ResolutionsMutation"]

UNSET = strawberry.UNSET


@strawberry.input
class ResolutionCreateInput:
    code: str = strawberry.field(description="Unique, e.g. 57-NQ/TW or CTr-57/P07 (at most 80 characters).")
    title: str = strawberry.field(description="At most 500 characters.")
    kind: str = strawberry.field(description="resolution, directive, conclusion, action_programme or plan.")
    issuing_unit_id: strawberry.ID
    issued_on: date = strawberry.field(description="Not in the future, unless the status is draft.")
    status: str = "in_effect"
    summary: str | None = None
    document_url: str | None = strawberry.field(default=None, description="An http(s) link to the document.")
    implements_id: strawberry.ID | None = strawberry.field(default=None, description="Required for an action programme: a resolution issued above its issuer.")
    implementer_kinds: list[str] | None = strawberry.field(default=None, description="Kinds of units under the issuer that must issue an implementing programme.")
    programme_due_on: date | None = None


@strawberry.input(description="Only the fields you give change.")
class ResolutionUpdateInput:
    id: strawberry.ID
    version: int = strawberry.field(description="The version you read (required): refused with CONFLICT, naming the current version, if it changed since.")
    title: str | None = UNSET
    status: str | None = UNSET
    summary: str | None = UNSET
    document_url: str | None = UNSET
    issued_on: date | None = UNSET
    implementer_kinds: list[str] | None = UNSET
    programme_due_on: date | None = UNSET


@strawberry.input
class ObjectiveCreateInput:
    resolution_id: strawberry.ID
    code: str = strawberry.field(description="Unique, e.g. 57-NQ/TW-O1.")
    title: str


@strawberry.input
class ObjectiveUpdateInput:
    id: strawberry.ID
    title: str
    version: int = strawberry.field(description="The version you read (required): refused with CONFLICT, naming the current version, if it changed since.")


@strawberry.input
class KeyResultCreateInput:
    objective_id: strawberry.ID = strawberry.field(description="An objective has at most five key results.")
    title: str


@strawberry.input
class KeyResultUpdateInput:
    id: strawberry.ID
    title: str
    version: int = strawberry.field(description="The version you read (required): refused with CONFLICT, naming the current version, if it changed since.")


@strawberry.type
class ResolutionCreatePayload:
    resolution: ResolutionType | None
    errors: list[UserError]


@strawberry.type
class ResolutionUpdatePayload:
    resolution: ResolutionType | None
    errors: list[UserError]


@strawberry.type
class ObjectiveCreatePayload:
    objective: ObjectiveType | None
    errors: list[UserError]


@strawberry.type
class ObjectiveUpdatePayload:
    objective: ObjectiveType | None
    errors: list[UserError]


@strawberry.type
class KeyResultCreatePayload:
    key_result: KeyResultType | None
    errors: list[UserError]


@strawberry.type
class KeyResultUpdatePayload:
    key_result: KeyResultType | None
    errors: list[UserError]


def _given(input: object, *names: str) -> dict[str, object]:
    """The fields of an update input that were sent (UNSET ones are left alone)."""
    return {name: getattr(input, name) for name in names if getattr(input, name) is not UNSET}


@strawberry.type
class ResolutionsMutation:
    @strawberry.mutation(description="Define a resolution or an action programme for a unit in your scope (manager, admin).")
    async def resolution_create(self, info: Info, input: ResolutionCreateInput, idempotency_key: IdempotencyKeyArg = None) -> ResolutionCreatePayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.create_resolution(
            uow, code=input.code, title=input.title, kind=input.kind,
            issuing_unit_id=input_id(input.issuing_unit_id, "Unit", "issuingUnitId"), issued_on=input.issued_on, status=input.status,
            summary=input.summary, document_url=input.document_url,
            implements_id=input_id(input.implements_id, "Resolution", "implementsId") if input.implements_id else None,
            implementer_kinds=input.implementer_kinds, programme_due_on=input.programme_due_on,
        ))
        return ResolutionCreatePayload(resolution=ResolutionType.of(outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Edit a resolution you may define (manager, admin).")
    async def resolution_update(self, info: Info, input: ResolutionUpdateInput, idempotency_key: IdempotencyKeyArg = None) -> ResolutionUpdatePayload:
        changes = _given(input, "title", "status", "summary", "document_url", "issued_on", "implementer_kinds", "programme_due_on")
        outcome = await perform(info, idempotency_key, lambda uow: service.update_resolution(
            uow, resolution_id=input_id(input.id, "Resolution", "id"), version=input.version, changes=changes,
        ))
        return ResolutionUpdatePayload(resolution=ResolutionType.of(outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Add an objective to a resolution (manager, admin).")
    async def objective_create(self, info: Info, input: ObjectiveCreateInput, idempotency_key: IdempotencyKeyArg = None) -> ObjectiveCreatePayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.create_objective(
            uow, resolution_id=input_id(input.resolution_id, "Resolution", "resolutionId"), code=input.code, title=input.title,
        ))
        return ObjectiveCreatePayload(objective=ObjectiveType.of(outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Rename an objective (manager, admin).")
    async def objective_update(self, info: Info, input: ObjectiveUpdateInput, idempotency_key: IdempotencyKeyArg = None) -> ObjectiveUpdatePayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.update_objective(
            uow, objective_id=input_id(input.id, "Objective", "id"), version=input.version, title=input.title,
        ))
        return ObjectiveUpdatePayload(objective=ObjectiveType.of(outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Add a key result to an objective; at most five (manager, admin).")
    async def key_result_create(self, info: Info, input: KeyResultCreateInput, idempotency_key: IdempotencyKeyArg = None) -> KeyResultCreatePayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.create_key_result(
            uow, objective_id=input_id(input.objective_id, "Objective", "objectiveId"), title=input.title,
        ))
        return KeyResultCreatePayload(key_result=KeyResultType.of(outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Rename a key result (manager, admin).")
    async def key_result_update(self, info: Info, input: KeyResultUpdateInput, idempotency_key: IdempotencyKeyArg = None) -> KeyResultUpdatePayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.update_key_result(
            uow, key_result_id=input_id(input.id, "KeyResult", "id"), version=input.version, title=input.title,
        ))
        return KeyResultUpdatePayload(key_result=KeyResultType.of(outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))
