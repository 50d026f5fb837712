"""GraphQL types of accounts: User and Grant (Nodes), Permission, Me."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolute.api.accounts.models import Grant as GrantRow
from resolute.api.accounts.models import User as UserRow
from resolute.schema.context import Info
from resolute.schema.ids import encode_id
from resolute.schema.node import Node, register_node
from resolute.schema.org.types import UnitSummary, UnitType

__all__ = ["GrantType", "MeType", "PermissionType", "UserType"]


@strawberry.type(name="Permission", description="An action on a kind of object that one of your grants allows somewhere in its scope.")
class PermissionType:
    object_type: str
    action: str


@strawberry.type(name="Grant", description="A role held over a unit and its whole subtree.")
class GrantType(Node):
    row: strawberry.Private[GrantRow]

    @classmethod
    def of(cls, row: GrantRow) -> "GrantType":
        return cls(row=row)  # type: ignore[call-arg]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Grant", self.row.id))

    @strawberry.field
    def role(self) -> str:
        return self.row.role

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field(description="The unit whose subtree the grant covers; null if that unit is outside your scope.")
    async def unit(self, info: Info) -> UnitType | None:
        row = await info.context.loaders.units_by_id.load(self.row.unit_id)
        return UnitType.of(row) if row else None

    @strawberry.field
    async def user(self, info: Info) -> UserType | None:
        row = await info.context.loaders.users_by_id.load(self.row.user_id)
        return UserType.of(row) if row else None

    @strawberry.field(description="What this grant allows, from the policy.")
    def permissions(self, info: Info) -> list[PermissionType]:
        policy = info.context.scope.policy
        return [PermissionType(object_type=obj, action=act) for obj, act in policy.matrix().get(self.row.role, ())]


@strawberry.type(name="User", description="An account; it belongs to one unit and holds grants.")
class UserType(Node):
    row: strawberry.Private[UserRow]

    @classmethod
    def of(cls, row: UserRow) -> "UserType":
        return cls(row=row)  # type: ignore[call-arg]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("User", self.row.id))

    @strawberry.field
    def username(self) -> str:
        return self.row.username

    @strawberry.field
    def full_name(self) -> str:
        return self.row.full_name

    @strawberry.field
    def active(self) -> bool:
        return self.row.active

    @strawberry.field(description="False for an imported account until an admin sets its password.")
    def has_password(self) -> bool:
        return self.row.password_hash is not None

    @strawberry.field
    def version(self) -> int:
        return self.row.version

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @strawberry.field
    async def unit(self, info: Info) -> UnitType | None:
        row = await info.context.loaders.units_by_id.load(self.row.unit_id)
        return UnitType.of(row) if row else None

    @strawberry.field
    async def grants(self, info: Info) -> list[GrantType]:
        return [GrantType.of(row) for row in await info.context.loaders.grants_by_user_id.load(self.row.id)]


@strawberry.type(name="Me", description="Who you are, where you stand, and what you may do.")
class MeType:
    user_id: strawberry.Private[int]
    unit_path: strawberry.Private[str]

    @strawberry.field
    async def user(self, info: Info) -> UserType:
        row = await info.context.loaders.users_by_id.load(self.user_id)
        assert row is not None, "the scope always lets a user read its own account"
        return UserType.of(row)

    @strawberry.field(description="Your own unit, if one of your grants covers it.")
    async def unit(self, info: Info) -> UnitType | None:
        row = await info.context.loaders.units_by_id.load(info.context.scope.principal.unit_id)
        return UnitType.of(row) if row else None

    @strawberry.field(description="Your own unit's ancestors, root first (code, name and kind only).")
    async def ancestors(self, info: Info) -> list[UnitSummary]:
        return [UnitSummary.of(row) for row in await info.context.loaders.ancestors_by_path.load(self.unit_path)]

    @strawberry.field
    async def grants(self, info: Info) -> list[GrantType]:
        return [GrantType.of(row) for row in await info.context.loaders.grants_by_user_id.load(self.user_id)]

    @strawberry.field(description="Every action one of your grants allows, somewhere in its scope.")
    def permissions(self, info: Info) -> list[PermissionType]:
        scope = info.context.scope
        return [PermissionType(object_type=obj, action=act) for obj, act in scope.policy.actions if scope.allows(obj, act)]


async def _user_node(info: Info, pk: int) -> UserType | None:
    row = await info.context.loaders.users_by_id.load(pk)
    return UserType.of(row) if row else None


async def _grant_node(info: Info, pk: int) -> GrantType | None:
    row = await info.context.loaders.grants_by_id.load(pk)
    return GrantType.of(row) if row else None


register_node("User", _user_node)
register_node("Grant", _grant_node)
