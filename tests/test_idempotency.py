"""Idempotency keys end to end: a retried mutation takes effect once and answers like the first time.

A key belongs to the user that sent it; it is bound to the first input it took effect with; a
refused mutation does not consume it; a malformed key is refused before anything is written.
Every "nothing changed" is a comparison of whole tables read directly (read-only SQL) before and after.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import text

from resolute.schema.ids import decode_any, encode_id
from tests.support import Api, Backend, current_version, small_tree, small_users

UNIT_FIELDS = "id code name kind depth version archived updatedAt parent { code } ancestors { code }"
UNIT_CREATE = (
    "mutation($i: UnitCreateInput!, $k: String) { unitCreate(input: $i, idempotencyKey: $k) {"
    " unit { " + UNIT_FIELDS + " } errors { field code message } } }"
)
UNIT_UPDATE = (
    "mutation($i: UnitUpdateInput!, $k: String) { unitUpdate(input: $i, idempotencyKey: $k) {"
    " unit { " + UNIT_FIELDS + " } errors { field code message } } }"
)
KIND_CREATE = "mutation($i: UnitKindCreateInput!, $k: String) { unitKindCreate(input: $i, idempotencyKey: $k) { unitKind { code label } errors { field code message } } }"
USER_CREATE = (
    "mutation($i: UserCreateInput!, $k: String) { userCreate(input: $i, idempotencyKey: $k) {"
    " user { id username fullName active hasPassword version unit { code } grants { id role unit { code } } } errors { field code message } } }"
)
ROLE_GRANT = (
    "mutation($i: RoleGrantInput!, $k: String) { roleGrant(input: $i, idempotencyKey: $k) {"
    " grant { id role createdAt unit { code } user { username } } errors { field code message } } }"
)
ROLE_REVOKE = "mutation($i: RoleRevokeInput!, $k: String) { roleRevoke(input: $i, idempotencyKey: $k) { revokedGrantId errors { field code message } } }"

TABLES = ("units", "unit_kinds", "users", "grants", "audit_events", "idempotency_keys")
KEY = "0b9c7e3e-5d1a-4c57-9a43-6f0f3f8e2a11"
SECRET = "a long enough passphrase 7"


@pytest.fixture
async def tree(api: Api) -> Api:
    await api.seed(small_tree(), small_users())
    return api


async def db_state(api: Api) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a mutation may touch (read-only SQL)."""
    state = {}
    async with api.engine.connect() as conn:
        for table in TABLES:
            state[table] = sorted((tuple(r) for r in await conn.execute(text(f"SELECT * FROM {table}"))), key=repr)
    return state


async def count(api: Api, table: str, where: str = "", **params: Any) -> int:
    async with api.engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table} {where}"), params)).scalar_one())


async def gid(api: Api, table: str, column: str, value: str, type_name: str) -> str:
    async with api.engine.connect() as conn:
        pk = (await conn.execute(text(f"SELECT id FROM {table} WHERE {column} = :v"), {"v": value})).scalar_one()
    return encode_id(type_name, pk)


async def unit_gid(api: Api, code: str) -> str:
    return await gid(api, "units", "code", code, "Unit")


async def user_gid(api: Api, username: str) -> str:
    return await gid(api, "users", "username", username, "User")


async def run(api: Api, query: str, input: dict[str, Any], key: str | None, *, as_user: str = "admin") -> dict[str, Any]:
    """The whole `data` of a mutation (no top-level GraphQL errors allowed)."""
    return await api.data(query, {"i": input, "k": key}, as_user=as_user)


def payload(data: dict[str, Any]) -> dict[str, Any]:
    (only,) = data.values()
    return only


def ok(data: dict[str, Any]) -> dict[str, Any]:
    body = payload(data)
    assert body["errors"] == [], body["errors"]
    return body


def errors(data: dict[str, Any]) -> list[tuple[str | None, str]]:
    body = payload(data)
    assert all(v is None for k, v in body.items() if k not in ("errors", "revokedGrantId")), body
    return [(e["field"], e["code"]) for e in body["errors"]]


