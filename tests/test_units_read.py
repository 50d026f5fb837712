"""Reading the tree through GraphQL: scope per role and relation, ancestors, search, pagination."""

from __future__ import annotations

import pytest

from tests.support import Api, small_tree, small_users, unit

UNITS = "query($first: Int, $after: String, $filter: UnitFilterInput) { units(first: $first, after: $after, filter: $filter) { totalCount edges { node { code } } pageInfo { hasNextPage endCursor } } }"


async def codes(api: Api, user: str, filter: dict | None = None) -> list[str]:
    data = await api.data(UNITS, {"first": 100, "filter": filter}, as_user=user)
    return [e["node"]["code"] for e in data["units"]["edges"]]


@pytest.fixture
async def tree(api: Api) -> Api:
    await api.seed(small_tree(), small_users())
    return api


async def test_each_user_lists_exactly_its_subtree(tree: Api) -> None:
    assert await codes(tree, "admin") == sorted(u.code for u in small_tree())
    assert await codes(tree, "p01.manager") == ["P01", "P01-C01", "P01-C01-K01", "P01-C02"]
    assert await codes(tree, "p01.c01.officer") == ["P01-C01", "P01-C01-K01"]


@pytest.mark.parametrize(
    ("relation", "code", "visible"),
    [("own unit", "P01", True), ("child", "P01-C01", True), ("grandchild", "P01-C01-K01", True), ("sibling", "P02", False), ("nephew", "P02-C01", False), ("ancestor", "TW", False)],
)
async def test_unit_by_code_and_node_follow_scope(tree: Api, relation: str, code: str, visible: bool) -> None:
    by_code = await tree.data("query($c: String) { unit(code: $c) { id code } }", {"c": code}, as_user="p01.manager")
    admin_view = await tree.data("query($c: String) { unit(code: $c) { id } }", {"c": code}, as_user="admin")
    node = await tree.data("query($id: ID!) { node(id: $id) { id ... on Unit { code } } }", {"id": admin_view["unit"]["id"]}, as_user="p01.manager")
    if visible:
        assert by_code["unit"]["code"] == code and node["node"]["code"] == code
    else:
        assert by_code["unit"] is None and node["node"] is None, relation


async def test_out_of_scope_looks_exactly_like_missing(tree: Api) -> None:
    admin = await tree.data('{ unit(code: "P02") { id } }', as_user="admin")
    hidden = await tree.gql("query($id: ID!) { node(id: $id) { id } unit(id: $id) { code } }", {"id": admin["unit"]["id"]}, as_user="p01.manager")
    missing = await tree.gql("query($id: ID!) { node(id: $id) { id } unit(id: $id) { code } }", {"id": "VW5pdDo5OTk5OTk"}, as_user="p01.manager")
    hidden.pop("_status"), missing.pop("_status")
    assert hidden == missing == {"data": {"node": None, "unit": None}}


async def test_ancestors_show_own_chain_as_summary_only(tree: Api) -> None:
    data = await tree.data('{ me { ancestors { code name kind } unit { code parent { code } ancestors { code } } } }', as_user="p01.c01.officer")
    assert data["me"]["ancestors"] == [
        {"code": "TW", "name": "Ban Chấp hành Trung ương Đảng", "kind": "central"},
        {"code": "P01", "name": "Thành phố Hà Nội", "kind": "province"},
    ]
    assert data["me"]["unit"]["parent"] is None  # P01 is named, not readable as a Unit
    cell = await tree.data('{ unit(code: "P01-C01-K01") { ancestors { code } parent { code } } }', as_user="p01.c01.officer")
    assert [a["code"] for a in cell["unit"]["ancestors"]] == ["TW", "P01", "P01-C01"]
    assert cell["unit"]["parent"] == {"code": "P01-C01"}


