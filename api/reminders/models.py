"""Notifications the reminders worker made, the outbox that delivers them, and the lease that lets one worker run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from resolute.api.db import Base, UtcDateTime, utcnow

__all__ = ["Notification", "OutboxMessage", "WorkerLease"]


class WorkerLease(Base):
    """Who runs a named worker until when: a second worker waits until the lease runs out."""

    __tablename__ = "worker_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Notification(Base):
    """One reminder or escalation step, or one returned item, for one person, made once (its key is unique), shown in the API."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"), index=True)  # what a reminder is about
    data_return_id: Mapped[int | None] = mapped_column(ForeignKey("data_returns.id"), index=True)  # an item returned to its reporters
    kind: Mapped[str] = mapped_column(String(16))  # due_soon, report_missing, overdue, data_returned
    step: Mapped[int] = mapped_column(Integer)  # 1 the unit, 2 its leaders, 3 the parent unit's, 4 the oversight list
    key: Mapped[str] = mapped_column(String(160), unique=True)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class OutboxMessage(Base):
    """A notification to deliver, written in the same transaction: a crash never loses one, a delivery marks it once."""

    __tablename__ = "notification_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
