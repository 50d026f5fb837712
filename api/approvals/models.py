"""A unit's approval of a resolution's figures for a period, and the single items returned for correction.

An approval row exists while the unit's figures (its own and, through its children's approvals, its subtree's)
stand approved at its level; `accepted` once the level above has taken them, after which only that level can
undo it. Un-approving deletes the row (the audit chain keeps it). A return names one measurement or progress
report with the reason; it is `returned`, then `corrected` by the reporter, then `cleared` by the level that
returned it, and the item counts as approved data only once cleared.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from resolute.api.db import Base, UtcDateTime, utcnow

__all__ = ["APPROVAL_STATES", "ITEM_KINDS", "OPEN_RETURN_STATES", "RETURN_STATES", "DataApproval", "DataReturn"]

APPROVAL_STATES = ("approved", "accepted")
ITEM_KINDS = ("measurement", "progress_report")
RETURN_STATES = ("returned", "corrected", "cleared")
OPEN_RETURN_STATES = ("returned", "corrected")  # the item is held back from approved figures


class DataApproval(Base):
    """The figures of a resolution (and the programmes implementing it) at one unit for one period, approved."""

    __tablename__ = "data_approvals"
    __table_args__ = (UniqueConstraint("resolution_id", "period", "unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resolution_id: Mapped[int] = mapped_column(ForeignKey("resolutions.id"))
    period: Mapped[str] = mapped_column(String(7))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class DataReturn(Base):
    """One item of approved figures sent back to its reporter with a reason, without reopening the period."""

    __tablename__ = "data_returns"
    __table_args__ = (
        # one open return per item at a time
        Index("uq_data_returns_open_item", "item_kind", "item_id", unique=True,
              sqlite_where=text("state <> 'cleared'"), postgresql_where=text("state <> 'cleared'")),
        Index("ix_data_returns_unit", "unit_id", "resolution_id", "period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resolution_id: Mapped[int] = mapped_column(ForeignKey("resolutions.id"))
    period: Mapped[str] = mapped_column(String(7))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))  # the unit whose figure it is
    item_kind: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int] = mapped_column(Integer)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"), index=True)  # a report's assignment
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(1000))
    returned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    returned_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    corrected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    corrected_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    cleared_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