async def new_commune(api: Api, code: str = "P01-C03", name: str = "Xã Mới", parent: str = "P01") -> dict[str, Any]:
    return {"parentId": await unit_gid(api, parent), "code": code, "name": name, "kind": "commune"}


# -- 1. a replay takes effect once and answers the same ----------------------------------------------


async def test_the_same_key_and_input_twice_creates_one_unit_and_answers_the_same(tree: Api) -> None:
    input = await new_commune(tree)
    events_before = await count(tree, "audit_events")
    first = await run(tree, UNIT_CREATE, input, KEY)
    ok(first)
    second = await run(tree, UNIT_CREATE, input, KEY)
    assert second == first
    assert await count(tree, "units", "WHERE code = :c", c="P01-C03") == 1
    assert await count(tree, "audit_events") == events_before + 1
    assert await count(tree, "idempotency_keys") == 1
    # and a third time, after other writes, still once
    ok(await run(tree, UNIT_CREATE, await new_commune(tree, "P01-C04"), None))
    state = await db_state(tree)
    assert await run(tree, UNIT_CREATE, input, KEY) == first
    assert await db_state(tree) == state


async def test_without_a_key_a_retry_is_a_new_request(tree: Api) -> None:
    """The control for the test above: the same input twice without a key is refused as a duplicate."""
    input = await new_commune(tree)
    ok(await run(tree, UNIT_CREATE, input, None))
    assert errors(await run(tree, UNIT_CREATE, input, None)) == [("code", "DUPLICATE")]


async def test_a_lost_answer_is_recovered_by_retrying_with_the_same_key(tree: Api) -> None:
    """A phone sends, the server commits, the answer is lost; the retry learns the unit it created."""
    input = await new_commune(tree, "P01-C09", "Xã Mạng Yếu")
    await run(tree, UNIT_CREATE, input, "mobile-retry-0001")  # answer "lost": never looked at
    retried = ok(await run(tree, UNIT_CREATE, input, "mobile-retry-0001"))
    assert retried["unit"]["id"] == await unit_gid(tree, "P01-C09")
    assert retried["unit"]["code"] == "P01-C09" and retried["unit"]["version"] == 1
    assert await count(tree, "units", "WHERE code = :c", c="P01-C09") == 1
    assert await count(tree, "audit_events", "WHERE action = 'unitCreate'") == 1


# -- 2. a key is bound to its first input ------------------------------------------------------------


async def test_the_same_key_with_another_input_is_refused_and_changes_nothing(tree: Api) -> None:
    ok(await run(tree, UNIT_CREATE, await new_commune(tree), KEY))
    state = await db_state(tree)
    for other in (await new_commune(tree, "P01-C04"), await new_commune(tree, name="Xã Khác")):
        assert errors(await run(tree, UNIT_CREATE, other, KEY)) == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]
        assert await db_state(tree) == state
    # another mutation with the same key is another input too
    p01 = await unit_gid(tree, "P01")
    update = {"id": p01, "version": await current_version(tree, p01), "name": "Hà Nội"}
    assert errors(await run(tree, UNIT_UPDATE, update, KEY)) == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]
    assert await db_state(tree) == state


async def test_a_key_belongs_to_the_user_that_sent_it(tree: Api) -> None:
    input = await new_commune(tree)
    first = ok(await run(tree, UNIT_CREATE, input, KEY, as_user="admin"))
    # the same key and input from another admin is not a replay of the first admin's request: it runs
    assert errors(await run(tree, UNIT_CREATE, input, KEY, as_user="p01.admin")) == [("code", "DUPLICATE")]
    # and the same key with its own input takes effect for that admin
    own = ok(await run(tree, UNIT_CREATE, await new_commune(tree, "P01-C04"), KEY, as_user="p01.admin"))
    assert own["unit"]["id"] != first["unit"]["id"] and own["unit"]["code"] == "P01-C04"
    assert await count(tree, "idempotency_keys", "WHERE key = :k", k=KEY) == 2
    # each user's replay answers with its own unit
    assert ok(await run(tree, UNIT_CREATE, input, KEY, as_user="admin"))["unit"]["id"] == first["unit"]["id"]
    assert ok(await run(tree, UNIT_CREATE, await new_commune(tree, "P01-C04"), KEY, as_user="p01.admin"))["unit"]["id"] == own["unit"]["id"]
    assert await count(tree, "audit_events", "WHERE action = 'unitCreate'") == 2


