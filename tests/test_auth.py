"""Authentication end to end: the token endpoint, the bearer check in front of GraphQL, forged and
stale tokens, and account changes (deactivation, revocation, passwords) taking effect at once.

Every refusal is asserted exactly: HTTP 401, `data` null and one UNAUTHENTICATED error, nothing else.
Forged tokens are built with PyJWT and the test settings' secret; a control test proves that the
forging helper itself produces tokens the app accepts, so each refusal is down to the one claim,
key or header that differs.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import jwt
import pytest

from resolute.api.auth.tokens import issue_token
from tests.support import PASSWORD, Api, small_tree, small_users

ME = "{ me { user { username } } }"
UNITS_COUNT = "{ units(first: 100) { totalCount } }"
INTROSPECTION = "{ __schema { types { name } } }"
UNIT_CREATE = (
    "mutation($i: UnitCreateInput!) { unitCreate(input: $i) { unit { code } errors { code } } }"
)
PASSWORD_CHANGE = (
    "mutation($i: PasswordChangeInput!) { passwordChange(input: $i) { user { username } errors { field code } } }"
)
PASSWORD_SET = (
    "mutation($i: UserPasswordSetInput!) { userPasswordSet(input: $i) { user { username hasPassword } errors { field code } } }"
)
DEACTIVATE = (
    "mutation($i: UserDeactivateInput!) { userDeactivate(input: $i) { user { username active } errors { field code } } }"
)
ROLE_REVOKE = "mutation($i: RoleRevokeInput!) { roleRevoke(input: $i) { revokedGrantId errors { field code } } }"

NEW_PASSWORD = "a brand new passphrase"
OTHER_SECRET = "another-secret-" + "y" * 32


# -- helpers ------------------------------------------------------------------------------------


@pytest.fixture
async def tree(api: Api) -> Api:
    await api.seed(small_tree(), small_users())
    return api


def assert_unauthenticated(body: dict[str, Any]) -> None:
    """HTTP 401, data null, exactly one error whose only extension is code UNAUTHENTICATED."""
    assert body["_status"] == 401, body
    assert set(body) == {"_status", "data", "errors"}, body
    assert body["data"] is None
    assert len(body["errors"]) == 1, body["errors"]
    error = body["errors"][0]
    assert set(error) == {"message", "extensions"}, error
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}
    assert isinstance(error["message"], str) and error["message"]


def refused_cases(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The cases (name -> response body) that were NOT refused exactly as unauthenticated."""
    failures = {}
    for name, body in results.items():
        try:
            assert_unauthenticated(body)
        except AssertionError:
            failures[name] = body
    return failures


async def raw_gql(api: Api, query: str, headers: dict[str, str], variables: dict[str, Any] | None = None) -> httpx.Response:
    return await api.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)


def body_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    body["_status"] = response.status_code
    return body


async def whoami(api: Api, token: str) -> str:
    """The username behind a token; fails the test unless the token is accepted."""
    body = await api.gql(ME, token=token)
    assert body["_status"] == 200 and not body.get("errors"), body
    return body["data"]["me"]["user"]["username"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(api: Api, user_id: int, *, drop: tuple[str, ...] = (), **overrides: Any) -> dict[str, Any]:
    """The claims the app itself issues (typ, sub, iss, aud, iat, nbf, exp), with changes."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "typ": "access",
        "sub": str(user_id),
        "iss": api.settings.jwt_issuer,
        "aud": api.settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    for name in drop:
        del claims[name]
    return claims


def forge(api: Api, user_id: int, *, key: str | None = None, algorithm: str | None = None, drop: tuple[str, ...] = (), **overrides: Any) -> str:
    """A token signed like the app's own (pinned algorithm, test secret) unless told otherwise."""
    return jwt.encode(claims_for(api, user_id, drop=drop, **overrides), key or api.settings.jwt_secret, algorithm=algorithm or api.settings.jwt_algorithm)


def unsigned(claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    """An `alg: none` token built by hand: header.payload. with an empty signature."""
    head = header or {"alg": "none", "typ": "JWT"}
    return f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(claims).encode())}."


