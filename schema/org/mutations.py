"""Mutations of the tree, noun first: unitCreate, unitUpdate, unitMove, unitArchive, unitKindCreate."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry

from resolute.api.org import merge, service
from resolute.api.org.models import Unit as UnitRow
from resolute.api.transaction import Outcome, UnitOfWork
from resolute.schema.context import IdempotencyKeyArg, Info, perform
from resolute.schema.errors import UserError, user_errors
from resolute.schema.ids import input_id
from resolute.schema.org.types import UnitKindType, UnitType

__all__ = ["OrgMutation"]


@strawberry.input
class UnitCreateInput:
    parent_id: strawberry.ID = strawberry.field(description="The new unit's parent.")
    code: str = strawberry.field(description="Unique code: 1-64 ASCII letters, digits, '.', '_' or '-'.")
    name: str = strawberry.field(description="At most 255 characters.")
    kind: str = strawberry.field(description="One of `unitKinds`.")


@strawberry.input
class UnitUpdateInput:
    id: strawberry.ID
    version: int = strawberry.field(description="The version you read (required): refused with CONFLICT, naming the current version, if it changed since.")
    name: str | None = None
    kind: str | None = None


@strawberry.input
class UnitMoveInput:
    id: strawberry.ID
    parent_id: strawberry.ID = strawberry.field(description="The new parent; it may not lie under the unit itself.")
    version: int = strawberry.field(description="The version you read (required): refused with CONFLICT, naming the current version, if it changed since.")


@strawberry.input
class UnitArchiveInput:
    id: strawberry.ID
    cascade: bool = strawberry.field(default=False, description="Also archive every unit below; without it, a unit with active sub-units is refused.")
    version: int = strawberry.field(description="The version you read (required): refused with CONFLICT, naming the current version, if it changed since.")


@strawberry.input
class UnitMergeInput:
    source_ids: list[strawberry.ID] = strawberry.field(description="Up to 100 units merged into the target; they are archived, their history kept.")
    target_id: strawberry.ID


@strawberry.input
class UnitKindCreateInput:
    code: str
    label: str


@strawberry.type(description="The changed unit, or null with the reasons in `errors`.")
class UnitPayload:
    unit: UnitType | None
    errors: list[UserError]


@strawberry.type
class UnitCreatePayload(UnitPayload):
    pass


@strawberry.type
class UnitUpdatePayload(UnitPayload):
    pass


@strawberry.type
class UnitMovePayload(UnitPayload):
    pass


@strawberry.type
class UnitArchivePayload(UnitPayload):
    pass


@strawberry.type
class UnitMergePayload(UnitPayload):
    """`unit` is the target."""


@strawberry.type
class UnitKindCreatePayload:
    unit_kind: UnitKindType | None
    errors: list[UserError]


P = TypeVar("P", bound=UnitPayload)


async def _unit_payload(payload: type[P], info: Info, key: str | None, call: Callable[[UnitOfWork], Awaitable[Outcome[UnitRow]]]) -> P:
    outcome = await perform(info, key, call)
    return payload(unit=UnitType.of(outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))


@strawberry.type
class OrgMutation:
    @strawberry.mutation(description="Create a unit under a parent in your scope (admin).")
    async def unit_create(self, info: Info, input: UnitCreateInput, idempotency_key: IdempotencyKeyArg = None) -> UnitCreatePayload:
        return await _unit_payload(UnitCreatePayload, info, idempotency_key, lambda uow: service.create_unit(
            uow, parent_id=input_id(input.parent_id, "Unit", "parentId"), code=input.code, name=input.name, kind=input.kind,
        ))

    @strawberry.mutation(description="Rename a unit or change its kind (admin).")
    async def unit_update(self, info: Info, input: UnitUpdateInput, idempotency_key: IdempotencyKeyArg = None) -> UnitUpdatePayload:
        return await _unit_payload(UnitUpdatePayload, info, idempotency_key, lambda uow: service.update_unit(
            uow, unit_id=input_id(input.id, "Unit", "id"), version=input.version, name=input.name, kind=input.kind,
        ))

    @strawberry.mutation(description="Move a unit and its whole subtree under a new parent, in one transaction (admin).")
    async def unit_move(self, info: Info, input: UnitMoveInput, idempotency_key: IdempotencyKeyArg = None) -> UnitMovePayload:
        return await _unit_payload(UnitMovePayload, info, idempotency_key, lambda uow: service.move_unit(
            uow, unit_id=input_id(input.id, "Unit", "id"), new_parent_id=input_id(input.parent_id, "Unit", "parentId"), version=input.version,
        ))

    @strawberry.mutation(description="Archive a unit (soft: its history stays visible) (admin).")
    async def unit_archive(self, info: Info, input: UnitArchiveInput, idempotency_key: IdempotencyKeyArg = None) -> UnitArchivePayload:
        return await _unit_payload(UnitArchivePayload, info, idempotency_key, lambda uow: service.archive_unit(
            uow, unit_id=input_id(input.id, "Unit", "id"), cascade=input.cascade, version=input.version,
        ))

    @strawberry.mutation(description="Merge units into a target: open assignments, KPI duties, users and grants move; sources are archived, their history rolls up under the target (admin).")
    async def unit_merge(self, info: Info, input: UnitMergeInput, idempotency_key: IdempotencyKeyArg = None) -> UnitMergePayload:
        return await _unit_payload(UnitMergePayload, info, idempotency_key, lambda uow: merge.merge_units(
            uow, source_ids=[input_id(s, "Unit", f"sourceIds[{i}]") for i, s in enumerate(input.source_ids[:101])],
            target_id=input_id(input.target_id, "Unit", "targetId"),
        ))

    @strawberry.mutation(description="Add a unit kind (admin of the whole tree).")
    async def unit_kind_create(self, info: Info, input: UnitKindCreateInput, idempotency_key: IdempotencyKeyArg = None) -> UnitKindCreatePayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.create_kind(uow, code=input.code, label=input.label))
        return UnitKindCreatePayload(unit_kind=UnitKindType.of(outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))
