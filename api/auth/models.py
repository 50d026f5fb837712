"""Login sessions and their refresh tokens (api.auth.sessions says how they rotate).

A session is one login on one device: it starts with a password, lives at most `session_ttl_seconds`,
and ends at logout, at a replayed refresh token, or when the account's tokens are cut
(`users.tokens_valid_after`). Its refresh tokens form a chain: each one is used once, for its successor.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from resolute.api.db import Base, UtcDateTime, utcnow

__all__ = ["AuthSession", "RefreshToken"]


class AuthSession(Base):
    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random; the access tokens' `sid`
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())  # no refresh after this, whatever the chain
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # logout, reuse (an old refresh token replayed: the chain is taken to be stolen)
    revoked_reason: Mapped[str | None] = mapped_column(String(16))
    client: Mapped[str | None] = mapped_column(String(200))  # the login's address and user agent, for the owner to recognise


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random; the refresh token's `jti`
    session_id: Mapped[str] = mapped_column(ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    successor_id: Mapped[str | None] = mapped_column(String(32))