async def user_gid(api: Api, username: str, *, as_user: str = "admin") -> str:
    """A user's global id, as an admin sees it through GraphQL."""
    data = await api.data(
        "query($s: String) { users(first: 100, filter: {search: $s, includeInactive: true}) { nodes { id username } } }",
        {"s": username},
        as_user=as_user,
    )
    ids = [n["id"] for n in data["users"]["nodes"] if n["username"] == username]
    assert len(ids) == 1, data
    return ids[0]


# -- 1. POST /auth/token ------------------------------------------------------------------------


async def test_login_with_right_password_gives_a_working_bearer_token(tree: Api) -> None:
    before = int(time.time())
    response = await tree.login("p01.manager", PASSWORD)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == tree.settings.token_ttl_seconds
    claims = jwt.decode(
        body["access_token"], tree.settings.jwt_secret, algorithms=[tree.settings.jwt_algorithm],
        audience=tree.settings.jwt_audience, issuer=tree.settings.jwt_issuer,
    )
    assert claims["sub"] == str(await tree.user_id("p01.manager"))
    assert claims["typ"] == "access" and len(claims["sid"]) == 32
    assert before <= claims["iat"] <= time.time()  # milliseconds, so that a revocation cuts sharply
    assert abs(claims["exp"] - claims["iat"] - tree.settings.token_ttl_seconds) < 1
    assert await whoami(tree, body["access_token"]) == "p01.manager"


async def test_wrong_password_and_unknown_user_get_the_same_401(tree: Api) -> None:
    wrong = await tree.login("p01.manager", PASSWORD + "!")
    unknown = await tree.login("nobody.here", PASSWORD)
    empty = await tree.login("p01.manager", "")
    for response in (wrong, unknown, empty):
        assert response.status_code == 401
        assert "access_token" not in response.json()
    assert wrong.json() == unknown.json() == empty.json() == {"error": "invalid_grant", "error_description": "wrong username or password"}


MALFORMED_LOGINS = [
    b"",
    b"not json",
    b'{"username": "admin", "password": ',
    b"\xff\xfe\x00garbage",
    b"null",
    b"[]",
    b'"admin"',
    b"42",
    b"{}",
    b'{"username": "admin"}',
    b'{"password": "correct horse battery"}',
    b'{"username": null, "password": "correct horse battery"}',
    b'{"username": "admin", "password": null}',
    b'{"username": 1, "password": "correct horse battery"}',
    b'{"username": "admin", "password": 12345678901}',
    b'{"username": ["admin"], "password": "correct horse battery"}',
    b'{"username": "admin", "password": {"$ne": ""}}',
]


async def test_malformed_login_requests_get_400(tree: Api) -> None:
    wrong: dict[bytes, Any] = {}
    for content in MALFORMED_LOGINS:
        response = await tree.client.post("/auth/token", content=content, headers={"content-type": "application/json"})
        body = response.json()
        if response.status_code != 400 or body.get("error") != "invalid_request" or "access_token" in body:
            wrong[content] = (response.status_code, body)
    assert wrong == {}
    # control: the same endpoint and content type with a well-formed body does log in
    good = await tree.client.post("/auth/token", content=json.dumps({"username": "admin", "password": PASSWORD}).encode(), headers={"content-type": "application/json"})
    assert good.status_code == 200


async def test_login_with_nul_in_username_is_refused_not_a_server_error(tree: Api) -> None:
    """A string the database cannot store (PostgreSQL text refuses NUL) is still just a wrong login."""
    response = await tree.login("admin\u0000", PASSWORD)
    assert response.status_code in (400, 401), response.text


# -- 2. no / malformed Authorization header -----------------------------------------------------


