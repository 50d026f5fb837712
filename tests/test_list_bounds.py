"""Every list a request can ask for is bounded: a connection (`first` at most 100), a slice (`first` at most 1,000 and
`offset`), or a list the domain keeps small. A bound past its limit is refused before anything runs.

The dashboards' per-child rows and a ranking's entries are computed whole in one statement and sliced: the slice must
be exactly that part of the whole, in the order the oracle (tests/monitoring_world.py) says, with the count beside it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolute.schema.cost import BOUNDED_LISTS
from resolute.schema.pagination import MAX_PAGE, MAX_WINDOW
from resolute.schema.root import schema as app_schema
from tests.monitoring_world import TODAYS, Clock, World, gid, load, pin_today, worlds
from tests.support import Api, Backend, StatementCounter, running_app, small_tree, small_users, typed_errors

Json = dict[str, Any]

# Lists the domain keeps small, so they take no `first`: a payload's errors, a user's grants and permissions, a unit's
# ancestors (the tree's depth), the unit kinds, a resolution's own objectives and KPIs, a task's subtasks and KPI, an
# assignment's extensions, a measurement's corrections, a report's evidence links; series are bounded by `last`; the
# status matrix's columns are the assignees of one page of tasks; what a mutation returns is what it was given.
SMALL = {
    ("Me", "ancestors"), ("Me", "grants"), ("Me", "permissions"), ("User", "grants"), ("Grant", "permissions"),
    ("Query", "unitKinds"), ("Query", "progressSeries"), ("Query", "kpiSeries"), ("Query", "warningCounts"),
    ("Unit", "ancestors"), ("Resolution", "objectives"), ("Resolution", "kpis"), ("Resolution", "implementerKinds"),
    ("Task", "subtasks"), ("Task", "kpis"), ("Assignment", "subtasks"), ("Assignment", "extensions"),
    ("Measurement", "history"), ("ProgressReport", "evidence"), ("StatusMatrix", "units"), ("StatusMatrix", "rows"),
    ("MatrixRow", "cells"), ("TaskAssignPayload", "assignments"),
}  # fmt: skip


def _is_list(kind: Any) -> bool:
    return isinstance(kind.of_type if isinstance(kind, GraphQLNonNull) else kind, GraphQLList)


def test_every_list_field_is_a_connection_a_slice_or_kept_small_by_the_domain() -> None:
    unbounded = []
    for type_ in app_schema._schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__") or type_.name.endswith(("Connection", "Edge")):
            continue
        for name, field in type_.fields.items():
            if not _is_list(field.type) or "first" in field.args or name == "errors":
                continue
            if (type_.name, name) not in SMALL and (type_.name, name) not in BOUNDED_LISTS:
                unbounded.append(f"{type_.name}.{name}")
    assert unbounded == []
    sliced = sorted(f"{t.name}.{n}" for t in app_schema._schema.type_map.values() if isinstance(t, GraphQLObjectType)
                    for n, f in t.fields.items() if _is_list(f.type) and "first" in f.args)  # fmt: skip
    assert sliced == ["DataApproval.children", "DataApproval.returns", "DisciplineRollup.children", "Kpi.latestByChild", "KpiLightRollup.children", "ProgressRollup.children", "Ranking.entries",
                      "TargetDecomposition.consistency"]
    for t, n in (("Unit", "children"), ("Resolution", "implementedBy"), ("Kpi", "unitTargets")):
        field = app_schema._schema.type_map[t].fields[n]  # type: ignore[union-attr]
        assert str(field.type).endswith("Connection!") and field.args["first"].default_value == MAX_PAGE, f"{t}.{n}"


BOUNDS = [
    ("{ units(first: 1) { nodes { children(first: 101) { totalCount } } } }", "first", MAX_PAGE),
    ("{ resolutions(first: 1) { nodes { implementedBy(first: 101) { totalCount } } } }", "first", MAX_PAGE),
    ("{ kpis(first: 1) { nodes { unitTargets(first: -1) { totalCount } } } }", "first", MAX_PAGE),
    ("{ progressRollup { children(first: 1001) { unit { code } } } }", "first", MAX_WINDOW),
    ("{ kpiLights { children(offset: -1) { unit { code } } } }", "offset", None),
    ('{ reportingDiscipline(period: "2025-05") { children(first: -2) { unit { code } } } }', "first", MAX_WINDOW),
    ("{ ranking(metric: COMPLETION_RATE, kind: \"province\") { entries(first: 5000) { rank } } }", "first", MAX_WINDOW),
    ("query($f: Int!) { kpis(first: 1) { nodes { latestByChild(first: $f) { value } } } }", "first", MAX_WINDOW),
]


@pytest.mark.parametrize(("query", "argument", "limit"), BOUNDS, ids=[q[0][:60] for q in BOUNDS])
async def test_a_bound_past_its_limit_is_refused_before_any_statement(api: Api, statements: StatementCounter, query: str, argument: str, limit: int | None) -> None:
    await api.seed(small_tree(), small_users())
    await api.data("{ me { user { username } } }", as_user="admin")  # the login's own statements, before counting
    statements.reset()
    body = await api.gql(query, {"f": MAX_WINDOW + 1} if "$f" in query else None, as_user="admin")
    assert body["data"] is None and typed_errors(body) == [("OUT_OF_RANGE", argument)], body
    assert body["errors"][0]["extensions"].get("limit") == limit
    assert statements.count <= 2, statements.statements  # the caller's token checked (its account and grants), nothing read


WINDOWED = """
fragment W on ProgressRollup { childCount all: children { unit { code } } part: children(first: $first, offset: $offset) { unit { code } } }
fragment L on KpiLightRollup { childCount all: children { unit { code } } part: children(first: $first, offset: $offset) { unit { code } } }
fragment D on DisciplineRollup { childCount all: children { unit { code } } part: children(first: $first, offset: $offset) { unit { code } } }
fragment K on Ranking { entryCount rankedCount all: entries { unit { code } } part: entries(first: $first, offset: $offset) { unit { code } } }
"""


def _codes(rows: list[Json]) -> list[str]:
    return [r["unit"]["code"] for r in rows]


async def _check_windows(api: Api, w: World, pks: dict[str, dict[int, int]], n: int, first: int, offset: int) -> None:
    p, user = w.personas[n], f"user{n}"
    for u in sorted(w.readable_units(p)):
        unit_ = gid(pks, "Unit", u)
        query = ("query($u: ID, $first: Int!, $offset: Int!) { progressRollup(unit: $u) { ...W } kpiLights(unit: $u) { ...L }"
                 ' reportingDiscipline(unit: $u, period: "2025-05") { ...D } ranking(metric: COMPLETION_RATE, childrenOf: $u) { ...K } }' + WINDOWED)  # fmt: skip
        got = await api.data(query, {"u": unit_, "first": first, "offset": offset}, as_user=user)
        shown = [w.code(c) for c in w.shown_children(p, u)]
        where = f"user{n} at {w.code(u)}, first {first} offset {offset}"
        for root in ("progressRollup", "kpiLights", "reportingDiscipline"):
            found = got[root]
            assert _codes(found["all"]) == shown and found["childCount"] == len(shown), f"{where}: {root} {found}"
            assert _codes(found["part"]) == shown[offset : offset + first], f"{where}: {root} slice {found['part']}"
        ranking = got["ranking"]
        everyone = _codes(ranking["all"])
        assert sorted(everyone) == sorted(shown) and ranking["entryCount"] == len(shown), f"{where}: ranking {ranking}"
        assert _codes(ranking["part"]) == everyone[offset : offset + first], f"{where}: ranking slice"


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    pin_today(monkeypatch)
    monkeypatch.setattr(Clock, "current", TODAYS[0])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(world=worlds(), first=st.integers(0, 6), offset=st.integers(0, 8))
def test_a_slice_is_that_part_of_the_whole_in_the_oracles_order(backend: Backend, world: World, first: int, offset: int) -> None:
    Clock.current = world.today

    async def run() -> None:
        async with running_app(backend.settings, engine=backend.engine) as api:
            pks = await load(api, world)
            for n in range(len(world.personas)):
                await _check_windows(api, world, pks, n, first, offset)

    asyncio.run(run())
