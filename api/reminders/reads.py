"""Reading a person's notifications: only its own, newest first."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.reminders.models import Notification

__all__ = ["count_notifications", "list_notifications"]


def _mine(user_id: int, unread: bool) -> list[ColumnElement[bool]]:
    return [Notification.user_id == user_id, *([Notification.read_at.is_(None)] if unread else [])]


async def list_notifications(session: AsyncSession, *, user_id: int, unread: bool, first: int, after: int | None) -> list[Notification]:
    """Up to first+1 of the user's notifications, newest first, after the cursor's id."""
    query = select(Notification).where(*_mine(user_id, unread), *([Notification.id < after] if after is not None else []))
    return list(await session.scalars(query.order_by(Notification.id.desc()).limit(first + 1)))


async def count_notifications(session: AsyncSession, *, user_id: int, unread: bool) -> int:
    return int(await session.scalar(select(func.count()).select_from(Notification).where(*_mine(user_id, unread))) or 0)
