"""A mutation's idempotency key, claimed and completed in the mutation's own transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from resolute.api.db import Base, UtcDateTime

__all__ = ["IdempotencyKey"]


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    operation: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))  # HMAC-SHA256 of the operation and its input
    result_ref: Mapped[str | None] = mapped_column(String(160))  # e.g. "Unit:42"
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
