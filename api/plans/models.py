"""The revisions of a programme's plan: submitted, approved or returned by the unit above, the approved ones frozen."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from resolute.api.db import Base, UtcDateTime, utcnow

__all__ = ["PLAN_STATES", "PlanRevision"]

PLAN_STATES = ("draft", "submitted", "approved", "returned")


class PlanRevision(Base):
    """One revision of a programme's plan (its objectives, KPIs and tasks): locked while submitted or approved."""

    __tablename__ = "plan_revisions"
    __table_args__ = (UniqueConstraint("resolution_id", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resolution_id: Mapped[int] = mapped_column(ForeignKey("resolutions.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    reason: Mapped[str | None] = mapped_column(String(1000))  # why it was returned, or why a new revision was opened
    snapshot: Mapped[str | None] = mapped_column(Text)  # the plan as approved (canonical JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
