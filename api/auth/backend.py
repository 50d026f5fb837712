"""Authentication as a Starlette backend: bearer token -> principal, for every route alike.

The principal is read fresh from the database on every request (one statement), on the
request's own session (api.request_state), so a deactivation, a revocation or a password change
takes effect on the very next request. A missing or refused token leaves the caller anonymous, with the reason kept
for the routes that require a caller (they answer 401); routes that do not (health, login) go on.
"""

from __future__ import annotations

import logging

from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser
from starlette.requests import HTTPConnection

from resolute.api.access.scope import Principal
from resolute.api.auth.principal import Account, load_account
from resolute.api.auth.tokens import TokenClaims, TokenError, decode_token
from resolute.api.settings import Settings

__all__ = ["Anonymous", "Caller", "TokenBackend"]

log = logging.getLogger("resolute.auth")

MISSING = "authentication required: send 'Authorization: Bearer <token>' (POST /auth/token to get one)"
REFUSED = "invalid or expired token"


class Caller(BaseUser):
    """An authenticated caller: its principal (user, unit, grants), the account it was read from, and its
    token's claims (a long-lived connection reads the account again with them)."""

    def __init__(self, account: Account, claims: TokenClaims | None = None) -> None:
        self.account = account
        self.claims = claims

    @property
    def principal(self) -> Principal:
        return self.account.principal

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.principal.username


class Anonymous(BaseUser):
    """No caller, and why (one vague reason for the client; the detail goes to the log)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    @property
    def is_authenticated(self) -> bool:
        return False

    @property
    def display_name(self) -> str:
        return ""


class TokenBackend(AuthenticationBackend):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser]:
        scheme, _, token = conn.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return AuthCredentials(), Anonymous(MISSING)
        try:
            claims = decode_token(self.settings, token.strip())
        except TokenError as exc:
            log.info("refused token: %s", exc)
            return AuthCredentials(), Anonymous(REFUSED)
        async with conn.state.db.use() as session:
            account = await load_account(session, claims)
        if account is None:
            return AuthCredentials(), Anonymous(REFUSED)
        return AuthCredentials(["authenticated"]), Caller(account, claims)
