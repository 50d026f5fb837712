"""Resolutions, action programmes, objectives and key results end to end, over HTTP, on both backends.

1. resolutionCreate answers version 1, and a resolution is read exactly by those whose scope holds
   its issuing unit (ACCESS.md "home unit"), or, read-only (ACCESS.md "Reading" 2, "handed down"), by
   those a task of it was assigned to, by those expected to implement it (a unit of their scope, not
   archived, strictly below the issuer and of a kind in its `implementerKinds`: it appears in their
   coverage) and, up the implementation chain, by the readers of any resolution that implements it,
   directly or transitively. Coverage shows such a reader only the expected units it may see.
2. An action programme implements a resolution issued strictly above its issuer and readable by the
   caller; `implements` and `implementedBy` link both ways: `implements` is seen by every reader of the
   programme (up the chain), `implementedBy` only as far as the caller may see.
3. Every refusal names the exact (field, code) and writes nothing (rows of the resolution, objective,
   key result, audit and idempotency tables read directly before and after).
4. resolutionUpdate changes only the fields sent, bumps the version, refuses stale versions.
5. Objectives and at most five key results each, with versions; node(id) honours scope.
6. Coverage: which expected implementers issued a programme on time, late, or not yet.
7. Filters of `resolutions`; 8. statement counts independent of page size; 9. idempotency; 10. audit.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import text

from resolute.schema.ids import encode_id
from tests.support import Api, StatementCounter, current_version, small_tree, user

# -- queries ---------------------------------------------------------------------------------------

RES_FIELDS = (
    "id code title kind status issuedOn summary documentUrl implementerKinds programmeDueOn version"
    " issuingUnit { code } implements { code } implementedBy { nodes { code } }"
)
ERRORS = "errors { field code message }"
RESOLUTION_CREATE = (
    "mutation($i: ResolutionCreateInput!, $k: String) { resolutionCreate(input: $i, idempotencyKey: $k) {"
    " resolution { " + RES_FIELDS + " } " + ERRORS + " } }"
)
RESOLUTION_UPDATE = (
    "mutation($i: ResolutionUpdateInput!, $k: String) { resolutionUpdate(input: $i, idempotencyKey: $k) {"
    " resolution { " + RES_FIELDS + " } " + ERRORS + " } }"
)
OBJECTIVE_FIELDS = "id code title version resolution { code } keyResults { position title }"
OBJECTIVE_CREATE = (
    "mutation($i: ObjectiveCreateInput!, $k: String) { objectiveCreate(input: $i, idempotencyKey: $k) {"
    " objective { " + OBJECTIVE_FIELDS + " } " + ERRORS + " } }"
)
OBJECTIVE_UPDATE = (
    "mutation($i: ObjectiveUpdateInput!, $k: String) { objectiveUpdate(input: $i, idempotencyKey: $k) {"
    " objective { " + OBJECTIVE_FIELDS + " } " + ERRORS + " } }"
)
KR_FIELDS = "id position title version objective { code }"
KR_CREATE = (
    "mutation($i: KeyResultCreateInput!, $k: String) { keyResultCreate(input: $i, idempotencyKey: $k) {"
    " keyResult { " + KR_FIELDS + " } " + ERRORS + " } }"
)
KR_UPDATE = (
    "mutation($i: KeyResultUpdateInput!, $k: String) { keyResultUpdate(input: $i, idempotencyKey: $k) {"
    " keyResult { " + KR_FIELDS + " } " + ERRORS + " } }"
)
LIST = (
    "query($f: ResolutionFilterInput, $first: Int!, $after: String) { resolutions(first: $first, after: $after, filter: $f) {"
    " totalCount nodes { code } pageInfo { hasNextPage endCursor } } }"
)
BY_CODE = "query($c: String) { resolution(code: $c) { " + RES_FIELDS + " } }"
NODE = "query($id: ID!) { node(id: $id) { id ... on Resolution { code } ... on Objective { code } ... on KeyResult { position title } } }"
COVERAGE = (
    "query($c: String, $first: Int!, $after: String, $state: CoverageState) { resolution(code: $c) {"
    " coverage(first: $first, after: $after, state: $state) { totalCount edges { cursor node { unit { code } state programme { code } } }"
    " pageInfo { hasNextPage endCursor } }"
    " coverageSummary { expected onTime late missing pending } } }"
)
AUDIT = "{ auditEvents(first: 5) { totalCount nodes { action objectType unit { code } } } }"

TABLES = ("resolutions", "objectives", "key_results", "audit_events", "idempotency_keys")

TODAY = date.today()
LONG_AGO = TODAY - timedelta(days=90)


def iso(d: date) -> str:
    return d.isoformat()


# -- tree and helpers ------------------------------------------------------------------------------


def tree_users() -> list[Any]:
    """small_tree()'s units with: admin and manager at TW; manager, officer, viewer at P01; manager at P02; officer at a commune."""
    return [
        user("admin", "TW", "admin"),
        user("tw.manager", "TW", "manager"),
        user("p01.manager", "P01", "manager"),
        user("p01.officer", "P01", "officer"),
        user("p01.viewer", "P01", "viewer"),
        user("p02.manager", "P02", "manager"),
        user("p01.c01.officer", "P01-C01", "officer"),
    ]


ALL_USERS = [u.username for u in tree_users()]
TW_USERS = ["admin", "tw.manager"]
P01_USERS = ["p01.manager", "p01.officer", "p01.viewer"]


@pytest.fixture
async def tree(api: Api) -> Api:
    await api.seed(small_tree(), tree_users())
    return api


