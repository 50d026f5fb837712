"""Writing the tree through GraphQL: create, update, move (with a 1,000-unit subtree), archive, kinds.

Every refusal is checked twice: the payload says exactly why (field, code), and a snapshot of
the tree read back as the root admin (code, name, kind, parent, depth, version, archived,
updatedAt, ancestors) is identical before and after, so a refused mutation changed nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, text

from resolute.schema.ids import encode_id
from tests.support import Api, Backend, StatementCounter, current_version, small_tree, small_users, unit, user

# -- helpers ---------------------------------------------------------------------------------

UNIT_FIELDS = "id code name kind depth version archived parent { code } ancestors { code }"

TREE = (
    "query($after: String) { units(first: 100, after: $after, filter: {includeArchived: true}) {"
    " totalCount nodes { code name kind depth version archived updatedAt parent { code } ancestors { code } }"
    " pageInfo { hasNextPage endCursor } } }"
)
UNITS = "query($f: UnitFilterInput) { units(first: 100, filter: $f) { totalCount nodes { code } } }"
BY_CODE = "query($c: String) { unit(code: $c) { " + UNIT_FIELDS + " } }"
COUNT = "{ units(first: 1) { totalCount } }"

MISSING_UNIT_ID = encode_id("Unit", 987654)


async def tree_state(api: Api) -> dict[str, dict[str, Any]]:
    """Every unit, archived or not, as the root admin reads it, keyed by code."""
    state: dict[str, dict[str, Any]] = {}
    after = None
    while True:
        page = (await api.data(TREE, {"after": after}, as_user="admin"))["units"]
        for node in page["nodes"]:
            state[node["code"]] = node
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(state) == page["totalCount"]
    return state


async def sql_state(api: Api) -> list[tuple[Any, ...]]:
    """Every row of units, read directly (read-only) for trees too big for GraphQL pages."""
    async with api.engine.connect() as conn:
        rows = await conn.execute(text("SELECT id, code, name, parent_id, path, depth, version, archived_at, updated_at FROM units ORDER BY id"))
        return [tuple(r) for r in rows]


def assert_is_tree(rows: list[tuple[Any, ...]]) -> None:
    """One root; every other unit's path is its parent's path + its id + '/', depth parent's + 1."""
    by_id = {r[0]: r for r in rows}
    roots = [r for r in rows if r[3] is None]
    assert len(roots) == 1
    assert roots[0][4] == f"/{roots[0][0]}/" and roots[0][5] == 1
    for pk, code, _name, parent_id, path, depth, *_ in rows:
        if parent_id is None:
            continue
        parent = by_id[parent_id]
        assert path == f"{parent[4]}{pk}/", (code, path, parent[4])
        assert depth == parent[5] + 1, code


async def ids(api: Api) -> dict[str, str]:
    return {code: node_id for code, node_id in ((n["code"], n["id"]) for n in await _admin_nodes(api))}


async def _admin_nodes(api: Api) -> list[dict[str, Any]]:
    data = await api.data("{ units(first: 100, filter: {includeArchived: true}) { nodes { id code } } }", as_user="admin")
    return data["units"]["nodes"]


async def unit_id(api: Api, code: str) -> str:
    data = await api.data("query($c: String) { unit(code: $c) { id } }", {"c": code}, as_user="admin")
    assert data["unit"] is not None, code
    return data["unit"]["id"]


async def mutate(api: Api, name: str, input: dict[str, Any], *, as_user: str, fields: str = UNIT_FIELDS) -> dict[str, Any]:
    """Run unitCreate/unitUpdate/unitMove/unitArchive and return its payload."""
    type_name = name[0].upper() + name[1:] + "Input"
    query = f"mutation($i: {type_name}!) {{ {name}(input: $i) {{ unit {{ {fields} }} errors {{ field code message }} }} }}"
    return (await api.data(query, {"i": input}, as_user=as_user))[name]


