"""No N+1: the number of SQL statements depends on the query's shape, not on how many rows it returns."""

from __future__ import annotations

import pytest

from tests.support import Api, StatementCounter, unit, user

ACCEPTANCE_QUERY = """query($first: Int) { units(first: $first) { edges { node { code parent { code } children { nodes { code } } ancestors { code } } } } }"""

TREE_QUERY = """query($first: Int) { units(first: $first) { totalCount edges { node {
  code parent { code } children { nodes { code } } ancestors { code }
  descendants(first: 5) { totalCount nodes { code parent { code } } }
} } } }"""

USERS_QUERY = """query($first: Int) { users(first: $first) { nodes { username unit { code parent { code } } grants { role unit { code } } } } }"""


@pytest.fixture
async def wide(api: Api) -> Api:
    """TW, 10 provinces, 15 communes each, a cell under every commune: 311 units, 120 users."""
    units = [unit("TW", None, "central")]
    users = [user("admin", "TW", "admin")]
    for p in range(1, 11):
        units.append(unit(f"P{p:02d}", "TW", "province"))
        users.append(user(f"p{p:02d}.manager", f"P{p:02d}", "manager"))
        for c in range(1, 16):
            code = f"P{p:02d}-C{c:02d}"
            units += [unit(code, f"P{p:02d}", "commune"), unit(f"{code}-K01", code, "cell")]
            if c <= 11:
                users.append(user(f"p{p:02d}.c{c:02d}.officer", code, "officer"))
    await api.seed(units, users, passwords=False)
    return api


async def _count(api: Api, counter: StatementCounter, query: str, first: int, as_user: str) -> int:
    await api.token_for(as_user)  # resolve the user id outside the counted window
    counter.reset()
    data = await api.data(query, {"first": first}, as_user=as_user)
    rows = next(iter(data.values()))
    assert len(rows.get("edges", rows.get("nodes", []))) == first  # the large query really returns N rows
    return counter.count


async def test_acceptance_query_same_count_for_10_and_100(wide: Api, statements: StatementCounter) -> None:
    small = await _count(wide, statements, ACCEPTANCE_QUERY, 10, "admin")
    large = await _count(wide, statements, ACCEPTANCE_QUERY, 100, "admin")
    assert small == large, statements.statements
    selects = [s for s in statements.statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 5, selects  # the caller (user and grants), units, parents, children, ancestors


async def test_nested_connections_do_not_grow_with_n(wide: Api, statements: StatementCounter) -> None:
    small = await _count(wide, statements, TREE_QUERY, 10, "admin")
    large = await _count(wide, statements, TREE_QUERY, 100, "admin")
    # the caller (user and grants), page, count, then one batch each: parents, children, ancestors, descendants,
    # their counts. N=10 needs one batch more: a descendant's parent that is not yet in the loader's cache (at
    # N=100 they all are).
    assert (small, large) == (9, 8), statements.statements


async def test_scoped_caller_same_shape_same_count(wide: Api, statements: StatementCounter) -> None:
    await wide.token_for("p01.manager")
    statements.reset()
    data = await wide.data(TREE_QUERY, {"first": 31}, as_user="p01.manager")
    assert data["units"]["totalCount"] == 31  # P01, 15 communes, 15 cells
    scoped = statements.count
    admin = await _count(wide, statements, TREE_QUERY, 100, "admin")
    assert scoped == admin


async def test_users_query_statements_do_not_grow_with_n(wide: Api, statements: StatementCounter) -> None:
    small = await _count(wide, statements, USERS_QUERY, 10, "admin")
    large = await _count(wide, statements, USERS_QUERY, 100, "admin")
    assert small == large == 5, statements.statements  # the caller, page, then one batch each: units, grants, the grants' units
