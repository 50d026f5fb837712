"""Access tokens of an external identity provider, verified with the keys it publishes (JWKS).

Set RESOLUTE_EXTERNAL_ISSUER and RESOLUTE_JWKS_URL: a token whose `iss` is that issuer is verified
with the provider's key named by its `kid` (the algorithm pinned by RESOLUTE_EXTERNAL_ALGORITHMS,
never read from the token), its audience (RESOLUTE_JWT_AUDIENCE) and expiry checked, and it stands for
the user whose username is its RESOLUTE_EXTERNAL_USERNAME_CLAIM (`preferred_username` by default).
Roles and scope still come from Resolute's own grants: the provider says who, never what.

The key set is fetched with a bounded time (RESOLUTE_JWKS_TIMEOUT_SECONDS), kept for
RESOLUTE_JWKS_TTL_SECONDS, and fetched again early only for an unknown `kid` (the provider rotated its
keys), at most once per RESOLUTE_JWKS_COOLDOWN_SECONDS: tokens with made-up `kid`s cannot turn the
server into a client hammering the provider. A provider that does not answer makes its tokens fail
(401), never the server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import jwt

from resolute.api.auth.tokens import TokenError

__all__ = ["ExternalClaims", "JwksCache", "decode_external_token"]

log = logging.getLogger("resolute.auth")

MAX_JWKS_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ExternalClaims:
    username: str
    issued_at: float
    expires_at: float


class JwksCache:
    def __init__(self, url: str, *, timeout: float, ttl: float, cooldown: float) -> None:
        self.url, self.timeout, self.ttl, self.cooldown = url, timeout, ttl, cooldown
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")  # when the keys were last fetched (successfully or not)
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> Any | None:
        """The provider's public key `kid`: the set is fetched again when it is older than the TTL, or when `kid` is
        unknown and the last fetch is older than the cooldown; None if the provider has no such key (or is away)."""
        if time.monotonic() - self._fetched_at <= self.ttl and kid in self._keys:
            return self._keys[kid]
        async with self._lock:  # one fetch for all the requests waiting on it
            since = time.monotonic() - self._fetched_at
            if since > self.ttl or (kid not in self._keys and since >= self.cooldown):
                await self._fetch()
        return self._keys.get(kid)

    async def _fetch(self) -> None:
        self._fetched_at = time.monotonic()
        try:
            document = await asyncio.wait_for(asyncio.to_thread(self._download), self.timeout + 0.5)
            keys = jwt.PyJWKSet.from_dict(document).keys
        except Exception as exc:  # noqa: BLE001 - unreachable, slow, or not a key set: keep the keys known so far
            log.warning("JWKS at %s not fetched: %s: %s", self.url, type(exc).__name__, exc)
            return
        self._keys = {k.key_id: k.key for k in keys if k.key_id}

    def _download(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url, timeout=self.timeout) as response:  # noqa: S310 - an https URL from settings
            return json.loads(response.read(MAX_JWKS_BYTES))


def issuer_of(token: str) -> str | None:
    """The token's `iss` before verification: only to choose how to verify it."""
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None
    return issuer if isinstance(issuer, str) else None


async def decode_external_token(settings: Any, jwks: JwksCache, token: str) -> ExternalClaims:
    """The claims of a valid access token of the external provider, or TokenError."""
    try:
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenError("an external token names its key (kid)")
        key = await jwks.key(kid)
        if key is None:
            raise TokenError(f"no key {kid!r} at the identity provider")
        claims = jwt.decode(
            token, key, algorithms=list(settings.external_algorithms), audience=settings.jwt_audience, issuer=settings.external_issuer,
            leeway=settings.jwt_leeway_seconds, options={"require": ["exp", "iat", "iss", "aud"]},
        )
        if header.get("typ") not in ("at+jwt", "application/at+jwt") and claims.get("typ") not in ("Bearer", "access"):
            raise TokenError("not an access token (typ)")  # an ID token or a refresh token of the provider
        username = claims.get(settings.external_username_claim)
        if not isinstance(username, str) or not username:
            raise TokenError(f"no {settings.external_username_claim!r} claim")
        return ExternalClaims(username=username.strip().lower(), issued_at=float(claims["iat"]), expires_at=float(claims["exp"]))
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise TokenError(str(exc) or exc.__class__.__name__) from exc
