"""Login sessions: refresh tokens rotate at every use; a replayed one revokes its whole session (its
access tokens with it), except the same token again within the grace window, which answers the same
successor; logout ends one session or all; a deactivated account or a new password ends them too; and
the two kinds of token are never accepted in each other's place."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from sqlalchemy import func, select, update

from resolute.api.auth.models import AuthSession, RefreshToken
from tests.support import PASSWORD, Api, Backend, running_app, small_tree, small_users

ME = "{ me { user { username } } }"
REUSE_EVENTS = '{ auditEvents(first: 10, filter: {action: "refreshReuse"}) { nodes { unit { code } after } } }'
LOGOUT_EVENTS = '{ auditEvents(first: 10, filter: {action: "logout"}) { totalCount } }'


@pytest.fixture
async def tree(api: Api) -> Api:
    await api.seed(small_tree(), small_users())
    return api


async def login(api: Api, username: str = "p01.manager") -> dict[str, Any]:
    response = await api.login(username, PASSWORD)
    assert response.status_code == 200, response.text
    return response.json()


async def refresh(api: Api, token: str) -> tuple[int, dict[str, Any]]:
    response = await api.client.post("/auth/token", json={"grant_type": "refresh_token", "refresh_token": token})
    assert response.headers["cache-control"] == "no-store"
    return response.status_code, response.json()


async def logout(api: Api, body: dict[str, Any] | None = None, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await api.client.post("/auth/logout", json=body, headers=headers) if body is not None else await api.client.post("/auth/logout", headers=headers)
    return response.status_code


async def who(api: Api, access_token: str) -> str | None:
    """The username behind an access token, or None if it is refused (401 UNAUTHENTICATED)."""
    body = await api.gql(ME, token=access_token)
    if body["_status"] == 401:
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        return None
    assert not body.get("errors"), body
    return body["data"]["me"]["user"]["username"]


def decoded(api: Api, token: str) -> dict[str, Any]:
    return jwt.decode(token, api.settings.jwt_secret, algorithms=[api.settings.jwt_algorithm], audience=api.settings.jwt_audience)


async def age_use(api: Api, seconds: float) -> None:
    """Put every refresh token's use `seconds` in the past (the grace window runs out)."""
    async with api.engine.begin() as conn:
        await conn.execute(update(RefreshToken).where(RefreshToken.used_at.is_not(None)).values(used_at=datetime.now(UTC) - timedelta(seconds=seconds)))


async def reuse_events(api: Api) -> list[dict[str, Any]]:
    return (await api.data(REUSE_EVENTS, as_user="admin"))["auditEvents"]["nodes"]


async def test_a_refresh_rotates_both_tokens_and_the_new_ones_work(tree: Api) -> None:
    first = await login(tree)
    assert first["refresh_expires_in"] == tree.settings.refresh_ttl_seconds
    status, second = await refresh(tree, first["refresh_token"])
    assert status == 200, second
    assert set(second) == set(first)
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    claims = decoded(tree, second["refresh_token"])
    assert claims["typ"] == "refresh" and claims["sid"] == decoded(tree, first["access_token"])["sid"] == decoded(tree, second["access_token"])["sid"]
    status, third = await refresh(tree, second["refresh_token"])
    assert status == 200
    assert await who(tree, third["access_token"]) == await who(tree, first["access_token"]) == "p01.manager"
    async with tree.engine.begin() as conn:  # a session keeps its last two token rows, not its whole chain
        assert await conn.scalar(select(func.count()).select_from(RefreshToken)) == 2


async def test_a_replayed_refresh_token_revokes_its_session_and_its_access_tokens(tree: Api) -> None:
    stolen = await login(tree)
    other = await login(tree)  # the same user on another device: unaffected
    _, legit = await refresh(tree, stolen["refresh_token"])
    await age_use(tree, tree.settings.refresh_grace_seconds + 1)
    status, body = await refresh(tree, stolen["refresh_token"])  # the thief (or the owner) uses the old token
    assert status == 401 and body["error"] == "invalid_grant"
    assert (await refresh(tree, legit["refresh_token"]))[0] == 401  # the whole session is over
    assert await who(tree, legit["access_token"]) is None and await who(tree, stolen["access_token"]) is None
    assert await who(tree, other["access_token"]) == "p01.manager"
    assert (await refresh(tree, other["refresh_token"]))[0] == 200
    events = await reuse_events(tree)
    assert [e["unit"]["code"] for e in events] == ["P01"] and events[0]["after"]["reason"] == "reuse"


async def test_a_token_two_refreshes_old_is_a_replay_even_though_its_row_is_gone(tree: Api) -> None:
    first = await login(tree)
    _, second = await refresh(tree, first["refresh_token"])
    _, third = await refresh(tree, second["refresh_token"])
    assert (await refresh(tree, first["refresh_token"]))[0] == 401
    assert (await refresh(tree, third["refresh_token"]))[0] == 401
    assert await who(tree, third["access_token"]) is None
    assert len(await reuse_events(tree)) == 1