async def db_state(api: Api) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a resolution mutation may touch (read-only SQL)."""
    state = {}
    async with api.engine.connect() as conn:
        for table in TABLES:
            state[table] = sorted((tuple(r) for r in await conn.execute(text(f"SELECT * FROM {table}"))), key=repr)
    return state


async def count_rows(api: Api, table: str) -> int:
    async with api.engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def gid(api: Api, table: str, code: str, type_name: str) -> str:
    async with api.engine.connect() as conn:
        pk = (await conn.execute(text(f"SELECT id FROM {table} WHERE code = :c"), {"c": code})).scalar_one()
    return encode_id(type_name, pk)


async def unit_gid(api: Api, code: str) -> str:
    return await gid(api, "units", code, "Unit")


async def res_gid(api: Api, code: str) -> str:
    return await gid(api, "resolutions", code, "Resolution")


async def mutate(api: Api, query: str, input: dict[str, Any], *, as_user: str, key: str | None = None) -> dict[str, Any]:
    """The payload of one mutation (no top-level GraphQL error allowed)."""
    data = await api.data(query, {"i": input, "k": key}, as_user=as_user)
    (payload,) = data.values()
    return payload


def ok(payload: dict[str, Any], name: str) -> dict[str, Any]:
    assert payload["errors"] == [], payload["errors"]
    assert payload[name] is not None
    return payload[name]


def refused(payload: dict[str, Any], name: str) -> list[tuple[str | None, str]]:
    assert payload[name] is None, payload
    assert payload["errors"], "a refused mutation must say why"
    assert all(e["message"] for e in payload["errors"])
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def res_input(api: Api, code: str, issuer: str, *, kind: str = "resolution", implements: str | None = None, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "code": code,
        "title": extra.pop("title", f"Nghị quyết {code}"),
        "kind": kind,
        "issuingUnitId": await unit_gid(api, issuer),
        "issuedOn": iso(extra.pop("issued_on", LONG_AGO)),
    }
    if implements is not None:
        values["implementsId"] = await res_gid(api, implements)
    values.update(extra)
    return values


async def create(api: Api, code: str, issuer: str, *, as_user: str = "admin", kind: str = "resolution", implements: str | None = None, **extra: Any) -> dict[str, Any]:
    """Create a resolution (an action programme when `implements` is given) and return it."""
    if implements is not None and kind == "resolution":
        kind = "action_programme"
    return ok(await mutate(api, RESOLUTION_CREATE, await res_input(api, code, issuer, kind=kind, implements=implements, **extra), as_user=as_user), "resolution")


async def listed(api: Api, as_user: str, flt: dict[str, Any] | None = None, first: int = 100) -> list[str]:
    conn = (await api.data(LIST, {"f": flt, "first": first}, as_user=as_user))["resolutions"]
    codes = [n["code"] for n in conn["nodes"]]
    assert conn["totalCount"] == len(codes), (conn["totalCount"], codes)
    return codes


async def by_code(api: Api, code: str, as_user: str) -> dict[str, Any] | None:
    return (await api.data(BY_CODE, {"c": code}, as_user=as_user))["resolution"]


async def node(api: Api, node_id: str, as_user: str) -> dict[str, Any] | None:
    return (await api.data(NODE, {"id": node_id}, as_user=as_user))["node"]


async def nq57(api: Api, **extra: Any) -> dict[str, Any]:
    """57-NQ/TW as the TW manager defines it: provinces must issue a programme."""
    extra.setdefault("title", "Nghị quyết về đột phá phát triển khoa học, công nghệ, đổi mới sáng tạo và chuyển đổi số quốc gia")
    extra.setdefault("implementerKinds", ["province"])
    extra.setdefault("programmeDueOn", iso(TODAY + timedelta(days=30)))
    return await create(api, "57-NQ/TW", "TW", as_user="tw.manager", **extra)


# -- 1. resolutionCreate and who reads it ----------------------------------------------------------


async def test_create_answers_version_1_and_the_issuers_scope_and_its_expected_implementers_read_it(tree: Api) -> None:
    due = TODAY + timedelta(days=30)
    created = await nq57(tree, summary="  Tóm tắt  ", documentUrl="https://example.vn/57-NQ-TW.pdf", programmeDueOn=iso(due))
    assert created["id"] == await res_gid(tree, "57-NQ/TW")
    assert {k: v for k, v in created.items() if k != "id"} == {
        "code": "57-NQ/TW",
        "title": "Nghị quyết về đột phá phát triển khoa học, công nghệ, đổi mới sáng tạo và chuyển đổi số quốc gia",
        "kind": "resolution",
        "status": "in_effect",  # the default
        "issuedOn": iso(LONG_AGO),
        "summary": "  Tóm tắt  ",
        "documentUrl": "https://example.vn/57-NQ-TW.pdf",
        "implementerKinds": ["province"],
        "programmeDueOn": iso(due),
        "version": 1,
        "issuingUnit": {"code": "TW"},
        "implements": None,
        "implementedBy": {"nodes": []},
    }
    # Two central resolutions nobody below TW is expected to implement: 58-NQ/TW names no implementer
    # kinds, 59-NQ/TW names ministries (there is none in the tree). Nothing of either is handed down.
    unexpected = [
        await create(tree, "58-NQ/TW", "TW", as_user="tw.manager"),
        await create(tree, "59-NQ/TW", "TW", as_user="tw.manager", implementerKinds=["ministry"]),
    ]
    # 57-NQ/TW expects provinces: TW reads it at home; P01's and P02's users read it (read-only) because
    # their province is expected to implement it (it appears in its coverage). P01-C01's officer does not:
    # its subtree holds a commune and a cell, no province, and nothing was handed down to it.
    province_readers = [*TW_USERS, *P01_USERS, "p02.manager"]
    assert sorted(province_readers) == sorted(set(ALL_USERS) - {"p01.c01.officer"})
    for username in ALL_USERS:
        expected = ["57-NQ/TW"] if username in province_readers else []
        if username in TW_USERS:  # home of all three
            expected = ["57-NQ/TW", "58-NQ/TW", "59-NQ/TW"]
        assert await listed(tree, username) == expected, username
        seen = await by_code(tree, "57-NQ/TW", username)
        found = await node(tree, created["id"], username)
        if username in TW_USERS:
            assert seen == created, username
            assert found == {"id": created["id"], "code": "57-NQ/TW"}, username
        elif username in province_readers:
            # the same resolution, read-only; its issuer TW lies outside a province's scope but on the
            # caller's own ancestor chain, which it reads as code, name and kind (ACCESS.md "Reading" 4)
            assert seen == created, username
            assert found == {"id": created["id"], "code": "57-NQ/TW"}, username
        else:  # neither home, nor handed down, nor expected: out of scope reads as "does not exist"
            assert seen is None, username
            assert found is None, username
        # 58 and 59 expect no unit of any scope but TW's: invisible everywhere else, by code and by node
        for other in unexpected:
            if username in TW_USERS:
                assert await by_code(tree, other["code"], username) == other, (username, other["code"])
                assert await node(tree, other["id"], username) == {"id": other["id"], "code": other["code"]}, (username, other["code"])
            else:
                assert await by_code(tree, other["code"], username) is None, (username, other["code"])
                assert await node(tree, other["id"], username) is None, (username, other["code"])


# -- 2. action programmes ----------------------------------------------------------------------------


async def test_programme_implements_a_resolution_above_and_links_both_ways(tree: Api) -> None:
    await nq57(tree)
    # 58-NQ/TW names no implementer kinds and nothing of it is handed down: P01's manager cannot see it
    # (issued by TW), so to it the resolution does not exist and it cannot implement it
    await create(tree, "58-NQ/TW", "TW", as_user="tw.manager")
    before = await db_state(tree)
    payload = await mutate(tree, RESOLUTION_CREATE, await res_input(tree, "CTr-58/P01", "P01", kind="action_programme", implements="58-NQ/TW"), as_user="p01.manager")
    assert refused(payload, "resolution") == [("implementsId", "NOT_FOUND")]
    assert await db_state(tree) == before

    # 57-NQ/TW expects provinces: P01's manager reads it as an expected implementer, so it may issue
    # its own programme implementing it (defined at P01, its home)
    programme = await create(tree, "CTr-57/P01", "P01", as_user="p01.manager", implements="57-NQ/TW")
    assert programme["kind"] == "action_programme" and programme["version"] == 1
    assert programme["issuingUnit"] == {"code": "P01"}
    assert programme["implements"] == {"code": "57-NQ/TW"}
    assert programme["implementedBy"]["nodes"] == []

    for username in TW_USERS:
        assert (await by_code(tree, "57-NQ/TW", username))["implementedBy"]["nodes"] == [{"code": "CTr-57/P01"}], username
        assert (await by_code(tree, "CTr-57/P01", username))["implements"] == {"code": "57-NQ/TW"}, username
        assert await listed(tree, username) == ["57-NQ/TW", "58-NQ/TW", "CTr-57/P01"], username
    # P01's users: their programme (home) and 57-NQ/TW (expected, and up the chain of their programme),
    # not 58-NQ/TW. P01-C01's officer: nothing yet (no province in its scope, no programme of its own,
    # nothing handed down).
    for username in [*P01_USERS, "p01.c01.officer"]:
        expected = ["57-NQ/TW", "CTr-57/P01"] if username in P01_USERS else []
        assert await listed(tree, username) == expected, username
    for username in P01_USERS:
        seen = await by_code(tree, "CTr-57/P01", username)
        assert seen is not None and seen["issuingUnit"] == {"code": "P01"}, username
        assert seen["implements"] == {"code": "57-NQ/TW"}, username  # read by P01 (expected and up the chain)
        assert (await by_code(tree, "57-NQ/TW", username))["implementedBy"]["nodes"] == [{"code": "CTr-57/P01"}], username
    # P02's manager reads 57-NQ/TW (P02 is a province, expected too) but not its sibling's programme:
    # 57-NQ/TW's implementers are shown only as far as it sees
    assert await listed(tree, "p02.manager") == ["57-NQ/TW"]
    assert await by_code(tree, "CTr-57/P01", "p02.manager") is None
    assert (await by_code(tree, "57-NQ/TW", "p02.manager"))["implementedBy"]["nodes"] == []

    # a commune programme implementing P01's: P01's manager may define it, and sees both ends
    commune = await create(tree, "KH-57/P01-C01", "P01-C01", as_user="p01.manager", kind="plan", implements="CTr-57/P01")
    assert commune["implements"] == {"code": "CTr-57/P01"} and commune["kind"] == "plan"
    assert (await by_code(tree, "CTr-57/P01", "p01.manager"))["implementedBy"]["nodes"] == [{"code": "KH-57/P01-C01"}]
    # P01-C01's officer reads its plan (home) and, up the implementation chain, the province programme
    # the plan implements and the central resolution that programme implements: neither is expected of
    # a commune (CTr-57/P01 names no implementer kinds, 57-NQ/TW only provinces), nor handed down to it
    assert await listed(tree, "p01.c01.officer") == ["57-NQ/TW", "CTr-57/P01", "KH-57/P01-C01"]
    assert (await by_code(tree, "KH-57/P01-C01", "p01.c01.officer"))["implements"] == {"code": "CTr-57/P01"}
    assert (await by_code(tree, "CTr-57/P01", "p01.c01.officer"))["implements"] == {"code": "57-NQ/TW"}
    assert (await by_code(tree, "57-NQ/TW", "p01.c01.officer"))["implementedBy"]["nodes"] == [{"code": "CTr-57/P01"}]
    central_id = await res_gid(tree, "57-NQ/TW")
    assert await node(tree, central_id, "p01.c01.officer") == {"id": central_id, "code": "57-NQ/TW"}
    assert await node(tree, programme["id"], "p01.c01.officer") == {"id": programme["id"], "code": "CTr-57/P01"}
    assert await by_code(tree, "58-NQ/TW", "p01.c01.officer") is None  # the chain does not lead there
    # the chain leads only up from what one reads: P02 still reads nothing of P01's programme or plan
    assert await listed(tree, "p02.manager") == ["57-NQ/TW"]
    assert await by_code(tree, "KH-57/P01-C01", "p02.manager") is None


# -- 3. refusals of resolutionCreate -----------------------------------------------------------------

# id, caller, issuer, overrides of the input (special values resolved in the test), expected errors
CREATE_REFUSALS: list[tuple[str, str, str, dict[str, Any], list[tuple[str, str]]]] = [
    ("duplicate code", "admin", "TW", {"code": "57-NQ/TW"}, [("code", "DUPLICATE")]),
    ("duplicate code by another issuer", "admin", "P02", {"code": "CTr-57/P01"}, [("code", "DUPLICATE")]),
    ("code with a space", "admin", "TW", {"code": "58 NQ/TW"}, [("code", "INVALID")]),
    ("code with diacritics", "admin", "TW", {"code": "58-NQ/TƯ"}, [("code", "INVALID")]),
    ("code starting with a slash", "admin", "TW", {"code": "/58-NQ"}, [("code", "INVALID")]),
    ("code of 81 characters", "admin", "TW", {"code": "N" * 81}, [("code", "INVALID")]),
    ("empty code", "admin", "TW", {"code": ""}, [("code", "REQUIRED")]),
    ("empty title", "admin", "TW", {"title": ""}, [("title", "REQUIRED")]),
    ("blank title", "admin", "TW", {"title": "   "}, [("title", "REQUIRED")]),
    ("title of 501 characters", "admin", "TW", {"title": "x" * 501}, [("title", "TOO_LONG")]),
    ("unknown kind", "admin", "TW", {"kind": "law"}, [("kind", "INVALID")]),
    ("unknown status", "admin", "TW", {"status": "active"}, [("status", "INVALID")]),
    ("empty title and unknown kind", "admin", "TW", {"title": "", "kind": "law"}, [("title", "REQUIRED"), ("kind", "INVALID")]),
    ("issued tomorrow, in effect", "admin", "TW", {"issuedOn": "<tomorrow>"}, [("issuedOn", "IN_FUTURE")]),
    ("issued tomorrow, completed", "admin", "TW", {"issuedOn": "<tomorrow>", "status": "completed"}, [("issuedOn", "IN_FUTURE")]),
    ("programme without implementsId", "admin", "P01", {"kind": "action_programme"}, [("implementsId", "REQUIRED")]),
    ("implements a sibling's programme", "admin", "P02", {"kind": "action_programme", "implementsId": "<CTr-57/P01>"}, [("implementsId", "INVALID")]),
    ("implements its own issuer's programme", "admin", "P01", {"kind": "action_programme", "implementsId": "<CTr-57/P01>"}, [("implementsId", "INVALID")]),
    ("implements a programme issued below", "admin", "TW", {"kind": "action_programme", "implementsId": "<CTr-57/P01>"}, [("implementsId", "INVALID")]),
    ("implements a Unit id", "admin", "P01", {"kind": "action_programme", "implementsId": "<unit TW>"}, [("implementsId", "INVALID_ID")]),
    ("implements garbage", "admin", "P01", {"kind": "action_programme", "implementsId": "not-an-id"}, [("implementsId", "INVALID_ID")]),
    ("implements a missing resolution", "admin", "P01", {"kind": "action_programme", "implementsId": encode_id("Resolution", 987654)}, [("implementsId", "NOT_FOUND")]),
    # 45-CT/TW expects no implementer and 60-NQ/TW only ministries (none under P01), nothing of either is
    # handed down to P01 and no programme P01 reads implements them: out of its sight (whereas 57-NQ/TW,
    # expected of provinces, it reads and may implement: see test_programme_implements_...)
    ("implements what it cannot see", "p01.manager", "P01", {"kind": "action_programme", "implementsId": "<45-CT/TW>"}, [("implementsId", "NOT_FOUND")]),
    ("implements what expects another kind", "p01.manager", "P01", {"kind": "action_programme", "implementsId": "<60-NQ/TW>"}, [("implementsId", "NOT_FOUND")]),
    ("issuer is a Resolution id", "admin", "<57-NQ/TW>", {}, [("issuingUnitId", "INVALID_ID")]),
    ("issuer is a missing unit", "admin", encode_id("Unit", 987654), {}, [("issuingUnitId", "NOT_FOUND")]),
    ("issuer is a sibling province", "p02.manager", "P01", {}, [("issuingUnitId", "NOT_FOUND")]),
    ("issuer is above the caller", "p01.manager", "TW", {}, [("issuingUnitId", "NOT_FOUND")]),
    ("officer may not define", "p01.officer", "P01", {}, [("issuingUnitId", "FORBIDDEN")]),
    ("commune officer may not define", "p01.c01.officer", "P01-C01", {}, [("issuingUnitId", "FORBIDDEN")]),
    ("viewer may not define", "p01.viewer", "P01", {}, [("issuingUnitId", "FORBIDDEN")]),
    ("ftp document link", "admin", "TW", {"documentUrl": "ftp://example.vn/58.pdf"}, [("documentUrl", "INVALID")]),
    ("javascript document link", "admin", "TW", {"documentUrl": "javascript:alert(1)"}, [("documentUrl", "INVALID")]),
    ("document link with a space", "admin", "TW", {"documentUrl": "https://example.vn/a b.pdf"}, [("documentUrl", "INVALID")]),
    ("unknown implementer kind", "admin", "TW", {"implementerKinds": ["province", "ward"]}, [("implementerKinds", "INVALID")]),
    ("due date without implementer kinds", "admin", "TW", {"programmeDueOn": "<tomorrow>"}, [("implementerKinds", "REQUIRED")]),
    ("due date with no implementer kinds", "admin", "TW", {"programmeDueOn": "<tomorrow>", "implementerKinds": []}, [("implementerKinds", "REQUIRED")]),
]


async def test_create_refusals_write_nothing(tree: Api) -> None:
    """Every case of CREATE_REFUSALS against one state; a case that answers otherwise or writes is listed."""
    await nq57(tree)
    await create(tree, "CTr-57/P01", "P01", implements="57-NQ/TW")
    await create(tree, "45-CT/TW", "TW", kind="directive")
    await create(tree, "60-NQ/TW", "TW", implementerKinds=["ministry"])
    tomorrow = iso(TODAY + timedelta(days=1))
    mismatches = []
    for name, caller, issuer, overrides, expected in CREATE_REFUSALS:
        input = await res_input(tree, "58-NQ/TW", "TW")
        if issuer.startswith("<"):
            input["issuingUnitId"] = await res_gid(tree, issuer[1:-1])
        elif issuer.startswith("VW5p"):  # an encoded (missing) unit id
            input["issuingUnitId"] = issuer
        else:
            input["issuingUnitId"] = await unit_gid(tree, issuer)
        for field, value in overrides.items():
            if value == "<tomorrow>":
                value = tomorrow
            elif value == "<unit TW>":
                value = await unit_gid(tree, "TW")
            elif isinstance(value, str) and value.startswith("<") and value.endswith(">"):
                value = await res_gid(tree, value[1:-1])
            input[field] = value
        before = await db_state(tree)
        payload = await mutate(tree, RESOLUTION_CREATE, input, as_user=caller)
        answered = [(e["field"], e["code"]) for e in payload["errors"]]
        if payload["resolution"] is not None or answered != expected or not all(e["message"] for e in payload["errors"]):
            mismatches.append((name, answered, payload["resolution"] and payload["resolution"]["code"]))
        if await db_state(tree) != before:
            mismatches.append((name, "wrote something"))
    assert mismatches == []
    assert len(CREATE_REFUSALS) == len({c[0] for c in CREATE_REFUSALS}) == 37


async def test_a_draft_may_be_dated_in_the_future_on_create_and_on_update(tree: Api) -> None:
    draft = await create(tree, "58-NQ/TW", "TW", as_user="tw.manager", status="draft", issued_on=TODAY + timedelta(days=10))
    assert draft["status"] == "draft" and draft["issuedOn"] == iso(TODAY + timedelta(days=10))
    today = await create(tree, "59-NQ/TW", "TW", as_user="tw.manager", issued_on=TODAY)  # today is not the future
    assert today["issuedOn"] == iso(TODAY)
    created = await create(tree, "60-NQ/TW", "TW", as_user="tw.manager", status="draft")
    later = iso(TODAY + timedelta(days=3))
    updated = ok(await mutate(tree, RESOLUTION_UPDATE, {"id": created["id"], "version": 1, "issuedOn": later}, as_user="tw.manager"), "resolution")
    assert updated["issuedOn"] == later and updated["status"] == "draft" and updated["version"] == 2
    # and an update may make a resolution a draft dated in the future in one go
    updated = ok(await mutate(tree, RESOLUTION_UPDATE, {"id": today["id"], "version": 1, "status": "draft", "issuedOn": later}, as_user="tw.manager"), "resolution")
    assert updated["issuedOn"] == later and updated["status"] == "draft"


async def test_a_code_of_80_characters_as_documented_is_accepted(tree: Api) -> None:
    """ResolutionCreateInput.code says "at most 80 characters" and the service's pattern allows 80."""
    code = "CTr-57/" + "P" * 73
    assert len(code) == 80
    payload = await mutate(tree, RESOLUTION_CREATE, await res_input(tree, code, "TW"), as_user="admin")
    assert ok(payload, "resolution")["code"] == code
    assert await listed(tree, "admin") == [code]