@pytest.mark.parametrize("query", [ME, INTROSPECTION, "{ __typename }"], ids=["me", "introspection", "typename"])
async def test_graphql_without_authorization_header_is_401(tree: Api, query: str) -> None:
    response = await raw_gql(tree, query, {})
    assert_unauthenticated(body_of(response))
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_mutation_without_token_is_401_and_changes_nothing(tree: Api) -> None:
    admin = await tree.data('{ unit(code: "P01") { id } }', as_user="admin")
    variables = {"i": {"parentId": admin["unit"]["id"], "code": "P01-NEW", "name": "Mới", "kind": "commune"}}
    assert_unauthenticated(body_of(await raw_gql(tree, UNIT_CREATE, {}, variables)))
    assert_unauthenticated(body_of(await raw_gql(tree, UNIT_CREATE, {"Authorization": "Bearer garbage"}, variables)))
    after = await tree.data('{ unit(code: "P01-NEW") { code } }', as_user="admin")
    assert after == {"unit": None}


async def test_get_without_token_is_401(tree: Api) -> None:
    response = await tree.client.get("/graphql", params={"query": "{ __typename }"}, headers={"accept": "application/json"})
    assert_unauthenticated(body_of(response))


MALFORMED_HEADERS = [
    "",
    "Bearer",
    "Bearer ",
    "Bearer    ",
    "Basic YWRtaW46Y29ycmVjdCBob3JzZSBiYXR0ZXJ5",
    "garbage",
    "Bearer garbage",
    "Bearer a.b.c",
    "Bearer ...",
    "Bearer eyJhbGciOiJIUzI1NiJ9.e30.",
    "Bearer two words",
]


async def test_malformed_authorization_is_401(tree: Api) -> None:
    results = {}
    for header in MALFORMED_HEADERS:
        for name, query in (("me", ME), ("introspection", INTROSPECTION)):
            results[f"{name} with {header!r}"] = body_of(await raw_gql(tree, query, {"Authorization": header}))
    assert refused_cases(results) == {}


async def test_valid_token_under_another_scheme_is_401(tree: Api) -> None:
    token = await tree.token_for("admin")
    assert await whoami(tree, token) == "admin"  # control: the token itself is fine
    results = {}
    for template in ("Token {t}", "Basic {t}", "JWT {t}", "{t}", "Bearer: {t}", "Bearer-{t}", "Bearer,{t}"):
        results[template] = body_of(await raw_gql(tree, ME, {"Authorization": template.format(t=token)}))
    assert refused_cases(results) == {}


async def test_bearer_scheme_is_case_insensitive(tree: Api) -> None:
    token = await tree.token_for("p02.manager")
    response = await raw_gql(tree, ME, {"Authorization": f"bearer {token}"})
    assert response.status_code == 200
    assert response.json()["data"] == {"me": {"user": {"username": "p02.manager"}}} and not response.json().get("errors")


# -- 3. forged and stale tokens -----------------------------------------------------------------


async def test_control_forged_token_with_the_right_secret_is_accepted(tree: Api) -> None:
    uid = await tree.user_id("p01.c01.officer")
    assert await whoami(tree, forge(tree, uid)) == "p01.c01.officer"
    # the app's own issuer, with a time in the past, is accepted as well
    assert await whoami(tree, issue_token(tree.settings, uid, now=time.time() - 60)[0]) == "p01.c01.officer"