async def test_within_the_grace_window_a_replay_gets_the_same_successor(tree: Api) -> None:
    """A phone that lost the answer to its refresh sends the same token again and carries on."""
    first = await login(tree)
    _, lost = await refresh(tree, first["refresh_token"])
    status, again = await refresh(tree, first["refresh_token"])
    assert status == 200
    assert again["refresh_token"] == lost["refresh_token"]
    assert await who(tree, again["access_token"]) == "p01.manager"
    status, next_ = await refresh(tree, again["refresh_token"])
    assert status == 200
    # once the successor has been used, the old token is a replay even within the window
    assert (await refresh(tree, first["refresh_token"]))[0] == 401
    assert await who(tree, next_["access_token"]) is None
    assert len(await reuse_events(tree)) == 1


async def test_tokens_are_never_accepted_in_each_others_place(tree: Api) -> None:
    tokens = await login(tree)
    assert await who(tree, tokens["refresh_token"]) is None  # a refresh token is not an access token
    status, body = await refresh(tree, tokens["access_token"])  # nor the other way round
    assert status == 401 and body["error"] == "invalid_grant"
    assert (await refresh(tree, tokens["refresh_token"]))[0] == 200  # control: nothing was revoked by either
    assert await reuse_events(tree) == []


async def test_a_forged_or_expired_refresh_token_is_refused_and_revokes_nothing(tree: Api) -> None:
    tokens = await login(tree)
    claims = decoded(tree, tokens["refresh_token"])
    now = int(time.time())
    leeway = tree.settings.jwt_leeway_seconds
    cases = {
        "expired": jwt.encode({**claims, "exp": now - leeway - 5}, tree.settings.jwt_secret, algorithm="HS256"),
        "other key": jwt.encode(claims, "another-secret-" + "y" * 32, algorithm="HS256"),
        "other user": jwt.encode({**claims, "sub": str(await tree.user_id("p02.manager"))}, tree.settings.jwt_secret, algorithm="HS256"),
        "unknown session": jwt.encode({**claims, "sid": "0" * 32}, tree.settings.jwt_secret, algorithm="HS256"),
        "no session": jwt.encode({k: v for k, v in claims.items() if k != "sid"}, tree.settings.jwt_secret, algorithm="HS256"),
        "alg none": jwt.encode(claims, None, algorithm="none"),
    }
    answers = {name: await refresh(tree, token) for name, token in cases.items()}
    assert {name: status for name, (status, _) in answers.items()} == dict.fromkeys(cases, 401)
    assert (await refresh(tree, tokens["refresh_token"]))[0] == 200
    assert await reuse_events(tree) == []


async def test_logout_ends_one_session_and_logout_everywhere_ends_all(tree: Api) -> None:
    phone, laptop, tablet = await login(tree), await login(tree), await login(tree)
    assert await logout(tree, {"refresh_token": phone["refresh_token"]}) == 204
    assert await who(tree, phone["access_token"]) is None
    assert (await refresh(tree, phone["refresh_token"]))[0] == 401
    assert await who(tree, laptop["access_token"]) == "p01.manager"
    assert await logout(tree, {"refresh_token": phone["refresh_token"]}) == 204  # again: nothing left to end, same answer
    assert await logout(tree, token=laptop["access_token"]) == 204  # by its access token, empty body
    assert await who(tree, laptop["access_token"]) is None and await who(tree, tablet["access_token"]) == "p01.manager"
    assert await logout(tree, {"everywhere": True}, token=tablet["access_token"]) == 204
    assert await who(tree, tablet["access_token"]) is None
    assert (await refresh(tree, tablet["refresh_token"]))[0] == 401
    assert (await tree.data(LOGOUT_EVENTS, as_user="admin"))["auditEvents"]["totalCount"] == 3
    assert await reuse_events(tree) == []  # a refresh after logout is not taken for a theft


async def test_bad_logout_and_refresh_requests_are_4xx(tree: Api) -> None:
    tokens = await login(tree)
    assert await logout(tree) == 401  # neither token
    assert await logout(tree, {"refresh_token": "not a token"}) == 401
    assert await logout(tree, {"refresh_token": 7}) == 400
    assert await logout(tree, {"everywhere": "yes"}, token=tokens["access_token"]) == 400
    assert (await tree.client.post("/auth/logout", content=b"[1]", headers={"content-type": "application/json"})).status_code == 400
    for body in ({"grant_type": "refresh_token"}, {"grant_type": "refresh_token", "refresh_token": 5}):
        response = await tree.client.post("/auth/token", json=body)
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    response = await tree.client.post("/auth/token", json={"grant_type": "client_credentials"})
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"
    assert await who(tree, tokens["access_token"]) == "p01.manager"  # nothing above ended the session


