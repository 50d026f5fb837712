"""JWT access tokens: the only module that imports jwt.

The algorithm is pinned from settings (never read from the token), `exp`, `iat`, `sub`, `iss`
and `aud` are required and checked, with a small leeway for clock skew.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass

import jwt

from resolute.api.settings import Settings

__all__ = ["TokenClaims", "TokenError", "decode_token", "issue_token"]


MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database


class TokenError(Exception):
    """The token is missing, malformed, expired, wrongly signed or not for us."""


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    issued_at: float
    expires_at: float


def issue_token(settings: Settings, user_id: int, *, now: float | None = None) -> tuple[str, int]:
    """A signed access token for `user_id` and its lifetime in seconds."""
    issued = math.floor((now if now is not None else time.time()) * 1000) / 1000  # milliseconds, so a revocation cuts sharply
    ttl = settings.token_ttl_seconds
    claims = {
        "sub": str(user_id),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued,
        "nbf": issued,
        "exp": int(issued) + ttl,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, settings.signing_key(), algorithm=settings.jwt_algorithm), ttl


def decode_token(settings: Settings, token: str) -> TokenClaims:
    try:
        claims = jwt.decode(
            token,
            settings.verifying_key(),
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=settings.jwt_leeway_seconds,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject.isdecimal() or not 1 <= int(subject) <= MAX_ID:
            raise TokenError("the subject is not a user id")
        return TokenClaims(user_id=int(subject), issued_at=float(claims["iat"]), expires_at=float(claims["exp"]))
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise TokenError(str(exc) or exc.__class__.__name__) from exc
