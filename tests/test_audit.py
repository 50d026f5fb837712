"""The audit trail end to end: one event per mutation, who may read which events, and the hash chain.

1. Every mutation of the schema writes exactly one event in its own transaction, with the right
   action, object, actor, home unit, request id and before/after, and never a password or a hash;
   a refused mutation writes none.
2. `auditEvents` and `node(id)` show an auditor or admin exactly the events whose home unit lies in
   its scope (ACCESS.md), and nothing at all to the other roles; filters and pagination are exact.
3. `resolute audit verify` passes on an intact chain and names the first broken link when a stored
   event is changed, removed, or changed with its hash recomputed.
4. (PostgreSQL) Concurrent writers keep one intact chain, and optimistic versions let exactly one
   of twenty concurrent updates through.

Expected sets are computed from the database directly (read-only SQL), never from the API under test.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from resolute.api import cli
from resolute.api.audit.chain import event_hash
from resolute.api.audit.models import AuditEvent
from resolute.api.db import session_factory
from resolute.schema.ids import decode_any, encode_id
from tests.support import PASSWORD, Api, Backend, small_tree, small_users, unit, user

# -- queries -------------------------------------------------------------------------------------

EVENT_FIELDS = (
    "id action objectType objectKey actorUsername actor { username } unit { code } before after requestId hash prevHash occurredAt"
)
EVENTS = (
    "query($first: Int!, $after: String, $f: AuditFilterInput) { auditEvents(first: $first, after: $after, filter: $f) {"
    " totalCount nodes { " + EVENT_FIELDS + " } edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"
)
COUNT = "query($f: AuditFilterInput) { auditEvents(first: 0, filter: $f) { totalCount } }"
NODE = "query($id: ID!) { node(id: $id) { id ... on AuditEvent { action unit { code } } } }"
MUTATION_NAMES = "{ __schema { mutationType { fields { name } } } }"

UNIT_CREATE = "mutation($i: UnitCreateInput!) { unitCreate(input: $i) { unit { id code version } errors { field code message } } }"
UNIT_UPDATE = "mutation($i: UnitUpdateInput!) { unitUpdate(input: $i) { unit { id code version } errors { field code message } } }"
UNIT_MOVE = "mutation($i: UnitMoveInput!) { unitMove(input: $i) { unit { id code } errors { field code message } } }"
UNIT_ARCHIVE = "mutation($i: UnitArchiveInput!) { unitArchive(input: $i) { unit { id code } errors { field code message } } }"
UNIT_MERGE = "mutation($i: UnitMergeInput!) { unitMerge(input: $i) { unit { id code } errors { field code message } } }"
KIND_CREATE = "mutation($i: UnitKindCreateInput!) { unitKindCreate(input: $i) { unitKind { code label } errors { field code message } } }"
USER_CREATE = "mutation($i: UserCreateInput!) { userCreate(input: $i) { user { id username } errors { field code message } } }"
USER_DEACTIVATE = "mutation($i: UserDeactivateInput!) { userDeactivate(input: $i) { user { id active } errors { field code message } } }"
PASSWORD_SET = "mutation($i: UserPasswordSetInput!) { userPasswordSet(input: $i) { user { id } errors { field code message } } }"
PASSWORD_CHANGE = "mutation($i: PasswordChangeInput!) { passwordChange(input: $i) { user { id } errors { field code message } } }"
ROLE_GRANT = "mutation($i: RoleGrantInput!) { roleGrant(input: $i) { grant { id role } errors { field code message } } }"
ROLE_REVOKE = "mutation($i: RoleRevokeInput!) { roleRevoke(input: $i) { revokedGrantId errors { field code message } } }"

NEW_SECRET = "a brand new passphrase 42"  # passwords set through the API in these tests
SECRETS = (PASSWORD, NEW_SECRET)


# -- helpers ---------------------------------------------------------------------------------------


@pytest.fixture
async def tree(api: Api) -> Api:
    await api.seed(small_tree(), small_users() + [user("p01.auditor", "P01", "auditor"), user("tw.auditor", "TW", "auditor")])
    return api


async def send(api: Api, query: str, variables: dict[str, Any], *, as_user: str, request_id: str | None = None) -> dict[str, Any]:
    """POST a GraphQL request with an optional X-Request-ID; fails on top-level GraphQL errors."""
    headers = {"Authorization": f"Bearer {await api.token_for(as_user)}"}
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    response = await api.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), (response.status_code, body)
    return body["data"]


def payload_of(data: dict[str, Any]) -> dict[str, Any]:
    (payload,) = data.values()
    return payload


def succeeded(data: dict[str, Any]) -> dict[str, Any]:
    payload = payload_of(data)
    assert payload["errors"] == [], payload["errors"]
    return payload


@dataclass
class Pks:
    units: dict[str, int]
    users: dict[str, int]
    grants: dict[tuple[str, str, str], int]  # (username, role, unit code) -> grant id

    def unit(self, code: str) -> str:
        return encode_id("Unit", self.units[code])

    def user(self, username: str) -> str:
        return encode_id("User", self.users[username])


async def pks(api: Api) -> Pks:
    """Primary keys read directly from the database (read-only)."""
    async with api.engine.connect() as conn:
        units = {code: pk for code, pk in await conn.execute(text("SELECT code, id FROM units"))}
        users = {name: pk for name, pk in await conn.execute(text("SELECT username, id FROM users"))}
        rows = await conn.execute(text("SELECT u.username, g.role, n.code, g.id FROM grants g JOIN users u ON u.id = g.user_id JOIN units n ON n.id = g.unit_id"))
        grants = {(name, role, code): pk for name, role, code, pk in rows}
    return Pks(units, users, grants)


async def stored_events(api: Api) -> list[dict[str, Any]]:
    """Every stored event, oldest first, with the path of its home unit (read-only SQL)."""
    async with api.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT e.id, e.action, e.object_type, e.unit_id, u.path, e.before, e.after, e.actor_username, e.request_id, e.hash, e.prev_hash"
                " FROM audit_events e LEFT JOIN units u ON u.id = e.unit_id ORDER BY e.id"
            )
        )
        return [dict(r._mapping) for r in rows]


async def sql_count(api: Api) -> int:
    async with api.engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM audit_events"))).scalar_one())


async def total(api: Api, as_user: str = "admin", flt: dict[str, Any] | None = None) -> int:
    return (await api.data(COUNT, {"f": flt}, as_user=as_user))["auditEvents"]["totalCount"]


async def newest(api: Api) -> dict[str, Any]:
    nodes = (await api.data(EVENTS, {"first": 1}, as_user="admin"))["auditEvents"]["nodes"]
    assert len(nodes) == 1
    return nodes[0]


async def walk(api: Api, as_user: str, flt: dict[str, Any] | None = None, page: int = 3) -> list[dict[str, Any]]:
    """Every event the caller may read, page by page; checks the page mechanics on the way."""
    seen: list[dict[str, Any]] = []
    after = None
    total_count = None
    for _ in range(1000):
        conn = (await api.data(EVENTS, {"first": page, "after": after, "f": flt}, as_user=as_user))["auditEvents"]
        total_count = conn["totalCount"] if total_count is None else total_count
        assert conn["totalCount"] == total_count, "totalCount must not depend on the page"
        assert len(conn["nodes"]) <= page
        assert [e["node"]["id"] for e in conn["edges"]] == [n["id"] for n in conn["nodes"]]
        seen.extend(conn["nodes"])
        if not conn["pageInfo"]["hasNextPage"]:
            break
        assert len(conn["nodes"]) == page, "only the last page may be short"
        assert conn["pageInfo"]["endCursor"] == conn["edges"][-1]["cursor"]
        after = conn["pageInfo"]["endCursor"]
    else:  # pragma: no cover - a pagination loop
        raise AssertionError("pagination never ended")
    keys = [event_pk(n["id"]) for n in seen]
    assert len(keys) == len(set(keys)), "an event was listed twice"
    assert keys == sorted(keys, reverse=True), "events must come newest first"
    assert len(seen) == total_count
    return seen


def event_pk(global_id: str) -> int:
    decoded = decode_any(global_id)
    assert decoded is not None and decoded[0] == "AuditEvent", global_id
    return decoded[1]


def assert_no_secret(value: Any) -> None:
    blob = json.dumps(value, ensure_ascii=False, default=str)
    assert "argon2" not in blob.lower(), "a password hash leaked into the audit trail"
    for secret in SECRETS:
        assert secret not in blob, "a password leaked into the audit trail"


# -- 1. every mutation writes exactly one event ----------------------------------------------------


@dataclass
class Case:
    actor: str
    query: str
    variables: dict[str, Any]
    # the expected event, computed after the mutation from fresh primary keys
    expected: Callable[[Pks], dict[str, Any]]


def unit_snapshot(k: Pks, code: str, name: str, kind: str, parent: str, depth: int, version: int, archived: bool = False) -> dict[str, Any]:
    return {"code": code, "name": name, "kind": kind, "parent_id": k.units[parent], "depth": depth, "archived": archived, "version": version}


def user_snapshot(k: Pks, username: str, full_name: str, unit_code: str, active: bool = True, has_password: bool = True) -> dict[str, Any]:
    return {"username": username, "full_name": full_name, "unit_id": k.units[unit_code], "active": active, "has_password": has_password}


def build_case(name: str, k: Pks) -> Case:
    if name == "unitCreate":
        return Case("p01.admin", UNIT_CREATE, {"i": {"parentId": k.unit("P01"), "code": "P01-C03", "name": "Xã Mới", "kind": "commune"}}, lambda n: {
            "action": "unitCreate", "objectType": "unit", "objectKey": str(n.units["P01-C03"]), "unit": {"code": "P01-C03"},
            "before": None, "after": unit_snapshot(n, "P01-C03", "Xã Mới", "commune", "P01", 3, 1),
        })
    if name == "unitUpdate":
        return Case("p01.admin", UNIT_UPDATE, {"i": {"id": k.unit("P01-C01"), "version": 1, "name": "Phường Hoàn Kiếm Mới"}}, lambda n: {
            "action": "unitUpdate", "objectType": "unit", "objectKey": str(n.units["P01-C01"]), "unit": {"code": "P01-C01"},
            "before": unit_snapshot(n, "P01-C01", "Phường Hoàn Kiếm", "commune", "P01", 3, 1),
            "after": unit_snapshot(n, "P01-C01", "Phường Hoàn Kiếm Mới", "commune", "P01", 3, 2),
        })
    if name == "unitMove":
        return Case("admin", UNIT_MOVE, {"i": {"id": k.unit("P01-C01"), "parentId": k.unit("P02"), "version": 1}}, lambda n: {
            "action": "unitMove", "objectType": "unit", "objectKey": str(n.units["P01-C01"]), "unit": {"code": "P01-C01"},
            "before": unit_snapshot(n, "P01-C01", "Phường Hoàn Kiếm", "commune", "P01", 3, 1),
            "after": unit_snapshot(n, "P01-C01", "Phường Hoàn Kiếm", "commune", "P02", 3, 2) | {"units_moved": 2},
        })
    if name == "unitArchive":
        return Case("p01.admin", UNIT_ARCHIVE, {"i": {"id": k.unit("P01-C02"), "version": 1}}, lambda n: {
            "action": "unitArchive", "objectType": "unit", "objectKey": str(n.units["P01-C02"]), "unit": {"code": "P01-C02"},
            "before": unit_snapshot(n, "P01-C02", "Xã Tân Phong", "commune", "P01", 3, 1),
            "after": unit_snapshot(n, "P01-C02", "Xã Tân Phong", "commune", "P01", 3, 2, archived=True) | {"units_archived": 1},
        })
    if name == "unitMerge":
        return Case("p01.admin", UNIT_MERGE, {"i": {"sourceIds": [k.unit("P01-C02")], "targetId": k.unit("P01-C01")}}, lambda n: {
            "action": "unitMerge", "objectType": "unit", "objectKey": str(n.units["P01-C02"]), "unit": {"code": "P01-C02"},
            "before": unit_snapshot(n, "P01-C02", "Xã Tân Phong", "commune", "P01", 3, 1),
            # moved under the target (version 2), then archived (version 3)
            "after": unit_snapshot(n, "P01-C02", "Xã Tân Phong", "commune", "P01-C01", 4, 3, archived=True)
            | {"merged_into": n.units["P01-C01"], "sub_units_moved": 0, "open_assignments_moved": 0},
        })
    if name == "unitKindCreate":
        return Case("admin", KIND_CREATE, {"i": {"code": "ward", "label": "Phường"}}, lambda n: {
            "action": "unitKindCreate", "objectType": "unit_kind", "objectKey": "ward", "unit": {"code": "TW"},
            "before": None, "after": {"code": "ward", "label": "Phường"},
        })
    if name == "userCreate":
        variables = {"i": {"username": "p01.clerk", "fullName": "Nguyễn Văn Thư", "unitId": k.unit("P01-C01"), "password": NEW_SECRET}}
        return Case("p01.admin", USER_CREATE, variables, lambda n: {
            "action": "userCreate", "objectType": "user", "objectKey": str(n.users["p01.clerk"]), "unit": {"code": "P01-C01"},
            "before": None, "after": user_snapshot(n, "p01.clerk", "Nguyễn Văn Thư", "P01-C01"),
        })
    if name == "userDeactivate":
        return Case("admin", USER_DEACTIVATE, {"i": {"id": k.user("p02.manager")}}, lambda n: {
            "action": "userDeactivate", "objectType": "user", "objectKey": str(n.users["p02.manager"]), "unit": {"code": "P02"},
            "before": user_snapshot(n, "p02.manager", "Người dùng p02.manager", "P02"),
            "after": user_snapshot(n, "p02.manager", "Người dùng p02.manager", "P02", active=False),
        })
    if name == "userPasswordSet":
        return Case("p01.admin", PASSWORD_SET, {"i": {"id": k.user("p01.manager"), "password": NEW_SECRET}}, lambda n: {
            "action": "userPasswordSet", "objectType": "user", "objectKey": str(n.users["p01.manager"]), "unit": {"code": "P01"}, "before": None,
        })
    if name == "passwordChange":
        return Case("p01.c01.officer", PASSWORD_CHANGE, {"i": {"currentPassword": PASSWORD, "newPassword": NEW_SECRET}}, lambda n: {
            "action": "passwordChange", "objectType": "user", "objectKey": str(n.users["p01.c01.officer"]), "unit": {"code": "P01-C01"}, "before": None,
        })
    if name == "roleGrant":
        variables = {"i": {"userId": k.user("p01.c01.officer"), "role": "viewer", "unitId": k.unit("P01-C02")}}
        return Case("p01.admin", ROLE_GRANT, variables, lambda n: {
            "action": "roleGrant", "objectType": "grant", "objectKey": str(n.grants[("p01.c01.officer", "viewer", "P01-C02")]),
            "unit": {"code": "P01-C01"},  # a grant's home unit is its holder's unit
            "before": None, "after": {"user_id": n.users["p01.c01.officer"], "role": "viewer", "unit_id": n.units["P01-C02"]},
        })
    if name == "roleRevoke":
        grant_pk = k.grants[("p02.manager", "manager", "P02")]
        return Case("admin", ROLE_REVOKE, {"i": {"grantId": encode_id("Grant", grant_pk)}}, lambda n: {
            "action": "roleRevoke", "objectType": "grant", "objectKey": str(grant_pk), "unit": {"code": "P02"},
            "before": {"user_id": n.users["p02.manager"], "role": "manager", "unit_id": n.units["P02"]}, "after": None,
        })
    raise AssertionError(f"no case for {name}")


MUTATIONS = [
    "unitCreate", "unitUpdate", "unitMove", "unitArchive", "unitMerge", "unitKindCreate",
    "userCreate", "userDeactivate", "userPasswordSet", "passwordChange", "roleGrant", "roleRevoke",
]


async def test_every_mutation_of_the_tree_and_accounts_has_a_case(tree: Api) -> None:
    """Resolution mutations (objectives, key results) are newer and audited by their own tests."""
    fields = (await tree.data(MUTATION_NAMES, as_user="admin"))["__schema"]["mutationType"]["fields"]
    names = {f["name"] for f in fields}
    assert set(MUTATIONS) <= names
    tree_and_accounts = {n for n in names if n.startswith(("unit", "user", "password", "role"))}
    assert tree_and_accounts == set(MUTATIONS)


@pytest.mark.parametrize("name", MUTATIONS)
async def test_every_mutation_writes_exactly_one_event(tree: Api, name: str) -> None:
    case = build_case(name, await pks(tree))
    count_before, stored_before, last_before = await total(tree), await sql_count(tree), await newest(tree)
    assert count_before == stored_before  # the root admin reads every stored event
    request_id = f"req-{name}-{uuid.uuid4().hex[:12]}"

    payload = succeeded(await send(tree, case.query, case.variables, as_user=case.actor, request_id=request_id))

    assert await sql_count(tree) == stored_before + 1
    assert await total(tree) == count_before + 1
    event = await newest(tree)
    expected = case.expected(await pks(tree))
    assert {key: event[key] for key in expected} == expected
    assert event["actorUsername"] == case.actor
    assert event["actor"] == {"username": case.actor}
    assert event["requestId"] == request_id
    assert event["prevHash"] == last_before["hash"], "the new event must extend the chain"
    assert event["hash"] != last_before["hash"] and len(event["hash"]) == 64
    if name in ("userPasswordSet", "passwordChange"):
        assert event["before"] is None and set(event["after"]) == {"password"}
    # the object the payload names is the object the event records
    if name not in ("unitKindCreate", "roleRevoke", "unitMerge"):  # unitMerge answers with the target
        (obj,) = [v for key, v in payload.items() if key != "errors"]
        assert str(decode_any(obj["id"])[1]) == event["objectKey"]  # type: ignore[index]
    elif name == "roleRevoke":
        assert str(decode_any(payload["revokedGrantId"])[1]) == event["objectKey"]  # type: ignore[index]
    assert_no_secret(event)
    assert_no_secret(await stored_events(tree))  # nor in any stored row


REFUSALS = [
    # id, caller, query, variables (from pks), expected (field, code)
    ("duplicate code", "admin", UNIT_CREATE, lambda k: {"i": {"parentId": k.unit("P01"), "code": "P02-C01", "name": "Trùng", "kind": "commune"}}, [("code", "DUPLICATE")]),
    ("stale version", "admin", UNIT_UPDATE, lambda k: {"i": {"id": k.unit("P01"), "version": 7, "name": "Tên mới"}}, [("version", "CONFLICT")]),
    ("move into itself", "admin", UNIT_MOVE, lambda k: {"i": {"id": k.unit("P01"), "parentId": k.unit("P01-C01"), "version": 1}}, [("parentId", "CYCLE")]),
    ("merge into its own sub-unit", "admin", UNIT_MERGE, lambda k: {"i": {"sourceIds": [k.unit("P01")], "targetId": k.unit("P01-C01")}}, [("targetId", "CYCLE")]),
    ("archive with children", "admin", UNIT_ARCHIVE, lambda k: {"i": {"id": k.unit("P01-C01"), "version": 1}}, [("id", "HAS_CHILDREN")]),
    ("kind by a province admin", "p01.admin", KIND_CREATE, lambda k: {"i": {"code": "ward", "label": "Phường"}}, [(None, "FORBIDDEN")]),
    ("duplicate username", "admin", USER_CREATE, lambda k: {"i": {"username": "p01.manager", "fullName": "X", "unitId": k.unit("P01"), "password": NEW_SECRET}}, [("username", "DUPLICATE")]),
    ("deactivate oneself", "admin", USER_DEACTIVATE, lambda k: {"i": {"id": k.user("admin")}}, [("id", "INVALID")]),
    ("short password", "admin", PASSWORD_SET, lambda k: {"i": {"id": k.user("p01.manager"), "password": "short"}}, [("password", "INVALID")]),
    ("wrong current password", "p01.manager", PASSWORD_CHANGE, lambda k: {"i": {"currentPassword": "not the password", "newPassword": NEW_SECRET}}, [("currentPassword", "WRONG_PASSWORD")]),
    ("grant out of scope", "p01.admin", ROLE_GRANT, lambda k: {"i": {"userId": k.user("p01.manager"), "role": "viewer", "unitId": k.unit("P02")}}, [("unitId", "NOT_FOUND")]),
    ("revoke by a manager", "p01.manager", ROLE_REVOKE, lambda k: {"i": {"grantId": encode_id("Grant", k.grants[("p01.c01.officer", "officer", "P01-C01")])}}, [("grantId", "FORBIDDEN")]),
]


async def test_a_refused_mutation_writes_no_event(tree: Api) -> None:
    """Every mutation refused once (refusals change nothing, so one tree serves them all)."""
    k = await pks(tree)
    before = await stored_events(tree)
    for case, caller, query, variables, expected in REFUSALS:
        payload = payload_of(await send(tree, query, variables(k), as_user=caller, request_id="req-refused"))
        assert [(e["field"], e["code"]) for e in payload["errors"]] == expected, case
        assert await stored_events(tree) == before, case
    assert await total(tree) == len(before)
    assert {name for _, _, query, _, _ in REFUSALS for name in MUTATIONS if f" {name}(" in query} == set(MUTATIONS)


async def test_without_a_request_id_header_the_event_gets_a_generated_one(tree: Api) -> None:
    k = await pks(tree)
    succeeded(await send(tree, UNIT_UPDATE, {"i": {"id": k.unit("P02"), "version": 1, "name": "Tỉnh Lào Cai Mới"}}, as_user="admin"))
    first = (await newest(tree))["requestId"]
    succeeded(await send(tree, UNIT_UPDATE, {"i": {"id": k.unit("P02"), "version": 2, "name": "Tỉnh Lào Cai"}}, as_user="admin"))
    second = (await newest(tree))["requestId"]
    assert first and second and first != second, (first, second)


async def test_a_long_request_id_does_not_break_the_mutation(tree: Api) -> None:
    """X-Request-ID is client input: an over-long one must not turn a valid mutation into a server error."""
    k = await pks(tree)
    before = await sql_count(tree)
    headers = {"Authorization": f"Bearer {await tree.token_for('admin')}", "X-Request-ID": "r" * 200}
    variables = {"i": {"id": k.unit("P02"), "version": 1, "name": "Tỉnh Lào Cai Mới"}}
    response = await tree.client.post("/graphql", json={"query": UNIT_UPDATE, "variables": variables}, headers=headers)
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), (response.status_code, body)
    assert body["data"]["unitUpdate"]["errors"] == []
    assert await sql_count(tree) == before + 1
    stored = (await newest(tree))["requestId"]
    assert stored and len(stored) <= 200  # kept whole, cut short or replaced: any is fine, failing is not


# -- 2. who reads which events ---------------------------------------------------------------------


async def spread_events(api: Api) -> None:
    """Mutations whose home units lie all over the tree (as the root admin)."""
    k = await pks(api)
    steps = [
        (UNIT_CREATE, {"i": {"parentId": k.unit("P01-C01"), "code": "P01-C01-K02", "name": "Chi bộ Tây", "kind": "cell"}}),
        (UNIT_CREATE, {"i": {"parentId": k.unit("P02"), "code": "P02-C03", "name": "Xã Mới", "kind": "commune"}}),
        (UNIT_UPDATE, {"i": {"id": k.unit("P01"), "version": 1, "name": "Hà Nội"}}),
        (UNIT_UPDATE, {"i": {"id": k.unit("P02-C01"), "version": 1, "name": "Xã Đông Hà Mới"}}),
        (UNIT_UPDATE, {"i": {"id": k.unit("TW"), "version": 1, "name": "Trung ương"}}),
        (KIND_CREATE, {"i": {"code": "ward", "label": "Phường"}}),
        (USER_CREATE, {"i": {"username": "p01.clerk", "fullName": "Thư ký", "unitId": k.unit("P01-C02")}}),
        (USER_CREATE, {"i": {"username": "p02.clerk", "fullName": "Thư ký", "unitId": k.unit("P02-C02")}}),
        (ROLE_GRANT, {"i": {"userId": k.user("p02.manager"), "role": "viewer", "unitId": k.unit("P02-C01")}}),
        (UNIT_ARCHIVE, {"i": {"id": k.unit("P01-C01-K01"), "version": 1}}),
    ]
    for query, variables in steps:
        succeeded(await send(api, query, variables, as_user="admin"))


def under(events: list[dict[str, Any]], path: str) -> set[int]:
    return {e["id"] for e in events if e["path"] is not None and e["path"].startswith(path)}


async def unit_path(api: Api, code: str) -> str:
    async with api.engine.connect() as conn:
        return str((await conn.execute(text("SELECT path FROM units WHERE code = :c"), {"c": code})).scalar_one())


@pytest.fixture
async def audited(tree: Api) -> Api:
    await spread_events(tree)
    return tree


async def test_auditors_and_admins_read_exactly_the_events_of_their_scope(audited: Api) -> None:
    stored = await stored_events(audited)
    everything = {e["id"] for e in stored}
    in_p01 = under(stored, await unit_path(audited, "P01"))
    assert len(everything) == 11 and 0 < len(in_p01) < len(everything)  # the import and ten mutations

    for reader in ("admin", "tw.auditor"):
        assert {event_pk(n["id"]) for n in await walk(audited, reader)} == everything, reader
    for reader in ("p01.auditor", "p01.admin"):
        seen = await walk(audited, reader)
        assert {event_pk(n["id"]) for n in seen} == in_p01, reader
        assert all(n["unit"] is not None for n in seen)
        # the root admin acted: its name is kept, its account (out of a P01 reader's scope) is not shown
        assert {(n["actorUsername"], json.dumps(n["actor"])) for n in seen} == {("admin", "null")}
    p02 = under(stored, await unit_path(audited, "P02"))
    assert {event_pk(n["id"]) for n in await walk(audited, "p02.admin")} == p02


async def test_roles_without_audit_read_see_no_event(audited: Api) -> None:
    stored = await stored_events(audited)
    for reader in ("p01.manager", "tw.viewer", "p01.c01.officer", "p02.manager"):
        conn = (await audited.data(EVENTS, {"first": 100}, as_user=reader))["auditEvents"]
        assert conn["totalCount"] == 0, reader
        assert conn["nodes"] == [] and conn["edges"] == [], reader
        assert conn["pageInfo"]["hasNextPage"] is False
        assert await total(audited, reader, {"under": (await pks(audited)).unit("P01")}) == 0
        for event in stored:
            found = await audited.data(NODE, {"id": encode_id("AuditEvent", event["id"])}, as_user=reader)
            assert found["node"] is None, (reader, event["action"])


async def test_node_of_an_out_of_scope_event_is_null(audited: Api) -> None:
    stored = await stored_events(audited)
    in_p01 = under(stored, await unit_path(audited, "P01"))
    for event in stored:
        found = (await audited.data(NODE, {"id": encode_id("AuditEvent", event["id"])}, as_user="p01.auditor"))["node"]
        if event["id"] in in_p01:
            assert found is not None and found["id"] == encode_id("AuditEvent", event["id"])
        else:
            assert found is None, event["action"]
        assert (await audited.data(NODE, {"id": encode_id("AuditEvent", event["id"])}, as_user="admin"))["node"] is not None
    missing = await audited.data(NODE, {"id": encode_id("AuditEvent", 999999)}, as_user="admin")
    assert missing["node"] is None


async def test_filters_narrow_the_events_exactly(audited: Api) -> None:
    stored = await stored_events(audited)
    k = await pks(audited)

    def ids_of(nodes: list[dict[str, Any]]) -> set[int]:
        return {event_pk(n["id"]) for n in nodes}

    creates = {e["id"] for e in stored if e["action"] == "unitCreate"}
    assert len(creates) == 2
    assert ids_of(await walk(audited, "admin", {"action": "unitCreate"})) == creates

    users = {e["id"] for e in stored if e["object_type"] == "user"}
    assert len(users) == 2
    assert ids_of(await walk(audited, "admin", {"objectType": "user"})) == users

    c01 = under(stored, await unit_path(audited, "P01-C01"))
    assert len(c01) == 2  # the new cell and the archived cell (nothing of P01 itself)
    assert ids_of(await walk(audited, "admin", {"under": k.unit("P01-C01")})) == c01

    p02_updates = {e["id"] for e in stored if e["action"] == "unitUpdate"} & under(stored, await unit_path(audited, "P02"))
    assert len(p02_updates) == 1
    assert ids_of(await walk(audited, "admin", {"action": "unitUpdate", "under": k.unit("P02")})) == p02_updates

    # filters never widen a scope: a P01 auditor asking for P02 or for everything's updates
    p01_updates = {e["id"] for e in stored if e["action"] == "unitUpdate"} & under(stored, await unit_path(audited, "P01"))
    assert ids_of(await walk(audited, "p01.auditor", {"action": "unitUpdate"})) == p01_updates and len(p01_updates) == 1
    assert await total(audited, "p01.auditor", {"under": k.unit("P02")}) == 0
    # TW, above the auditor's unit, it may name (ACCESS.md "Up"): under it, still only what it reads, P01's
    assert ids_of(await walk(audited, "p01.auditor", {"action": "unitUpdate", "under": k.unit("TW")})) == p01_updates
    assert await total(audited, "admin", {"action": "noSuchAction"}) == 0


def as_utc(value: Any) -> datetime:
    """A stored or answered timestamp as an aware UTC datetime (a naive one is taken as UTC)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def test_since_selects_the_events_from_an_instant_in_any_time_zone(audited: Api) -> None:
    """`since` is an instant: the same instant written with another UTC offset selects the same events."""
    async with audited.engine.connect() as conn:
        stored = [(pk, as_utc(at)) for pk, at in await conn.execute(text("SELECT id, occurred_at FROM audit_events ORDER BY id"))]
    _, instant = stored[6]
    expected = {pk for pk, at in stored if at >= instant}
    assert 0 < len(expected) < len(stored)
    wrong = {}
    for hours in (0, 7, -5):  # UTC, Vietnam, a client far west
        written = instant.astimezone(timezone(timedelta(hours=hours))).isoformat()
        found = {event_pk(n["id"]) for n in await walk(audited, "admin", {"since": written}, page=100)}
        if found != expected:
            wrong[written] = sorted(found)
    assert wrong == {}, f"expected events {sorted(expected)}"


