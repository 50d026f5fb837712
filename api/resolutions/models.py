"""Resolutions, objectives, key results.

An action programme is a resolution that `implements` a higher one (issued by an ancestor of
its issuing unit), so the chain central -> province -> commune is navigable both ways.
"""

from __future__ import annotations

from datetime import date, datetime

from typing import Any

from sqlalchemy import CheckConstraint, ColumnElement, Date, ForeignKey, Integer, String, Text, UniqueConstraint, func, literal
from sqlalchemy.orm import Mapped, mapped_column

from resolute.api.db import Base, UtcDateTime, utcnow

__all__ = ["MAX_KEY_RESULTS", "RESOLUTION_KINDS", "RESOLUTION_STATUSES", "KeyResult", "Objective", "Resolution", "expects_kind"]

RESOLUTION_KINDS = ("resolution", "directive", "conclusion", "action_programme", "plan")
RESOLUTION_STATUSES = ("draft", "in_effect", "completed", "superseded", "cancelled")
MAX_KEY_RESULTS = 5  # per objective (Hanoi's OKR model)


class Resolution(Base):
    __tablename__ = "resolutions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    search_title: Mapped[str] = mapped_column(String(600))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    issuing_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    issued_on: Mapped[date] = mapped_column(Date)
    summary: Mapped[str | None] = mapped_column(Text)
    document_url: Mapped[str | None] = mapped_column(String(500))
    implements_id: Mapped[int | None] = mapped_column(ForeignKey("resolutions.id"), index=True)
    # Coverage: which units under the issuer must issue an implementing programme, and by when.
    implementer_kinds: Mapped[str | None] = mapped_column(String(200))  # comma-separated unit kinds
    programme_due_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, server_default=func.now(), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


def expects_kind(implementer_kinds: Any, kind: Any) -> ColumnElement[bool]:
    """A resolution's comma-separated `implementer_kinds` lists the unit kind `kind` (both SQL columns):
    the one test of who is expected to issue a programme, for coverage and for scope alike."""
    listed = literal(",").op("||")(implementer_kinds).op("||")(literal(","))
    return listed.like(literal("%,").op("||")(kind).op("||")(literal(",%")))  # type: ignore[no-any-return]


class Objective(Base):
    __tablename__ = "objectives"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    resolution_id: Mapped[int] = mapped_column(ForeignKey("resolutions.id"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, server_default=func.now(), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class KeyResult(Base):
    __tablename__ = "key_results"
    __table_args__ = (UniqueConstraint("objective_id", "position"), CheckConstraint("position BETWEEN 1 AND 5", name="at_most_five"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    objective_id: Mapped[int] = mapped_column(ForeignKey("objectives.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1..5: with the unique constraint, a 6th cannot exist
    title: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, server_default=func.now(), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