# -- 4. resolutionUpdate -----------------------------------------------------------------------------


async def test_update_changes_only_the_fields_given_and_bumps_the_version(tree: Api) -> None:
    due = TODAY + timedelta(days=30)
    created = await nq57(tree, summary="Tóm tắt", documentUrl="https://example.vn/57.pdf", programmeDueOn=iso(due))
    rid = created["id"]

    # only the title is sent: everything else is untouched
    updated = ok(await mutate(tree, RESOLUTION_UPDATE, {"id": rid, "version": 1, "title": "  Nghị quyết 57 (sửa)  "}, as_user="tw.manager"), "resolution")
    assert updated == {**created, "title": "Nghị quyết 57 (sửa)", "version": 2}
    assert await by_code(tree, "57-NQ/TW", "admin") == updated

    # a field sent as null is cleared; fields not sent are kept
    updated = ok(await mutate(tree, RESOLUTION_UPDATE, {"id": rid, "version": 2, "summary": None}, as_user="admin"), "resolution")
    assert updated == {**created, "title": "Nghị quyết 57 (sửa)", "summary": None, "version": 3}

    # several at once; without the version read, refused by validation (no last writer wins) and nothing written
    several = {"id": rid, "status": "completed", "documentUrl": "http://example.vn/57-v2.pdf", "implementerKinds": ["province", "commune"], "programmeDueOn": iso(due + timedelta(days=1)), "issuedOn": iso(LONG_AGO - timedelta(days=1))}
    before = await db_state(tree)
    unversioned = await tree.gql(RESOLUTION_UPDATE, {"i": several}, as_user="tw.manager")
    assert unversioned["_status"] == 200 and unversioned["data"] is None, unversioned
    assert len(unversioned["errors"]) == 1 and "required field 'version'" in unversioned["errors"][0]["message"], unversioned
    assert await db_state(tree) == before
    updated = ok(await mutate(tree, RESOLUTION_UPDATE, {**several, "version": 3}, as_user="tw.manager"), "resolution")
    assert updated == {
        **created,
        "title": "Nghị quyết 57 (sửa)",
        "summary": None,
        "status": "completed",
        "documentUrl": "http://example.vn/57-v2.pdf",
        "implementerKinds": ["province", "commune"],
        "programmeDueOn": iso(due + timedelta(days=1)),
        "issuedOn": iso(LONG_AGO - timedelta(days=1)),
        "version": 4,
    }
    assert await by_code(tree, "57-NQ/TW", "tw.manager") == updated
    # the search key follows the new title
    assert await listed(tree, "admin", {"search": "(sua)"}) == ["57-NQ/TW"]


async def test_clearing_the_coverage_expectations_by_sending_nulls(tree: Api) -> None:
    """implementerKinds: null and programmeDueOn: null clear both (the input says "only the fields you give change")."""
    created = await nq57(tree)
    payload = await mutate(tree, RESOLUTION_UPDATE, {"id": created["id"], "version": 1, "implementerKinds": None, "programmeDueOn": None}, as_user="tw.manager")
    updated = ok(payload, "resolution")
    assert updated == {**created, "implementerKinds": [], "programmeDueOn": None, "version": 2}


