"""Accounts and grants through GraphQL: userCreate, roleGrant, roleRevoke, userDeactivate, users, me.

Every refusal is checked twice: the exact (field, code) of the payload, and that nothing changed,
by re-reading every account and grant as the root admin before and after.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import PASSWORD, Api, small_tree, small_users

SNAPSHOT = """{ users(first: 100, filter: {includeInactive: true}) { totalCount nodes {
    id username fullName active hasPassword version updatedAt unit { code } grants { id role unit { code } } } } }"""
USER_FIELDS = "id username fullName active hasPassword version unit { code } grants { role unit { code } }"
USER_CREATE = f"mutation($input: UserCreateInput!) {{ userCreate(input: $input) {{ user {{ {USER_FIELDS} }} errors {{ field code message }} }} }}"
ROLE_GRANT = "mutation($input: RoleGrantInput!) { roleGrant(input: $input) { grant { id role unit { code } user { username } } errors { field code message } } }"
ROLE_REVOKE = "mutation($input: RoleRevokeInput!) { roleRevoke(input: $input) { revokedGrantId errors { field code message } } }"
USER_DEACTIVATE = "mutation($input: UserDeactivateInput!) { userDeactivate(input: $input) { user { username active } errors { field code message } } }"
USERS = "query($filter: UserFilterInput) { users(first: 100, filter: $filter) { totalCount nodes { username active } } }"
UNITS = "{ units(first: 100) { totalCount nodes { code } } }"

READ_ACTIONS = [
    ("assignment", "read"), ("evaluation", "read"), ("extension", "read"), ("grant", "read"), ("key_result", "read"),
    ("kpi", "read"), ("measurement", "read"), ("milestone", "read"), ("objective", "read"), ("progress_report", "read"),
    ("resolution", "read"), ("task", "read"), ("unit", "read"), ("user", "read"),
]


@pytest.fixture
async def tree(api: Api) -> Api:
    await api.seed(small_tree(), small_users())
    return api


async def snapshot(api: Api) -> dict[str, Any]:
    """Every account (active or not) and every grant, as the root admin sees them."""
    return (await api.data(SNAPSHOT, as_user="admin"))["users"]


async def unit_id(api: Api, code: str) -> str:
    found = await api.data("query($c: String) { unit(code: $c) { id } }", {"c": code}, as_user="admin")
    assert found["unit"] is not None, code
    return str(found["unit"]["id"])


async def user_id(api: Api, username: str) -> str:
    ids = [n["id"] for n in (await snapshot(api))["nodes"] if n["username"] == username]
    assert len(ids) == 1, username
    return str(ids[0])


async def grants_of(api: Api, username: str) -> list[dict[str, Any]]:
    nodes = (await snapshot(api))["nodes"]
    return next(n["grants"] for n in nodes if n["username"] == username)


async def unit_codes(api: Api, as_user: str) -> list[str]:
    return [n["code"] for n in (await api.data(UNITS, as_user=as_user))["units"]["nodes"]]


async def usernames(api: Api, as_user: str, filter: dict[str, Any] | None = None) -> list[str]:
    data = await api.data(USERS, {"filter": filter}, as_user=as_user)
    names = [n["username"] for n in data["users"]["nodes"]]
    assert data["users"]["totalCount"] == len(names)
    return names


def errors_of(payload: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def create_user(api: Api, as_user: str, username: str, unit_code: str, password: str | None = PASSWORD, full_name: str | None = None) -> dict[str, Any]:
    input = {"username": username, "fullName": full_name or f"Người dùng {username}", "unitId": await unit_id(api, unit_code), "password": password}
    result = (await api.data(USER_CREATE, {"input": input}, as_user=as_user))["userCreate"]
    assert result["errors"] == [], result["errors"]
    return dict(result["user"])


async def grant(api: Api, as_user: str, username: str, role: str, unit_code: str) -> dict[str, Any]:
    input = {"userId": await user_id(api, username), "role": role, "unitId": await unit_id(api, unit_code)}
    result = (await api.data(ROLE_GRANT, {"input": input}, as_user=as_user))["roleGrant"]
    assert result["errors"] == [], result["errors"]
    return dict(result["grant"])


# -- userCreate --------------------------------------------------------------------------------


async def test_admin_creates_user_with_password_in_its_scope(tree: Api) -> None:
    before = await snapshot(tree)
    created = await create_user(tree, "p01.admin", "  P01.Clerk ", "P01-C01", full_name="  Nguyễn Văn Bình ")
    assert {k: v for k, v in created.items() if k != "id"} == {
        "username": "p01.clerk",
        "fullName": "Nguyễn Văn Bình",
        "active": True,
        "hasPassword": True,
        "version": 1,
        "unit": {"code": "P01-C01"},
        "grants": [],
    }
    after = await snapshot(tree)
    assert after["totalCount"] == before["totalCount"] + 1
    assert "p01.clerk" in await usernames(tree, "p01.admin")
    assert "p01.clerk" not in await usernames(tree, "p02.admin")
    login = await tree.login("p01.clerk", PASSWORD)
    assert login.status_code == 200, login.text


async def test_admin_creates_user_without_password(tree: Api) -> None:
    created = await create_user(tree, "p01.admin", "p01.c02.clerk", "P01-C02", password=None)
    assert created["hasPassword"] is False and created["active"] is True and created["unit"] == {"code": "P01-C02"}
    listed = await tree.data("query($f: UserFilterInput) { users(filter: $f) { nodes { username hasPassword } } }", {"f": {"search": "c02.clerk"}}, as_user="admin")
    assert listed["users"]["nodes"] == [{"username": "p01.c02.clerk", "hasPassword": False}]
    assert (await tree.login("p01.c02.clerk", "")).status_code == 401


@pytest.mark.parametrize(
    ("actor", "username", "unit_code", "password", "expected"),
    [
        ("p01.admin", "p01.manager", "P01", PASSWORD, [("username", "DUPLICATE")]),
        ("p01.admin", "P01.Manager", "P01-C01", None, [("username", "DUPLICATE")]),
        ("p01.admin", "p02.admin", "P01", PASSWORD, [("username", "DUPLICATE")]),
        ("p01.admin", "Bad Name!", "P01", PASSWORD, [("username", "INVALID")]),
        ("p01.admin", "x", "P01", PASSWORD, [("username", "INVALID")]),
        ("p01.admin", "p01.short", "P01", "short", [("password", "INVALID")]),
        ("p01.admin", "p01.short", "P01", "123456789", [("password", "INVALID")]),
        ("p01.admin", "p01.outside", "P02", PASSWORD, [("unitId", "NOT_FOUND")]),
        ("p01.admin", "p01.outside", "P02-C01", PASSWORD, [("unitId", "NOT_FOUND")]),
        ("p01.admin", "p01.above", "TW", PASSWORD, [("unitId", "NOT_FOUND")]),
        ("p01.manager", "p01.bymanager", "P01", PASSWORD, [("unitId", "FORBIDDEN")]),
        ("p01.c01.officer", "p01.byofficer", "P01-C01", PASSWORD, [("unitId", "FORBIDDEN")]),
        ("tw.viewer", "tw.byviewer", "TW", PASSWORD, [("unitId", "FORBIDDEN")]),
        ("p01.admin", "p01.wrongtype", "<user id>", PASSWORD, [("unitId", "INVALID_ID")]),
        ("p01.admin", "p01.garbage", "<garbage>", PASSWORD, [("unitId", "INVALID_ID")]),
        ("p01.admin", "p01.missing", "<missing>", PASSWORD, [("unitId", "NOT_FOUND")]),
    ],
)
async def test_user_create_refusals_change_nothing(
    tree: Api, actor: str, username: str, unit_code: str, password: str | None, expected: list[tuple[str, str]]
) -> None:
    special = {
        "<user id>": await user_id(tree, "p01.manager"),
        "<garbage>": "not-an-id",
        "<missing>": "VW5pdDo5OTk5OTk",  # Unit:999999
    }
    unit = special[unit_code] if unit_code in special else await unit_id(tree, unit_code)
    before = await snapshot(tree)
    input = {"username": username, "fullName": "Người dùng mới", "unitId": unit, "password": password}
    result = (await tree.data(USER_CREATE, {"input": input}, as_user=actor))["userCreate"]
    assert result["user"] is None
    assert errors_of(result) == expected, result["errors"]
    assert all(e["message"] for e in result["errors"])
    assert await snapshot(tree) == before


# -- roleGrant ---------------------------------------------------------------------------------


async def test_admin_grants_within_its_scope_and_the_grantee_sees_the_subtree(tree: Api) -> None:
    await create_user(tree, "p01.admin", "p01.newbie", "P01")
    assert await unit_codes(tree, "p01.newbie") == []
    given = await grant(tree, "p01.admin", "p01.newbie", "manager", "P01-C01")
    assert {k: v for k, v in given.items() if k != "id"} == {"role": "manager", "unit": {"code": "P01-C01"}, "user": {"username": "p01.newbie"}}
    assert await unit_codes(tree, "p01.newbie") == ["P01-C01", "P01-C01-K01"]
    assert await grants_of(tree, "p01.newbie") == [{"id": given["id"], "role": "manager", "unit": {"code": "P01-C01"}}]
    me = await tree.data("{ me { grants { id role unit { code } } } }", as_user="p01.newbie")
    assert me["me"]["grants"] == [{"id": given["id"], "role": "manager", "unit": {"code": "P01-C01"}}]


@pytest.mark.parametrize(
    ("actor", "grantee", "role", "unit_code", "expected"),
    [
        # the unit lies outside the granting admin's scope
        ("p01.admin", "p01.manager", "viewer", "P02", [("unitId", "NOT_FOUND")]),
        ("p01.admin", "p01.manager", "viewer", "P02-C01", [("unitId", "NOT_FOUND")]),
        ("p01.admin", "p01.manager", "viewer", "TW", [("unitId", "NOT_FOUND")]),
        # the user lives outside the granting admin's scope
        ("p01.admin", "p02.manager", "viewer", "P01", [("userId", "NOT_FOUND")]),
        ("p01.admin", "p02.manager", "viewer", "P02", [("userId", "NOT_FOUND")]),
        ("p01.admin", "tw.viewer", "viewer", "P01", [("userId", "NOT_FOUND")]),
        # roles without account rights never grant, even inside their scope (casbin refuses it before any row is read)
        ("p01.manager", "p01.c01.officer", "viewer", "P01-C01", [("userId", "FORBIDDEN")]),
        ("p01.manager", "p01.c01.officer", "manager", "P01-C01", [("userId", "FORBIDDEN")]),
        ("p01.c01.officer", "p01.c01.officer", "officer", "P01-C01-K01", [("userId", "FORBIDDEN")]),
        ("tw.viewer", "p01.manager", "viewer", "P01", [("userId", "FORBIDDEN")]),
        # not a role
        ("p01.admin", "p01.manager", "emperor", "P01", [("role", "INVALID")]),
        ("p01.admin", "p01.manager", "Admin", "P01", [("role", "INVALID")]),
        ("p01.admin", "p01.manager", "set:accounts", "P01", [("role", "INVALID")]),
    ],
)
async def test_role_grant_refusals_create_no_grant(tree: Api, actor: str, grantee: str, role: str, unit_code: str, expected: list[tuple[str, str]]) -> None:
    before = await snapshot(tree)
    input = {"userId": await user_id(tree, grantee), "role": role, "unitId": await unit_id(tree, unit_code)}
    result = (await tree.data(ROLE_GRANT, {"input": input}, as_user=actor))["roleGrant"]
    assert result["grant"] is None
    assert errors_of(result) == expected, result["errors"]
    assert await snapshot(tree) == before


async def test_role_grant_with_ids_of_the_wrong_type_is_invalid_id(tree: Api) -> None:
    before = await snapshot(tree)
    manager, p01 = await user_id(tree, "p01.manager"), await unit_id(tree, "P01")
    swapped = (await tree.data(ROLE_GRANT, {"input": {"userId": p01, "role": "viewer", "unitId": p01}}, as_user="p01.admin"))["roleGrant"]
    assert swapped["grant"] is None and errors_of(swapped) == [("userId", "INVALID_ID")]
    swapped = (await tree.data(ROLE_GRANT, {"input": {"userId": manager, "role": "viewer", "unitId": manager}}, as_user="p01.admin"))["roleGrant"]
    assert swapped["grant"] is None and errors_of(swapped) == [("unitId", "INVALID_ID")]
    assert await snapshot(tree) == before


async def test_granting_the_same_grant_twice_is_the_same_grant(tree: Api) -> None:
    first = await grant(tree, "p01.admin", "p01.c01.officer", "viewer", "P01-C02")
    before = await snapshot(tree)
    second = await grant(tree, "p01.admin", "p01.c01.officer", "viewer", "P01-C02")
    assert second == first
    assert await snapshot(tree) == before
    held = await grants_of(tree, "p01.c01.officer")
    assert [(g["role"], g["unit"]["code"]) for g in held] == [("officer", "P01-C01"), ("viewer", "P01-C02")]
    # the imported grant too: granting it again gives back the imported grant's id
    imported = next(g for g in await grants_of(tree, "p01.manager") if g["role"] == "manager")
    again = await grant(tree, "admin", "p01.manager", "manager", "P01")
    assert again["id"] == imported["id"]
    assert await snapshot(tree) == before


async def test_several_grants_are_judged_one_by_one(tree: Api) -> None:
    """ACCESS.md: viewer at P01 plus admin at P02-C01 administers P02-C01 only, never P01."""
    await create_user(tree, "admin", "mixed", "P02-C01")
    await grant(tree, "admin", "mixed", "viewer", "P01")
    await grant(tree, "admin", "mixed", "admin", "P02-C01")
    assert await unit_codes(tree, "mixed") == ["P01", "P01-C01", "P01-C01-K01", "P01-C02", "P02-C01"]

    created = await create_user(tree, "mixed", "p02.c01.clerk", "P02-C01")
    assert created["unit"] == {"code": "P02-C01"}

    before = await snapshot(tree)
    # P01 and P01-C01 it reads, but creates nothing there: outside its write scope, they answer like unknown ids
    for code, expected in (("P01", "NOT_FOUND"), ("P01-C01", "NOT_FOUND"), ("P02", "NOT_FOUND"), ("P02-C02", "NOT_FOUND")):
        input = {"username": f"mixed.{code.lower()}", "fullName": "X", "unitId": await unit_id(tree, code), "password": PASSWORD}
        result = (await tree.data(USER_CREATE, {"input": input}, as_user="mixed"))["userCreate"]
        assert result["user"] is None and errors_of(result) == [("unitId", expected)], (code, result)
    # it reads the P01 manager but its admin grant (P02-C01) does not cover that user
    input = {"userId": await user_id(tree, "p01.manager"), "role": "viewer", "unitId": await unit_id(tree, "P02-C01")}
    result = (await tree.data(ROLE_GRANT, {"input": input}, as_user="mixed"))["roleGrant"]
    assert result["grant"] is None and errors_of(result) == [("userId", "NOT_FOUND")]
    # nor may it deactivate a P01 user it can read
    result = (await tree.data(USER_DEACTIVATE, {"input": {"id": await user_id(tree, "p01.manager")}}, as_user="mixed"))["userDeactivate"]
    assert result["user"] is None and errors_of(result) == [("id", "NOT_FOUND")]
    assert await snapshot(tree) == before


# -- roleRevoke --------------------------------------------------------------------------------


async def test_revoked_grant_disappears(tree: Api) -> None:
    held = await grants_of(tree, "p01.manager")
    assert [(g["role"], g["unit"]["code"]) for g in held] == [("manager", "P01")]
    assert await unit_codes(tree, "p01.manager") == ["P01", "P01-C01", "P01-C01-K01", "P01-C02"]
    result = (await tree.data(ROLE_REVOKE, {"input": {"grantId": held[0]["id"]}}, as_user="p01.admin"))["roleRevoke"]
    assert result == {"revokedGrantId": held[0]["id"], "errors": []}
    assert await grants_of(tree, "p01.manager") == []
    listed = await tree.data('{ users(filter: {search: "p01.manager"}) { nodes { username grants { id } } } }', as_user="p01.admin")
    assert listed["users"]["nodes"] == [{"username": "p01.manager", "grants": []}]
    assert await unit_codes(tree, "p01.manager") == []
    node = await tree.data("query($id: ID!) { node(id: $id) { id } }", {"id": held[0]["id"]}, as_user="admin")
    assert node["node"] is None
    # revoking it again: it is gone
    before = await snapshot(tree)
    again = (await tree.data(ROLE_REVOKE, {"input": {"grantId": held[0]["id"]}}, as_user="p01.admin"))["roleRevoke"]
    assert again["revokedGrantId"] is None and errors_of(again) == [("grantId", "NOT_FOUND")]
    assert await snapshot(tree) == before


@pytest.mark.parametrize(
    ("holder", "role", "unit_code", "actor", "expected"),
    [
        # a P01 user holding a grant at TW level: p01.admin sees the grant but it lies outside its
        # revoke scope, so it answers like an unknown grant
        ("p01.manager", "viewer", "TW", "p01.admin", "NOT_FOUND"),
        ("p01.c01.officer", "auditor", "TW", "p01.admin", "NOT_FOUND"),
        # a grant held over a sibling province
        ("p01.manager", "viewer", "P02", "p01.admin", "NOT_FOUND"),
        # a TW user's grant at TW: invisible to p01.admin
        ("tw.viewer", "viewer", "TW", "p01.admin", "NOT_FOUND"),
        ("admin", "admin", "TW", "p01.admin", "NOT_FOUND"),
        # no account rights
        ("p01.c01.officer", "officer", "P01-C01", "p01.manager", "FORBIDDEN"),
    ],
)
async def test_revoke_out_of_reach_is_refused_and_the_grant_remains(tree: Api, holder: str, role: str, unit_code: str, actor: str, expected: str) -> None:
    target = next((g for g in await grants_of(tree, holder) if (g["role"], g["unit"]["code"]) == (role, unit_code)), None)
    if target is None:
        target = await grant(tree, "admin", holder, role, unit_code)
    before = await snapshot(tree)
    result = (await tree.data(ROLE_REVOKE, {"input": {"grantId": target["id"]}}, as_user=actor))["roleRevoke"]
    assert result["revokedGrantId"] is None
    assert errors_of(result) == [("grantId", expected)], result["errors"]
    assert await snapshot(tree) == before
    assert target["id"] in [g["id"] for g in await grants_of(tree, holder)]


async def test_revoke_with_an_id_of_the_wrong_type(tree: Api) -> None:
    before = await snapshot(tree)
    result = (await tree.data(ROLE_REVOKE, {"input": {"grantId": await user_id(tree, "p01.manager")}}, as_user="p01.admin"))["roleRevoke"]
    assert result["revokedGrantId"] is None and errors_of(result) == [("grantId", "INVALID_ID")]
    assert await snapshot(tree) == before


# -- userDeactivate ----------------------------------------------------------------------------


async def test_deactivating_ones_own_account_is_refused(tree: Api) -> None:
    for actor in ("p01.admin", "admin"):
        before = await snapshot(tree)
        result = (await tree.data(USER_DEACTIVATE, {"input": {"id": await user_id(tree, actor)}}, as_user=actor))["userDeactivate"]
        assert result["user"] is None and errors_of(result) == [("id", "INVALID")], result
        assert await snapshot(tree) == before
        assert (await tree.gql("{ me { user { username } } }", as_user=actor))["_status"] == 200


@pytest.mark.parametrize(("actor", "target", "expected"), [("p01.admin", "p02.manager", "NOT_FOUND"), ("p01.admin", "admin", "NOT_FOUND"), ("p01.manager", "p01.c01.officer", "FORBIDDEN")])
async def test_deactivate_out_of_reach_is_refused(tree: Api, actor: str, target: str, expected: str) -> None:
    before = await snapshot(tree)
    result = (await tree.data(USER_DEACTIVATE, {"input": {"id": await user_id(tree, target)}}, as_user=actor))["userDeactivate"]
    assert result["user"] is None and errors_of(result) == [("id", expected)]
    assert await snapshot(tree) == before


async def test_deactivated_users_are_hidden_unless_asked_for(tree: Api) -> None:
    assert (await tree.gql("{ me { user { username } } }", as_user="p01.manager"))["_status"] == 200
    result = (await tree.data(USER_DEACTIVATE, {"input": {"id": await user_id(tree, "p01.manager")}}, as_user="p01.admin"))["userDeactivate"]
    assert result == {"user": {"username": "p01.manager", "active": False}, "errors": []}
    assert await usernames(tree, "p01.admin") == ["p01.admin", "p01.c01.officer"]
    assert await usernames(tree, "admin") == ["admin", "p01.admin", "p01.c01.officer", "p02.admin", "p02.manager", "tw.viewer"]
    every = await tree.data(USERS, {"filter": {"includeInactive": True}}, as_user="p01.admin")
    assert every["users"]["nodes"] == [
        {"username": "p01.admin", "active": True},
        {"username": "p01.c01.officer", "active": True},
        {"username": "p01.manager", "active": False},
    ]
    assert every["users"]["totalCount"] == 3
    # its token stops working at once
    assert (await tree.gql("{ me { user { username } } }", as_user="p01.manager"))["_status"] == 401


# -- users and me ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        ("admin", ["admin", "p01.admin", "p01.c01.officer", "p01.manager", "p02.admin", "p02.manager", "tw.viewer"]),
        ("p01.admin", ["p01.admin", "p01.c01.officer", "p01.manager"]),
        ("p01.manager", ["p01.admin", "p01.c01.officer", "p01.manager"]),
        ("p02.admin", ["p02.admin", "p02.manager"]),
        ("p01.c01.officer", ["p01.c01.officer"]),
    ],
)
async def test_users_listing_is_scoped(tree: Api, viewer: str, expected: list[str]) -> None:
    assert await usernames(tree, viewer) == expected
    assert await usernames(tree, viewer, {"includeInactive": True}) == expected


@pytest.mark.parametrize(
    ("viewer", "search", "expected"),
    [
        ("admin", "manager", ["p01.manager", "p02.manager"]),
        ("admin", "MANAGER", ["p01.manager", "p02.manager"]),
        ("p01.admin", "manager", ["p01.manager"]),
        ("p01.admin", "p02", []),
        ("p02.admin", "p01", []),
        ("admin", "Người dùng p02", ["p02.admin", "p02.manager"]),
        ("admin", "c01.off", ["p01.c01.officer"]),
        ("admin", "100%", []),
        ("admin", "%", []),
        ("admin", "p0_.admin", []),
    ],
)
async def test_users_search(tree: Api, viewer: str, search: str, expected: list[str]) -> None:
    assert await usernames(tree, viewer, {"search": search}) == expected


async def test_users_search_finds_a_vietnamese_name_as_written(tree: Api) -> None:
    created = await tree.data(
        USER_CREATE,
        {"input": {"username": "p01.lan", "fullName": "Đặng Thị Lan", "unitId": await unit_id(tree, "P01"), "password": None}},
        as_user="p01.admin",
    )
    assert created["userCreate"]["errors"] == []
    assert await usernames(tree, "p01.admin", {"search": "Thị Lan"}) == ["p01.lan"]
    assert await usernames(tree, "p01.admin", {"search": "Đặng"}) == ["p01.lan"]


async def test_sibling_users_are_invisible_everywhere(tree: Api) -> None:
    p02_manager = await user_id(tree, "p02.manager")
    p02_grant = (await grants_of(tree, "p02.manager"))[0]["id"]
    p02 = await unit_id(tree, "P02")
    hidden = await tree.gql("query($u: ID!, $g: ID!) { u: node(id: $u) { id } g: node(id: $g) { id } }", {"u": p02_manager, "g": p02_grant}, as_user="p01.admin")
    missing = await tree.gql("query($u: ID!, $g: ID!) { u: node(id: $u) { id } g: node(id: $g) { id } }", {"u": "VXNlcjo5OTk5OTk", "g": "R3JhbnQ6OTk5OTk5"}, as_user="p01.admin")
    assert hidden == missing == {"data": {"u": None, "g": None}, "_status": 200}
    assert await usernames(tree, "p01.admin", {"under": p02, "includeInactive": True}) == []
    # the admin does see them, so the ids are real
    seen = await tree.data("query($u: ID!) { node(id: $u) { ... on User { username } } }", {"u": p02_manager}, as_user="admin")
    assert seen["node"] == {"username": "p02.manager"}
    # users of its own subtree, by id
    own = await tree.data("query($u: ID!) { node(id: $u) { ... on User { username grants { role } } } }", {"u": await user_id(tree, "p01.c01.officer")}, as_user="p01.admin")
    assert own["node"] == {"username": "p01.c01.officer", "grants": [{"role": "officer"}]}


async def test_users_filter_under(tree: Api) -> None:
    c01 = await unit_id(tree, "P01-C01")
    assert await usernames(tree, "admin", {"under": c01}) == ["p01.c01.officer"]
    assert await usernames(tree, "p01.admin", {"under": await unit_id(tree, "P01")}) == ["p01.admin", "p01.c01.officer", "p01.manager"]


async def test_me_permissions(tree: Api) -> None:
    viewer = await tree.data("{ me { permissions { objectType action } } }", as_user="tw.viewer")
    assert sorted((p["objectType"], p["action"]) for p in viewer["me"]["permissions"]) == READ_ACTIONS
    admin = await tree.data("{ me { permissions { objectType action } } }", as_user="p01.admin")
    admin_pairs = {(p["objectType"], p["action"]) for p in admin["me"]["permissions"]}
    assert {("unit", "create"), ("user", "create"), ("grant", "create"), ("grant", "revoke")} <= admin_pairs
    assert set(READ_ACTIONS) <= admin_pairs
    manager = await tree.data("{ me { permissions { objectType action } } }", as_user="p01.manager")
    manager_pairs = {(p["objectType"], p["action"]) for p in manager["me"]["permissions"]}
    assert ("unit", "create") not in manager_pairs and ("user", "create") not in manager_pairs
    assert ("task", "define") in manager_pairs
