"""Authentication as a Starlette backend: bearer token -> principal, for every route alike.

The principal is read fresh from the database on every request (one statement; on PostgreSQL
outside any transaction, on the reader pool: api.db.RequestDB.reads), so a deactivation, a
revocation or a password change takes effect on the very next request. A missing or refused token leaves the caller anonymous, with the reason kept
for the routes that require a caller (they answer 401); routes that do not (health, login) go on.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser
from starlette.requests import HTTPConnection

from resolute.api.access.scope import Principal
from resolute.api.accounts.models import User
from resolute.api.auth.jwks import JwksCache, decode_external_token, issuer_of
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
    """Bearer token -> caller: Resolute's own access tokens, and those of an external identity provider when one is
    configured (api.auth.jwks), told apart by their issuer."""

    MAX_USERNAMES = 10_000

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.jwks = JwksCache(settings.jwks_url, timeout=settings.jwks_timeout_seconds, ttl=settings.jwks_ttl_seconds,
                              cooldown=settings.jwks_cooldown_seconds) if settings.jwks_url else None
        self._user_ids: dict[str, int] = {}  # external usernames -> ids (an id never changes)

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser]:
        scheme, _, token = conn.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return AuthCredentials(), Anonymous(MISSING)
        async with conn.state.db.reads() as connection:  # no transaction is begun for it (api.db.RequestDB.reads)
            try:
                claims = await self.claims(token.strip(), connection)
            except TokenError as exc:
                log.info("refused token: %s", exc)
                return AuthCredentials(), Anonymous(REFUSED)
            account = await load_account(connection, claims)
        if conn.scope["type"] == "websocket":
            await conn.state.db.close()  # a connection lives long, and would keep its reader's place (or session) all along
        if account is None:
            return AuthCredentials(), Anonymous(REFUSED)
        return AuthCredentials(["authenticated"]), Caller(account, claims)

    async def claims(self, token: str, session: AsyncSession | AsyncConnection) -> TokenClaims:
        """The claims of a valid access token, Resolute's own or the external provider's, or TokenError."""
        if self.jwks is None or issuer_of(token) != self.settings.external_issuer:
            return decode_token(self.settings, token)
        external = await decode_external_token(self.settings, self.jwks, token)
        user_id = self._user_ids.get(external.username)
        if user_id is None:
            user_id = await session.scalar(select(User.id).where(User.username == external.username))
            if user_id is None:
                raise TokenError(f"no user {external.username!r} for the identity provider's token")
            if len(self._user_ids) >= self.MAX_USERNAMES:
                self._user_ids.clear()
            self._user_ids[external.username] = user_id
        return TokenClaims(user_id=user_id, issued_at=external.issued_at, expires_at=external.expires_at)