DEACTIVATE = "mutation($i: UserDeactivateInput!) { userDeactivate(input: $i) { errors { code } } }"
PASSWORD_CHANGE = "mutation($i: PasswordChangeInput!) { passwordChange(input: $i) { errors { code } } }"


async def test_a_deactivated_user_can_no_longer_refresh(tree: Api) -> None:
    tokens = await login(tree, "p01.c01.officer")
    users = await tree.data('{ users(first: 50, filter: {search: "p01.c01.officer"}) { nodes { id username } } }', as_user="admin")
    gid = next(n["id"] for n in users["users"]["nodes"] if n["username"] == "p01.c01.officer")
    assert (await tree.data(DEACTIVATE, {"i": {"id": gid}}, as_user="admin"))["userDeactivate"]["errors"] == []
    assert (await refresh(tree, tokens["refresh_token"]))[0] == 401


async def test_a_new_password_ends_the_sessions_begun_before_it(tree: Api) -> None:
    before = await login(tree)
    await asyncio.sleep(1.1)  # sessions and the password stamp are compared to the second
    body = await tree.gql(PASSWORD_CHANGE, {"i": {"currentPassword": PASSWORD, "newPassword": "a brand new passphrase"}}, token=before["access_token"])
    assert body["data"]["passwordChange"]["errors"] == [], body
    assert (await refresh(tree, before["refresh_token"]))[0] == 401
    response = await tree.login("p01.manager", "a brand new passphrase")
    assert response.status_code == 200
    assert (await refresh(tree, response.json()["refresh_token"]))[0] == 200


async def test_ended_sessions_are_cleared_at_the_next_login(tree: Api) -> None:
    tokens = await login(tree)
    assert await logout(tree, {"refresh_token": tokens["refresh_token"]}) == 204
    async with tree.engine.begin() as conn:
        await conn.execute(update(AuthSession).values(revoked_at=datetime.now(UTC) - timedelta(days=1)))
    await login(tree)
    async with tree.engine.begin() as conn:
        assert await conn.scalar(select(func.count()).select_from(AuthSession)) == 1
        assert await conn.scalar(select(func.count()).select_from(RefreshToken)) == 1


async def test_rs256_keys_refuse_a_token_signed_with_the_public_key_as_an_hmac_secret(backend: Backend, tmp_path: Any) -> None:
    """HS/RS confusion: with asymmetric keys, a token 'signed' by HMAC with the public key is refused."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private, public = tmp_path / "private.pem", tmp_path / "public.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    settings = backend.settings.replace(jwt_algorithm="RS256", jwt_private_key_file=str(private), jwt_public_key_file=str(public))
    async with running_app(settings, engine=backend.engine) as api:
        await api.seed(small_tree(), small_users())
        tokens = await login(api)
        assert await who(api, tokens["access_token"]) == "p01.manager"  # control: RS256 works end to end
        assert (await refresh(api, tokens["refresh_token"]))[0] == 200
        claims = jwt.decode(tokens["access_token"], public.read_text(), algorithms=["RS256"], audience=settings.jwt_audience)
        header = jwt.utils.base64url_encode(b'{"alg":"HS256","typ":"JWT"}')
        payload = jwt.utils.base64url_encode(jwt.api_jws.json.dumps(claims, separators=(",", ":")).encode())
        import hashlib
        import hmac

        signature = jwt.utils.base64url_encode(hmac.new(public.read_bytes(), header + b"." + payload, hashlib.sha256).digest())
        confused = (header + b"." + payload + b"." + signature).decode()
        assert await who(api, confused) is None


async def test_a_replaced_public_key_refuses_the_tokens_the_old_key_signed_at_once(backend: Backend, tmp_path: Any) -> None:
    """Verified access tokens are remembered until they expire (api.auth.tokens): a key replaced in its file
    (a compromised key rotated) must still refuse them on the next request, not at their expiry."""
    import os

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    def write(key: Any, private: Any, public: Any) -> None:
        private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    private, public = tmp_path / "private.pem", tmp_path / "public.pem"
    write(rsa.generate_private_key(public_exponent=65537, key_size=2048), private, public)
    settings = backend.settings.replace(jwt_algorithm="RS256", jwt_private_key_file=str(private), jwt_public_key_file=str(public))
    async with running_app(settings, engine=backend.engine) as api:
        await api.seed(small_tree(), small_users())
        old = (await login(api))["access_token"]
        assert await who(api, old) == "p01.manager"
        assert await who(api, old) == "p01.manager"  # verified once, then remembered
        write(rsa.generate_private_key(public_exponent=65537, key_size=2048), private, public)
        later = public.stat().st_mtime + 5
        os.utime(private, (later, later))
        os.utime(public, (later, later))  # the key files are re-read when they change
        assert await who(api, old) is None
        assert await who(api, (await login(api))["access_token"]) == "p01.manager"  # the new key signs and verifies
