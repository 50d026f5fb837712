"""Units and unit kinds.

The tree is a materialised path of ids ("/1/7/42/"), collated bytewise, so that "everything
under X" is one range scan on an index; the path arithmetic itself lives in api/org/tree.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from resolute.api.db import Base, UtcDateTime, utcnow

__all__ = ["DEFAULT_KINDS", "PathString", "Unit", "UnitKind"]

DEFAULT_KINDS = ("central", "agency", "ministry", "province", "department", "commune", "cell")

# Bytewise ordering on PostgreSQL ("C" collation) so path ranges are prefix ranges.
PathString = String(1024).with_variant(String(1024, collation="C"), "postgresql")


class UnitKind(Base):
    """A kind of unit; the defaults are seeded, an organisation may add its own."""

    __tablename__ = "unit_kinds"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    label: Mapped[str] = mapped_column(String(255))


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = (CheckConstraint("depth >= 1", name="depth_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    search_name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(ForeignKey("unit_kinds.code"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    path: Mapped[str] = mapped_column(PathString, unique=True)
    depth: Mapped[int] = mapped_column(Integer)
    archived_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, server_default=func.now(), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