async def test_a_refused_mutation_does_not_consume_its_key(tree: Api) -> None:
    wrong = await new_commune(tree, code="P02-C01")  # a code that exists
    state = await db_state(tree)
    assert errors(await run(tree, UNIT_CREATE, wrong, KEY)) == [("code", "DUPLICATE")]
    assert await db_state(tree) == state  # no key row either
    corrected = await new_commune(tree, code="P01-C03")
    created = ok(await run(tree, UNIT_CREATE, corrected, KEY))
    assert created["unit"]["code"] == "P01-C03"
    assert await count(tree, "units", "WHERE code = 'P01-C03'") == 1
    # now the key is bound to the corrected input
    assert await run(tree, UNIT_CREATE, corrected, KEY) == {"unitCreate": created}
    assert errors(await run(tree, UNIT_CREATE, wrong, KEY)) == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]


BAD_KEYS = [
    ("seven characters", "abc-123"),
    ("empty", ""),
    ("with a space", "my key 123456"),
    ("with diacritics", "khóa-idempotent"),
    ("with a slash", "a/b/c/d/e/f/g"),
    ("129 characters", "k" * 129),
    ("200 characters", "k" * 200),
]


@pytest.mark.parametrize("key", [k for _, k in BAD_KEYS], ids=[i for i, _ in BAD_KEYS])
async def test_a_malformed_key_is_invalid_and_nothing_is_written(tree: Api, key: str) -> None:
    state = await db_state(tree)
    assert errors(await run(tree, UNIT_CREATE, await new_commune(tree), key)) == [("idempotencyKey", "INVALID")]
    assert await db_state(tree) == state


@pytest.mark.parametrize("key", ["12345678", "k" * 128, "a.b_c:d-E", "550e8400-e29b-41d4-a716-446655440000"])
async def test_keys_at_the_edges_of_the_format_are_accepted(tree: Api, key: str) -> None:
    input = await new_commune(tree)
    first = ok(await run(tree, UNIT_CREATE, input, key))
    assert await run(tree, UNIT_CREATE, input, key) == {"unitCreate": first}
    assert await count(tree, "units", "WHERE code = 'P01-C03'") == 1


# -- 3. other mutations ------------------------------------------------------------------------------


async def test_role_grant_replay_answers_with_the_same_grant(tree: Api) -> None:
    input = {"userId": await user_gid(tree, "p01.c01.officer"), "role": "viewer", "unitId": await unit_gid(tree, "P01-C02")}
    first = await run(tree, ROLE_GRANT, input, KEY, as_user="p01.admin")
    assert ok(first)["grant"]["role"] == "viewer"
    events = await count(tree, "audit_events")
    assert await run(tree, ROLE_GRANT, input, KEY, as_user="p01.admin") == first
    assert await count(tree, "audit_events") == events
    holder = await user_gid(tree, "p01.c01.officer")
    assert await count(tree, "grants", "WHERE role = 'viewer' AND user_id = :u", u=decode_any(holder)[1]) == 1  # type: ignore[index]
    # granting twice is the same grant anyway (the service's own rule), so prove the key was bound too
    other = input | {"unitId": await unit_gid(tree, "P01-C01")}
    assert errors(await run(tree, ROLE_GRANT, other, KEY, as_user="p01.admin")) == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]