async def test_pagination_walks_every_visible_event_once_newest_first(audited: Api) -> None:
    stored = await stored_events(audited)
    everything = sorted((e["id"] for e in stored), reverse=True)
    in_p01 = sorted(under(stored, await unit_path(audited, "P01")), reverse=True)
    for page in (1, 2, 5, 100):
        assert [event_pk(n["id"]) for n in await walk(audited, "admin", page=page)] == everything, page
        assert [event_pk(n["id"]) for n in await walk(audited, "p01.auditor", page=page)] == in_p01, page


# -- 3. resolute audit verify ----------------------------------------------------------------------


async def verify(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], backend: Backend) -> tuple[int, str, str]:
    monkeypatch.setenv("RESOLUTE_DATABASE_URL", backend.url)
    capsys.readouterr()
    code = await asyncio.to_thread(cli.main, ["audit", "verify"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def event_ids(api: Api) -> list[int]:
    return [e["id"] for e in await stored_events(api)]


@pytest.mark.committing("`resolute audit verify` reads the chain on its own connection, in a thread")
async def test_verify_passes_on_an_intact_chain(audited: Api, backend: Backend, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = await verify(monkeypatch, capsys, backend)
    assert code == 0, err
    assert f"intact: {await sql_count(audited)} events" in out and await sql_count(audited) == 11
    assert err == ""


async def test_verify_passes_on_an_empty_trail(api: Api, backend: Backend, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = await verify(monkeypatch, capsys, backend)
    assert code == 0, err
    assert "intact: 0 events" in out


TAMPERING = [
    ("after", '{"name":"forged"}'),
    ("before", '{"name":"forged"}'),
    ("actor_username", "mallory"),
    ("action", "unitArchive"),
    ("object_key", "4242"),
    ("request_id", "forged-request"),
    ("occurred_at", datetime(2020, 1, 1, tzinfo=UTC)),
    ("unit_id", "<another unit>"),
]


async def past_the_trigger(conn: Any, backend: Backend) -> None:
    """Tamper as the database's superuser would: on PostgreSQL the server's role cannot change an event at all
    (the append-only trigger, test_audit_events_are_append_only_for_the_server); verify must catch the rest."""
    if backend.name == "postgresql":
        await conn.execute(text("SET LOCAL session_replication_role = replica"))


@pytest.mark.committing("`resolute audit verify` reads the chain on its own connection, in a thread")
async def test_verify_names_a_changed_event(audited: Api, backend: Backend, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Each hashed column in turn: changed, verify names the event; put back, the chain is intact again."""
    target = (await event_ids(audited))[5]
    for column, value in TAMPERING:
        if value == "<another unit>":
            value = (await pks(audited)).units["P02-C02"]
        async with session_factory(audited.engine)() as session:
            original = getattr(await session.get_one(AuditEvent, target), column)
        assert original != value, column
        async with audited.engine.begin() as conn:
            await past_the_trigger(conn, backend)
            changed = await conn.execute(update(AuditEvent).where(AuditEvent.id == target).values({column: value}))
            assert changed.rowcount == 1
        code, out, err = await verify(monkeypatch, capsys, backend)
        assert code == 1, column
        assert f"BROKEN at event {target}:" in err, (column, err)
        assert "intact" not in out
        async with audited.engine.begin() as conn:
            await past_the_trigger(conn, backend)
            await conn.execute(update(AuditEvent).where(AuditEvent.id == target).values({column: original}))
        code, out, err = await verify(monkeypatch, capsys, backend)
        assert code == 0, (column, err)


@pytest.mark.committing("`resolute audit verify` reads the chain on its own connection, in a thread")
async def test_verify_names_a_changed_last_event(audited: Api, backend: Backend, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    last = (await event_ids(audited))[-1]
    async with audited.engine.begin() as conn:
        await past_the_trigger(conn, backend)
        await conn.execute(update(AuditEvent).where(AuditEvent.id == last).values(after='{"forged":true}'))
    code, _, err = await verify(monkeypatch, capsys, backend)
    assert code == 1 and f"BROKEN at event {last}:" in err, err


@pytest.mark.committing("`resolute audit verify` reads the chain on its own connection, in a thread")
async def test_verify_names_the_event_after_a_removed_one(audited: Api, backend: Backend, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    ids = await event_ids(audited)
    async with audited.engine.begin() as conn:
        await past_the_trigger(conn, backend)
        await conn.execute(delete(AuditEvent).where(AuditEvent.id == ids[4]))
    code, out, err = await verify(monkeypatch, capsys, backend)
    assert code == 1 and "intact" not in out
    assert f"BROKEN at event {ids[5]}:" in err, err
    assert "prev_hash" in err


@pytest.mark.committing("`resolute audit verify` reads the chain on its own connection, in a thread")
async def test_verify_names_the_next_event_when_a_changed_event_got_a_recomputed_hash(audited: Api, backend: Backend, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    ids = await event_ids(audited)
    target = ids[3]
    async with session_factory(audited.engine)() as session:
        row = await session.get_one(AuditEvent, target)
        forged_after = '{"name":"forged"}'
        forged_hash = event_hash(
            prev_hash=row.prev_hash, occurred_at=row.occurred_at, actor_id=row.actor_id, actor_username=row.actor_username,
            action=row.action, object_type=row.object_type, object_key=row.object_key, unit_id=row.unit_id,
            before=row.before, after=forged_after, request_id=row.request_id,
        )
        await past_the_trigger(session, backend)
        await session.execute(update(AuditEvent).where(AuditEvent.id == target).values(after=forged_after, hash=forged_hash))
        await session.commit()
    code, _, err = await verify(monkeypatch, capsys, backend)
    assert code == 1
    assert f"BROKEN at event {ids[4]}:" in err, err  # the forged event itself is consistent; its successor is not
    assert f"event {target}:" not in err


@pytest.mark.committing("each refused statement is tried in a transaction of its own, on the app's own engine")
async def test_audit_events_are_append_only_for_the_server(audited: Api, backend: Backend) -> None:
    """On PostgreSQL the server's connections can add events but never change, remove or truncate them."""
    if backend.name != "postgresql":
        pytest.skip("SQLite has no roles: whoever opens the file can rewrite it (README)")
    ids = await event_ids(audited)
    for statement in (update(AuditEvent).where(AuditEvent.id == ids[0]).values(after='{"forged":true}'),
                      delete(AuditEvent).where(AuditEvent.id == ids[-1]), text("TRUNCATE audit_events CASCADE")):
        with pytest.raises(DBAPIError, match="audit events are append-only"):
            async with audited.engine.begin() as conn:
                await conn.execute(statement)
    assert await event_ids(audited) == ids


# -- 4. PostgreSQL: concurrent writers -------------------------------------------------------------


def require_postgresql(backend: Backend) -> None:
    if backend.name != "postgresql":
        pytest.skip("concurrency is tested on PostgreSQL (SQLite serialises writers)")


@pytest.mark.committing("concurrent requests race for the chain's lock; then `resolute audit verify` reads it on its own connection")
async def test_concurrent_writers_keep_one_intact_chain(api: Api, backend: Backend, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    require_postgresql(backend)
    provinces = [f"P0{i}" for i in range(1, 6)]
    await api.seed(
        [unit("TW", None, "central")] + [unit(p, "TW", "province") for p in provinces],
        [user("admin", "TW", "admin")] + [user(f"{p.lower()}.admin", p, "admin") for p in provinces],
    )
    k = await pks(api)
    before = await sql_count(api)
    for p in provinces:  # tokens first, so that the burst below is only mutations
        await api.token_for(f"{p.lower()}.admin")

    async def create(province: str, n: int) -> dict[str, Any]:
        variables = {"i": {"parentId": k.unit(province), "code": f"{province}-C{n:02d}", "name": f"Xã {n}", "kind": "commune"}}
        return await send(api, UNIT_CREATE, variables, as_user=f"{province.lower()}.admin", request_id=f"{province}-{n}")

    results = await asyncio.gather(*(create(p, n) for p in provinces for n in range(1, 11)))
    assert all(r["unitCreate"]["errors"] == [] for r in results), [r for r in results if r["unitCreate"]["errors"]]
    assert await sql_count(api) == before + 50
    stored = await stored_events(api)
    new = stored[before:]
    assert sorted(e["request_id"] for e in new) == sorted(f"{p}-{n}" for p in provinces for n in range(1, 11))
    assert all(e["actor_username"] == f"{e['request_id'].split('-')[0].lower()}.admin" for e in new)
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(stored))
    code, out, err = await verify(monkeypatch, capsys, backend)
    assert code == 0, err
    assert f"intact: {before + 50} events" in out


@pytest.mark.committing("concurrent requests race for one row in PostgreSQL")
async def test_concurrent_updates_of_one_version_let_exactly_one_through(tree: Api, backend: Backend) -> None:
    require_postgresql(backend)
    k = await pks(tree)
    await tree.token_for("admin")
    before = await sql_count(tree)

    async def rename(n: int) -> dict[str, Any]:
        return await send(tree, UNIT_UPDATE, {"i": {"id": k.unit("P01-C01"), "version": 1, "name": f"Tên {n}"}}, as_user="admin")

    results = [r["unitUpdate"] for r in await asyncio.gather(*(rename(n) for n in range(20)))]
    won = [r for r in results if r["errors"] == []]
    lost = [r for r in results if r["errors"]]
    assert len(won) == 1 and len(lost) == 19, results
    assert won[0]["unit"]["version"] == 2
    assert all(r["unit"] is None and [(e["field"], e["code"]) for e in r["errors"]] == [("version", "CONFLICT")] for r in lost), lost
    unit_now = await tree.data("query($c: String) { unit(code: $c) { version name } }", {"c": "P01-C01"}, as_user="admin")
    assert unit_now["unit"]["version"] == 2
    assert await sql_count(tree) == before + 1
    event = (await stored_events(tree))[-1]
    assert event["action"] == "unitUpdate" and json.loads(event["after"])["name"] == unit_now["unit"]["name"]
