"""Login sessions: refresh tokens rotated at every use, with reuse detection, and logout.

A login opens a session and gives an access token (short-lived) and a refresh token. A refresh uses
its token once: it answers a new access token and the token's successor. Using a token a second time
means two parties hold it (a stolen copy): the whole session is revoked, its access tokens with it
(they carry its id). One exception keeps phones on poor links logged in: the same token used again
within `refresh_grace_seconds`, before its successor was used, answers that same successor.

A session keeps only its latest two token rows. An older token of a live session has no row; its
signature proves we issued it, so it is a replay too.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select, update

from resolute.api.accounts.models import User
from resolute.api.auth.models import AuthSession, RefreshToken
from resolute.api.auth.tokens import RefreshClaims, issue_refresh_token, issue_token
from resolute.api.settings import Settings
from resolute.api.transaction import Tx, operation

__all__ = ["Tokens", "close_sessions", "open_session", "refresh_session"]


@dataclass(frozen=True)
class Tokens:
    """What a login or a refresh answers."""

    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    session_id: str

    def body(self) -> dict[str, object]:
        return {"access_token": self.access_token, "token_type": "Bearer", "expires_in": self.expires_in,
                "refresh_token": self.refresh_token, "refresh_expires_in": self.refresh_expires_in}


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)  # whole seconds: a refresh token is made again from its row


def _new_id() -> str:
    return secrets.token_hex(16)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _tokens(settings: Settings, user_id: int, session: AuthSession, token: RefreshToken, now: datetime) -> Tokens:
    access, ttl = issue_token(settings, user_id, session_id=session.id)
    issued, expires = _aware(token.issued_at), _aware(token.expires_at)
    refresh = issue_refresh_token(settings, user_id=user_id, token_id=token.id, session_id=session.id,
                                  issued_at=int(issued.timestamp()), expires_at=int(expires.timestamp()))
    return Tokens(access, ttl, refresh, max(0, int((expires - now).total_seconds())), session.id)


def _successor(settings: Settings, session: AuthSession, now: datetime) -> RefreshToken:
    expires = min(now + timedelta(seconds=settings.refresh_ttl_seconds), _aware(session.expires_at))
    return RefreshToken(id=_new_id(), session_id=session.id, issued_at=now, expires_at=expires)


@operation("sessionOpen")
async def open_session(tx: Tx, *, user_id: int, client: str | None) -> Tokens:
    """A new session for a user who just gave its password; the user's ended sessions are cleared away."""
    session_, settings, now = tx.session, tx.settings, _now()
    forgotten = now - timedelta(seconds=settings.token_ttl_seconds + settings.jwt_leeway_seconds)  # no access token of theirs is alive
    await tx.session.execute(delete(AuthSession).where(
        AuthSession.user_id == user_id, or_(AuthSession.expires_at < now, AuthSession.revoked_at < forgotten)))
    auth = AuthSession(id=_new_id(), user_id=user_id, created_at=now, expires_at=now + timedelta(seconds=settings.session_ttl_seconds),
                       client=(client or "")[:200] or None)
    token = _successor(settings, auth, now)
    session_.add_all([auth, token])
    await session_.flush()
    return _tokens(settings, user_id, auth, token, now)


async def _revoke(tx: Tx, auth: AuthSession, user: User, reason: str, now: datetime) -> None:
    await tx.session.execute(update(AuthSession).where(AuthSession.id == auth.id).values(revoked_at=now, revoked_reason=reason))
    tx.record(action="refreshReuse" if reason == "reuse" else "logout", object_type="user", object_key=user.id, unit_id=user.unit_id,
              after={"session": auth.id, "reason": reason})


@operation("tokenRefresh")
async def refresh_session(tx: Tx, *, claims: RefreshClaims) -> Tokens | None:
    """The next tokens of a session, or None: the session is over, the account inactive or its tokens cut,
    or the token was used before (then the session is revoked, and that refusal commits)."""
    session_, settings, now = tx.session, tx.settings, _now()
    found = (await session_.execute(
        select(AuthSession, User).join(User, User.id == AuthSession.user_id)
        .where(AuthSession.id == claims.session_id, AuthSession.user_id == claims.user_id).with_for_update()
    )).first()
    if found is None:
        return None
    auth, user = found
    if auth.revoked_at is not None or _aware(auth.expires_at) <= now or not user.active:
        return None
    if user.tokens_valid_after is not None and _aware(auth.created_at) < _aware(user.tokens_valid_after).replace(microsecond=0):
        return None  # a password change or a reset since the login
    token = await session_.get(RefreshToken, claims.token_id)
    if token is None or token.session_id != auth.id:
        await _revoke(tx, auth, user, "reuse", now)  # an old token of this session, its row gone
        return None
    if token.used_at is None:
        successor = _successor(settings, auth, now)
        await session_.execute(delete(RefreshToken).where(RefreshToken.session_id == auth.id, RefreshToken.id != token.id))
        await session_.execute(update(RefreshToken).where(RefreshToken.id == token.id).values(used_at=now, successor_id=successor.id))
        session_.add(successor)
        await session_.flush()
        return _tokens(settings, user.id, auth, successor, now)
    successor_ = await session_.get(RefreshToken, token.successor_id) if token.successor_id else None
    if successor_ is not None and successor_.used_at is None and now - _aware(token.used_at) <= timedelta(seconds=settings.refresh_grace_seconds):
        return _tokens(settings, user.id, auth, successor_, now)  # the same successor: the answer was lost on the way
    await _revoke(tx, auth, user, "reuse", now)
    return None


@operation("logout")
async def close_sessions(tx: Tx, *, user_id: int, session_id: str | None) -> int:
    """End one session of `user_id`, or all of them (session_id None); how many were live."""
    session_, now = tx.session, _now()
    query = select(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    if session_id is not None:
        query = query.where(AuthSession.id == session_id)
    live = list((await session_.scalars(query)).all())
    user = await session_.get(User, user_id)
    if not live or user is None:
        return 0
    await session_.execute(update(AuthSession).where(AuthSession.id.in_([s.id for s in live])).values(revoked_at=now, revoked_reason="logout"))
    tx.record(action="logout", object_type="user", object_key=user.id, unit_id=user.unit_id,
              after={"sessions": sorted(s.id for s in live), "reason": "logout"})
    return len(live)
