"""The AuditEvent type: who did what to which object, before and after, in the hash chain."""

from __future__ import annotations

import json
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from resolute.api.audit.models import AuditEvent as AuditEventRow
from resolute.schema.accounts.types import UserType
from resolute.schema.context import Info
from resolute.schema.ids import encode_id
from resolute.schema.node import Node, register_node
from resolute.schema.org.types import UnitType

__all__ = ["AuditEventType"]


@strawberry.type(name="AuditEvent", description="One mutation's record. `hash` covers the content and `prevHash`; `resolute audit verify` rechecks the chain.")
class AuditEventType(Node):
    row: strawberry.Private[AuditEventRow]

    @classmethod
    def of(cls, row: AuditEventRow) -> AuditEventType:
        return cls(row=row)  # type: ignore[call-arg]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("AuditEvent", self.row.id))

    @strawberry.field
    def occurred_at(self) -> datetime:
        return self.row.occurred_at

    @strawberry.field(description="The mutation, e.g. unitMove.")
    def action(self) -> str:
        return self.row.action

    @strawberry.field
    def object_type(self) -> str:
        return self.row.object_type

    @strawberry.field(description="The object's key within its type (a database id, or a code for unit kinds).")
    def object_key(self) -> str:
        return self.row.object_key

    @strawberry.field(description="The username of who acted, kept even if the account is out of your scope.")
    def actor_username(self) -> str | None:
        return self.row.actor_username

    @strawberry.field(description="The account that acted, if it is in your scope.")
    async def actor(self, info: Info) -> UserType | None:
        if self.row.actor_id is None:
            return None
        row = await info.context.loaders.users_by_id.load(self.row.actor_id)
        return UserType.of(row) if row else None

    @strawberry.field(description="The home unit of the object.")
    async def unit(self, info: Info) -> UnitType | None:
        if self.row.unit_id is None:
            return None
        row = await info.context.loaders.units_by_id.load(self.row.unit_id)
        return UnitType.of(row) if row else None

    @strawberry.field
    def before(self) -> JSON | None:
        return json.loads(self.row.before) if self.row.before else None

    @strawberry.field
    def after(self) -> JSON | None:
        return json.loads(self.row.after) if self.row.after else None

    @strawberry.field
    def request_id(self) -> str | None:
        return self.row.request_id

    @strawberry.field
    def hash(self) -> str:
        return self.row.hash

    @strawberry.field
    def prev_hash(self) -> str:
        return self.row.prev_hash


async def _event_node(info: Info, pk: int) -> AuditEventType | None:
    row = await info.context.loaders.audit_events_by_id.load(pk)
    return AuditEventType.of(row) if row else None


register_node("AuditEvent", _event_node)
