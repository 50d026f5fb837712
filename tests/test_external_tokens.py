"""Tokens of an external identity provider, verified with the keys it publishes (JWKS): accepted for the user its
username claim names (whose grants still decide everything), refused when forged, expired, for another audience,
an ID token, signed with HMAC over the public key, or of a key the provider does not have; the key set is cached,
fetched again for a new key at most once per cooldown, and a provider that hangs costs a bounded wait."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.support import Api, small_tree, small_users, twin

ISSUER = "https://idp.example/realms/resolute"
ME = "{ me { user { username } grants { role unit { code } } } }"


class Provider:
    """An identity provider's key endpoint, on a local port: its keys, a delay, and how often it was asked."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.delay = 0.0
        self.fetches = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                provider.fetches += 1
                time.sleep(provider.delay)
                body = json.dumps({"keys": [{**json.loads(RSAAlgorithm.to_jwk(k.public_key())), "kid": kid, "alg": "RS256", "use": "sig"}
                                            for kid, k in provider.keys.items()]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/protocol/openid-connect/certs"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def new_key(self, kid: str) -> rsa.RSAPrivateKey:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self.keys[kid]

    def token(self, kid: str, *, key: Any = None, algorithm: str = "RS256", header_typ: str = "at+jwt", **overrides: Any) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": "resolute-api", "sub": "6f1c2a", "preferred_username": "p01.manager", "iat": now, "exp": now + 300, **overrides}
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, key if key is not None else self.keys[kid], algorithm=algorithm, headers={"kid": kid, "typ": header_typ})


@pytest.fixture
def provider() -> Iterator[Provider]:
    idp = Provider()
    idp.new_key("k1")
    yield idp
    idp.server.shutdown()


async def who(api: Api, token: str) -> tuple[int, Any]:
    body = await api.gql(ME, token=token)
    return body["_status"], body.get("data")


async def test_a_provider_token_stands_for_its_user_with_resolutes_own_grants(api: Api, provider: Provider) -> None:
    await api.seed(small_tree(), small_users())
    async with twin(api, external_issuer=ISSUER, jwks_url=provider.url, jwks_cooldown_seconds=1.0) as app:
        status, data = await who(app, provider.token("k1"))
        assert status == 200 and data == {"me": {"user": {"username": "p01.manager"}, "grants": [{"role": "manager", "unit": {"code": "P01"}}]}}
        assert (await who(app, provider.token("k1", preferred_username="P01.Admin")))[1]["me"]["user"]["username"] == "p01.admin"
        assert provider.fetches == 1  # the key set is kept
        own = await api.token_for("p02.manager")
        assert (await who(app, own))[1]["me"]["user"]["username"] == "p02.manager"  # Resolute's own tokens still work
        # unknown keys: refused, and within the cooldown the provider is not asked again, however many come
        for n in range(5):
            assert (await who(app, provider.token(f"k{n + 10}", key=provider.keys["k1"])))[0] == 401
        assert provider.fetches == 1
        # the provider rotates its keys: after the cooldown, a token of the new key makes one fetch
        provider.new_key("k2")
        time.sleep(1.1)
        assert (await who(app, provider.token("k2")))[0] == 200
        assert provider.fetches == 2


async def test_forged_and_wrong_provider_tokens_are_refused(api: Api, provider: Provider) -> None:
    await api.seed(small_tree(), small_users())
    pem = provider.keys["k1"].public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    now = int(time.time())
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with twin(api, external_issuer=ISSUER, jwks_url=provider.url) as app:
        cases = {
            "another key, same kid": provider.token("k1", key=stranger),
            "expired": provider.token("k1", iat=now - 900, exp=now - 600),
            "another audience": provider.token("k1", aud="account"),
            "no audience": provider.token("k1", aud=None),
            "an ID token": provider.token("k1", header_typ="JWT"),
            "an unknown user": provider.token("k1", preferred_username="nobody.here"),
            "no username": provider.token("k1", preferred_username=None),
            "HMAC over the public key": _hmac_token(pem, now),
        }
        answers = {name: (await who(app, token))[0] for name, token in cases.items()}
        assert answers == dict.fromkeys(cases, 401)
        assert (await who(app, provider.token("k1")))[0] == 200  # control


def _hmac_token(secret: bytes, now: int) -> str:
    """HS256 'signed' with the provider's public key as the secret, by hand (PyJWT refuses to)."""
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    head = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": "k1"}).encode())
    body = b64(json.dumps({"iss": ISSUER, "aud": "resolute-api", "preferred_username": "admin", "iat": now, "exp": now + 300}).encode())
    return (head + b"." + body + b"." + b64(hmac.new(secret, head + b"." + body, hashlib.sha256).digest())).decode()


async def test_a_provider_that_hangs_costs_a_bounded_wait(api: Api, provider: Provider) -> None:
    await api.seed(small_tree(), small_users())
    provider.delay = 3.0
    async with twin(api, external_issuer=ISSUER, jwks_url=provider.url, jwks_timeout_seconds=0.5) as app:
        start = time.monotonic()
        assert (await who(app, provider.token("k1")))[0] == 401
        assert time.monotonic() - start < 1.8
        assert (await who(app, await api.token_for("admin")))[0] == 200  # Resolute's own tokens do not wait on it