async def test_children_descendants_and_depth(tree: Api) -> None:
    data = await tree.data(
        '{ unit(code: "P01") { depth children { nodes { code depth } } descendants(first: 2) { totalCount edges { node { code } } pageInfo { hasNextPage endCursor } } } }',
        as_user="admin",
    )
    unit = data["unit"]
    assert unit["depth"] == 2
    assert unit["children"]["nodes"] == [{"code": "P01-C01", "depth": 3}, {"code": "P01-C02", "depth": 3}]
    assert unit["descendants"]["totalCount"] == 3
    assert [e["node"]["code"] for e in unit["descendants"]["edges"]] == ["P01-C01", "P01-C01-K01"]
    assert unit["descendants"]["pageInfo"]["hasNextPage"] is True
    after = unit["descendants"]["pageInfo"]["endCursor"]
    rest = await tree.data('query($a: String) { unit(code: "P01") { descendants(first: 2, after: $a) { edges { node { code } } pageInfo { hasNextPage } } } }', {"a": after}, as_user="admin")
    assert [e["node"]["code"] for e in rest["unit"]["descendants"]["edges"]] == ["P01-C02"]
    assert rest["unit"]["descendants"]["pageInfo"]["hasNextPage"] is False


CHILDREN = """query($c: String, $first: Int!, $after: String, $all: Boolean!) { unit(code: $c) {
  children(first: $first, after: $after, includeArchived: $all) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { code archived } } nodes { code archived }
} } }"""


async def child_pages(api: Api, code: str, user: str, *, include_archived: bool) -> tuple[list[list[str]], set[int], list[bool]]:
    """Walks a unit's children 2 at a time: the codes of each page, the totalCounts seen, the archived flags in order."""
    pages: list[list[str]] = []
    totals: set[int] = set()
    archived: list[bool] = []
    after = None
    while True:
        data = await api.data(CHILDREN, {"c": code, "first": 2, "after": after, "all": include_archived}, as_user=user)
        children = data["unit"]["children"]
        edges, nodes, info = children["edges"], children["nodes"], children["pageInfo"]
        assert [e["node"] for e in edges] == nodes  # edges and nodes: the same page
        assert 1 <= len(nodes) <= 2, children
        assert info["endCursor"] == edges[-1]["cursor"]
        pages.append([n["code"] for n in nodes])
        archived += [n["archived"] for n in nodes]
        totals.add(children["totalCount"])
        assert len(pages) <= 10, pages  # never loops
        if not info["hasNextPage"]:
            return pages, totals, archived
        after = info["endCursor"]


async def test_children_are_paged_with_first_and_after(api: Api) -> None:
    """P01 gets five communes (C03 archived, after seeding): they are listed two at a time in code order, every page
    counting all of them, the archived one only with includeArchived: true."""
    extra = [unit(f"P01-C0{n}", "P01", "commune") for n in (3, 4, 5)]
    await api.seed([*small_tree(), *extra], small_users())
    admin = await api.data('{ unit(code: "P01-C03") { id version } }', as_user="admin")
    archive = "mutation($id: ID!, $v: Int!) { unitArchive(input: {id: $id, version: $v}) { unit { archived } errors { code } } }"
    result = await api.data(archive, {"id": admin["unit"]["id"], "v": admin["unit"]["version"]}, as_user="admin")
    assert result["unitArchive"] == {"unit": {"archived": True}, "errors": []}

    everyone = ["P01-C01", "P01-C02", "P01-C03", "P01-C04", "P01-C05"]
    active = [c for c in everyone if c != "P01-C03"]
    for user in ("admin", "p01.manager"):
        pages, totals, archived = await child_pages(api, "P01", user, include_archived=False)
        assert pages == [["P01-C01", "P01-C02"], ["P01-C04", "P01-C05"]], user  # a last page that is full: no next page
        assert [c for page in pages for c in page] == active and totals == {4} and not any(archived), user
        pages, totals, archived = await child_pages(api, "P01", user, include_archived=True)
        assert pages == [["P01-C01", "P01-C02"], ["P01-C03", "P01-C04"], ["P01-C05"]], user
        assert [c for page in pages for c in page] == everyone and totals == {5}, user
        assert archived == [c == "P01-C03" for c in everyone], user
        # one page of all of them, by default: the same list, nothing after it
        whole = await api.data('{ unit(code: "P01") { children { totalCount pageInfo { hasNextPage } nodes { code } } } }', as_user=user)
        assert whole["unit"]["children"] == {"totalCount": 4, "pageInfo": {"hasNextPage": False}, "nodes": [{"code": c} for c in active]}, user
    # a unit without children: an empty page
    leaf = await api.data(CHILDREN, {"c": "P01-C05", "first": 2, "after": None, "all": True}, as_user="admin")
    assert leaf["unit"]["children"] == {"totalCount": 0, "pageInfo": {"hasNextPage": False, "endCursor": None}, "edges": [], "nodes": []}


