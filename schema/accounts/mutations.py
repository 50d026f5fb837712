"""Mutations of accounts: userCreate, userDeactivate, userPasswordSet, passwordChange, roleGrant, roleRevoke."""

from __future__ import annotations

import strawberry

from resolute.api.accounts import service
from resolute.schema.accounts.types import GrantType, UserType
from resolute.schema.context import IdempotencyKeyArg, Info, perform
from resolute.schema.errors import UserError, user_errors
from resolute.schema.ids import input_id

__all__ = ["AccountsMutation"]


@strawberry.input
class UserCreateInput:
    username: str = strawberry.field(description="2-64 lower-case ASCII letters, digits, '.', '_' or '-'.")
    full_name: str = strawberry.field(description="At most 255 characters.")
    unit_id: strawberry.ID
    password: str | None = strawberry.field(default=None, description="10-256 characters; without it the account cannot log in until `userPasswordSet`.")


@strawberry.input
class UserDeactivateInput:
    id: strawberry.ID


@strawberry.input
class UserPasswordSetInput:
    id: strawberry.ID
    password: str = strawberry.field(description="10-256 characters.")


@strawberry.input
class PasswordChangeInput:
    current_password: str
    new_password: str = strawberry.field(description="10-256 characters.")


@strawberry.input
class RoleGrantInput:
    user_id: strawberry.ID
    role: str = strawberry.field(description="admin, leader, manager, officer, viewer, auditor or integrator.")
    unit_id: strawberry.ID = strawberry.field(description="The grant covers this unit and its whole subtree.")


@strawberry.input
class RoleRevokeInput:
    grant_id: strawberry.ID


@strawberry.type
class UserCreatePayload:
    user: UserType | None
    errors: list[UserError]


@strawberry.type
class UserDeactivatePayload:
    user: UserType | None
    errors: list[UserError]


@strawberry.type
class UserPasswordSetPayload:
    user: UserType | None
    errors: list[UserError]


@strawberry.type
class PasswordChangePayload:
    user: UserType | None
    errors: list[UserError]


@strawberry.type
class RoleGrantPayload:
    grant: GrantType | None
    errors: list[UserError]


@strawberry.type
class RoleRevokePayload:
    revoked_grant_id: strawberry.ID | None
    errors: list[UserError]


@strawberry.type
class AccountsMutation:
    @strawberry.mutation(description="Create an account in a unit of your scope (admin).")
    async def user_create(self, info: Info, input: UserCreateInput, idempotency_key: IdempotencyKeyArg = None) -> UserCreatePayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.create_user(
            uow, username=input.username, full_name=input.full_name, unit_id=input_id(input.unit_id, "Unit", "unitId"), password=input.password,
        ))
        return UserCreatePayload(user=UserType.of(outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Deactivate an account in your scope; its tokens stop working at once (admin).")
    async def user_deactivate(self, info: Info, input: UserDeactivateInput, idempotency_key: IdempotencyKeyArg = None) -> UserDeactivatePayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.deactivate_user(uow, user_id=input_id(input.id, "User", "id")))
        return UserDeactivatePayload(user=UserType.of(outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Set the password of an account in your scope, e.g. an imported one (admin).")
    async def user_password_set(self, info: Info, input: UserPasswordSetInput, idempotency_key: IdempotencyKeyArg = None) -> UserPasswordSetPayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.set_password(uow, user_id=input_id(input.id, "User", "id"), password=input.password))
        return UserPasswordSetPayload(user=UserType.of(outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Change your own password; your other tokens stop working.")
    async def password_change(self, info: Info, input: PasswordChangeInput, idempotency_key: IdempotencyKeyArg = None) -> PasswordChangePayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.change_password(
            uow, current_password=input.current_password, new_password=input.new_password,
        ))
        return PasswordChangePayload(user=UserType.of(outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Grant a role over a unit's subtree; only inside your scope, and only a role you hold there (admin).")
    async def role_grant(self, info: Info, input: RoleGrantInput, idempotency_key: IdempotencyKeyArg = None) -> RoleGrantPayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.grant_role(
            uow, user_id=input_id(input.user_id, "User", "userId"), role=input.role, unit_id=input_id(input.unit_id, "Unit", "unitId"),
        ))
        return RoleGrantPayload(grant=GrantType.of(outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Revoke a grant; its holder loses it on the next request (admin).")
    async def role_revoke(self, info: Info, input: RoleRevokeInput, idempotency_key: IdempotencyKeyArg = None) -> RoleRevokePayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.revoke_role(uow, grant_id=input_id(input.grant_id, "Grant", "grantId")))
        return RoleRevokePayload(revoked_grant_id=None if outcome.errors else input.grant_id, errors=user_errors(outcome.errors))