async def test_control_clock_skew_within_leeway_is_accepted(tree: Api) -> None:
    uid = await tree.user_id("p01.c01.officer")
    leeway = tree.settings.jwt_leeway_seconds
    assert leeway >= 5
    now = int(time.time())
    assert await whoami(tree, forge(tree, uid, iat=now - 100, nbf=now - 100, exp=now - leeway // 2)) == "p01.c01.officer"
    assert await whoami(tree, forge(tree, uid, iat=now + leeway // 2, nbf=now + leeway // 2)) == "p01.c01.officer"


def _bad_claims(api: Api, uid: int) -> dict[str, dict[str, Any]]:
    now = int(time.time())
    leeway = api.settings.jwt_leeway_seconds
    return {
        "expired": {"iat": now - 7200, "nbf": now - 7200, "exp": now - leeway - 30},
        "expired_just_beyond_leeway": {"iat": now - 600, "nbf": now - 600, "exp": now - leeway - 3},
        "nbf_in_future": {"nbf": now + leeway + 60},
        "iat_in_future": {"iat": now + leeway + 60, "nbf": now},
        "wrong_audience": {"aud": "someone-else"},
        "audience_list_without_ours": {"aud": ["someone-else", "another"]},
        "wrong_issuer": {"iss": "evil-issuer"},
        "issuer_a_prefix_of_ours": {"iss": api.settings.jwt_issuer[:-1]},
        "issuer_extending_ours": {"iss": api.settings.jwt_issuer + "-evil"},
        "refresh_type": {"typ": "refresh"},
        "unknown_type": {"typ": "id"},
        "session_not_a_string": {"sid": 7},
        "sub_not_a_number": {"sub": "admin"},
        "sub_unknown_user": {"sub": str(uid + 100_000)},
        "sub_negative": {"sub": "-1"},
        "sub_as_integer": {"sub": uid},
        "exp_not_a_number": {"exp": "tomorrow"},
    }


async def test_token_with_bad_claims_is_401(tree: Api) -> None:
    uid = await tree.user_id("admin")
    results = {}
    for case, overrides in _bad_claims(tree, uid).items():
        results[case] = await tree.gql(ME, token=forge(tree, uid, **overrides))
    assert refused_cases(results) == {}


@pytest.mark.parametrize("sub", [str(2**31), str(2**63), "9" * 30], ids=["int32+1", "int64+1", "30-digits"])
async def test_token_with_out_of_range_sub_is_401_not_a_server_error(tree: Api, sub: str) -> None:
    """A sub that is a number but no possible id (beyond the id column's range) is an unknown user, not a crash."""
    token = forge(tree, 1, sub=sub)
    response = await raw_gql(tree, ME, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert_unauthenticated(body_of(response))


async def test_token_missing_a_required_claim_is_401(tree: Api) -> None:
    uid = await tree.user_id("admin")
    results = {}
    for claim in ("exp", "iat", "sub", "iss", "aud", "typ"):
        results[f"no {claim}"] = await tree.gql(ME, token=forge(tree, uid, drop=(claim,)))
    assert refused_cases(results) == {}


async def test_unsigned_alg_none_tokens_are_401(tree: Api) -> None:
    uid = await tree.user_id("admin")
    claims = claims_for(tree, uid)
    by_hand = [
        unsigned(claims),
        unsigned(claims, {"alg": "None", "typ": "JWT"}),
        unsigned(claims, {"alg": "NONE"}),
        unsigned(claims, {"alg": "HS256", "typ": "JWT"}),  # claims to be signed, signature stripped
    ]
    by_pyjwt = jwt.encode(claims, None, algorithm="none")
    assert by_pyjwt.endswith(".") and jwt.get_unverified_header(by_pyjwt)["alg"] == "none"
    results = {f"by hand #{n}": await tree.gql(ME, token=token) for n, token in enumerate(by_hand)}
    results["by pyjwt"] = await tree.gql(ME, token=by_pyjwt)
    assert refused_cases(results) == {}


async def test_wrongly_signed_token_is_401(tree: Api) -> None:
    uid = await tree.user_id("admin")
    assert_unauthenticated(await tree.gql(ME, token=forge(tree, uid, key=OTHER_SECRET)))
    # the right secret with a different case or a suffix is still another key
    assert_unauthenticated(await tree.gql(ME, token=forge(tree, uid, key=tree.settings.jwt_secret.upper())))
    assert_unauthenticated(await tree.gql(ME, token=forge(tree, uid, key=tree.settings.jwt_secret + "x")))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the short key is the point
async def test_token_with_an_unpinned_algorithm_is_401_even_with_the_right_secret(tree: Api) -> None:
    uid = await tree.user_id("admin")
    results = {}
    others = [a for a in ("HS256", "HS384", "HS512") if a != tree.settings.jwt_algorithm]
    assert len(others) == 2
    for algorithm in others:
        token = forge(tree, uid, algorithm=algorithm)
        assert jwt.get_unverified_header(token)["alg"] == algorithm
        results[algorithm] = await tree.gql(ME, token=token)
    assert refused_cases(results) == {}


async def test_tampered_payload_with_original_signature_is_401(tree: Api) -> None:
    """Swap the payload of a viewer's real token for one naming the admin, keep the signature."""
    viewer_token = await tree.token_for("tw.viewer")
    assert await whoami(tree, viewer_token) == "tw.viewer"
    head, _, signature = viewer_token.split(".")
    admin_claims = claims_for(tree, await tree.user_id("admin"))
    tampered = f"{head}.{b64url(json.dumps(admin_claims).encode())}.{signature}"
    assert_unauthenticated(await tree.gql(ME, token=tampered))
    # and a mangled signature on an otherwise valid token
    mangled = viewer_token[:-4] + ("AAAA" if not viewer_token.endswith("AAAA") else "BBBB")
    assert_unauthenticated(await tree.gql(ME, token=mangled))


# -- 4. deactivation ----------------------------------------------------------------------------


async def test_deactivated_user_loses_its_token_and_cannot_log_in(tree: Api) -> None:
    token = await tree.token_for("p01.manager")
    assert await whoami(tree, token) == "p01.manager"
    assert (await tree.login("p01.manager")).status_code == 200
    gid = await user_gid(tree, "p01.manager")

    data = await tree.data(DEACTIVATE, {"i": {"id": gid}}, as_user="admin")
    assert data["userDeactivate"] == {"user": {"username": "p01.manager", "active": False}, "errors": []}

    assert_unauthenticated(await tree.gql(UNITS_COUNT, token=token))
    assert_unauthenticated(await tree.gql(INTROSPECTION, token=token))
    # a token minted after the deactivation is refused too: the account flag, not only the timestamp
    fresh = issue_token(tree.settings, await tree.user_id("p01.manager"), now=time.time() + 2)[0]
    assert_unauthenticated(await tree.gql(ME, token=fresh))
    refused = await tree.login("p01.manager")
    assert refused.status_code == 401
    assert refused.json() == (await tree.login("nobody.here")).json()
    # nobody else is affected
    assert await whoami(tree, await tree.token_for("admin")) == "admin"
    assert await whoami(tree, await tree.token_for("p02.manager")) == "p02.manager"


# -- 5. grant revocation ------------------------------------------------------------------------


async def test_revoked_grant_is_lost_on_the_next_request_with_the_same_token(tree: Api) -> None:
    token = await tree.token_for("p01.manager")
    before = await tree.gql("{ units(first: 100) { totalCount } me { grants { id role unit { code } } } }", token=token)
    assert before["_status"] == 200 and not before.get("errors"), before
    assert before["data"]["units"]["totalCount"] == 4
    grants = before["data"]["me"]["grants"]
    assert [(g["role"], g["unit"]["code"]) for g in grants] == [("manager", "P01")]

    revoked = await tree.data(ROLE_REVOKE, {"i": {"grantId": grants[0]["id"]}}, as_user="admin")
    assert revoked["roleRevoke"] == {"revokedGrantId": grants[0]["id"], "errors": []}

    after = await tree.gql(
        '{ units(first: 100) { totalCount nodes { code } } unit(code: "P01") { code } me { user { username } grants { id } permissions { objectType action } } }',
        token=token,
    )
    assert after["_status"] == 200 and not after.get("errors"), after
    assert after["data"] == {
        "units": {"totalCount": 0, "nodes": []},
        "unit": None,
        "me": {"user": {"username": "p01.manager"}, "grants": [], "permissions": []},
    }
    # the admin's own view is unchanged, and the revoked grant is gone for it as well
    admin_view = await tree.data("query($id: ID!) { node(id: $id) { id } }", {"id": grants[0]["id"]}, as_user="admin")
    assert admin_view == {"node": None}


# -- 6. imported user without a password --------------------------------------------------------


async def test_imported_user_without_password_cannot_log_in_until_an_admin_sets_one(api: Api) -> None:
    await api.seed(small_tree(), small_users(), passwords=False)
    for password in (PASSWORD, "", NEW_PASSWORD):
        refused = await api.login("p01.c01.officer", password)
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_grant"
    gid = await user_gid(api, "p01.c01.officer")
    state = await api.data("query($id: ID!) { node(id: $id) { ... on User { hasPassword } } }", {"id": gid}, as_user="admin")
    assert state == {"node": {"hasPassword": False}}

    too_short = await api.data(PASSWORD_SET, {"i": {"id": gid, "password": "short"}}, as_user="admin")
    assert too_short["userPasswordSet"] == {"user": None, "errors": [{"field": "password", "code": "INVALID"}]}
    assert (await api.login("p01.c01.officer", "short")).status_code == 401

    done = await api.data(PASSWORD_SET, {"i": {"id": gid, "password": NEW_PASSWORD}}, as_user="admin")
    assert done["userPasswordSet"] == {"user": {"username": "p01.c01.officer", "hasPassword": True}, "errors": []}

    ok = await api.login("p01.c01.officer", NEW_PASSWORD)
    assert ok.status_code == 200
    assert await whoami(api, ok.json()["access_token"]) == "p01.c01.officer"
    assert (await api.login("p01.c01.officer", PASSWORD)).status_code == 401
    # the other imported accounts are still locked
    assert (await api.login("p01.manager", NEW_PASSWORD)).status_code == 401


# -- 7. passwordChange --------------------------------------------------------------------------


async def test_password_change_with_wrong_current_password_changes_nothing(tree: Api) -> None:
    uid = await tree.user_id("p02.manager")
    old_token = issue_token(tree.settings, uid, now=time.time() - 5)[0]
    body = await tree.gql(PASSWORD_CHANGE, {"i": {"currentPassword": PASSWORD + "x", "newPassword": NEW_PASSWORD}}, token=old_token)
    assert body == {"data": {"passwordChange": {"user": None, "errors": [{"field": "currentPassword", "code": "WRONG_PASSWORD"}]}}, "_status": 200}
    assert (await tree.login("p02.manager", PASSWORD)).status_code == 200
    assert (await tree.login("p02.manager", NEW_PASSWORD)).status_code == 401
    assert await whoami(tree, old_token) == "p02.manager"  # tokens were not revoked


async def test_password_change_to_a_too_short_password_is_invalid_and_changes_nothing(tree: Api) -> None:
    uid = await tree.user_id("p02.manager")
    old_token = issue_token(tree.settings, uid, now=time.time() - 5)[0]
    body = await tree.gql(PASSWORD_CHANGE, {"i": {"currentPassword": PASSWORD, "newPassword": "short"}}, token=old_token)
    assert body == {"data": {"passwordChange": {"user": None, "errors": [{"field": "newPassword", "code": "INVALID"}]}}, "_status": 200}
    assert (await tree.login("p02.manager", PASSWORD)).status_code == 200
    assert (await tree.login("p02.manager", "short")).status_code == 401
    assert await whoami(tree, old_token) == "p02.manager"


async def test_password_change_swaps_passwords_and_refuses_older_tokens(tree: Api) -> None:
    uid = await tree.user_id("p02.manager")
    old_token = issue_token(tree.settings, uid, now=time.time() - 5)[0]
    older_token = issue_token(tree.settings, uid, now=time.time() - 600)[0]
    assert await whoami(tree, old_token) == "p02.manager"
    assert await whoami(tree, older_token) == "p02.manager"

    body = await tree.gql(PASSWORD_CHANGE, {"i": {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}}, token=old_token)
    assert body == {"data": {"passwordChange": {"user": {"username": "p02.manager"}, "errors": []}}, "_status": 200}

    assert_unauthenticated(await tree.gql(ME, token=old_token))
    assert_unauthenticated(await tree.gql(ME, token=older_token))
    old_login = await tree.login("p02.manager", PASSWORD)
    assert old_login.status_code == 401
    new_login = await tree.login("p02.manager", NEW_PASSWORD)
    assert new_login.status_code == 200
    assert await whoami(tree, new_login.json()["access_token"]) == "p02.manager"
    # other users' tokens are untouched
    assert await whoami(tree, await tree.token_for("p02.admin")) == "p02.admin"