# id, caller, input overrides, expected errors
UPDATE_REFUSALS: list[tuple[str, str, dict[str, Any], list[tuple[str, str]]]] = [
    ("stale version", "tw.manager", {"version": 0, "title": "Mới"}, [("version", "CONFLICT")]),
    ("future version", "tw.manager", {"version": 2, "title": "Mới"}, [("version", "CONFLICT")]),
    ("officer", "p01.officer", {"target": "CTr-57/P01", "title": "Mới"}, [("id", "FORBIDDEN")]),
    ("viewer", "p01.viewer", {"target": "CTr-57/P01", "title": "Mới"}, [("id", "FORBIDDEN")]),
    ("sibling province manager", "p02.manager", {"target": "CTr-57/P01", "title": "Mới"}, [("id", "NOT_FOUND")]),
    # P01 reads 57-NQ/TW (expected of provinces), read-only: edited only at home, answered like an unknown id
    ("province manager on a central resolution", "p01.manager", {"title": "Mới"}, [("id", "NOT_FOUND")]),
    ("a Unit id", "admin", {"target": "<unit>", "title": "Mới"}, [("id", "INVALID_ID")]),
    ("a missing resolution", "admin", {"target": "<missing>", "title": "Mới"}, [("id", "NOT_FOUND")]),
    ("empty title", "tw.manager", {"title": ""}, [("title", "REQUIRED")]),
    ("null title", "tw.manager", {"title": None}, [("title", "REQUIRED")]),
    ("unknown status", "tw.manager", {"status": "active"}, [("status", "INVALID")]),
    ("bad document link", "tw.manager", {"documentUrl": "ftp://x.vn/a"}, [("documentUrl", "INVALID")]),
    ("unknown implementer kind", "tw.manager", {"implementerKinds": ["ward"]}, [("implementerKinds", "INVALID")]),
    ("issued in the future while in effect", "tw.manager", {"issuedOn": "<tomorrow>"}, [("issuedOn", "IN_FUTURE")]),
    ("issued in the future, made completed", "tw.manager", {"issuedOn": "<tomorrow>", "status": "completed"}, [("issuedOn", "IN_FUTURE")]),
]


# Rules resolutionCreate enforces (api/resolutions/service.py) that resolutionUpdate must keep too:
# a required column cannot be emptied, a draft dated in the future is not put in effect, and a
# programme due date needs implementer kinds.
UPDATE_RULE_GAPS: list[tuple[str, str, dict[str, Any], list[tuple[str, str]]]] = [
    ("null status", "tw.manager", {"status": None}, [("status", "REQUIRED")]),
    ("null issue date", "tw.manager", {"issuedOn": None}, [("issuedOn", "REQUIRED")]),
    ("a draft issued in the future put in effect", "tw.manager", {"target": "58-NQ/TW", "status": "in_effect"}, [("issuedOn", "IN_FUTURE")]),
    ("due date kept while implementer kinds emptied", "tw.manager", {"implementerKinds": []}, [("implementerKinds", "REQUIRED")]),
    ("due date given where no implementer kinds", "tw.manager", {"target": "58-NQ/TW", "programmeDueOn": "<tomorrow>"}, [("implementerKinds", "REQUIRED")]),
]


async def update_targets(api: Api) -> None:
    await nq57(api)
    await create(api, "CTr-57/P01", "P01", implements="57-NQ/TW")
    await create(api, "58-NQ/TW", "TW", status="draft", issued_on=TODAY + timedelta(days=5))


async def update_input(api: Api, overrides: dict[str, Any]) -> dict[str, Any]:
    overrides = dict(overrides)
    target = overrides.pop("target", "57-NQ/TW")
    if target == "<unit>":
        rid = await unit_gid(api, "TW")
    elif target == "<missing>":
        rid = encode_id("Resolution", 987654)
    else:
        rid = await res_gid(api, target)
    # the true current version (read from the database, whoever calls): only what the case changes may refuse
    input: dict[str, Any] = {"id": rid, "version": 1 if target == "<missing>" else await current_version(api, rid)}
    for name, value in overrides.items():
        input[name] = iso(TODAY + timedelta(days=1)) if value == "<tomorrow>" else value
    return input


async def test_update_refusals_write_nothing(tree: Api) -> None:
    """Every case of UPDATE_REFUSALS against one state; a case that answers otherwise or writes is listed."""
    await update_targets(tree)
    mismatches = []
    for name, caller, overrides, expected in UPDATE_REFUSALS:
        before = await db_state(tree)
        payload = await mutate(tree, RESOLUTION_UPDATE, await update_input(tree, overrides), as_user=caller)
        answered = [(e["field"], e["code"]) for e in payload["errors"]]
        if payload["resolution"] is not None or answered != expected or not all(e["message"] for e in payload["errors"]):
            mismatches.append((name, answered))
        if await db_state(tree) != before:
            mismatches.append((name, "wrote something"))
    assert mismatches == []
    assert len(UPDATE_REFUSALS) == 15


