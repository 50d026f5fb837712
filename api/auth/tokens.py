"""JWTs: access tokens and refresh tokens, the only module that imports jwt.

The algorithm is pinned from settings (never read from the token); `exp`, `iat`, `sub`, `iss`,
`aud` and `typ` are required and checked, with a small leeway for clock skew. `typ` tells an access
token from a refresh token, so neither is accepted in the other's place. An access token made at a
login carries its session (`sid`): a logout or a replayed refresh token ends it at once.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from typing import Literal

import jwt

from resolute.api.lru import LRU
from resolute.api.settings import Settings

__all__ = ["RefreshClaims", "TokenClaims", "TokenError", "decode_refresh_token", "decode_token", "issue_refresh_token", "issue_token"]


MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database
ACCESS, REFRESH = "access", "refresh"


class TokenError(Exception):
    """The token is missing, malformed, expired, wrongly signed, not for us, or of the other kind."""


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    issued_at: float
    expires_at: float
    session_id: str | None = None  # the login session, for tokens made at a login or a refresh


@dataclass(frozen=True)
class RefreshClaims:
    user_id: int
    token_id: str  # the refresh token's row
    session_id: str


def issue_token(settings: Settings, user_id: int, *, session_id: str | None = None, now: float | None = None) -> tuple[str, int]:
    """A signed access token for `user_id` and its lifetime in seconds."""
    issued = math.floor((now if now is not None else time.time()) * 1000) / 1000  # milliseconds, so a revocation cuts sharply
    ttl = settings.token_ttl_seconds
    claims: dict[str, object] = {
        "typ": ACCESS,
        "sub": str(user_id),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued,
        "nbf": issued,
        "exp": int(issued) + ttl,
        "jti": uuid.uuid4().hex,
    }
    if session_id is not None:
        claims["sid"] = session_id
    return jwt.encode(claims, settings.signing_key(), algorithm=settings.jwt_algorithm), ttl


def issue_refresh_token(settings: Settings, *, user_id: int, token_id: str, session_id: str, issued_at: int, expires_at: int) -> str:
    """The refresh token of row `token_id`. Made from the row alone, so the same row gives the same token
    again (a phone that lost the answer to a refresh is given the same successor)."""
    claims = {
        "typ": REFRESH,
        "sub": str(user_id),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued_at,
        "exp": expires_at,
        "jti": token_id,
        "sid": session_id,
    }
    return jwt.encode(claims, settings.signing_key(), algorithm=settings.jwt_algorithm)


def _decode(settings: Settings, token: str, kind: Literal["access", "refresh"]) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(
        token,
        settings.verifying_key(),
        algorithms=[settings.jwt_algorithm],
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        leeway=settings.jwt_leeway_seconds,
        options={"require": ["exp", "iat", "sub", "iss", "aud", "typ"]},
    )
    if claims["typ"] != kind:
        raise TokenError(f"a {claims['typ']!r} token where an {kind!r} token is expected")
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject.isdecimal() or not 1 <= int(subject) <= MAX_ID:
        raise TokenError("the subject is not a user id")
    session = claims.get("sid")
    if session is not None and (not isinstance(session, str) or not 1 <= len(session) <= 32):
        raise TokenError("the session is not a session id")
    return claims


# access tokens already verified, by (token, settings, verifying key): a client sends the same token with every request, and
# checking its signature and claims again cost a large share of a small request's time (bench/README.md). Only
# the expiry can change a verified token's answer; whether its account, session and grants still hold is read
# from the database on every request (api.auth.principal), so a revocation takes effect at once.
_VERIFIED = LRU(4096)  # (token, settings, verifying key) -> TokenClaims


def decode_token(settings: Settings, token: str) -> TokenClaims:
    """The claims of a valid access token, or TokenError."""
    key = (token, settings, settings.verifying_key())  # a key replaced in its file refuses the tokens it signed, at once
    known = _VERIFIED.get_fresh(key)
    if known is not None and time.time() < known.expires_at + settings.jwt_leeway_seconds:  # PyJWT's own test of `exp`
        return known
    try:
        claims = _decode(settings, token, ACCESS)
        found = TokenClaims(user_id=int(str(claims["sub"])), issued_at=float(claims["iat"]), expires_at=float(claims["exp"]),  # type: ignore[arg-type]
                            session_id=claims.get("sid"))  # type: ignore[arg-type]
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        _VERIFIED.pop(key, None)
        raise TokenError(str(exc) or exc.__class__.__name__) from exc
    _VERIFIED.put(key, found)
    return found


def decode_refresh_token(settings: Settings, token: str) -> RefreshClaims:
    """The claims of a refresh token that is well signed and not expired, or TokenError (whether its row
    still allows a refresh is api.auth.sessions' to say)."""
    try:
        claims = _decode(settings, token, REFRESH)
        token_id, session_id = claims.get("jti"), claims.get("sid")
        if not isinstance(token_id, str) or not 1 <= len(token_id) <= 32 or not isinstance(session_id, str):
            raise TokenError("a refresh token names its row and its session")
        return RefreshClaims(user_id=int(str(claims["sub"])), token_id=token_id, session_id=session_id)
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise TokenError(str(exc) or exc.__class__.__name__) from exc