async def test_role_revoke_replay_answers_the_same_and_writes_no_second_event(tree: Api) -> None:
    async with tree.engine.connect() as conn:
        grant_pk = (await conn.execute(text("SELECT g.id FROM grants g JOIN users u ON u.id = g.user_id WHERE u.username = 'p02.manager'"))).scalar_one()
    input = {"grantId": encode_id("Grant", grant_pk)}
    first = await run(tree, ROLE_REVOKE, input, KEY)
    assert first == {"roleRevoke": {"revokedGrantId": input["grantId"], "errors": []}}
    state = await db_state(tree)
    assert await count(tree, "audit_events", "WHERE action = 'roleRevoke'") == 1
    replay = await run(tree, ROLE_REVOKE, input, KEY)
    assert replay == first
    assert await db_state(tree) == state
    # the control: without the key, the grant is gone
    assert errors(await run(tree, ROLE_REVOKE, input, None)) == [("grantId", "NOT_FOUND")]


async def test_user_create_replay_answers_with_the_same_account_and_keeps_no_password(tree: Api) -> None:
    input = {"username": "p01.clerk", "fullName": "Nguyễn Thị Thư", "unitId": await unit_gid(tree, "P01-C01"), "password": SECRET}
    first = await run(tree, USER_CREATE, input, KEY, as_user="p01.admin")
    assert ok(first)["user"]["username"] == "p01.clerk"
    state = await db_state(tree)
    assert await run(tree, USER_CREATE, input, KEY, as_user="p01.admin") == first
    assert await db_state(tree) == state
    assert await count(tree, "users", "WHERE username = 'p01.clerk'") == 1
    assert await count(tree, "audit_events", "WHERE action = 'userCreate'") == 1
    # a different password is a different input
    other = input | {"password": SECRET + "!"}
    assert errors(await run(tree, USER_CREATE, other, KEY, as_user="p01.admin")) == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]
    # the stored key keeps a keyed digest, never the password
    stored = json.dumps(state["idempotency_keys"], default=str)
    assert SECRET not in stored and "argon2" not in stored


async def test_unit_update_replay_does_not_conflict_with_its_own_version(tree: Api) -> None:
    input = {"id": await unit_gid(tree, "P01-C01"), "version": 1, "name": "Phường Mới"}
    first = await run(tree, UNIT_UPDATE, input, KEY)
    assert ok(first)["unit"]["version"] == 2
    state = await db_state(tree)
    assert await run(tree, UNIT_UPDATE, input, KEY) == first  # not a CONFLICT on version 1
    assert await db_state(tree) == state
    assert errors(await run(tree, UNIT_UPDATE, input, None)) == [("version", "CONFLICT")]  # the control


async def test_unit_kind_create_replay_answers_with_the_same_kind(tree: Api) -> None:
    input = {"code": "ward", "label": "Phường"}
    first = await run(tree, KIND_CREATE, input, KEY)
    assert ok(first)["unitKind"] == {"code": "ward", "label": "Phường"}
    state = await db_state(tree)
    assert await run(tree, KIND_CREATE, input, KEY) == first
    assert await db_state(tree) == state


# -- 4. PostgreSQL: concurrent twins ----------------------------------------------------------------


@pytest.mark.committing("concurrent requests race for one idempotency key in PostgreSQL")
async def test_concurrent_twins_with_one_key_take_effect_once(tree: Api, backend: Backend) -> None:
    if backend.name != "postgresql":
        pytest.skip("concurrency is tested on PostgreSQL (SQLite serialises writers)")
    input = await new_commune(tree)
    await tree.token_for("admin")
    events = await count(tree, "audit_events")
    answers = await asyncio.gather(*(run(tree, UNIT_CREATE, input, KEY) for _ in range(5)))
    assert ok(answers[0])["unit"]["code"] == "P01-C03"
    assert all(a == answers[0] for a in answers), answers
    assert await count(tree, "units", "WHERE code = 'P01-C03'") == 1
    assert await count(tree, "audit_events") == events + 1
    assert await count(tree, "idempotency_keys") == 1
    decoded = decode_any(answers[0]["unitCreate"]["unit"]["id"])
    assert decoded is not None and decoded[0] == "Unit"
