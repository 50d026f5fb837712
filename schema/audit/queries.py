"""The auditEvents query: newest first, for auditors and admins, within their scope."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from resolute.api.audit import reads
from resolute.api.audit.reads import AuditFilter
from resolute.schema.audit.types import AuditEventType
from resolute.schema.context import Info
from resolute.schema.filters import unit_path
from resolute.schema.pagination import AFTER_DESCRIPTION, FIRST_DESCRIPTION, NEWEST_FIRST, Connection, build_connection, check_first

__all__ = ["AuditQuery"]


@strawberry.input(description="Narrow the audit trail.")
class AuditFilterInput:
    action: str | None = strawberry.field(default=None, description="A mutation name, e.g. unitMove.")
    object_type: str | None = strawberry.field(default=None, description="unit, unit_kind, user or grant.")
    under: strawberry.ID | None = strawberry.field(default=None, description="Only events whose object's home unit lies in this unit's subtree.")
    since: datetime | None = None


@strawberry.type
class AuditQuery:
    @strawberry.field(description="Audit events you may read (auditors and admins), newest first.")
    async def audit_events(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_DESCRIPTION)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
        filter: AuditFilterInput | None = None,
    ) -> Connection[AuditEventType]:
        check_first(first)
        cursor = NEWEST_FIRST.decode(after)
        given = filter or AuditFilterInput()
        under_path, nothing = await unit_path(info, given.under, "filter.under")
        flt = AuditFilter(action=given.action, object_type=given.object_type, under_path=under_path, since=given.since, matches_nothing=nothing)
        ctx = info.context
        async with ctx.db.use() as session:
            rows = await reads.list_events(session, ctx.scope, flt, first=first, before_id=cursor)

        async def count() -> int:
            async with ctx.db.use() as session:
                return await reads.count_events(session, ctx.scope, flt)

        return build_connection(rows, first=first, after=after, ordering=NEWEST_FIRST, key=lambda row: row.id, wrap=AuditEventType.of, count=count)
