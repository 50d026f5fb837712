"""A published snapshot of a resolution's results: written once, never edited (a correction is a new version)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from resolute.api.db import Base, UtcDateTime, utcnow

__all__ = ["PublishedResult"]


class PublishedResult(Base):
    """The figures as they were when published (canonical JSON) and their SHA-256, also written in the audit chain."""

    __tablename__ = "published_results"
    __table_args__ = (UniqueConstraint("resolution_id", "period", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resolution_id: Mapped[int] = mapped_column(ForeignKey("resolutions.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))  # whose subtree the figures cover: the issuing unit
    period: Mapped[str] = mapped_column(String(7))
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(1000))  # why a correction (version 2 and later) was published
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
