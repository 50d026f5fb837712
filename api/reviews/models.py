"""A review of an objective or a KPI, each key result's confidence, and the adjustments it made."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from resolute.api.db import Base, UtcDateTime, utcnow

__all__ = ["CADENCES", "CONFIDENCES", "Review", "ReviewAdjustment", "ReviewConfidence"]

CADENCES = ("weekly", "monthly", "quarterly")
CONFIDENCES = ("on_track", "at_risk", "off_track")


class Review(Base):
    """One check-in of an objective (its key results) or of a KPI, held at a unit, recorded once."""

    __tablename__ = "reviews"
    __table_args__ = (CheckConstraint("(objective_id IS NULL) <> (kpi_id IS NULL)", name="one_subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    objective_id: Mapped[int | None] = mapped_column(ForeignKey("objectives.id"), index=True)
    kpi_id: Mapped[int | None] = mapped_column(ForeignKey("kpis.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)  # where it was held: the owner of what it reviews
    cadence: Mapped[str] = mapped_column(String(16))
    held_on: Mapped[date] = mapped_column(Date)
    narrative: Mapped[str] = mapped_column(Text)
    decisions: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ReviewConfidence(Base):
    """How confident the review is in a key result (or, for a KPI's review, in the KPI: no key result)."""

    __tablename__ = "review_confidences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    key_result_id: Mapped[int | None] = mapped_column(ForeignKey("key_results.id"))
    confidence: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(1000))


class ReviewAdjustment(Base):
    """A target or a due date the review changed: what it was, what it became, why, and who approved it."""

    __tablename__ = "review_adjustments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    object_type: Mapped[str] = mapped_column(String(16))  # kpi (its target) or task (its due date)
    object_id: Mapped[int] = mapped_column(Integer)
    before: Mapped[str] = mapped_column(String(40))
    after: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(1000))
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