@pytest.mark.parametrize(("caller", "overrides", "expected"), [c[1:] for c in UPDATE_RULE_GAPS], ids=[c[0] for c in UPDATE_RULE_GAPS])
async def test_update_keeps_the_rules_of_create(tree: Api, caller: str, overrides: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    await update_targets(tree)
    input = await update_input(tree, overrides)
    before = await db_state(tree)
    assert refused(await mutate(tree, RESOLUTION_UPDATE, input, as_user=caller), "resolution") == expected
    assert await db_state(tree) == before


# -- 5. objectives and key results ------------------------------------------------------------------


async def test_objectives_and_at_most_five_key_results(tree: Api) -> None:
    await nq57(tree)
    await create(tree, "CTr-57/P01", "P01", implements="57-NQ/TW")
    programme_id = await res_gid(tree, "CTr-57/P01")

    objective = ok(await mutate(tree, OBJECTIVE_CREATE, {"resolutionId": programme_id, "code": "CTr-57/P01-O1", "title": " Chuyển đổi số "}, as_user="p01.manager"), "objective")
    assert {k: v for k, v in objective.items() if k != "id"} == {"code": "CTr-57/P01-O1", "title": "Chuyển đổi số", "version": 1, "resolution": {"code": "CTr-57/P01"}, "keyResults": []}
    second = ok(await mutate(tree, OBJECTIVE_CREATE, {"resolutionId": programme_id, "code": "CTr-57/P01-O2", "title": "Đổi mới sáng tạo"}, as_user="tw.manager"), "objective")

    krs = []
    for n in range(1, 6):
        kr = ok(await mutate(tree, KR_CREATE, {"objectiveId": objective["id"], "title": f"Kết quả {n}"}, as_user="p01.manager"), "keyResult")
        assert {k: v for k, v in kr.items() if k != "id"} == {"position": n, "title": f"Kết quả {n}", "version": 1, "objective": {"code": "CTr-57/P01-O1"}}
        krs.append(kr)
    before = await db_state(tree)
    payload = await mutate(tree, KR_CREATE, {"objectiveId": objective["id"], "title": "Kết quả 6"}, as_user="p01.manager")
    assert refused(payload, "keyResult") == [("objectiveId", "LIMIT_REACHED")]
    assert await db_state(tree) == before
    # the other objective still takes key results, numbered from 1
    other = ok(await mutate(tree, KR_CREATE, {"objectiveId": second["id"], "title": "Kết quả khác"}, as_user="p01.manager"), "keyResult")
    assert other["position"] == 1 and other["objective"] == {"code": "CTr-57/P01-O2"}

    nested = "query($c: String) { resolution(code: $c) { objectives { code title version keyResults { position title } } } }"
    expected = [
        {"code": "CTr-57/P01-O1", "title": "Chuyển đổi số", "version": 1, "keyResults": [{"position": n, "title": f"Kết quả {n}"} for n in range(1, 6)]},
        {"code": "CTr-57/P01-O2", "title": "Đổi mới sáng tạo", "version": 1, "keyResults": [{"position": 1, "title": "Kết quả khác"}]},
    ]
    for username in ["admin", "tw.manager", *P01_USERS]:
        assert (await tree.data(nested, {"c": "CTr-57/P01"}, as_user=username))["resolution"]["objectives"] == expected, username

    # versions: a rename names the version it read
    renamed = ok(await mutate(tree, OBJECTIVE_UPDATE, {"id": objective["id"], "version": 1, "title": "Chuyển đổi số toàn diện"}, as_user="p01.manager"), "objective")
    assert renamed["version"] == 2 and renamed["title"] == "Chuyển đổi số toàn diện" and len(renamed["keyResults"]) == 5
    kr = ok(await mutate(tree, KR_UPDATE, {"id": krs[2]["id"], "version": 1, "title": " Kết quả ba "}, as_user="tw.manager"), "keyResult")
    assert {k: v for k, v in kr.items() if k != "id"} == {"position": 3, "title": "Kết quả ba", "version": 2, "objective": {"code": "CTr-57/P01-O1"}}
    # the version is required: leaving it out is refused by validation and writes nothing
    before = await db_state(tree)
    unversioned = await tree.gql(KR_UPDATE, {"i": {"id": krs[2]["id"], "title": "Kết quả 3"}}, as_user="tw.manager")
    assert unversioned["_status"] == 200 and unversioned["data"] is None, unversioned
    assert len(unversioned["errors"]) == 1 and "required field 'version'" in unversioned["errors"][0]["message"], unversioned
    assert await db_state(tree) == before
    versioned = ok(await mutate(tree, KR_UPDATE, {"id": krs[2]["id"], "version": 2, "title": "Kết quả 3"}, as_user="tw.manager"), "keyResult")
    assert versioned["version"] == 3

    before = await db_state(tree)
    stale_objective = await mutate(tree, OBJECTIVE_UPDATE, {"id": objective["id"], "version": 1, "title": "Cũ"}, as_user="p01.manager")
    assert refused(stale_objective, "objective") == [("version", "CONFLICT")]
    stale_kr = await mutate(tree, KR_UPDATE, {"id": krs[2]["id"], "version": 2, "title": "Cũ"}, as_user="p01.manager")
    assert refused(stale_kr, "keyResult") == [("version", "CONFLICT")]
    assert await db_state(tree) == before


async def test_objective_and_key_result_refusals_and_node_scope(tree: Api) -> None:
    await nq57(tree)
    await create(tree, "CTr-57/P01", "P01", implements="57-NQ/TW")
    central_id, programme_id = await res_gid(tree, "57-NQ/TW"), await res_gid(tree, "CTr-57/P01")
    objective = ok(await mutate(tree, OBJECTIVE_CREATE, {"resolutionId": programme_id, "code": "CTr-57/P01-O1", "title": "Mục tiêu"}, as_user="p01.manager"), "objective")
    kr = ok(await mutate(tree, KR_CREATE, {"objectiveId": objective["id"], "title": "Kết quả"}, as_user="p01.manager"), "keyResult")

    refusals = [
        (OBJECTIVE_CREATE, "objective", "p01.officer", {"resolutionId": programme_id, "code": "O-X", "title": "T"}, [("resolutionId", "FORBIDDEN")]),
        (OBJECTIVE_CREATE, "objective", "p01.viewer", {"resolutionId": programme_id, "code": "O-X", "title": "T"}, [("resolutionId", "FORBIDDEN")]),
        (OBJECTIVE_CREATE, "objective", "p02.manager", {"resolutionId": programme_id, "code": "O-X", "title": "T"}, [("resolutionId", "NOT_FOUND")]),
        # P01 reads 57-NQ/TW (expected of provinces) but defines only at home: answered like an unknown id
        (OBJECTIVE_CREATE, "objective", "p01.manager", {"resolutionId": central_id, "code": "O-X", "title": "T"}, [("resolutionId", "NOT_FOUND")]),
        (OBJECTIVE_CREATE, "objective", "admin", {"resolutionId": await unit_gid(tree, "P01"), "code": "O-X", "title": "T"}, [("resolutionId", "INVALID_ID")]),
        (OBJECTIVE_CREATE, "objective", "admin", {"resolutionId": programme_id, "code": "CTr-57/P01-O1", "title": "T"}, [("code", "DUPLICATE")]),
        (OBJECTIVE_CREATE, "objective", "admin", {"resolutionId": programme_id, "code": "O X", "title": ""}, [("code", "INVALID"), ("title", "REQUIRED")]),
        (OBJECTIVE_UPDATE, "objective", "p01.officer", {"id": objective["id"], "version": 1, "title": "T"}, [("id", "FORBIDDEN")]),
        (OBJECTIVE_UPDATE, "objective", "p02.manager", {"id": objective["id"], "version": 1, "title": "T"}, [("id", "NOT_FOUND")]),
        (OBJECTIVE_UPDATE, "objective", "admin", {"id": objective["id"], "version": 1, "title": "  "}, [("title", "REQUIRED")]),
        (OBJECTIVE_UPDATE, "objective", "admin", {"id": kr["id"], "version": 1, "title": "T"}, [("id", "INVALID_ID")]),
        (KR_CREATE, "keyResult", "p01.c01.officer", {"objectiveId": objective["id"], "title": "T"}, [("objectiveId", "FORBIDDEN")]),  # defines nothing anywhere
        (KR_CREATE, "keyResult", "p01.officer", {"objectiveId": objective["id"], "title": "T"}, [("objectiveId", "FORBIDDEN")]),
        (KR_CREATE, "keyResult", "p02.manager", {"objectiveId": objective["id"], "title": "T"}, [("objectiveId", "NOT_FOUND")]),
        (KR_CREATE, "keyResult", "admin", {"objectiveId": objective["id"], "title": ""}, [("title", "REQUIRED")]),
        (KR_CREATE, "keyResult", "admin", {"objectiveId": encode_id("Objective", 987654), "title": "T"}, [("objectiveId", "NOT_FOUND")]),
        (KR_UPDATE, "keyResult", "p01.viewer", {"id": kr["id"], "version": 1, "title": "T"}, [("id", "FORBIDDEN")]),
        (KR_UPDATE, "keyResult", "p02.manager", {"id": kr["id"], "version": 1, "title": "T"}, [("id", "NOT_FOUND")]),
        (KR_UPDATE, "keyResult", "admin", {"id": objective["id"], "version": 1, "title": "T"}, [("id", "INVALID_ID")]),
    ]
    before = await db_state(tree)
    for query, name, caller, input, expected in refusals:
        assert refused(await mutate(tree, query, input, as_user=caller), name) == expected, (caller, input)
    assert await db_state(tree) == before

    for username in ["admin", "tw.manager", *P01_USERS]:
        assert await node(tree, objective["id"], username) == {"id": objective["id"], "code": "CTr-57/P01-O1"}, username
        assert await node(tree, kr["id"], username) == {"id": kr["id"], "position": 1, "title": "Kết quả"}, username
    for username in ["p02.manager", "p01.c01.officer"]:
        assert await node(tree, objective["id"], username) is None, username
        assert await node(tree, kr["id"], username) is None, username
        assert await node(tree, programme_id, username) is None, username
    # objectives and key results follow their resolution: one of 57-NQ/TW is read wherever 57-NQ/TW is,
    # by TW (home) and by both provinces (expected implementers), not by P01-C01's officer (no province
    # in its scope, and it reads no programme implementing 57-NQ/TW)
    central = ok(await mutate(tree, OBJECTIVE_CREATE, {"resolutionId": central_id, "code": "57-O1", "title": "Mục tiêu"}, as_user="tw.manager"), "objective")
    central_kr = ok(await mutate(tree, KR_CREATE, {"objectiveId": central["id"], "title": "Kết quả"}, as_user="tw.manager"), "keyResult")
    for username in ["admin", "tw.manager", *P01_USERS, "p02.manager"]:
        assert await node(tree, central["id"], username) == {"id": central["id"], "code": "57-O1"}, username
        assert await node(tree, central_kr["id"], username) == {"id": central_kr["id"], "position": 1, "title": "Kết quả"}, username
    assert await node(tree, central["id"], "p01.c01.officer") is None
    assert await node(tree, central_kr["id"], "p01.c01.officer") is None

    # the way back up: whoever reads a programme reads the resolution it implements (up the chain), so
    # `implements` is never cut; TW, the issuer of 57-NQ/TW, is out of a P01 viewer's scope but on its own
    # ancestor chain, so it is named
    up = (
        "query($id: ID!) { node(id: $id) { ... on KeyResult { objective { code resolution {"
        " code issuingUnit { code } implements { code issuingUnit { code } } } } } } }"
    )
    assert (await tree.data(up, {"id": kr["id"]}, as_user="p01.viewer"))["node"] == {
        "objective": {"code": "CTr-57/P01-O1", "resolution": {"code": "CTr-57/P01", "issuingUnit": {"code": "P01"}, "implements": {"code": "57-NQ/TW", "issuingUnit": {"code": "TW"}}}}
    }
    assert (await tree.data(up, {"id": kr["id"]}, as_user="tw.manager"))["node"] == {
        "objective": {"code": "CTr-57/P01-O1", "resolution": {"code": "CTr-57/P01", "issuingUnit": {"code": "P01"}, "implements": {"code": "57-NQ/TW", "issuingUnit": {"code": "TW"}}}}
    }
    # and the way back down stops there too: P02's manager reads 57-NQ/TW, not P01's programme under it
    down = "query($c: String) { resolution(code: $c) { implementedBy { nodes { code objectives { code } } } } }"
    assert (await tree.data(down, {"c": "57-NQ/TW"}, as_user="p02.manager"))["resolution"] == {"implementedBy": {"nodes": []}}
    assert (await tree.data(down, {"c": "57-NQ/TW"}, as_user="p01.viewer"))["resolution"] == {"implementedBy": {"nodes": [{"code": "CTr-57/P01", "objectives": [{"code": "CTr-57/P01-O1"}]}]}}


# -- 6. coverage -----------------------------------------------------------------------------------


async def coverage(api: Api, code: str, as_user: str, *, first: int = 20, after: str | None = None, state: str | None = None) -> dict[str, Any]:
    data = await api.data(COVERAGE, {"c": code, "first": first, "after": after, "state": state}, as_user=as_user)
    assert data["resolution"] is not None, (code, as_user)
    return data["resolution"]


def entries(cov: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(e["node"]["unit"]["code"], e["node"]["state"], (e["node"]["programme"] or {}).get("code")) for e in cov["coverage"]["edges"]]


def summary(expected: int, on_time: int = 0, late: int = 0, missing: int = 0, pending: int = 0) -> dict[str, int]:
    return {"expected": expected, "onTime": on_time, "late": late, "missing": missing, "pending": pending}


async def test_coverage_with_a_due_date_in_the_past(tree: Api) -> None:
    due = TODAY - timedelta(days=10)
    await nq57(tree, programmeDueOn=iso(due))
    await create(tree, "CTr-57/P01", "P01", implements="57-NQ/TW", issued_on=due - timedelta(days=5))
    for username in TW_USERS:
        cov = await coverage(tree, "57-NQ/TW", username)
        assert entries(cov) == [("P01", "ON_TIME", "CTr-57/P01"), ("P02", "MISSING", None)], username
        assert cov["coverage"]["totalCount"] == 2
        assert cov["coverageSummary"] == summary(2, on_time=1, missing=1)

    # P02 issues after the due date: late
    await create(tree, "CTr-57/P02", "P02", implements="57-NQ/TW", issued_on=due + timedelta(days=1))
    cov = await coverage(tree, "57-NQ/TW", "tw.manager")
    assert entries(cov) == [("P01", "ON_TIME", "CTr-57/P01"), ("P02", "LATE", "CTr-57/P02")]
    assert cov["coverageSummary"] == summary(2, on_time=1, late=1)

    # the state filter, its count, and pagination within it
    for state, expected in [("ON_TIME", [("P01", "ON_TIME", "CTr-57/P01")]), ("LATE", [("P02", "LATE", "CTr-57/P02")]), ("MISSING", []), ("PENDING", [])]:
        cov = await coverage(tree, "57-NQ/TW", "admin", state=state)
        assert entries(cov) == expected, state
        assert cov["coverage"]["totalCount"] == len(expected), state

    page1 = await coverage(tree, "57-NQ/TW", "admin", first=1)
    assert entries(page1) == [("P01", "ON_TIME", "CTr-57/P01")]
    assert page1["coverage"]["pageInfo"]["hasNextPage"] is True and page1["coverage"]["totalCount"] == 2
    page2 = await coverage(tree, "57-NQ/TW", "admin", first=1, after=page1["coverage"]["pageInfo"]["endCursor"])
    assert entries(page2) == [("P02", "LATE", "CTr-57/P02")]
    assert page2["coverage"]["pageInfo"]["hasNextPage"] is False and page2["coverage"]["totalCount"] == 2
    page3 = await coverage(tree, "57-NQ/TW", "admin", first=1, after=page2["coverage"]["pageInfo"]["endCursor"])
    assert entries(page3) == [] and page3["coverage"]["pageInfo"]["hasNextPage"] is False


async def test_coverage_boundaries_of_the_due_date(tree: Api) -> None:
    """Issued on the due date is on time; a due date of today is not yet missed."""
    due = TODAY - timedelta(days=3)
    await nq57(tree, programmeDueOn=iso(due))
    await create(tree, "CTr-57/P01", "P01", implements="57-NQ/TW", issued_on=due)
    assert entries(await coverage(tree, "57-NQ/TW", "admin")) == [("P01", "ON_TIME", "CTr-57/P01"), ("P02", "MISSING", None)]
    await create(tree, "58-NQ/TW", "TW", implementerKinds=["province"], programmeDueOn=iso(TODAY))
    cov = await coverage(tree, "58-NQ/TW", "admin")
    assert entries(cov) == [("P01", "PENDING", None), ("P02", "PENDING", None)]
    assert cov["coverageSummary"] == summary(2, pending=2)


async def test_coverage_with_a_due_date_in_the_future(tree: Api) -> None:
    await nq57(tree, programmeDueOn=iso(TODAY + timedelta(days=20)))
    await create(tree, "CTr-57/P01", "P01", implements="57-NQ/TW", issued_on=TODAY)
    cov = await coverage(tree, "57-NQ/TW", "admin")
    assert entries(cov) == [("P01", "ON_TIME", "CTr-57/P01"), ("P02", "PENDING", None)]
    assert cov["coverageSummary"] == summary(2, on_time=1, pending=1)
    cov = await coverage(tree, "57-NQ/TW", "admin", state="PENDING")
    assert entries(cov) == [("P02", "PENDING", None)] and cov["coverage"]["totalCount"] == 1

    # without a due date nothing is ever late or missing
    await create(tree, "59-NQ/TW", "TW", implementerKinds=["province"])
    await create(tree, "CTr-59/P02", "P02", implements="59-NQ/TW")
    cov = await coverage(tree, "59-NQ/TW", "admin")
    assert entries(cov) == [("P01", "PENDING", None), ("P02", "ON_TIME", "CTr-59/P02")]
    # and without implementer kinds nobody is expected
    await create(tree, "60-NQ/TW", "TW")
    await create(tree, "CTr-60/P01", "P01", implements="60-NQ/TW")
    cov = await coverage(tree, "60-NQ/TW", "admin")
    assert entries(cov) == [] and cov["coverage"]["totalCount"] == 0
    assert cov["coverageSummary"] == summary(0)


async def test_a_province_reads_the_coverage_of_its_own_programme(tree: Api) -> None:
    await nq57(tree)
    due = TODAY - timedelta(days=1)
    await create(tree, "CTr-57/P01", "P01", as_user="tw.manager", implements="57-NQ/TW", implementerKinds=["commune"], programmeDueOn=iso(due))
    await create(tree, "KH-57/P01-C01", "P01-C01", as_user="p01.manager", kind="plan", implements="CTr-57/P01", issued_on=due - timedelta(days=1))
    expected = [("P01-C01", "ON_TIME", "KH-57/P01-C01"), ("P01-C02", "MISSING", None)]  # the cell is not a commune; P02's communes are not under P01
    for username in ["admin", "tw.manager", *P01_USERS]:
        cov = await coverage(tree, "CTr-57/P01", username)
        assert entries(cov) == expected, username
        assert cov["coverageSummary"] == summary(2, on_time=1, missing=1), username
    # P01's commune officer reads P01's programme, read-only: P01-C01 is a commune strictly below P01, so
    # it is expected to implement it (and its own plan implements it); its coverage shows it only its own
    # row, not its sibling P01-C02's
    cov = await coverage(tree, "CTr-57/P01", "p01.c01.officer")
    assert entries(cov) == [("P01-C01", "ON_TIME", "KH-57/P01-C01")]
    assert cov["coverage"]["totalCount"] == 1 and cov["coverageSummary"] == summary(1, on_time=1)
    assert (await coverage(tree, "CTr-57/P01", "p01.c01.officer", state="MISSING"))["coverage"]["totalCount"] == 0
    # P02 cannot read P01's programme at all: issued by a sibling, nothing of P02 lies below it
    assert (await tree.data(COVERAGE, {"c": "CTr-57/P01", "first": 20}, as_user="p02.manager"))["resolution"] is None
    # a unit kind reaches every level below the issuer: cells of the whole country
    await create(tree, "61-NQ/TW", "TW", implementerKinds=["cell", "commune"])
    assert [e[0] for e in entries(await coverage(tree, "61-NQ/TW", "admin"))] == ["P01-C01", "P01-C01-K01", "P01-C02", "P02-C01", "P02-C02"]
    # every scope below TW holds a commune or a cell, so every user reads 61-NQ/TW, and its coverage only
    # as far as its scope
    readers = [*((u, ["P01-C01", "P01-C01-K01", "P01-C02"]) for u in P01_USERS), ("p01.c01.officer", ["P01-C01", "P01-C01-K01"]), ("p02.manager", ["P02-C01", "P02-C02"])]
    for username, units in readers:
        cov = await coverage(tree, "61-NQ/TW", username)
        assert [e[0] for e in entries(cov)] == units, username
        assert cov["coverageSummary"] == summary(len(units), pending=len(units)), username
    # 62-NQ/TW expects cells only: P02 holds none, so P02's manager is not expected and does not read it
    await create(tree, "62-NQ/TW", "TW", implementerKinds=["cell"])
    for username in [*P01_USERS, "p01.c01.officer"]:
        assert entries(await coverage(tree, "62-NQ/TW", username)) == [("P01-C01-K01", "PENDING", None)], username
    assert await by_code(tree, "62-NQ/TW", "p02.manager") is None
    # an archived unit is no longer expected to implement anything
    archive = "mutation($i: UnitArchiveInput!) { unitArchive(input: $i) { errors { code } } }"
    p02_c02 = await unit_gid(tree, "P02-C02")
    assert (await tree.data(archive, {"i": {"id": p02_c02, "version": await current_version(tree, p02_c02)}}, as_user="admin"))["unitArchive"]["errors"] == []
    cov = await coverage(tree, "61-NQ/TW", "admin")
    assert [e[0] for e in entries(cov)] == ["P01-C01", "P01-C01-K01", "P01-C02", "P02-C01"]
    assert cov["coverageSummary"] == summary(4, pending=4)
    cov = await coverage(tree, "61-NQ/TW", "p02.manager")  # still expected through P02-C01
    assert [e[0] for e in entries(cov)] == ["P02-C01"] and cov["coverageSummary"] == summary(1, pending=1)
    # ... nor makes its scope read what it alone was expected to implement: with the only cell archived,
    # 62-NQ/TW expects no unit of P01's scope any more and is out of P01's sight again
    cell = await unit_gid(tree, "P01-C01-K01")
    assert (await tree.data(archive, {"i": {"id": cell, "version": await current_version(tree, cell)}}, as_user="admin"))["unitArchive"]["errors"] == []
    cov = await coverage(tree, "62-NQ/TW", "admin")
    assert entries(cov) == [] and cov["coverageSummary"] == summary(0)
    for username in [*P01_USERS, "p01.c01.officer", "p02.manager"]:
        assert await by_code(tree, "62-NQ/TW", username) is None, username
        assert "62-NQ/TW" not in await listed(tree, username), username


TASK_CREATE = "mutation($i: TaskCreateInput!) { taskCreate(input: $i) { task { id } errors { field code } } }"
TASK_ASSIGN = "mutation($i: TaskAssignInput!) { taskAssign(input: $i) { assignments { id } errors { field code } } }"


async def test_a_resolution_handed_down_shows_a_province_only_its_own_coverage(tree: Api) -> None:
    """Once a task of 45-CT/TW (which expects no implementer) is assigned to P01, P01 reads 45-CT/TW
    read-only; until then it is invisible to P01, and it stays invisible to P02, handed nothing.
    57-NQ/TW, expected of provinces, both provinces read read-only from the start, and its coverage and
    implementers only as far as their own scope: the sibling's row and programme stay invisible."""
    due = TODAY - timedelta(days=10)
    await nq57(tree, programmeDueOn=iso(due))
    await create(tree, "45-CT/TW", "TW", kind="directive", title="Chỉ thị về tăng cường công tác số hoá")
    await create(tree, "CTr-57/P02", "P02", implements="57-NQ/TW", issued_on=due - timedelta(days=1))

    # before anything is handed down: each province reads 57-NQ/TW (expected), not 45-CT/TW
    for username in P01_USERS:
        assert await listed(tree, username) == ["57-NQ/TW"], username
        assert await by_code(tree, "45-CT/TW", username) is None, username
    before = await db_state(tree)
    payload = await mutate(tree, RESOLUTION_CREATE, await res_input(tree, "CTr-45/P01", "P01", kind="action_programme", implements="45-CT/TW"), as_user="p01.manager")
    assert refused(payload, "resolution") == [("implementsId", "NOT_FOUND")]
    assert await db_state(tree) == before

    task = await tree.data(
        TASK_CREATE,
        {"i": {"resolutionId": await res_gid(tree, "45-CT/TW"), "code": "45-CT/TW-T001", "title": "Triển khai chỉ thị",
               "leadUnitId": await unit_gid(tree, "TW"), "startOn": iso(LONG_AGO), "dueOn": iso(TODAY + timedelta(days=60))}},
        as_user="tw.manager",
    )
    assert task["taskCreate"]["errors"] == []
    assigned = await tree.data(
        TASK_ASSIGN,
        {"i": {"taskId": task["taskCreate"]["task"]["id"], "assignerUnitId": await unit_gid(tree, "TW"), "assignees": [{"unitId": await unit_gid(tree, "P01")}]}},
        as_user="tw.manager",
    )
    assert assigned["taskAssign"]["errors"] == []

    # now P01's users see 45-CT/TW (handed down) and its manager may implement it itself; 57-NQ/TW it
    # implements as an expected implementer
    for username in P01_USERS:
        assert await listed(tree, username) == ["45-CT/TW", "57-NQ/TW"], username
    ok(await mutate(tree, RESOLUTION_CREATE, await res_input(tree, "CTr-45/P01", "P01", kind="action_programme", implements="45-CT/TW"), as_user="p01.manager"), "resolution")
    programme = await create(tree, "CTr-57/P01", "P01", as_user="p01.manager", implements="57-NQ/TW", issued_on=due)
    assert programme["implements"] == {"code": "57-NQ/TW"}
    # but it does not define on either: read-only, so outside its write scope, answered like an unknown id
    before = await db_state(tree)
    for code in ["45-CT/TW", "57-NQ/TW"]:
        payload = await mutate(tree, OBJECTIVE_CREATE, {"resolutionId": await res_gid(tree, code), "code": "X-O1", "title": "T"}, as_user="p01.manager")
        assert refused(payload, "objective") == [("resolutionId", "NOT_FOUND")], code
        rid = await res_gid(tree, code)
        payload = await mutate(tree, RESOLUTION_UPDATE, {"id": rid, "version": await current_version(tree, rid), "title": "T"}, as_user="p01.manager")
        assert refused(payload, "resolution") == [("id", "NOT_FOUND")], code
    assert await db_state(tree) == before

    for username in P01_USERS:
        assert (await by_code(tree, "45-CT/TW", username))["implementedBy"]["nodes"] == [{"code": "CTr-45/P01"}], username
        seen = await by_code(tree, "57-NQ/TW", username)
        assert seen["implementedBy"]["nodes"] == [{"code": "CTr-57/P01"}], username  # not P02's
        cov = await coverage(tree, "57-NQ/TW", username)
        assert entries(cov) == [("P01", "ON_TIME", "CTr-57/P01")], username
        assert cov["coverage"]["totalCount"] == 1, username
        assert cov["coverageSummary"] == summary(1, on_time=1), username
        assert (await coverage(tree, "57-NQ/TW", username, state="LATE"))["coverage"]["totalCount"] == 0, username
    cov = await coverage(tree, "57-NQ/TW", "admin")
    assert entries(cov) == [("P01", "ON_TIME", "CTr-57/P01"), ("P02", "ON_TIME", "CTr-57/P02")]
    assert cov["coverageSummary"] == summary(2, on_time=2)
    # P02 was handed nothing: 45-CT/TW (and P01's programme of it) stay invisible to it
    assert await by_code(tree, "45-CT/TW", "p02.manager") is None
    assert await by_code(tree, "CTr-45/P01", "p02.manager") is None
    # but P02 reads 57-NQ/TW as an expected implementer, read-only, with only its own row and programme
    assert await listed(tree, "p02.manager") == ["57-NQ/TW", "CTr-57/P02"]
    assert (await by_code(tree, "CTr-57/P02", "p02.manager"))["implements"] == {"code": "57-NQ/TW"}
    assert (await by_code(tree, "57-NQ/TW", "p02.manager"))["implementedBy"]["nodes"] == [{"code": "CTr-57/P02"}]  # not P01's
    cov = await coverage(tree, "57-NQ/TW", "p02.manager")
    assert entries(cov) == [("P02", "ON_TIME", "CTr-57/P02")] and cov["coverageSummary"] == summary(1, on_time=1)
    before = await db_state(tree)
    rid = await res_gid(tree, "57-NQ/TW")
    payload = await mutate(tree, RESOLUTION_UPDATE, {"id": rid, "version": await current_version(tree, rid), "title": "T"}, as_user="p02.manager")
    assert refused(payload, "resolution") == [("id", "NOT_FOUND")]
    assert await db_state(tree) == before


# -- 7. filters ------------------------------------------------------------------------------------


async def filtered_tree(api: Api) -> None:
    await nq57(api)
    await create(api, "59-NQ/TW", "TW", title="Nghị quyết về hội nhập quốc tế trong tình hình mới", status="completed")
    await create(api, "45-CT/TW", "TW", kind="directive", title="Chỉ thị về tăng cường công tác 100% số hoá")
    await create(api, "CTr-57/P01", "P01", implements="57-NQ/TW", title="Chương trình hành động thực hiện Nghị quyết 57")
    await create(api, "CTr-57/P02", "P02", implements="57-NQ/TW", title="Chương trình hành động của Tỉnh ủy Lào Cai")
    await create(api, "CTr-59/P01", "P01", implements="59-NQ/TW", status="draft", title="Dự thảo chương trình hội nhập")
    await create(api, "KH-01/P01-C01", "P01-C01", kind="plan", title="Kế hoạch chuyển đổi số phường Hoàn Kiếm")


async def test_each_filter_narrows_exactly(tree: Api) -> None:
    await filtered_tree(tree)
    everything = ["45-CT/TW", "57-NQ/TW", "59-NQ/TW", "CTr-57/P01", "CTr-57/P02", "CTr-59/P01", "KH-01/P01-C01"]
    assert await listed(tree, "admin") == everything
    p01, p01c01, p02 = await unit_gid(tree, "P01"), await unit_gid(tree, "P01-C01"), await unit_gid(tree, "P02")
    r57 = await res_gid(tree, "57-NQ/TW")
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"kind": "action_programme"}, ["CTr-57/P01", "CTr-57/P02", "CTr-59/P01"]),
        ({"kind": "directive"}, ["45-CT/TW"]),
        ({"kind": "conclusion"}, []),
        ({"status": "draft"}, ["CTr-59/P01"]),
        ({"status": "completed"}, ["59-NQ/TW"]),
        ({"status": "in_effect"}, ["45-CT/TW", "57-NQ/TW", "CTr-57/P01", "CTr-57/P02", "KH-01/P01-C01"]),
        ({"issuedUnder": p01}, ["CTr-57/P01", "CTr-59/P01", "KH-01/P01-C01"]),
        ({"issuedUnder": p01c01}, ["KH-01/P01-C01"]),
        ({"issuedUnder": await unit_gid(tree, "TW")}, everything),
        ({"implements": r57}, ["CTr-57/P01", "CTr-57/P02"]),
        ({"implements": await res_gid(tree, "KH-01/P01-C01")}, []),
        ({"search": "nghi quyet"}, ["57-NQ/TW", "59-NQ/TW", "CTr-57/P01"]),
        ({"search": "NGHỊ QUYẾT"}, ["57-NQ/TW", "59-NQ/TW", "CTr-57/P01"]),
        ({"search": "  Hội   nhập "}, ["59-NQ/TW", "CTr-59/P01"]),
        ({"search": "ctr-57"}, ["CTr-57/P01", "CTr-57/P02"]),
        ({"search": "/p01"}, ["CTr-57/P01", "CTr-59/P01", "KH-01/P01-C01"]),
        ({"search": "lao cai"}, ["CTr-57/P02"]),
        ({"search": "tan phong"}, []),  # in a unit's name, not in a resolution
        ({"search": "100%"}, ["45-CT/TW"]),
        ({"search": "%"}, ["45-CT/TW"]),  # a wildcard is searched as typed
        ({"search": "_"}, []),
        ({"kind": "action_programme", "issuedUnder": p01}, ["CTr-57/P01", "CTr-59/P01"]),
        ({"kind": "action_programme", "status": "draft", "implements": r57}, []),
        ({"implements": r57, "issuedUnder": p02, "search": "lao"}, ["CTr-57/P02"]),
    ]
    for flt, expected in cases:
        assert await listed(tree, "admin", flt) == expected, flt
    # filters never widen the caller's scope. P01's manager reads its own three (home), 57-NQ/TW (expected
    # of provinces) and 59-NQ/TW (no implementer kinds, but up the chain of its CTr-59/P01); not 45-CT/TW
    # (nobody expected, nothing handed down, implemented by nothing it reads), nor P02's programme
    p01_reads = ["57-NQ/TW", "59-NQ/TW", "CTr-57/P01", "CTr-59/P01", "KH-01/P01-C01"]
    assert await listed(tree, "p01.manager") == p01_reads
    assert await listed(tree, "p01.manager", {"implements": r57}) == ["CTr-57/P01"]
    assert await listed(tree, "p01.manager", {"issuedUnder": p02}) == []
    # TW lies outside P01's scope but on its ancestor chain, so P01 may name it: filtering under it narrows
    # what P01 reads (everything, here) and widens nothing; P02, a sibling it cannot name, matched nothing
    # above, as a unit that does not exist (schema/filters.py unit_path); under its own unit, its own three
    assert await listed(tree, "p01.manager", {"issuedUnder": await unit_gid(tree, "TW")}) == p01_reads
    assert await listed(tree, "p01.manager", {"issuedUnder": await unit_gid(tree, "P01-C01")}) == ["KH-01/P01-C01"]
    assert await listed(tree, "p01.c01.officer", {"issuedUnder": p01}) == await listed(tree, "p01.c01.officer")
    assert await listed(tree, "p01.manager", {"issuedUnder": p01}) == ["CTr-57/P01", "CTr-59/P01", "KH-01/P01-C01"]
    assert await listed(tree, "p01.manager", {"kind": "directive"}) == []
    assert await listed(tree, "p01.manager", {"search": "nghi quyet"}) == ["57-NQ/TW", "59-NQ/TW", "CTr-57/P01"]
    # P02's manager: its programme and 57-NQ/TW (expected, and up its chain); not 59-NQ/TW, which only
    # P01's programme implements
    assert await listed(tree, "p02.manager") == ["57-NQ/TW", "CTr-57/P02"]
    assert await listed(tree, "p02.manager", {"search": "hoi nhap"}) == []
    # P01-C01's officer: its own plan, which implements nothing; no province in its scope, so no 57-NQ/TW
    assert await listed(tree, "p01.c01.officer") == ["KH-01/P01-C01"]
    assert await listed(tree, "p01.c01.officer", {"search": "nghi quyet"}) == []
    # an id of the wrong type is a clean error
    body = await tree.gql(LIST, {"f": {"implements": p01}, "first": 10}, as_user="admin")
    assert body["data"] is None and [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_ID"]
    # pages of 3, in code order, with the same totalCount on each
    seen, after = [], None
    while True:
        page = (await tree.data(LIST, {"first": 3, "after": after}, as_user="admin"))["resolutions"]
        assert page["totalCount"] == 7
        seen += [n["code"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["45-CT/TW", "57-NQ/TW", "59-NQ/TW", "CTr-57/P01", "CTr-57/P02", "CTr-59/P01", "KH-01/P01-C01"]


async def test_updated_since_excludes_older_rows_and_includes_later_updates(tree: Api) -> None:
    await filtered_tree(tree)
    await asyncio.sleep(0.05)
    mark = datetime.now(UTC)
    await asyncio.sleep(0.05)
    assert await listed(tree, "admin", {"updatedSince": mark.isoformat()}) == []
    rid = await res_gid(tree, "CTr-59/P01")
    ok(await mutate(tree, RESOLUTION_UPDATE, {"id": rid, "version": await current_version(tree, rid), "title": "Chương trình hội nhập"}, as_user="admin"), "resolution")
    ok(await mutate(tree, OBJECTIVE_CREATE, {"resolutionId": await res_gid(tree, "59-NQ/TW"), "code": "59-O1", "title": "Mục tiêu"}, as_user="admin"), "objective")
    assert await listed(tree, "admin", {"updatedSince": mark.isoformat()}) == ["CTr-59/P01"]
    # the same instant in another zone
    in_hanoi = mark.astimezone(timezone(timedelta(hours=7))).isoformat()
    assert await listed(tree, "admin", {"updatedSince": in_hanoi}) == ["CTr-59/P01"]
    assert await listed(tree, "p02.manager", {"updatedSince": mark.isoformat()}) == []
    assert await listed(tree, "admin", {"updatedSince": (mark - timedelta(days=1)).isoformat()}) == await listed(tree, "admin")


async def test_updated_since_includes_a_resolution_created_after_the_instant(tree: Api) -> None:
    """Incremental sync: a row created after the last sync's instant must come in the next one.

    The instant is taken early in a second so that creation lands within the same second.
    """
    while not 0.05 < (time.time() % 1) < 0.5:
        await asyncio.sleep(0.02)
    mark = datetime.now(UTC)
    await create(tree, "58-NQ/TW", "TW")
    assert await listed(tree, "admin", {"updatedSince": mark.isoformat()}) == ["58-NQ/TW"]


# -- 8. statement counts ------------------------------------------------------------------------------

COUNTED = """query($first: Int!) { resolutions(first: $first) { nodes {
  code objectives { code keyResults { title } } implementedBy { nodes { code } } implements { code } issuingUnit { code }
  coverageSummary { expected } coverage(first: 2) { totalCount nodes { unit { code } state programme { code } } }
} } }"""


async def test_statement_count_does_not_grow_with_the_page(tree: Api, statements: StatementCounter) -> None:
    for n in range(12):
        code = f"{n:02d}-NQ/TW"
        await create(tree, code, "TW", implementerKinds=["province"], programmeDueOn=iso(TODAY - timedelta(days=n)))
        rid = await res_gid(tree, code)
        objective = ok(await mutate(tree, OBJECTIVE_CREATE, {"resolutionId": rid, "code": f"{code}-O1", "title": "Mục tiêu"}, as_user="admin"), "objective")
        ok(await mutate(tree, KR_CREATE, {"objectiveId": objective["id"], "title": "Kết quả"}, as_user="admin"), "keyResult")
        await create(tree, f"{n:02d}-P01", "P01", implements=code, issued_on=TODAY - timedelta(days=40))
        await create(tree, f"{n:02d}-P02", "P02", implements=code, issued_on=TODAY - timedelta(days=5))
    assert await count_rows(tree, "resolutions") == 36

    async def counted(first: int) -> int:
        await tree.token_for("admin")
        statements.reset()
        nodes = (await tree.data(COUNTED, {"first": first}, as_user="admin"))["resolutions"]["nodes"]
        assert len(nodes) == first
        assert any(n["objectives"] and n["implementedBy"]["nodes"] and n["coverage"]["nodes"] for n in nodes[:3])
        assert any(n["implements"] for n in nodes[:3])
        return statements.count

    small = await counted(3)
    large = await counted(30)
    assert small == large, statements.statements
    selects = [s for s in statements.statements if s.lstrip().upper().startswith("SELECT")]
    # the caller (user and grants), page, and one batch per loader (8): objectives, keyResults, implementedBy,
    # implements, issuingUnit, coverageSummary, coverage, the coverage's programmes
    assert len(selects) == 10, selects


# -- 9. idempotency ----------------------------------------------------------------------------------


async def test_the_same_idempotency_key_twice_creates_one_resolution(tree: Api) -> None:
    input = await res_input(tree, "57-NQ/TW", "TW", implementerKinds=["province"])
    key = "7d3f0a62-0f6c-4a4c-9d1b-57c0ffee0001"
    first = await mutate(tree, RESOLUTION_CREATE, input, as_user="tw.manager", key=key)
    ok(first, "resolution")
    events = await count_rows(tree, "audit_events")
    second = await mutate(tree, RESOLUTION_CREATE, input, as_user="tw.manager", key=key)
    assert second == first
    assert await listed(tree, "admin") == ["57-NQ/TW"]
    assert await count_rows(tree, "resolutions") == 1
    assert await count_rows(tree, "audit_events") == events
    # the same key with another input is refused and writes nothing
    before = await db_state(tree)
    other = await mutate(tree, RESOLUTION_CREATE, {**input, "title": "Khác"}, as_user="tw.manager", key=key)
    assert refused(other, "resolution") == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]
    assert await db_state(tree) == before
    # and a replayed key result does not count towards the five
    objective = ok(await mutate(tree, OBJECTIVE_CREATE, {"resolutionId": first["resolution"]["id"], "code": "57-O1", "title": "Mục tiêu"}, as_user="tw.manager"), "objective")
    kr_key = "7d3f0a62-0f6c-4a4c-9d1b-57c0ffee0002"
    kr1 = await mutate(tree, KR_CREATE, {"objectiveId": objective["id"], "title": "KR"}, as_user="tw.manager", key=kr_key)
    kr2 = await mutate(tree, KR_CREATE, {"objectiveId": objective["id"], "title": "KR"}, as_user="tw.manager", key=kr_key)
    assert kr1 == kr2 and ok(kr1, "keyResult")["position"] == 1
    assert await count_rows(tree, "key_results") == 1
    # an update replayed with its key is applied once (the version moves once)
    upd_key = "7d3f0a62-0f6c-4a4c-9d1b-57c0ffee0003"
    upd = {"id": first["resolution"]["id"], "version": 1, "title": "Tên mới"}
    u1 = await mutate(tree, RESOLUTION_UPDATE, upd, as_user="tw.manager", key=upd_key)
    u2 = await mutate(tree, RESOLUTION_UPDATE, upd, as_user="tw.manager", key=upd_key)
    assert ok(u1, "resolution")["version"] == 2 and u2 == u1


# -- 10. audit -------------------------------------------------------------------------------------


async def test_each_mutation_writes_one_audit_event_at_the_issuing_unit(tree: Api) -> None:
    async def audit() -> tuple[int, list[tuple[str, str, str]]]:
        conn = (await tree.data(AUDIT, as_user="admin"))["auditEvents"]
        return conn["totalCount"], [(n["action"], n["objectType"], n["unit"]["code"]) for n in conn["nodes"]]

    total, _ = await audit()

    async def step(expected: tuple[str, str, str]) -> None:
        nonlocal total
        now, newest = await audit()
        assert now == total + 1, (expected, newest)
        assert newest[0] == expected
        total = now

    await nq57(tree)
    await step(("resolutionCreate", "resolution", "TW"))
    programme = await create(tree, "CTr-57/P01", "P01", as_user="tw.manager", implements="57-NQ/TW")
    await step(("resolutionCreate", "resolution", "P01"))
    ok(await mutate(tree, RESOLUTION_UPDATE, {"id": programme["id"], "version": 1, "summary": "Tóm tắt"}, as_user="p01.manager"), "resolution")
    await step(("resolutionUpdate", "resolution", "P01"))
    objective = ok(await mutate(tree, OBJECTIVE_CREATE, {"resolutionId": programme["id"], "code": "CTr-57/P01-O1", "title": "Mục tiêu"}, as_user="p01.manager"), "objective")
    await step(("objectiveCreate", "objective", "P01"))
    ok(await mutate(tree, OBJECTIVE_UPDATE, {"id": objective["id"], "version": 1, "title": "Mục tiêu mới"}, as_user="tw.manager"), "objective")
    await step(("objectiveUpdate", "objective", "P01"))
    kr = ok(await mutate(tree, KR_CREATE, {"objectiveId": objective["id"], "title": "Kết quả"}, as_user="p01.manager"), "keyResult")
    await step(("keyResultCreate", "key_result", "P01"))
    ok(await mutate(tree, KR_UPDATE, {"id": kr["id"], "version": 1, "title": "Kết quả mới"}, as_user="admin"), "keyResult")
    await step(("keyResultUpdate", "key_result", "P01"))
    # a refused mutation writes none
    refused(await mutate(tree, KR_UPDATE, {"id": kr["id"], "version": 1, "title": "Cũ"}, as_user="admin"), "keyResult")
    assert (await audit())[0] == total
    # the events of P01's objects are P01's: a P02 grant never reads them
    events = await tree.gql("{ auditEvents(first: 5) { totalCount } }", as_user="p02.manager")
    assert events.get("data") is None or events["data"]["auditEvents"]["totalCount"] == 0
