"""The computed cost of a query (schema/cost.py): in every answer, and a query above the ceiling refused with
COST_LIMIT before any resolver runs (no SQL statement beyond the caller's).

The cost is checked against an independent count on random nestings of connections and lists: a connection
counts itself and `first` items (given as a literal, a variable or by default), a list without `first` counts
UNPAGED_LIST items per parent, an object one per parent, scalars nothing."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolute.schema.cost import MAX_COST, UNPAGED_LIST, operation_cost
from resolute.schema.documents import DOCUMENTS
from resolute.schema.pagination import DEFAULT_PAGE, MAX_PAGE
from resolute.schema.root import schema
from tests.support import Api, StatementCounter, unit, user

# a unit's relations: (field, the default of its `first`, a connection?) -- children and descendants are connections
# (children's `first` defaults to a full page), parent an object; ancestors, a plain list of summaries, ends a nesting
RELATIONS = st.sampled_from([("children", MAX_PAGE, True), ("parent", None, None), ("descendants", DEFAULT_PAGE, True), ("ancestors", None, False)])


@st.composite
def nestings(draw: st.DrawFn, depth: int = 0) -> tuple[str, list[tuple[str, int | None]]]:
    """A selection under a unit, and the shape an independent count walks: [(kind, size)]."""
    if depth >= 3 or draw(st.booleans()):
        return "code", []
    name, default, connection = draw(RELATIONS)
    if connection is False:  # a UnitSummary: nothing to nest below it
        return f"code {name} {{ code }}", [("list", None)]
    inner, shape = draw(nestings(depth + 1))
    if connection:
        first = draw(st.none() | st.integers(0, 100))
        argument = "" if first is None else f"(first: {first})"
        return f"code {name}{argument} {{ totalCount nodes {{ {inner} }} }}", [("connection", default if first is None else first), *shape]
    return f"code {name} {{ {inner} }}", [("object", None), *shape]


def independent_cost(first: int, shape: list[tuple[str, int | None]]) -> int:
    """units(first) counts 1 + first; then each level multiplies what is below by its size."""
    total, objects = 1 + first, first
    for kind, size in shape:
        if kind == "connection":
            total += objects + objects * int(size or 0)  # the connection objects, then their items
            objects *= int(size or 0)
        elif kind == "list":
            objects *= UNPAGED_LIST
            total += objects
        else:
            total += objects
    return total


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=st.integers(0, 100), nesting=nestings(), as_variable=st.booleans())
def test_the_cost_equals_an_independent_count(first: int, nesting: tuple[str, list[tuple[str, int | None]]], as_variable: bool) -> None:
    inner, shape = nesting
    if as_variable:
        text, variables = f"query($n: Int!) {{ units(first: $n) {{ totalCount nodes {{ {inner} }} }} }}", {"n": first}
    else:
        text, variables = f"{{ units(first: {first}) {{ totalCount nodes {{ {inner} }} }} }}", {}
    document = DOCUMENTS.parsed(text)
    assert operation_cost(schema._schema, document, None, variables) == independent_cost(first, shape), text


async def test_every_answer_has_its_cost_and_a_costly_query_runs_nothing(api: Api, statements: StatementCounter) -> None:
    await api.seed([unit("TW", None, "central"), unit("P1", "TW", "province")], [user("admin", "TW", "admin")])
    body = await api.gql("{ units(first: 10) { nodes { code children { nodes { code } } } } }", as_user="admin")
    # the units connection, 10 units, a children connection each, 100 children each (children's `first` by default)
    assert not body.get("errors") and api.last_cost == {"requested": 1 + 10 + 10 + 10 * MAX_PAGE, "limit": MAX_COST}

    costly = "{ units(first: 100) { nodes { children { nodes { children { nodes { code } } } } } } }"  # 1 + 100 + 100 + 10,000 + 10,000 + 1,000,000 objects
    statements.reset()
    await api.gql("{ __typename }", as_user="admin")
    baseline = statements.count  # the caller's account
    statements.reset()
    body = await api.gql(costly, as_user="admin")
    assert statements.count == baseline, statements.statements
    assert body["data"] is None and body["errors"][0]["extensions"] == {"code": "COST_LIMIT", "cost": 1_020_201, "limit": MAX_COST}
    assert "1,020,201 objects; the limit is 500,000" in body["errors"][0]["message"]
    assert api.last_cost == {"requested": 1_020_201, "limit": MAX_COST}

    # the same document with smaller pages is answered
    body = await api.gql("{ units(first: 4) { nodes { children { nodes { children { nodes { code } } } } } } }", as_user="admin")
    assert not body.get("errors") and api.last_cost == {"requested": 1 + 4 + 4 + 400 + 400 + 40_000, "limit": MAX_COST}


def test_lists_the_domain_bounds_count_their_bound() -> None:
    """5 key results an objective, 50 milestones and 50 coordinating units a task; other lists UNPAGED_LIST."""
    def cost(text: str) -> int:
        return operation_cost(schema._schema, DOCUMENTS.parsed(text), None, {})

    assert cost("{ resolutions(first: 2) { nodes { objectives { keyResults { title } } } } }") == 1 + 2 + 2 * UNPAGED_LIST + 2 * UNPAGED_LIST * 5
    assert cost("{ tasks(first: 3) { nodes { milestones { title } coordinatingUnits { code } leadUnit { code } } } }") == 1 + 3 + 3 * 50 + 3 * 50 + 3