def ok(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["errors"] == [], payload["errors"]
    assert payload["unit"] is not None
    return payload["unit"]


def refused(payload: dict[str, Any]) -> list[tuple[str | None, str]]:
    """The (field, code) of each error of a refused mutation, which must return no unit."""
    assert payload["unit"] is None, payload
    assert payload["errors"], "a refused mutation must say why"
    assert all(e["message"] for e in payload["errors"])
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def codes(api: Api, as_user: str, flt: dict[str, Any] | None = None) -> list[str]:
    return [n["code"] for n in (await api.data(UNITS, {"f": flt}, as_user=as_user))["units"]["nodes"]]


async def count(api: Api, as_user: str) -> int:
    return (await api.data(COUNT, as_user=as_user))["units"]["totalCount"]


@pytest.fixture
async def tree(api: Api) -> Api:
    await api.seed(small_tree(), small_users())
    return api


# -- 1. unitCreate ---------------------------------------------------------------------------


async def test_create_returns_the_unit_and_it_is_visible_exactly_in_scope(tree: Api) -> None:
    unit_ids = await ids(tree)
    before = await tree_state(tree)
    created = ok(await mutate(tree, "unitCreate", {"parentId": unit_ids["P01-C01"], "code": "P01-C01-K02", "name": "  Chi bộ thôn Tây  ", "kind": "cell"}, as_user="p01.admin"))
    assert {k: v for k, v in created.items() if k != "id"} == {
        "code": "P01-C01-K02",
        "name": "Chi bộ thôn Tây",  # trimmed
        "kind": "cell",
        "depth": 4,
        "version": 1,
        "archived": False,
        "parent": {"code": "P01-C01"},
        "ancestors": [{"code": "TW"}, {"code": "P01"}, {"code": "P01-C01"}],
    }
    after = await tree_state(tree)
    assert set(after) == set(before) | {"P01-C01-K02"}
    assert {c: s for c, s in after.items() if c != "P01-C01-K02"} == before  # nothing else touched

    covering = ["admin", "tw.viewer", "p01.admin", "p01.manager", "p01.c01.officer"]
    for username in covering:
        assert "P01-C01-K02" in await codes(tree, username), username
        found = await tree.data("query($id: ID!) { node(id: $id) { ... on Unit { code } } }", {"id": created["id"]}, as_user=username)
        assert found["node"] == {"code": "P01-C01-K02"}, username
    for username in ("p02.admin", "p02.manager"):
        assert "P01-C01-K02" not in await codes(tree, username), username
        assert (await tree.data(BY_CODE, {"c": "P01-C01-K02"}, as_user=username))["unit"] is None
        hidden = await tree.data("query($id: ID!) { node(id: $id) { id } }", {"id": created["id"]}, as_user=username)
        assert hidden["node"] is None
    assert await count(tree, "p02.manager") == 3
    assert await count(tree, "p01.manager") == 5


async def test_created_unit_gets_a_fresh_id_after_an_import(tree: Api) -> None:
    """The importer writes explicit ids; the next created unit must not collide with them."""
    unit_ids = await ids(tree)
    first = ok(await mutate(tree, "unitCreate", {"parentId": unit_ids["P02"], "code": "P02-C03", "name": "Xã Mới", "kind": "commune"}, as_user="admin"))
    second = ok(await mutate(tree, "unitCreate", {"parentId": first["id"], "code": "P02-C03-K01", "name": "Chi bộ Mới", "kind": "cell"}, as_user="p02.admin"))
    assert first["id"] not in unit_ids.values() and second["id"] != first["id"]
    assert second["depth"] == 4 and second["parent"] == {"code": "P02-C03"}
    assert second["ancestors"] == [{"code": "TW"}, {"code": "P02"}, {"code": "P02-C03"}]
    assert await codes(tree, "p02.manager") == ["P02", "P02-C01", "P02-C02", "P02-C03", "P02-C03-K01"]


# -- 2. unitCreate refusals ------------------------------------------------------------------


CREATE_REFUSALS = [
    # id, caller, parent code (or a special id), code, name, kind, expected (field, code) list
    ("duplicate code", "admin", "P01", "P02-C01", "Trùng mã", "commune", [("code", "DUPLICATE")]),
    ("duplicate code of the root", "admin", "P02", "TW", "Trùng mã", "commune", [("code", "DUPLICATE")]),
    ("unknown parent", "admin", "<missing>", "P09-C01", "Không cha", "commune", [("parentId", "NOT_FOUND")]),
    ("parent is a user id", "admin", "<user>", "P09-C01", "Cha là người", "commune", [("parentId", "INVALID_ID")]),
    ("parent is garbage", "admin", "<garbage>", "P09-C01", "Cha rác", "commune", [("parentId", "INVALID_ID")]),
    ("code with a space", "admin", "P01", "P01 C03", "Mã sai", "commune", [("code", "INVALID")]),
    ("code starting with a dash", "admin", "P01", "-P01C03", "Mã sai", "commune", [("code", "INVALID")]),
    ("code with diacritics", "admin", "P01", "P01-Đ03", "Mã sai", "commune", [("code", "INVALID")]),
    ("code of 65 characters", "admin", "P01", "X" * 65, "Mã dài", "commune", [("code", "INVALID")]),
    ("empty code", "admin", "P01", "", "Không mã", "commune", [("code", "REQUIRED")]),
    ("empty name", "admin", "P01", "P01-C03", "", "commune", [("name", "REQUIRED")]),
    ("blank name", "admin", "P01", "P01-C03", "   ", "commune", [("name", "REQUIRED")]),
    ("name too long", "admin", "P01", "P01-C03", "x" * 256, "commune", [("name", "TOO_LONG")]),
    ("empty code and name", "admin", "P01", "", "", "commune", [("code", "REQUIRED"), ("name", "REQUIRED")]),
    ("unknown kind", "admin", "P01", "P01-C03", "Phường mới", "ward", [("kind", "INVALID")]),
    ("manager may read but not create", "p01.manager", "P01", "P01-C03", "Xã mới", "commune", [("parentId", "FORBIDDEN")]),
    ("officer may read but not create", "p01.c01.officer", "P01-C01", "P01-C01-K09", "Chi bộ", "cell", [("parentId", "FORBIDDEN")]),
    ("admin of P02 under P01", "p02.admin", "P01", "P01-C03", "Xã mới", "commune", [("parentId", "NOT_FOUND")]),
    ("admin of P01 under the root", "p01.admin", "TW", "P03", "Tỉnh mới", "province", [("parentId", "NOT_FOUND")]),
]


@pytest.mark.parametrize(("caller", "parent", "code", "name", "kind", "expected"), [c[1:] for c in CREATE_REFUSALS], ids=[c[0] for c in CREATE_REFUSALS])
async def test_create_refusals_change_nothing(tree: Api, caller: str, parent: str, code: str, name: str, kind: str, expected: list[tuple[str, str]]) -> None:
    if parent == "<missing>":
        parent_id = MISSING_UNIT_ID
    elif parent == "<user>":
        parent_id = (await tree.data("{ me { user { id } } }", as_user="admin"))["me"]["user"]["id"]
    elif parent == "<garbage>":
        parent_id = "not-an-id"
    else:
        parent_id = await unit_id(tree, parent)
        # the caller can read the parent (so FORBIDDEN is about the verb) unless it is out of scope
        visible = (await tree.data(BY_CODE, {"c": parent}, as_user=caller))["unit"] is not None
        assert visible == (expected != [("parentId", "NOT_FOUND")])
    before = await tree_state(tree)
    payload = await mutate(tree, "unitCreate", {"parentId": parent_id, "code": code, "name": name, "kind": kind}, as_user=caller)
    assert refused(payload) == expected
    assert await tree_state(tree) == before


async def test_create_under_archived_parent_is_refused(tree: Api) -> None:
    cell = await unit_id(tree, "P01-C01-K01")
    ok(await mutate(tree, "unitArchive", {"id": cell, "version": 1}, as_user="admin"))
    before = await tree_state(tree)
    assert before["P01-C01-K01"]["archived"] is True
    payload = await mutate(tree, "unitCreate", {"parentId": cell, "code": "P01-C01-K01-X", "name": "Tổ mới", "kind": "cell"}, as_user="admin")
    assert refused(payload) == [("parentId", "ARCHIVED")]
    assert await tree_state(tree) == before


async def test_unknown_parent_and_out_of_scope_parent_answer_alike(tree: Api) -> None:
    p01 = await unit_id(tree, "P01")
    hidden = await mutate(tree, "unitCreate", {"parentId": p01, "code": "X1", "name": "X", "kind": "commune"}, as_user="p02.admin")
    missing = await mutate(tree, "unitCreate", {"parentId": MISSING_UNIT_ID, "code": "X1", "name": "X", "kind": "commune"}, as_user="p02.admin")
    assert hidden == missing


# -- 3. unitUpdate ---------------------------------------------------------------------------


async def test_rename_with_current_version_then_stale_version_conflicts(tree: Api) -> None:
    commune = await tree.data(BY_CODE, {"c": "P02-C01"}, as_user="p02.admin")
    assert commune["unit"]["version"] == 1
    before = await tree_state(tree)
    renamed = ok(await mutate(tree, "unitUpdate", {"id": commune["unit"]["id"], "version": 1, "name": " Phường Quảng Đức "}, as_user="p02.admin"))
    assert renamed["name"] == "Phường Quảng Đức"
    assert renamed["version"] == 2
    assert (renamed["code"], renamed["kind"], renamed["depth"], renamed["parent"]) == ("P02-C01", "commune", 3, {"code": "P02"})
    after = await tree_state(tree)
    assert {c: s for c, s in after.items() if c != "P02-C01"} == {c: s for c, s in before.items() if c != "P02-C01"}
    assert after["P02-C01"]["name"] == "Phường Quảng Đức" and after["P02-C01"]["version"] == 2

    # someone still holding version 1 is refused, and nothing changes
    stale = await mutate(tree, "unitUpdate", {"id": commune["unit"]["id"], "version": 1, "name": "Tên cũ đè lên"}, as_user="admin")
    assert refused(stale) == [("version", "CONFLICT")]
    assert await tree_state(tree) == after

    # a version from the future is just as stale
    future = await mutate(tree, "unitUpdate", {"id": commune["unit"]["id"], "version": 3, "kind": "department"}, as_user="admin")
    assert refused(future) == [("version", "CONFLICT")]
    assert await tree_state(tree) == after


async def test_rename_is_found_by_search_ignoring_diacritics(tree: Api) -> None:
    commune = await unit_id(tree, "P02-C01")
    assert await codes(tree, "admin", {"search": "dong ha"}) == ["P02-C01"]
    ok(await mutate(tree, "unitUpdate", {"id": commune, "version": 1, "name": "Phường Quảng Đức"}, as_user="admin"))
    for search in ("quang duc", "QUẢNG ĐỨC", "Quang Đuc", "phuong quang"):
        assert await codes(tree, "admin", {"search": search}) == ["P02-C01"], search
    assert await codes(tree, "p02.manager", {"search": "quang duc"}) == ["P02-C01"]
    assert await codes(tree, "p01.manager", {"search": "quang duc"}) == []
    assert await codes(tree, "admin", {"search": "dong ha"}) == []  # the old name is gone from search


@pytest.mark.parametrize(
    ("caller", "code", "change", "expected"),
    [
        ("p02.manager", "P02-C01", {"name": "Tên mới"}, [("id", "FORBIDDEN")]),
        ("p01.admin", "P02-C01", {"name": "Tên mới"}, [("id", "NOT_FOUND")]),
        ("admin", "P02-C01", {"name": "  "}, [("name", "REQUIRED")]),
        ("admin", "P02-C01", {"kind": "ward"}, [("kind", "INVALID")]),
    ],
    ids=["manager", "out of scope", "blank name", "unknown kind"],
)
async def test_update_refusals_change_nothing(tree: Api, caller: str, code: str, change: dict[str, str], expected: list[tuple[str, str]]) -> None:
    target = await unit_id(tree, code)
    before = await tree_state(tree)
    assert refused(await mutate(tree, "unitUpdate", {"id": target, "version": await current_version(tree, target), **change}, as_user=caller)) == expected
    assert await tree_state(tree) == before


# -- 4. unitMove -----------------------------------------------------------------------------


async def test_move_subtree_updates_depth_parent_ancestors_and_scope(tree: Api) -> None:
    unit_ids = await ids(tree)
    ok(await mutate(tree, "unitCreate", {"parentId": unit_ids["P01-C02"], "code": "P01-C02-K01", "name": "Chi bộ Tân Phong", "kind": "cell"}, as_user="admin"))
    before = await tree_state(tree)
    assert await codes(tree, "p01.manager") == ["P01", "P01-C01", "P01-C01-K01", "P01-C02", "P01-C02-K01"]

    moved = ok(await mutate(tree, "unitMove", {"id": unit_ids["P01-C02"], "parentId": unit_ids["P02"], "version": 1}, as_user="admin"))
    assert (moved["code"], moved["depth"], moved["parent"], moved["version"]) == ("P01-C02", 3, {"code": "P02"}, 2)
    assert moved["ancestors"] == [{"code": "TW"}, {"code": "P02"}]

    after = await tree_state(tree)
    assert after["P01-C02-K01"]["depth"] == 4
    assert after["P01-C02-K01"]["parent"] == {"code": "P01-C02"}
    assert after["P01-C02-K01"]["ancestors"] == [{"code": "TW"}, {"code": "P02"}, {"code": "P01-C02"}]
    assert after["P01-C02-K01"]["version"] == 2
    untouched = set(before) - {"P01-C02", "P01-C02-K01"}
    assert {c: after[c] for c in untouched} == {c: before[c] for c in untouched}

    parents = await tree.data('{ p01: unit(code: "P01") { children { nodes { code } } } p02: unit(code: "P02") { children { nodes { code } } descendants { totalCount } } }', as_user="admin")
    assert parents["p01"]["children"]["nodes"] == [{"code": "P01-C01"}]
    assert parents["p02"]["children"]["nodes"] == [{"code": "P01-C02"}, {"code": "P02-C01"}, {"code": "P02-C02"}]
    assert parents["p02"]["descendants"]["totalCount"] == 4

    assert await codes(tree, "p01.manager") == ["P01", "P01-C01", "P01-C01-K01"]
    assert (await tree.data(BY_CODE, {"c": "P01-C02-K01"}, as_user="p01.manager"))["unit"] is None
    assert await codes(tree, "p02.manager") == ["P01-C02", "P01-C02-K01", "P02", "P02-C01", "P02-C02"]
    seen = await tree.data(BY_CODE, {"c": "P01-C02-K01"}, as_user="p02.manager")
    assert seen["unit"]["parent"] == {"code": "P01-C02"} and seen["unit"]["depth"] == 4
    assert await codes(tree, "p02.manager", {"search": "tan phong"}) == ["P01-C02", "P01-C02-K01"]

    # a unit created under the moved unit afterwards gets the new path
    below = ok(await mutate(tree, "unitCreate", {"parentId": unit_ids["P01-C02"], "code": "P01-C02-K02", "name": "Chi bộ 2", "kind": "cell"}, as_user="p02.admin"))
    assert below["ancestors"] == [{"code": "TW"}, {"code": "P02"}, {"code": "P01-C02"}] and below["depth"] == 4
    assert_is_tree(await sql_state(tree))


async def test_move_deeper_and_back_shifts_depths(tree: Api) -> None:
    unit_ids = await ids(tree)
    moved = ok(await mutate(tree, "unitMove", {"id": unit_ids["P01-C01"], "parentId": unit_ids["P02-C02"], "version": 1}, as_user="admin"))
    assert moved["depth"] == 4
    cell = (await tree.data(BY_CODE, {"c": "P01-C01-K01"}, as_user="admin"))["unit"]
    assert cell["depth"] == 5 and [a["code"] for a in cell["ancestors"]] == ["TW", "P02", "P02-C02", "P01-C01"]
    back = ok(await mutate(tree, "unitMove", {"id": unit_ids["P01-C01"], "parentId": unit_ids["P01"], "version": 2}, as_user="admin"))
    assert (back["depth"], back["version"], back["parent"]) == (3, 3, {"code": "P01"})
    cell = (await tree.data(BY_CODE, {"c": "P01-C01-K01"}, as_user="p01.c01.officer"))["unit"]
    assert cell["depth"] == 4 and [a["code"] for a in cell["ancestors"]] == ["TW", "P01", "P01-C01"]
    assert_is_tree(await sql_state(tree))


async def test_move_to_current_parent_changes_nothing(tree: Api) -> None:
    unit_ids = await ids(tree)
    before = await tree_state(tree)
    same = ok(await mutate(tree, "unitMove", {"id": unit_ids["P01-C02"], "parentId": unit_ids["P01"], "version": 1}, as_user="admin"))
    assert (same["depth"], same["version"], same["parent"]) == (3, 1, {"code": "P01"})
    assert await tree_state(tree) == before


async def test_mutations_in_one_operation_see_each_others_moves(tree: Api) -> None:
    """GraphQL runs mutation fields in order on one request session: a unit read by the first
    (and cached by its loaders) must not keep a stale path when the third writes under it."""
    unit_ids = await ids(tree)
    query = """mutation($k: ID!, $c: ID!, $p: ID!, $v: Int!) {
      a: unitCreate(input: {parentId: $k, code: "X1", name: "Tổ 1", kind: "cell"}) { unit { depth parent { code depth } } errors { code } }
      b: unitMove(input: {id: $c, parentId: $p, version: $v}) { unit { depth } errors { code } }
      c: unitCreate(input: {parentId: $k, code: "X2", name: "Tổ 2", kind: "cell"}) { unit { depth ancestors { code } parent { depth } } errors { code } }
    }"""
    out = await tree.data(query, {"k": unit_ids["P01-C01-K01"], "c": unit_ids["P01-C01"], "p": unit_ids["P02-C02"], "v": await current_version(tree, unit_ids["P01-C01"])}, as_user="admin")
    assert out["a"] == {"unit": {"depth": 5, "parent": {"code": "P01-C01-K01", "depth": 4}}, "errors": []}
    assert out["b"] == {"unit": {"depth": 4}, "errors": []}
    assert out["c"] == {"unit": {"depth": 6, "ancestors": [{"code": c} for c in ("TW", "P02", "P02-C02", "P01-C01", "P01-C01-K01")], "parent": {"depth": 5}}, "errors": []}
    assert_is_tree(await sql_state(tree))
    state = await tree_state(tree)
    assert (state["X1"]["depth"], state["X2"]["depth"]) == (6, 6)


MOVE_REFUSALS = [
    ("under its own child", "admin", "P01", "P01-C01", [("parentId", "CYCLE")]),
    ("under its own grandchild", "admin", "P01", "P01-C01-K01", [("parentId", "CYCLE")]),
    ("under itself", "admin", "P01-C01", "P01-C01", [("parentId", "CYCLE")]),
    ("the root", "admin", "TW", "P01", [("id", "INVALID")]),
    ("the root under itself", "admin", "TW", "TW", [("id", "INVALID")]),
    ("admin of P01 to a parent out of scope", "p01.admin", "P01-C01", "P02", [("parentId", "NOT_FOUND")]),
    ("admin of P01 moving a unit out of scope", "p01.admin", "P02-C01", "P01", [("id", "NOT_FOUND")]),
    ("admin of P01 moving its own grant unit away", "p01.admin", "P01", "P02", [("parentId", "NOT_FOUND")]),
    ("manager", "p01.manager", "P01-C02", "P01-C01", [("id", "FORBIDDEN")]),
    ("unknown parent", "admin", "P01-C02", "<missing>", [("parentId", "NOT_FOUND")]),
    ("parent is a user id", "admin", "P01-C02", "<user>", [("parentId", "INVALID_ID")]),
]


@pytest.mark.parametrize(("caller", "code", "parent", "expected"), [c[1:] for c in MOVE_REFUSALS], ids=[c[0] for c in MOVE_REFUSALS])
async def test_move_refusals_change_nothing(tree: Api, caller: str, code: str, parent: str, expected: list[tuple[str, str]]) -> None:
    unit_ids = await ids(tree)
    if parent == "<missing>":
        parent_id = MISSING_UNIT_ID
    elif parent == "<user>":
        parent_id = (await tree.data("{ me { user { id } } }", as_user="admin"))["me"]["user"]["id"]
    else:
        parent_id = unit_ids[parent]
    before = await tree_state(tree)
    assert refused(await mutate(tree, "unitMove", {"id": unit_ids[code], "parentId": parent_id, "version": await current_version(tree, unit_ids[code])}, as_user=caller)) == expected
    assert await tree_state(tree) == before


async def test_move_with_stale_version_or_under_archived_parent_is_refused(tree: Api) -> None:
    unit_ids = await ids(tree)
    ok(await mutate(tree, "unitUpdate", {"id": unit_ids["P01-C02"], "version": 1, "name": "Xã Tân Phong mới"}, as_user="admin"))  # now version 2
    ok(await mutate(tree, "unitArchive", {"id": unit_ids["P02-C02"], "version": 1}, as_user="admin"))
    before = await tree_state(tree)
    stale = await mutate(tree, "unitMove", {"id": unit_ids["P01-C02"], "parentId": unit_ids["P02"], "version": 1}, as_user="admin")
    assert refused(stale) == [("version", "CONFLICT")]
    archived = await mutate(tree, "unitMove", {"id": unit_ids["P01-C02"], "parentId": unit_ids["P02-C02"], "version": 2}, as_user="admin")
    assert refused(archived) == [("parentId", "ARCHIVED")]
    assert await tree_state(tree) == before


# -- 5. moving a subtree of 1,000 units -------------------------------------------------------


def big_tree() -> tuple[list[Any], list[Any]]:
    """TW -> P01, P02; P01 -> P01-C01, BIG; P02 -> P02-C01, SMALL.

    The BIG subtree has exactly 1,000 units: BIG itself plus 999 below it
    (9 children x (1 + 10 grandchildren x (1 + 10 great-grandchildren)) = 9 + 90 + 900 = 999).
    SMALL has 10 units: SMALL plus 9 children.
    """
    units = [
        unit("TW", None, "central"),
        unit("P01", "TW", "province", "Thành phố Hà Nội"),
        unit("P01-C01", "P01", "commune"),
        unit("P02", "TW", "province", "Tỉnh Lào Cai"),
        unit("P02-C01", "P02", "commune"),
        unit("BIG", "P01", "department", "Ban Tổ chức"),
        unit("SMALL", "P02", "department"),
    ]
    units += [unit(f"SMALL-{i}", "SMALL", "department") for i in range(1, 10)]
    for a in range(1, 10):
        child = f"BIG-{a}"
        units.append(unit(child, "BIG", "department"))
        for b in range(1, 11):
            grandchild = f"{child}-{b:02d}"
            units.append(unit(grandchild, child, "commune"))
            units += [unit(f"{grandchild}-{c:02d}", grandchild, "cell") for c in range(1, 11)]
    users = [
        user("admin", "TW", "admin"),
        user("p01.manager", "P01", "manager"),
        user("p02.manager", "P02", "manager"),
        user("p01.c01.viewer", "P01-C01", "viewer"),
        user("deep.officer", "BIG-7-04-09", "officer"),
    ]
    return units, users


class TransactionLog:
    """Which connection began, ran which statement, and committed or rolled back, in order."""

    def __init__(self, api: Api) -> None:
        self.events: list[tuple[str, int, str]] = []
        self.counter = StatementCounter(api.engine)
        engine = api.engine.sync_engine
        event.listen(engine, "begin", lambda conn: self.events.append(("begin", id(conn.connection.dbapi_connection), "")))
        event.listen(engine, "commit", lambda conn: self.events.append(("commit", id(conn.connection.dbapi_connection), "")))
        event.listen(engine, "rollback", lambda conn: self.events.append(("rollback", id(conn.connection.dbapi_connection), "")))
        event.listen(engine, "before_cursor_execute", lambda conn, cursor, stmt, *a: self.events.append(("sql", id(conn.connection.dbapi_connection), stmt)))

    def updates(self) -> list[str]:
        return [s for s in self.counter.statements if s.lstrip().upper().startswith("UPDATE")]

    def commits(self) -> int:
        return sum(1 for kind, _, _ in self.events if kind == "commit")

    def transaction_of_updates(self) -> list[tuple[str, int, str]]:
        """The begin..commit span holding the UPDATEs: they must all share one."""
        spans: list[list[tuple[str, int, str]]] = []
        open_spans: dict[int, list[tuple[str, int, str]]] = {}
        for kind, conn, stmt in self.events:
            if kind == "begin":
                open_spans[conn] = [(kind, conn, stmt)]
            elif kind in ("commit", "rollback") and conn in open_spans:
                spans.append(open_spans.pop(conn) + [(kind, conn, stmt)])
            elif kind == "sql" and conn in open_spans:
                open_spans[conn].append((kind, conn, stmt))
        holding = [s for s in spans if any(k == "sql" and st.lstrip().upper().startswith("UPDATE") for k, _, st in s)]
        assert len(holding) == 1, f"the UPDATEs ran in {len(holding)} transactions"
        return holding[0]


@pytest.mark.committing("TransactionLog proves the move is one transaction by the engine's begin and commit events, which savepoints do not fire")
async def test_moving_a_1000_unit_subtree_is_one_transaction_and_scope_follows(api: Api) -> None:
    units, users = big_tree()
    await api.seed(units, users)
    moving = {u.code for u in units if u.code == "BIG" or u.code.startswith("BIG-")}
    assert len(moving) == 1000

    big = (await api.data('{ unit(code: "BIG") { id version descendants(first: 1) { totalCount } } }', as_user="admin"))["unit"]
    assert big["descendants"]["totalCount"] == 999
    small = await unit_id(api, "SMALL")
    p02_c01 = await unit_id(api, "P02-C01")
    deep = await unit_id(api, "BIG-7-04-09")
    before_counts = {name: await count(api, name) for name in ("admin", "p01.manager", "p02.manager", "p01.c01.viewer", "deep.officer")}
    assert before_counts == {"admin": 1015, "p01.manager": 1002, "p02.manager": 12, "p01.c01.viewer": 1, "deep.officer": 1}

    # A failing move (BIG under one of its own descendants) leaves every row, all 1,000 paths included, untouched.
    rows_before = await sql_state(api)
    assert refused(await mutate(api, "unitMove", {"id": big["id"], "parentId": deep, "version": big["version"]}, as_user="admin", fields="code")) == [("parentId", "CYCLE")]
    assert await sql_state(api) == rows_before

    # Moving a 10-unit subtree, then the 1,000-unit one: the same statements, UPDATEs included.
    fields = "code depth version parent { code }"
    small_log = TransactionLog(api)
    small_moved = ok(await mutate(api, "unitMove", {"id": small, "parentId": p02_c01, "version": 1}, as_user="admin", fields=fields))
    assert small_moved == {"code": "SMALL", "depth": 4, "version": 2, "parent": {"code": "P02-C01"}}
    small_updates, small_total = small_log.updates(), small_log.counter.count
    rows_before = await sql_state(api)

    big_log = TransactionLog(api)
    moved = ok(await mutate(api, "unitMove", {"id": big["id"], "parentId": p02_c01, "version": big["version"]}, as_user="admin", fields=fields))
    big_updates, big_total = big_log.updates(), big_log.counter.count
    assert moved == {"code": "BIG", "depth": 4, "version": big["version"] + 1, "parent": {"code": "P02-C01"}}

    assert len(big_updates) == len(small_updates), (big_updates, small_updates)
    assert len(big_updates) == 2, big_updates  # "one statement" for the subtree (paths, depths, versions), one for the parent link
    assert big_total == small_total, (big_log.counter.statements, small_log.counter.statements)
    span = big_log.transaction_of_updates()
    assert span[-1][0] == "commit"
    assert big_log.commits() == 1  # the whole move committed once

    # Every row of the subtree moved (path, depth +1, version +1); nothing else changed.
    rows_after = await sql_state(api)
    assert_is_tree(rows_after)
    old = {r[1]: r for r in rows_before}
    new = {r[1]: r for r in rows_after}
    assert set(old) == set(new)
    for code in old:
        if code in moving:
            assert new[code][4] != old[code][4] and new[code][5] == old[code][5] + 1 and new[code][6] == old[code][6] + 1, code
            assert new[code][4].startswith(new["P02-C01"][4])
        else:
            assert new[code] == old[code], code

    after_counts = {name: await count(api, name) for name in before_counts}
    assert after_counts == {
        "admin": 1015,
        "p01.manager": before_counts["p01.manager"] - 1000,
        "p02.manager": before_counts["p02.manager"] + 1000,
        "p01.c01.viewer": 1,
        "deep.officer": 1,
    }
    me = await api.data("{ me { unit { code depth parent { code } } ancestors { code depth } } }", as_user="deep.officer")
    assert me["me"]["unit"] == {"code": "BIG-7-04-09", "depth": 7, "parent": None}
    assert me["me"]["ancestors"] == [
        {"code": "TW", "depth": 1},
        {"code": "P02", "depth": 2},
        {"code": "P02-C01", "depth": 3},
        {"code": "BIG", "depth": 4},
        {"code": "BIG-7", "depth": 5},
        {"code": "BIG-7-04", "depth": 6},
    ]
    assert await codes(api, "deep.officer") == ["BIG-7-04-09"]
    for name in ("admin", "p02.manager"):
        data = await api.data('{ unit(code: "BIG") { depth descendants(first: 1) { totalCount } } }', as_user=name)
        assert data["unit"] == {"depth": 4, "descendants": {"totalCount": 999}}, name
    assert (await api.data('{ unit(code: "BIG") { code } }', as_user="p01.manager"))["unit"] is None
    assert (await api.data('{ unit(code: "BIG-9-10-10") { code } }', as_user="p01.manager"))["unit"] is None
    assert (await api.data('{ unit(code: "BIG-9-10-10") { depth } }', as_user="p02.manager"))["unit"] == {"depth": 7}
    p02_c01_view = await api.data('{ unit(code: "P02-C01") { descendants(first: 1) { totalCount } } }', as_user="p02.manager")
    assert p02_c01_view["unit"]["descendants"]["totalCount"] == 1000 + 10


# -- 6. unitArchive --------------------------------------------------------------------------


async def test_archive_with_active_children_needs_cascade(tree: Api) -> None:
    commune = await unit_id(tree, "P01-C01")
    before = await tree_state(tree)
    assert refused(await mutate(tree, "unitArchive", {"id": commune, "version": 1}, as_user="admin")) == [("id", "HAS_CHILDREN")]
    assert refused(await mutate(tree, "unitArchive", {"id": commune, "cascade": False, "version": 1}, as_user="p01.admin")) == [("id", "HAS_CHILDREN")]
    assert await tree_state(tree) == before

    archived = ok(await mutate(tree, "unitArchive", {"id": commune, "cascade": True, "version": 1}, as_user="p01.admin"))
    assert (archived["code"], archived["archived"], archived["version"]) == ("P01-C01", True, 2)
    after = await tree_state(tree)
    assert after["P01-C01-K01"]["archived"] is True and after["P01-C01-K01"]["version"] == 2
    untouched = set(before) - {"P01-C01", "P01-C01-K01"}
    assert {c: after[c] for c in untouched} == {c: before[c] for c in untouched}

    # still readable by code and with includeArchived, hidden from default lists
    for name in ("admin", "p01.manager", "p01.c01.officer"):
        for code in ("P01-C01", "P01-C01-K01"):
            seen = (await tree.data(BY_CODE, {"c": code}, as_user=name))["unit"]
            assert seen is not None and seen["archived"] is True, (name, code)
    assert await codes(tree, "p01.manager") == ["P01", "P01-C02"]
    assert await codes(tree, "p01.manager", {"includeArchived": True}) == ["P01", "P01-C01", "P01-C01-K01", "P01-C02"]
    assert await codes(tree, "p01.c01.officer") == []
    assert await codes(tree, "p01.c01.officer", {"includeArchived": True}) == ["P01-C01", "P01-C01-K01"]
    kids = await tree.data('{ unit(code: "P01") { children { nodes { code } } all: children(includeArchived: true) { nodes { code archived } } } }', as_user="admin")
    assert kids["unit"]["children"]["nodes"] == [{"code": "P01-C02"}]
    assert kids["unit"]["all"]["nodes"] == [{"code": "P01-C01", "archived": True}, {"code": "P01-C02", "archived": False}]

    # archiving again is a no-op
    again = ok(await mutate(tree, "unitArchive", {"id": commune, "cascade": True, "version": 2}, as_user="admin"))
    assert again["version"] == 2
    assert await tree_state(tree) == after


async def test_archive_leaf_then_parent_without_cascade(tree: Api) -> None:
    unit_ids = await ids(tree)
    leaf = ok(await mutate(tree, "unitArchive", {"id": unit_ids["P01-C01-K01"], "version": 1}, as_user="admin"))
    assert (leaf["archived"], leaf["version"]) == (True, 2)
    parent = ok(await mutate(tree, "unitArchive", {"id": unit_ids["P01-C01"], "version": 1}, as_user="admin"))  # only archived children left
    assert (parent["archived"], parent["version"]) == (True, 2)
    after = await tree_state(tree)
    assert after["P01-C01-K01"]["version"] == 2  # not bumped a second time


@pytest.mark.parametrize(
    ("caller", "code", "input", "expected"),
    [
        ("admin", "TW", {"cascade": True}, [("id", "INVALID")]),
        ("p01.manager", "P01-C02", {}, [("id", "FORBIDDEN")]),
        ("p02.admin", "P01-C02", {}, [("id", "NOT_FOUND")]),
        ("admin", "P01-C02", {"version": 7}, [("version", "CONFLICT")]),
    ],
    ids=["root", "manager", "out of scope", "stale version"],
)
async def test_archive_refusals_change_nothing(tree: Api, caller: str, code: str, input: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    target = await unit_id(tree, code)
    before = await tree_state(tree)
    assert refused(await mutate(tree, "unitArchive", {"id": target, "version": await current_version(tree, target), **input}, as_user=caller)) == expected
    assert await tree_state(tree) == before


# -- 6b. every update requires the version read ----------------------------------------------

UPDATE_INPUTS = (
    "UnitUpdateInput", "UnitMoveInput", "UnitArchiveInput", "TaskUpdateInput", "MilestoneUpdateInput",
    "ResolutionUpdateInput", "ObjectiveUpdateInput", "KeyResultUpdateInput", "KpiUpdateInput", "MeasurementCorrectInput",
)
INPUT_FIELDS = "query($n: String!) { __type(name: $n) { inputFields { name type { kind ofType { name } } } } }"


async def test_leaving_the_version_out_of_any_update_is_refused_before_anything_runs(tree: Api) -> None:
    """No update may silently overwrite a concurrent edit: every one of the ten update inputs requires `version: Int!`,
    so a request without it fails GraphQL validation (HTTP 200, `data` null, an error naming `version`) and writes nothing."""
    for name in UPDATE_INPUTS:
        fields = {f["name"]: f["type"] for f in (await tree.data(INPUT_FIELDS, {"n": name}, as_user="admin"))["__type"]["inputFields"]}
        assert fields["version"] == {"kind": "NON_NULL", "ofType": {"name": "Int"}}, name

    target = await unit_id(tree, "P02-C01")
    before = await tree_state(tree)
    async with tree.engine.connect() as conn:
        events_before = (await conn.execute(text("SELECT count(*) FROM audit_events"))).scalar_one()
    as_variable = await tree.gql("mutation($i: UnitUpdateInput!) { unitUpdate(input: $i) { unit { name } errors { code } } }",
                                 {"i": {"id": target, "name": "Ghi đè"}}, as_user="admin")
    inline = await tree.gql("mutation($id: ID!) { unitUpdate(input: {id: $id, name: \"Ghi đè\"}) { unit { name } errors { code } } }",
                            {"id": target}, as_user="admin")
    for body in (as_variable, inline):
        assert body["_status"] == 200 and body["data"] is None, body
        assert len(body["errors"]) == 1 and "version" in body["errors"][0]["message"] and "required" in body["errors"][0]["message"], body
    assert await tree_state(tree) == before
    async with tree.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM audit_events"))).scalar_one() == events_before


# -- 7. unitKindCreate -----------------------------------------------------------------------

KIND_CREATE = "mutation($i: UnitKindCreateInput!) { unitKindCreate(input: $i) { unitKind { code label } errors { field code message } } }"
KINDS = "{ unitKinds { code label } }"


async def test_kind_create_by_root_admin_then_used(tree: Api) -> None:
    kinds_before = (await tree.data(KINDS, as_user="admin"))["unitKinds"]
    assert "ward" not in [k["code"] for k in kinds_before]
    before = await tree_state(tree)

    # not the root admin: refused, and neither kinds nor units change
    for caller in ("p01.admin", "tw.viewer"):
        refusal = (await tree.data(KIND_CREATE, {"i": {"code": "ward", "label": "Phường"}}, as_user=caller))["unitKindCreate"]
        assert refusal["unitKind"] is None
        assert [(e["field"], e["code"]) for e in refusal["errors"]] == [(None, "FORBIDDEN")], caller
    assert (await tree.data(KINDS, as_user="admin"))["unitKinds"] == kinds_before

    created = (await tree.data(KIND_CREATE, {"i": {"code": "ward", "label": " Phường "}}, as_user="admin"))["unitKindCreate"]
    assert created == {"unitKind": {"code": "ward", "label": "Phường"}, "errors": []}
    kinds = (await tree.data(KINDS, as_user="p01.manager"))["unitKinds"]
    assert {"code": "ward", "label": "Phường"} in kinds and len(kinds) == len(kinds_before) + 1

    for code in ("ward", "province"):
        dup = (await tree.data(KIND_CREATE, {"i": {"code": code, "label": "Lặp"}}, as_user="admin"))["unitKindCreate"]
        assert dup["unitKind"] is None
        assert [(e["field"], e["code"]) for e in dup["errors"]] == [("code", "DUPLICATE")], code
    bad = (await tree.data(KIND_CREATE, {"i": {"code": "bad kind", "label": ""}}, as_user="admin"))["unitKindCreate"]
    assert [(e["field"], e["code"]) for e in bad["errors"]] == [("code", "INVALID"), ("label", "REQUIRED")]
    assert (await tree.data(KINDS, as_user="admin"))["unitKinds"] == kinds
    assert await tree_state(tree) == before

    # the new kind is usable, by a non-root admin too, and filterable
    p01 = await unit_id(tree, "P01")
    ward = ok(await mutate(tree, "unitCreate", {"parentId": p01, "code": "P01-W01", "name": "Phường Ba Đình", "kind": "ward"}, as_user="p01.admin"))
    assert (ward["kind"], ward["depth"], ward["parent"]) == ("ward", 3, {"code": "P01"})
    assert await codes(tree, "p01.manager", {"kind": "ward"}) == ["P01-W01"]
    assert await codes(tree, "p02.manager", {"kind": "ward"}) == []


# -- 8. concurrent moves (PostgreSQL) --------------------------------------------------------


@pytest.mark.committing("concurrent moves race for the tree in PostgreSQL")
async def test_concurrent_crossing_moves_never_form_a_cycle(backend: Backend, tree: Api) -> None:
    if backend.name != "postgresql":
        pytest.skip("concurrent writers are serialised by SQLite's single write lock; the race is PostgreSQL's")
    unit_ids = await ids(tree)
    a, b, p01 = unit_ids["P01-C01"], unit_ids["P01-C02"], unit_ids["P01"]
    move = "mutation($i: UnitMoveInput!) { unitMove(input: $i) { unit { code parent { code } } errors { field code } } }"
    outcomes: list[tuple[str, ...]] = []
    for round_ in range(6):
        version_a, version_b = await current_version(tree, a), await current_version(tree, b)  # read before the race: neither move changes the other's row
        first, second = await asyncio.gather(
            tree.gql(move, {"i": {"id": a, "parentId": b, "version": version_a}}, as_user="admin"),
            tree.gql(move, {"i": {"id": b, "parentId": a, "version": version_b}}, as_user="admin"),
        )
        payloads = []
        for body in (first, second):
            assert body["_status"] == 200 and not body.get("errors"), body
            payloads.append(body["data"]["unitMove"])
        winners = [p for p in payloads if p["unit"] is not None]
        losers = [p for p in payloads if p["unit"] is None]
        assert len(winners) == 1, (round_, payloads)  # at most one may win; serialised, exactly one does
        assert losers[0]["errors"] == [{"field": "parentId", "code": "CYCLE"}], (round_, payloads)
        outcomes.append(tuple(sorted(p["unit"]["code"] for p in winners)))

        rows = await sql_state(tree)
        assert_is_tree(rows)
        state = await tree_state(tree)
        for code, node in state.items():
            chain = [x["code"] for x in node["ancestors"]]
            assert code not in chain and len(chain) == node["depth"] - 1, (code, chain)
        winner = winners[0]["unit"]["code"]
        other = "P01-C02" if winner == "P01-C01" else "P01-C01"
        assert state[winner]["parent"] == {"code": other} and state[other]["parent"] == {"code": "P01"}
        # put the winner back for the next round
        ok(await mutate(tree, "unitMove", {"id": unit_ids[winner], "parentId": p01, "version": state[winner]["version"]}, as_user="admin"))
    assert_is_tree(await sql_state(tree))
