"""Early warnings (warnings, warningCounts) and keyset paging, on SQLite and PostgreSQL, with today pinned.

1. Property: random small worlds (tests/monitoring_world.py: a tree with archived units, resolutions implementing
   others, tasks with milestones and coordinators, assignments with random statuses, progress and dates, reports,
   acknowledgements, KPIs with thresholds and measurements, users with random grants; today the middle of a month, the
   first of a month or the first of a year). For every user, with a random filter (kinds, severities, resolution) and
   random thresholds, `warnings` (first page of 100, and every page walked with a random page size) and
   `warningCounts` of every unit and of the user's own (by default) equal the plain-Python oracle over the rows the
   user may read, in the documented order: red first, then by kind, then by the object's id.
2. Examples: every rule on its edges (due yesterday, today, tomorrow; assigned 7 and 8 days ago; a report on the
   last day of the last complete month and on the first of this one; a milestone done late or not at all; a KPI value
   on its thresholds), checked against the oracle and against the rules in words; typed errors for bad thresholds.
3. Paging: every warnings cursor continues exactly after its edge; warnings cursors are refused by other lists and
   theirs by warnings; tasks(orderBy: DUE_ON) pages in (dueOn, id) order with no gap and no duplicate (a property
   with many ties), on PostgreSQL both read paths; a CODE cursor is refused by DUE_ON and back.
4. Statement counts: warnings (with every nested object) and warningCounts cost the same number of statements under
   a subtree of 2 communes as under one of 10, with and without a resolution filter.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert

from resolute.api.kpis.models import Measurement
from resolute.schema.ids import encode_id
from tests.monitoring_world import (
    ICT,
    TODAYS,
    WARNING_KINDS,
    Clock,
    KpiDef,
    Persona,
    Reading,
    TaskDef,
    Thresholds,
    Work,
    World,
    expected_progress,
    gid,
    load,
    pin_today,
    warning_counts,
    warnings,
    worlds,
)
from tests.support import Api, Backend, StatementCounter, executor_twin, running_app, typed_errors

Json = dict[str, Any]
TODAY = TODAYS[0]
MAX_PER_REQUEST = 12  # units a request asks about: two aliases each, at most 30 aliases a request

WARNING_FIELDS = ("kind severity reason unit { code } assignment { id } milestone { id } task { id } kpi { id } measurement { id }"
                  " dueOn days progress expectedProgress projectedFinishOn period value")  # fmt: skip
FRAGMENT = f"fragment W on Warning {{ {WARNING_FIELDS} }}"
PAGE = f"""query($u: ID, $f: WarningFilterInput, $t: WarningThresholdsInput, $first: Int!, $after: String) {{
  warnings(unit: $u, filter: $f, thresholds: $t, first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} edges {{ cursor node {{ ...W }} }} }} }} {FRAGMENT}"""


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    pin_today(monkeypatch)
    monkeypatch.setattr(Clock, "current", TODAY)


def normal(node: Json) -> Json:
    """A warning as GraphQL answers it, `value` as a Decimal and `reason` checked and left out (words, not figures)."""
    assert isinstance(node["reason"], str) and node["reason"], node
    return {**{k: v for k, v in node.items() if k != "reason"}, "value": None if node["value"] is None else Decimal(node["value"])}


def diff(got: list[Json], want: list[Json]) -> str:
    key = lambda x: (x["kind"], x["severity"], x["unit"]["code"], json.dumps({k: v for k, v in x.items() if k.endswith(("assignment", "milestone", "measurement"))}, sort_keys=True))
    g, w = {key(x): x for x in got}, {key(x): x for x in want}
    extra = [g[k] for k in g if k not in w]
    missing = [w[k] for k in w if k not in g]
    changed = [(g[k], w[k]) for k in g if k in w and g[k] != w[k]]
    order = "same rows, another order" if not (extra or missing or changed) else ""
    return f"extra {extra}, missing {missing}, differing (got, want) {changed} {order}"


# -- asking -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ask:
    kinds: tuple[str, ...] | None = None
    severities: tuple[str, ...] | None = None
    resolution: int | None = None
    thresholds: Thresholds | None = None
    page: int = 3

    def filter(self, pks: dict[str, dict[int, int]]) -> Json:
        return {
            "kinds": None if self.kinds is None else [k.upper() for k in self.kinds],
            "severities": None if self.severities is None else [s.upper() for s in self.severities],
            "resolution": None if self.resolution is None else gid(pks, "Resolution", self.resolution),
        }

    def expected(self, w: World, p: Persona, u: int, pks: dict[str, dict[int, int]]) -> list[Json]:
        return warnings(w, p, u, pks, kinds=WARNING_KINDS if self.kinds is None else self.kinds, resolution=self.resolution,
                        severities=("red", "yellow") if self.severities is None else self.severities, th=self.thresholds or Thresholds())


def units_query(asked: list[int | None], pks: dict[str, dict[int, int]]) -> str:
    """warnings w<i> (first page of 100) and warningCounts c<i> of each unit asked (None: the caller's own, by default)."""
    unit_arg = lambda u: "" if u is None else f'unit: "{gid(pks, "Unit", u)}", '
    fields = " ".join(
        f"w{i}: warnings({unit_arg(u)}filter: $f, thresholds: $t, first: 100) {{ totalCount pageInfo {{ hasNextPage }} nodes {{ ...W }} }}"
        f" c{i}: warningCounts({unit_arg(u)}filter: $f, thresholds: $t) {{ kind severity count }}"
        for i, u in enumerate(asked)
    )
    return f"query($f: WarningFilterInput, $t: WarningThresholdsInput) {{ {fields} }} {FRAGMENT}"


async def walk(api: Api, user: str, variables: Json, first: int) -> tuple[list[Json], list[Json]]:
    """Every page of a warnings list: (nodes, pages' pageInfo and totalCount)."""
    nodes, infos, after = [], [], None
    for _ in range(200):
        page = (await api.data(PAGE, {**variables, "first": first, "after": after}, as_user=user))["warnings"]
        assert len(page["edges"]) <= first
        nodes += [e["node"] for e in page["edges"]]
        infos.append({"totalCount": page["totalCount"], **page["pageInfo"], "size": len(page["edges"]), "after": after})
        if page["edges"]:
            assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"] and page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes, infos
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("more than 200 pages")


async def check_persona(api: Api, w: World, pks: dict[str, dict[int, int]], n: int, ask: Ask) -> None:
    p, user = w.personas[n], f"user{n}"
    who = f"user{n} {p} asking {ask} (today {w.today})"
    variables = {"f": ask.filter(pks), "t": None if ask.thresholds is None else ask.thresholds.graphql()}
    asked: list[int | None] = [None, *range(len(w.parents))]
    for start in range(0, len(asked), MAX_PER_REQUEST):
        chunk = asked[start : start + MAX_PER_REQUEST]
        got = await api.data(units_query(chunk, pks), variables, as_user=user)
        for i, u in enumerate(chunk):
            unit_ = p.own if u is None else u
            where = f"warnings(unit: {'default ' if u is None else ''}{w.code(unit_)}) for {who}"
            want = ask.expected(w, p, unit_, pks)
            listed = [normal(x) for x in got[f"w{i}"]["nodes"]]
            assert listed == want, f"{where}: {diff(listed, want)}"
            assert (got[f"w{i}"]["totalCount"], got[f"w{i}"]["pageInfo"]["hasNextPage"]) == (len(want), False), where
            assert got[f"c{i}"] == warning_counts(want), f"warningCounts: {where}"

    # every page, with the user's page size, under its own unit (by default) or the first unit of its grants
    readable = w.readable_units(p)
    u = p.own if p.own in readable or not p.grants else p.grants[0][1]
    want = ask.expected(w, p, u, pks)
    for kind, severity in {(x["kind"], x["severity"]) for x in want}:
        event(f"walked: {kind} {severity}")
    event(f"walked: {'no' if not want else 'one page of' if len(want) <= ask.page else 'several pages of'} warnings")
    nodes, infos = await walk(api, user, {**variables, "u": None if u == p.own else gid(pks, "Unit", u)}, ask.page)
    assert [normal(x) for x in nodes] == want, f"pages of {ask.page} under {w.code(u)} for {who}: {diff([normal(x) for x in nodes], want)}"
    assert all(i["totalCount"] == len(want) for i in infos), f"totalCount on every page for {who}: {infos}"
    assert [i["size"] for i in infos[:-1]] == [ask.page] * (len(infos) - 1) and all(i["hasPreviousPage"] == (i["after"] is not None) for i in infos), infos
    assert len(infos) == max(1, -(-len(want) // ask.page)), f"pages of {ask.page} for {len(want)} warnings: {infos}"


# -- 1. the property --------------------------------------------------------------------------------------------
thresholds = st.none() | st.builds(
    Thresholds,
    pace_margin=st.sampled_from((0, 10, 30)) | st.integers(0, 100),
    stale_days=st.sampled_from((0, 30)) | st.integers(0, 60),
    unacknowledged_days=st.sampled_from((0, 7)) | st.integers(0, 20),
)


def edge_thresholds(w: World) -> st.SearchStrategy[Thresholds]:
    """Thresholds right on the edges of the world's own rows: a margin equal to how far an open assignment lags (or one
    less), stale days equal to the days since a report (or one less), likewise for acknowledgements."""
    lags, since, elapsed = {10}, {30}, {7}
    for work in w.works:
        lag = expected_progress(w.today, work.assigned_on, work.due) - work.progress
        lags |= {lag, lag - 1}
        s = (w.today - max(work.reports, default=work.assigned_on)).days
        e = (w.today - work.assigned_on).days
        since |= {s, s - 1}
        elapsed |= {e, e - 1}
    pick = lambda values, high: st.sampled_from(sorted(v for v in values if 0 <= v <= high))
    return st.builds(Thresholds, pace_margin=pick(lags, 100), stale_days=pick(since, 3650), unacknowledged_days=pick(elapsed, 3650))


@st.composite
def cases(draw: st.DrawFn) -> tuple[World, tuple[Ask, ...]]:
    w = draw(worlds())
    maybe = lambda s: st.one_of(st.none(), st.none(), s)
    asks = st.builds(
        Ask,
        kinds=maybe(st.lists(st.sampled_from(WARNING_KINDS), max_size=4, unique=True).map(tuple)),
        severities=maybe(st.lists(st.sampled_from(("red", "yellow")), max_size=2, unique=True).map(tuple)),
        resolution=maybe(st.integers(0, len(w.resolutions) - 1)),
        thresholds=st.one_of(thresholds, edge_thresholds(w), edge_thresholds(w)),
        page=st.integers(1, 7),
    )
    return w, tuple(draw(asks) for _ in w.personas)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=cases())
def test_warnings_and_counts_equal_the_oracle_over_what_each_user_may_read(backend: Backend, case: tuple[World, tuple[Ask, ...]]) -> None:
    world, asks = case
    Clock.current = world.today

    async def run() -> None:
        async with running_app(backend.settings, engine=backend.engine) as api:
            pks = await load(api, world)
            for n, ask in enumerate(asks):
                await check_persona(api, world, pks, n, ask)

    asyncio.run(run())


# -- 2. examples ------------------------------------------------------------------------------------------------
ADMIN = Persona(0, (("admin", 0),))


def day(n: int) -> date:
    return TODAY + timedelta(days=n)


def work(assignee: int, *, status: str = "in_progress", progress: int = 50, assigned: int = -60, due: int = 60, original: int | None = None,
         completed: int | None = None, ack: datetime | None = None, reports: tuple[int, ...] = (), task: int = 0) -> Work:  # fmt: skip
    """An assignment to `assignee` from the root, its dates in days from TODAY."""
    return Work(task, 0, assignee, status, progress, day(assigned), day(due if original is None else original), day(due),
                None if completed is None else day(completed), ack, tuple(day(r) for r in reports))  # fmt: skip


ACKED = datetime(2025, 1, 1, 9, tzinfo=UTC)
MONTH_END, MONTH_START = date(2025, 5, 31), date(2025, 6, 1)  # TODAY is 2025-06-15: the last complete month is May
FRESH = (-1,)  # a report yesterday: not stale, and (not in May) the month report is still missing


def edges_world() -> tuple[World, list[str]]:
    """Named assignments under U01 (a province) and U02 (its commune), each on one edge of one rule."""
    cases = {
        "due yesterday": work(1, due=-1, reports=FRESH, ack=ACKED),  # OVERDUE by 1 day (and so not behind pace)
        "due today": work(1, due=0, progress=95, reports=(-1, -20), ack=ACKED),  # not overdue; expected 100, 95 >= 90: not behind
        "due today, behind": work(1, due=0, progress=89, reports=(-1, -20), ack=ACKED),  # 89 < 90: behind pace, red
        "due tomorrow": work(1, due=1, progress=100, reports=(-1, -20), ack=ACKED),
        "completed late": work(1, status="completed", progress=100, due=-30, completed=-2),  # closed: nothing
        "cancelled": work(1, status="cancelled", progress=0, due=-30),  # closed: nothing
        "on the line": work(2, assigned=-50, due=50, progress=40, reports=(-1, -20), ack=ACKED),  # expected 50, 40 = 50 - 10: not behind
        "just behind": work(2, assigned=-50, due=50, progress=39, reports=(-1, -20), ack=ACKED),  # behind, red (79 days at its pace > 50)
        "nothing done": work(2, assigned=-50, due=50, progress=0, reports=(-1, -20), ack=ACKED),  # behind, red, no projected finish
        "assigned and due today": work(2, assigned=0, due=0, progress=50, ack=ACKED),  # behind (expected 100), yellow: 0 days at its pace
        "unacked 7 days": work(2, assigned=-7, due=60, progress=10, reports=(-1,)),  # 7 days: not yet
        "unacked 8 days": work(2, assigned=-8, due=60, progress=10, reports=(-1,)),  # UNACKNOWLEDGED 8 days
        "acked in ICT": work(2, assigned=-8, due=60, progress=10, reports=(-1,), ack=datetime(2025, 6, 8, 3, tzinfo=ICT)),
        "report on May 31": work(2, assigned=-60, due=60, progress=50, reports=((MONTH_END - TODAY).days,), ack=ACKED),
        "report on June 1": work(2, assigned=-60, due=60, progress=50, reports=((MONTH_START - TODAY).days,), ack=ACKED),  # May missing
        "assigned May 1": work(2, assigned=(date(2025, 5, 1) - TODAY).days, due=60, progress=50, reports=(-1,), ack=ACKED),  # not assigned before May
        "assigned Apr 30": work(2, assigned=(date(2025, 4, 30) - TODAY).days, due=60, progress=50, reports=(-1,), ack=ACKED),  # May missing
        "stale 30 days": work(2, assigned=-90, due=60, progress=60, reports=(-30,), ack=ACKED),  # exactly 30: not stale
        "stale 31 days": work(2, assigned=-90, due=60, progress=60, reports=(-31, -95), ack=ACKED),  # STALE 31 days
        "never reported": work(2, assigned=-31, due=60, progress=60, ack=ACKED),  # STALE from its assignment date
    }
    works = tuple(replace(wk, task=t) for t, wk in enumerate(cases.values()))
    tasks = tuple(TaskDef(0, 1, frozenset(), None, day(90)) for _ in works) + (TaskDef(0, 2, frozenset(), None, day(90)),)
    milestones = ((0, day(-1), None), (0, day(0), None), (0, day(-5), day(-1)), (len(works), day(-3), None), (len(works), day(-10), day(-10)))
    kpis = (KpiDef(0, "increase", Decimal(50), Decimal(20), "growth", 0, "monthly"), KpiDef(0, "decrease", Decimal(30), Decimal(60), "people", 0, "quarterly"))
    readings = (
        Reading(0, 1, "2025-05", Decimal(50)), Reading(0, 1, "2025-04", Decimal(10)),  # latest on the yellow threshold: green
        Reading(0, 2, "2025-04", Decimal(90)), Reading(0, 2, "2025-06", Decimal("19.99")),  # latest red (written last)
        Reading(0, 3, "2025-06", Decimal(20)),  # on the red threshold: yellow
        Reading(1, 2, "2025-Q2", Decimal("60.01")), Reading(1, 1, "2025-Q1", Decimal(60)),  # decrease: red; yellow
    )  # fmt: skip
    return World(today=TODAY, parents=(0, 0, 1, 0), kinds=("central", "province", "commune", "province"), archived=frozenset(),
                 personas=(ADMIN, Persona(1, (("viewer", 1),)), Persona(3, (("manager", 3),)), Persona(2, (("officer", 2),))),
                 resolutions=((0, None),), tasks=tasks, milestones=milestones, works=works, kpis=kpis, readings=readings), list(cases)


async def test_every_rule_on_its_edges(api: Api) -> None:
    w, names = edges_world()
    pks = await load(api, w)
    code = {encode_id("Assignment", pks["Assignment"][i]): name for i, name in enumerate(names)}
    for n, p in enumerate(w.personas):
        for u in range(len(w.parents)):
            got = await api.data(f'{{ warnings(unit: "{gid(pks, "Unit", u)}", first: 100) {{ nodes {{ ...W }} }} }} {FRAGMENT}', as_user=f"user{n}")
            listed, want = [normal(x) for x in got["warnings"]["nodes"]], warnings(w, p, u, pks)
            assert listed == want, f"user{n} under {w.code(u)}: {diff(listed, want)}"

    root = warnings(w, ADMIN, 0, pks)
    about = lambda kind: {code[x["assignment"]["id"]]: x for x in root if x["kind"] == kind}
    # the rules in words, on their edges (the oracle above says the same; this says the oracle reads the README right)
    assert set(about("OVERDUE")) == {"due yesterday"}
    assert {k: (x["severity"], x["projectedFinishOn"] is None) for k, x in about("BEHIND_PACE").items()} == {
        "due today, behind": ("RED", False), "just behind": ("RED", False), "nothing done": ("RED", True), "assigned and due today": ("YELLOW", False)}
    assert about("BEHIND_PACE")["just behind"]["projectedFinishOn"] == day(-(-61 * 50 // 39)).isoformat()  # 61 points at 39 per 50 days
    assert set(about("UNACKNOWLEDGED")) == {"unacked 8 days"}
    assert {"report on June 1", "assigned Apr 30"} <= set(about("REPORT_MISSING")) and not {"report on May 31", "assigned May 1"} & set(about("REPORT_MISSING"))
    assert {k: x["days"] for k, x in about("STALE").items()} == {"stale 31 days": 31, "never reported": 31}
    missed = [x for x in root if x["kind"] == "MILESTONE_MISSED"]
    assert [(x["unit"]["code"], x["days"]) for x in missed] == [("U01", 1), ("U02", 3)]  # not due today, not done late
    lights = [(x["unit"]["code"], x["severity"], x["period"]) for x in root if x["kind"] == "KPI_LIGHT"]
    assert sorted(lights) == [("U01", "YELLOW", "2025-Q1"), ("U02", "RED", "2025-06"), ("U02", "RED", "2025-Q2"), ("U03", "YELLOW", "2025-06")]
    assert [x["severity"] for x in root] == sorted(x["severity"] for x in root) and root[0]["severity"] == "RED"
    # the manager of U03 reads nothing of U01's subtree: its own warnings only, and none for the root
    manager = (await api.data(f"{{ warnings {{ totalCount nodes {{ unit {{ code }} }} }} u: warningCounts(unit: \"{gid(pks, 'Unit', 0)}\") {{ count }} }}", as_user="user2"))
    assert manager == {"warnings": {"totalCount": 1, "nodes": [{"unit": {"code": "U03"}}]}, "u": []}


async def test_thresholds_move_the_edges(api: Api) -> None:
    w, _ = edges_world()
    pks = await load(api, w)
    for th in (Thresholds(0, 0, 0), Thresholds(39, 1, 8), Thresholds(100, 3650, 3650), Thresholds(11, 30, 6)):
        for kinds in (None, ("behind_pace", "stale", "unacknowledged"), ()):
            ask = Ask(kinds=kinds, thresholds=th)
            got = await api.data(f"query($f: WarningFilterInput, $t: WarningThresholdsInput) {{ warnings(filter: $f, thresholds: $t, first: 100) {{ totalCount nodes {{ ...W }} }}"
                                 f" warningCounts(filter: $f, thresholds: $t) {{ kind severity count }} }} {FRAGMENT}",
                                 {"f": ask.filter(pks), "t": th.graphql()}, as_user="user0")  # fmt: skip
            want = ask.expected(w, ADMIN, 0, pks)
            assert [normal(x) for x in got["warnings"]["nodes"]] == want, f"{th} {kinds}"
            assert (got["warnings"]["totalCount"], got["warningCounts"]) == (len(want), warning_counts(want)), f"{th} {kinds}"
            if kinds == ():
                assert want == []


async def test_bad_thresholds_and_page_sizes_are_typed_errors(api: Api) -> None:
    w, _ = edges_world()
    w = replace(w, personas=(*w.personas, Persona(1, ())))  # user4: no grant at all
    pks = await load(api, w)
    cases = [
        ("thresholds: {paceMargin: -1}", ("OUT_OF_RANGE", "thresholds.paceMargin")),
        ("thresholds: {paceMargin: 101}", ("OUT_OF_RANGE", "thresholds.paceMargin")),
        ("thresholds: {staleDays: -1}", ("OUT_OF_RANGE", "thresholds.staleDays")),
        ("thresholds: {staleDays: 3651}", ("OUT_OF_RANGE", "thresholds.staleDays")),
        ("thresholds: {unacknowledgedDays: -1}", ("OUT_OF_RANGE", "thresholds.unacknowledgedDays")),
        ("thresholds: {unacknowledgedDays: 3651}", ("OUT_OF_RANGE", "thresholds.unacknowledgedDays")),
        ('filter: {resolution: "not-an-id"}', ("INVALID_ID", "filter.resolution")),
        ('unit: "not-an-id"', ("INVALID_ID", "unit")),
    ]
    for args, want in cases:
        for field in ("warnings", "warningCounts"):
            selection = "{ totalCount }" if field == "warnings" else "{ count }"
            body = await api.gql(f"{{ {field}({args}) {selection} }}", as_user="user0")
            assert (typed_errors(body), body.get("data")) == ([want], None), f"{field}({args}): {body}"
    # refused whatever the unit: one out of the viewer's scope, one that does not exist, the default for a user without a grant
    missing = encode_id("Unit", 10**6)
    for user, unit_arg in (("user1", f'unit: "{gid(pks, "Unit", 0)}", '), ("user1", f'unit: "{missing}", '), ("user4", "")):
        for field, selection in (("warnings", "{ totalCount }"), ("warningCounts", "{ count }")):
            body = await api.gql(f"{{ {field}({unit_arg}thresholds: {{staleDays: -1}}) {selection} }}", as_user=user)
            assert typed_errors(body) == [("OUT_OF_RANGE", "thresholds.staleDays")], f"{user} {field}({unit_arg}): {body}"
            body = await api.gql(f'{{ {field}({unit_arg}filter: {{resolution: "{missing}"}}) {selection} }}', as_user=user)
            assert typed_errors(body) == [("INVALID_ID", "filter.resolution")], f"{user} {field}({unit_arg}): {body}"
    for first in (-1, 101):
        body = await api.gql(f"{{ warnings(first: {first}) {{ totalCount }} }}", as_user="user0")
        assert typed_errors(body) == [("OUT_OF_RANGE", "first")], body
    # the edges of the ranges are accepted
    body = await api.data("{ warnings(first: 0, thresholds: {paceMargin: 0, staleDays: 3650, unacknowledgedDays: 0}) { totalCount edges { cursor } } }", as_user="user0")
    assert body["warnings"]["edges"] == [] and body["warnings"]["totalCount"] > 0


async def test_kpi_light_warnings_never_tell_the_light_of_a_kpi_the_caller_cannot_read(api: Api) -> None:
    """U01's viewer reads the measurement of K0 at U01, but not K0 (issued and led at the root, no target at U01, no task
    handed down): node(id) and Measurement.kpi say null, and Measurement.light too (its thresholds are out of sight).
    A KPI_LIGHT warning must not then say that this measurement is red (ACCESS.md rule 6: aggregates included). (The
    property's worlds give every measured unit a target row, so there whoever reads a measurement reads its KPI.)"""
    w = World(today=TODAY, parents=(0, 0), kinds=("central", "province"), archived=frozenset(), personas=(ADMIN, Persona(1, (("viewer", 1),))),
              resolutions=((0, None),), tasks=(TaskDef(0, 0, frozenset(), None, day(30)),), milestones=(), works=(),
              kpis=(KpiDef(0, "increase", Decimal(50), Decimal(20), "growth", 0, "monthly"),), readings=())  # fmt: skip
    pks = await load(api, w)
    async with api.engine.begin() as conn:  # a measurement with no target row at U01 (load gives every measured unit one)
        await conn.execute(insert(Measurement).values(kpi_id=pks["Kpi"][0], unit_id=pks["Unit"][1], period="2025-05", value=Decimal(5)))
    seen = await api.data(f'{{ node(id: "{gid(pks, "Kpi", 0)}") {{ id }} measurements(first: 5) {{ nodes {{ light kpi {{ code }} }} }} }}', as_user="user1")
    assert seen == {"node": None, "measurements": {"nodes": [{"light": None, "kpi": None}]}}  # the measurement, not its KPI nor its light
    admin = await api.data("{ warningCounts { kind severity count } }", as_user="user0")
    assert admin["warningCounts"] == [{"kind": "KPI_LIGHT", "severity": "RED", "count": 1}]  # the root sees it
    got = await api.data("{ warnings { totalCount nodes { kind severity kpi { code } } } warningCounts { kind count } }", as_user="user1")
    assert got == {"warnings": {"totalCount": 0, "nodes": []}, "warningCounts": []}


# -- 3. paging --------------------------------------------------------------------------------------------------
def forged(name: str, value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps([name, value]).encode()).decode().rstrip("=")


async def test_every_warnings_cursor_continues_exactly_after_its_edge(api: Api) -> None:
    w, _ = edges_world()
    pks = await load(api, w)
    want = warnings(w, ADMIN, 0, pks)
    assert len(want) >= 15 and len({(x["kind"], x["severity"]) for x in want}) >= 7  # several pages, every kind
    full = (await api.data(PAGE, {"first": 100}, as_user="user0"))["warnings"]
    assert [normal(e["node"]) for e in full["edges"]] == want
    assert len({e["cursor"] for e in full["edges"]}) == len(want)
    for i, edge in enumerate(full["edges"]):
        page = (await api.data(PAGE, {"first": 4, "after": edge["cursor"]}, as_user="user0"))["warnings"]
        assert [normal(e["node"]) for e in page["edges"]] == want[i + 1 : i + 5], f"after edge {i}"
        assert [e["cursor"] for e in page["edges"]] == [e["cursor"] for e in full["edges"][i + 1 : i + 5]]
        assert (page["pageInfo"]["hasNextPage"], page["pageInfo"]["hasPreviousPage"], page["totalCount"]) == (i + 5 < len(want), True, len(want))
    # a cursor of a filtered list continues the filtered list (a keyset position, not an offset)
    yellow = {"f": {"severities": ["YELLOW"]}}
    filtered = [x for x in want if x["severity"] == "YELLOW"]
    page = (await api.data(PAGE, {**yellow, "first": 3, "after": full["edges"][0]["cursor"]}, as_user="user0"))["warnings"]  # a red one's cursor
    assert [normal(e["node"]) for e in page["edges"]] == filtered[:3]


async def test_warnings_cursors_fit_no_other_list_and_no_other_cursor_fits_warnings(api: Api) -> None:
    w, _ = edges_world()
    await load(api, w)
    cursors = await api.data(
        "{ warnings(first: 1) { pageInfo { endCursor } } kpiStatuses(first: 1) { pageInfo { endCursor } } tasks(first: 1) { pageInfo { endCursor } }"
        " due: tasks(first: 1, orderBy: DUE_ON) { pageInfo { endCursor } } assignments(first: 1) { pageInfo { endCursor } }"
        " dueA: assignments(first: 1, orderBy: DUE_ON) { pageInfo { endCursor } } units(first: 1) { pageInfo { endCursor } } }",
        as_user="user0",
    )  # fmt: skip
    mine = cursors.pop("warnings")["pageInfo"]["endCursor"]
    others = {k: v["pageInfo"]["endCursor"] for k, v in cursors.items()}
    assert mine and all(others.values()), others
    lists = {
        "kpiStatuses": "kpiStatuses(first: 2, after: $a) { totalCount }", "tasks": "tasks(first: 2, after: $a) { totalCount }",
        "due": "tasks(first: 2, orderBy: DUE_ON, after: $a) { totalCount }", "assignments": "assignments(first: 2, after: $a) { totalCount }",
        "dueA": "assignments(first: 2, orderBy: DUE_ON, after: $a) { totalCount }", "units": "units(first: 2, after: $a) { totalCount }",
    }  # fmt: skip
    for name, field in lists.items():
        body = await api.gql(f"query($a: String) {{ {field} }}", {"a": mine}, as_user="user0")
        assert typed_errors(body) == [("INVALID", "after")], f"{name} took a warnings cursor: {body}"
    refused = {**others, "junk": "!!not base64!!", "empty list": forged("warnings", []), "short": forged("warnings", [0, "overdue"]),
               "severity as text": forged("warnings", ["0", "overdue", 1]), "negative id": forged("warnings", [0, "overdue", -1]),
               "id beyond 32 bits": forged("warnings", [0, "overdue", 2**31]), "NUL": forged("warnings", [0, "over\x00due", 1]),
               "not a list": forged("warnings", 5)}  # fmt: skip
    for name, cursor in refused.items():
        for field in ("warnings(first: 2, after: $a) { totalCount }",):
            body = await api.gql(f"query($a: String) {{ {field} }}", {"a": cursor}, as_user="user0")
            assert typed_errors(body) == [("INVALID", "after")], f"warnings took the {name} cursor: {body}"
    # a cursor that only looks like ours but was made for another list, with the same shape, is refused too
    body = await api.gql("query($a: String) { warnings(after: $a) { totalCount } }", {"a": forged("kpi_statuses", [0, "overdue", 1])}, as_user="user0")
    assert typed_errors(body) == [("INVALID", "after")]


@dataclass(frozen=True)
class TaskWorld:
    world: World
    pages: tuple[int, ...]  # per persona, the page size


@st.composite
def task_worlds(draw: st.DrawFn) -> TaskWorld:
    """Tasks whose due dates come from 3 days (many ties), more than a page of them."""
    w = draw(worlds(min_units=3, max_units=8, max_works=8))
    dues = st.sampled_from((day(-1), day(0), day(5)))
    more = draw(st.lists(st.tuples(st.integers(0, len(w.resolutions) - 1), st.integers(0, len(w.parents) - 1), dues), min_size=3, max_size=12))
    tasks = tuple(replace(t, due=draw(dues)) for t in w.tasks) + tuple(TaskDef(r, lead, frozenset(), None, due) for r, lead, due in more)
    return TaskWorld(replace(w, tasks=tasks, today=TODAY), tuple(draw(st.integers(1, 5)) for _ in w.personas))


TASK_PAGE = """query($first: Int!, $after: String) { tasks(first: $first, after: $after, orderBy: DUE_ON) {
  totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id code dueOn } } } }"""


async def walk_tasks(api: Api, user: str, first: int) -> list[Json]:
    nodes, after = [], None
    for _ in range(100):
        page = (await api.data(TASK_PAGE, {"first": first, "after": after}, as_user=user))["tasks"]
        nodes.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("more than 100 pages")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=task_worlds())
def test_tasks_by_due_date_page_in_due_then_id_order_without_gaps(backend: Backend, case: TaskWorld) -> None:
    w = case.world
    Clock.current = w.today

    async def run() -> None:
        async with running_app(backend.settings, engine=backend.engine) as api, executor_twin(api) as twin:
            pks = await load(api, w)
            for n, p in enumerate(w.personas):
                readable = [t for t in range(len(w.tasks)) if any(w._task_related(t, s) for s in w.reach(p, "task"))]
                want = [gid(pks, "Task", t) for t in sorted(readable, key=lambda t: (w.tasks[t].due, pks["Task"][t]))]
                for path, via in (("compiled", api), ("executor", twin)):
                    pages = await walk_tasks(via, f"user{n}", case.pages[n])
                    got = [e["node"]["id"] for page in pages for e in page["edges"]]
                    assert got == want, f"{path} pages of {case.pages[n]} for user{n} {p}: got {got}, want {want}"
                    assert all(page["totalCount"] == len(want) for page in pages)
                    assert all(len(page["edges"]) == case.pages[n] for page in pages[:-1]), "a short page before the last"
                    dues = [e["node"]["dueOn"] for page in pages for e in page["edges"]]
                    assert dues == sorted(dues)

    asyncio.run(run())


async def test_code_and_due_date_cursors_fit_only_their_own_order(api: Api) -> None:
    w = World(today=TODAY, parents=(0, 0), kinds=("central", "province"), archived=frozenset(), personas=(ADMIN,), resolutions=((0, None),),
              tasks=tuple(TaskDef(0, 1, frozenset(), None, day(d)) for d in (3, 1, 3, 2, 1)), milestones=(), works=(), kpis=(), readings=())  # fmt: skip
    await load(api, w)
    both = await api.data("{ code: tasks(first: 2) { pageInfo { endCursor } } due: tasks(first: 2, orderBy: DUE_ON) { pageInfo { endCursor } nodes { code } } }", as_user="user0")
    code_cursor, due_cursor = both["code"]["pageInfo"]["endCursor"], both["due"]["pageInfo"]["endCursor"]
    assert [t["code"] for t in both["due"]["nodes"]] == ["T1", "T4"]  # due day 1, by id
    for order, cursor in (("DUE_ON", code_cursor), ("CODE", due_cursor)):
        body = await api.gql(f"query($a: String) {{ tasks(first: 2, orderBy: {order}, after: $a) {{ totalCount }} }}", {"a": cursor}, as_user="user0")
        assert (typed_errors(body), body.get("data")) == ([("INVALID", "after")], None), f"{order} took the other order's cursor: {body}"
    rest = await api.data("query($a: String) { tasks(first: 5, orderBy: DUE_ON, after: $a) { nodes { code } } }", {"a": due_cursor}, as_user="user0")
    assert [t["code"] for t in rest["tasks"]["nodes"]] == ["T3", "T0", "T2"]
    bad_date = forged("tasks-due-on", ["2025-02-30", 1])
    body = await api.gql("query($a: String) { tasks(orderBy: DUE_ON, after: $a) { totalCount } }", {"a": bad_date}, as_user="user0")
    assert typed_errors(body) == [("INVALID", "after")]


# -- 4. statement counts ----------------------------------------------------------------------------------------
def counting_world() -> World:
    """U01 (a province) with 2 communes, U02 (a province) with 10; under every commune an assignment of each warning kind
    (overdue, behind pace, report missing, stale, unacknowledged all at once), a missed milestone of a task it leads, and
    a red and a yellow KPI value; R1 implements R0; U01's manager and a viewer at U01 and U02."""
    parents, kinds, works, tasks, milestones, readings = [0, 0, 0], ["central", "province", "province"], [], [], [], []
    for province, n in ((1, 2), (2, 10)):
        for _ in range(n):
            c = len(parents)
            parents.append(province)
            kinds.append("commune")
            tasks += [TaskDef(c % 2, c, frozenset(), None, day(30)), TaskDef(c % 2, c, frozenset(), None, day(90))]
            works.append(Work(len(tasks) - 2, province, c, "in_progress", 5, day(-120), day(-2), day(-2), None, None, (day(-100),)))  # overdue
            works.append(Work(len(tasks) - 1, 0, c, "not_started", 0, day(-60), day(60), day(60), None, None, ()))  # all the other kinds
            milestones.append((len(tasks) - 1, day(-3), None))
            readings += [Reading(0, c, "2025-05", Decimal(5)), Reading(1, c, "2025-05", Decimal(30))]
    kpis = (KpiDef(0, "increase", Decimal(50), Decimal(20), "growth", 0, "monthly"), KpiDef(1, "increase", Decimal(50), Decimal(20), "people", 1, "monthly"))
    personas = (ADMIN, Persona(1, (("manager", 1), ("viewer", 2))))
    return World(today=TODAY, parents=tuple(parents), kinds=tuple(kinds), archived=frozenset(), personas=personas, resolutions=((1, None), (1, 0)),
                 tasks=tuple(tasks), milestones=tuple(milestones), works=tuple(works), kpis=kpis, readings=tuple(readings))  # fmt: skip


NESTED = ("warnings(unit: $u, filter: $f, first: 100) { totalCount nodes { kind severity reason unit { code name } assignment { code status }"
          " milestone { title } task { code } kpi { code } measurement { period } } }")  # fmt: skip


async def test_statements_do_not_grow_with_the_number_of_children_or_warnings(api: Api, statements: StatementCounter) -> None:
    w = counting_world()
    pks = await load(api, w)
    res = {"f": {"resolution": gid(pks, "Resolution", 0)}}
    queries = {
        "warnings": (f"query($u: ID, $f: WarningFilterInput) {{ {NESTED} }}", {"f": None}),
        "warnings of a resolution": (f"query($u: ID, $f: WarningFilterInput) {{ {NESTED} }}", res),
        "warningCounts": ("query($u: ID, $f: WarningFilterInput) { warningCounts(unit: $u, filter: $f) { kind severity count } }", {"f": None}),
        "warningCounts of a resolution": ("query($u: ID, $f: WarningFilterInput) { warningCounts(unit: $u, filter: $f) { kind severity count } }", res),
        "totalCount alone": ("query($u: ID, $f: WarningFilterInput) { warnings(unit: $u, filter: $f, first: 0) { totalCount } }", {"f": None}),
    }
    # the unit asked (1), the list (1), its count (1), and one batch per kind of nested object: the units, assignments,
    # milestones, tasks, KPIs and measurements (6); warningCounts: the unit and the counts; a resolution filter: its family (1);
    # first: 0 still reads the list (the one row that says whether there is a next page)
    extra = {"warnings": 9, "warnings of a resolution": 10, "warningCounts": 2, "warningCounts of a resolution": 3, "totalCount alone": 3}
    for n, user in enumerate(("user0", "user1")):
        await api.token_for(user)
        statements.reset()
        await api.data("{ __typename }", as_user=user)
        baseline = statements.count  # the caller's account and grants
        for name, (query, variables) in queries.items():
            counts, sizes = [], []
            for u in (1, 2):
                statements.reset()
                data = await api.data(query, {**variables, "u": gid(pks, "Unit", u)}, as_user=user)
                counts.append(statements.count - baseline)
                got = data.get("warnings") or {"totalCount": sum(c["count"] for c in data["warningCounts"])}
                p = w.personas[n]
                want = warnings(w, p, u, pks, resolution=0 if variables["f"] else None)
                assert got["totalCount"] == len(want) > 0
                sizes.append(len(want))
            assert sizes[0] < sizes[1] and counts == [extra[name]] * 2, f"{name} as {user}: {counts} statements for {sizes} warnings: {[s[:90] for s in statements.statements]}"


def vietnamese(x: Json) -> str:
    """The reason README.md's rules give a warning, in Vietnamese, from its own figures (api.i18n)."""
    kind, days, due, progress = x["kind"], x["days"], x["dueOn"], x["progress"]
    if kind == "OVERDUE":
        return f"quá hạn {days} ngày (hạn {due}), mới đạt {progress}%"
    if kind == "BEHIND_PACE":
        text = f"báo cáo {progress}% trong khi theo tiến độ đều thì hôm nay phải đạt {x['expectedProgress']}%"
        if progress == 0:
            return text + "; chưa làm được gì"
        late = "sau hạn" if x["severity"] == "RED" else "kịp hạn"
        return text + f"; với tốc độ hiện nay {'sẽ' if late == 'sau hạn' else 'vẫn'} xong vào {x['projectedFinishOn']}, {late} {due}"
    return {
        "MILESTONE_MISSED": f"mốc hạn {due} chưa hoàn thành (trễ {days} ngày)",
        "REPORT_MISSING": f"chưa có báo cáo tiến độ kỳ {x['period']}",
        "KPI_LIGHT": f"giá trị mới nhất {x['value']} kỳ {x['period']} ở mức {'đỏ' if x['severity'] == 'RED' else 'vàng'}",
        "STALE": f"không có báo cáo tiến độ trong {days} ngày",
        "UNACKNOWLEDGED": f"chưa xác nhận đã nhận sau {days} ngày kể từ khi được giao",
    }[kind]


def in_english(x: Json) -> str:
    """The reason README.md's rules give a warning, in English, from its own figures."""
    kind, days, due, progress = x["kind"], x["days"], x["dueOn"], x["progress"]
    if kind == "BEHIND_PACE":
        text = f"reports {progress}% where a steady pace would reach {x['expectedProgress']}% today"
        if progress == 0:
            return text + "; nothing is done yet"
        if x["severity"] == "RED":
            return text + f"; at its pace so far it would finish on {x['projectedFinishOn']}, after its due date {due}"
        return text + f"; at its pace so far it would still finish on {x['projectedFinishOn']}, by its due date {due}"
    return {
        "OVERDUE": f"{days} days past its due date {due}, at {progress}%",
        "MILESTONE_MISSED": f"milestone due {due} is not done ({days} days late)",
        "REPORT_MISSING": f"no progress report for {x['period']}",
        "KPI_LIGHT": f"latest value {x['value']} for {x['period']} is {x['severity'].lower()}",
        "STALE": f"no progress report for {days} days",
        "UNACKNOWLEDGED": f"not acknowledged {days} days after it was assigned",
    }[kind]


async def test_reasons_speak_the_language_the_request_prefers_and_nothing_else_changes(api: Api) -> None:
    w, _ = edges_world()
    await load(api, w)
    token = await api.token_for("user0")
    query = f"{{ warnings(first: 100) {{ nodes {{ ...W }} }} }} {FRAGMENT}"

    async def ask(accept: str | None) -> list[Json]:
        headers = {"Authorization": f"Bearer {token}"} | ({"Accept-Language": accept} if accept else {})
        body = (await api.client.post("/graphql", json={"query": query}, headers=headers)).json()
        assert "errors" not in body, body
        return body["data"]["warnings"]["nodes"]

    english, vi, preferred = await ask(None), await ask("vi-VN,vi;q=0.9,en;q=0.8"), await ask("fr;q=1, vi;q=0.5, en;q=0.4")
    assert {x["kind"] for x in english} == {"OVERDUE", "BEHIND_PACE", "MILESTONE_MISSED", "REPORT_MISSING", "KPI_LIGHT", "STALE", "UNACKNOWLEDGED"}
    assert [normal(x) for x in vi] == [normal(x) for x in english] and preferred == vi  # the same warnings, only the words differ
    assert [x["reason"] for x in vi] == [vietnamese(x) for x in vi]
    assert [x["reason"] for x in english] == [in_english(x) for x in english]
    assert await ask("en-GB,vi;q=0.9") == english and await ask("de, fr") == english  # English when it comes first, or when nothing matches
