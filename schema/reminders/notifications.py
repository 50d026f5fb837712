"""The caller's notifications (reminders and escalations the worker made for it), and marking one read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from resolute.api.reminders import reads, service
from resolute.api.reminders.models import Notification as Row
from resolute.schema.context import Info, perform
from resolute.schema.errors import UserError, user_errors
from resolute.schema.ids import decode_any, encode_id
from resolute.schema.pagination import AFTER_DESCRIPTION, FIRST_DESCRIPTION, NEWEST_FIRST, Connection, build_connection, check_first
from resolute.schema.tasks.types import AssignmentType

__all__ = ["NotificationsMutation", "NotificationsQuery"]


@strawberry.type(name="Notification", description="A reminder or an escalation step the reminders worker made for you (see the README).")
class NotificationType:
    row: strawberry.Private[Row]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Notification", self.row.id))

    @strawberry.field(description="due_soon, report_missing or overdue (the reminders worker's), or data_returned (an item of your unit returned for correction).")
    def kind(self) -> str:
        return self.row.kind

    @strawberry.field(description="1 the assignee unit, 2 its leaders, 3 the parent unit's leaders and managers, 4 the oversight list.")
    def step(self) -> int:
        return self.row.step

    @strawberry.field
    def message(self) -> str:
        return self.row.message

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    def read_at(self) -> datetime | None:
        return self.row.read_at

    @strawberry.field(description="The assignment it is about, if you may see it (none for a returned measurement).")
    async def assignment(self, info: Info) -> AssignmentType | None:
        row = await info.context.loaders.assignments_by_id.load(self.row.assignment_id) if self.row.assignment_id else None
        return AssignmentType(row=row) if row else None

    @strawberry.field(description="The returned item it is about (data_returned), if you may see it.")
    async def data_return(self, info: Info) -> Annotated[DataReturnType, strawberry.lazy("resolute.schema.approvals.types")] | None:  # noqa: F821
        from resolute.schema.approvals.types import DataReturnType

        row = await info.context.loaders.data_returns_by_id.load(self.row.data_return_id) if self.row.data_return_id else None
        return DataReturnType(row=row) if row else None


@strawberry.type
class NotificationsQuery:
    @strawberry.field(description="Your notifications, newest first (only unread ones with unread: true).")
    async def notifications(
        self,
        info: Info,
        unread: bool = False,
        first: Annotated[int, strawberry.argument(description=FIRST_DESCRIPTION)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
    ) -> Connection[NotificationType]:
        check_first(first)
        ctx = info.context
        user_id, cursor = ctx.scope.principal.user_id, NEWEST_FIRST.decode(after)
        async with ctx.db.use() as session:
            rows = await reads.list_notifications(session, user_id=user_id, unread=unread, first=first, after=cursor)

        async def count() -> int:
            async with ctx.db.use() as session:
                return await reads.count_notifications(session, user_id=user_id, unread=unread)

        return build_connection(rows, first=first, after=after, ordering=NEWEST_FIRST, key=lambda row: row.id, wrap=lambda row: NotificationType(row=row), count=count)


@strawberry.type
class NotificationReadPayload:
    notification: NotificationType | None
    errors: list[UserError]


@strawberry.type
class NotificationsMutation:
    @strawberry.mutation(description="Mark one of your notifications read (another's is NOT_FOUND).")
    async def notification_read(self, info: Info, id: strawberry.ID) -> NotificationReadPayload:
        decoded = decode_any(id)
        pk = decoded[1] if decoded and decoded[0] == "Notification" else -1
        outcome = await perform(info, None, lambda uow: service.mark_read(uow, notification_id=pk))
        return NotificationReadPayload(notification=NotificationType(row=outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))