@pytest.mark.parametrize(("search", "expected"), [("ha noi", ["P01"]), ("HÀ NỘI", ["P01"]), ("dong", ["P01-C01-K01", "P02-C01"]), ("hoa an", ["P02-C02"]), ("p02-c0", ["P02-C01", "P02-C02"]), ("100%", [])])
async def test_search_ignores_case_and_diacritics(tree: Api, search: str, expected: list[str]) -> None:
    assert await codes(tree, "admin", {"search": search}) == expected


async def test_search_stays_in_scope(tree: Api) -> None:
    assert await codes(tree, "p01.manager", {"search": "dong"}) == ["P01-C01-K01"]


async def test_filter_by_kind_and_under(tree: Api) -> None:
    p02 = await tree.data('{ unit(code: "P02") { id } }', as_user="admin")
    assert await codes(tree, "admin", {"kind": "commune", "under": p02["unit"]["id"]}) == ["P02-C01", "P02-C02"]
    # under a unit the caller cannot see: nothing, as for a unit that does not exist
    assert await codes(tree, "p01.manager", {"under": p02["unit"]["id"]}) == []


async def test_pagination_walks_every_unit_once(tree: Api) -> None:
    seen, after = [], None
    while True:
        data = await tree.data(UNITS, {"first": 3, "after": after}, as_user="admin")
        seen += [e["node"]["code"] for e in data["units"]["edges"]]
        assert data["units"]["totalCount"] == 8
        if not data["units"]["pageInfo"]["hasNextPage"]:
            break
        after = data["units"]["pageInfo"]["endCursor"]
    assert seen == sorted(u.code for u in small_tree())


@pytest.mark.parametrize("first", [1000, 101, -1])
async def test_first_is_capped(tree: Api, first: int) -> None:
    body = await tree.gql(UNITS, {"first": first}, as_user="admin")
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "OUT_OF_RANGE", "field": "first", "limit": 100}  # refused before anything runs (schema.cost)


async def test_wrong_type_and_malformed_ids_are_clean_errors(tree: Api) -> None:
    me = await tree.data("{ me { user { id } } }", as_user="admin")
    for bad in (me["me"]["user"]["id"], "not-an-id", ""):
        body = await tree.gql("query($id: ID!) { unit(id: $id) { code } }", {"id": bad}, as_user="admin")
        assert body["errors"][0]["extensions"]["code"] == "INVALID_ID", bad
        assert body["data"] == {"unit": None}
    bad_cursor = await tree.gql(UNITS, {"after": "garbage"}, as_user="admin")
    assert bad_cursor["errors"][0]["extensions"]["code"] == "INVALID"


async def test_archived_units_hidden_by_default_but_kept(tree: Api) -> None:
    cell = await tree.data('{ unit(code: "P01-C01-K01") { id version } }', as_user="admin")
    result = await tree.data("mutation($id: ID!, $v: Int!) { unitArchive(input: {id: $id, version: $v}) { unit { archived } errors { code } } }", {"id": cell["unit"]["id"], "v": cell["unit"]["version"]}, as_user="admin")
    assert result["unitArchive"] == {"unit": {"archived": True}, "errors": []}
    assert "P01-C01-K01" not in await codes(tree, "p01.manager")
    assert "P01-C01-K01" in await codes(tree, "p01.manager", {"includeArchived": True})
    again = await tree.data('{ unit(code: "P01-C01-K01") { code archived } }', as_user="p01.manager")
    assert again["unit"] == {"code": "P01-C01-K01", "archived": True}
