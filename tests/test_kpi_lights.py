"""KPI status: kpiLights and kpiStatuses, on SQLite and PostgreSQL.

1. Property: random small worlds (a tree with archived units, resolutions implementing others, even
   in a cycle, KPIs of both directions with random baselines, targets and thresholds, per-unit
   targets, measurements of a few periods written in random order, users with random grants) are
   written straight into the tables. For every user, with a random filter (resolution, group, KPI,
   lights), kpiLights and kpiStatuses of every unit (and of the user's own, by default; every
   kpiStatuses page walked with a random page size) equal a plain-Python oracle: which measurements,
   units and resolutions the user reads comes from casbin asked grant by grant over the tree walked
   in Python (as in test_scope_property_cycle); the latest and previous measurements, lights,
   changes, targets and target shares are worked out from the rows as written.
2. Examples: paging (every cursor continues exactly after its edge, cursors of other lists are
   refused), the light filter, typed errors for bad input (refused whatever the unit), and a KPI the
   caller may not read never shown by kpiStatuses nor counted by kpiLights.
3. Statement counts: kpiLights and kpiStatuses cost the same number of statements for 3 children as
   for 12, with and without a resolution filter, for a caller at the root and a scoped one.

Every unit that has a measurement of a KPI also has a target row for it (possibly with a null
target), as a unit that reports on a KPI does: whoever reads the measurement then reads the KPI, so
the property holds whether or not the statuses should also require the KPI to be readable (see
`test_statuses_never_show_a_kpi_the_caller_cannot_read`).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import cache
from math import floor
from typing import Any

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert

from resolute.api.kpis.models import Kpi, KpiUnitTarget, Measurement
from resolute.schema.ids import encode_id
from tests.support import Api, Backend, Resolutions, StatementCounter, Tree, running_app, typed_errors, unit, write_world_base
from tests.test_scope_property_cycle import ORACLE, ROLES, insert_rows

Json = dict[str, Any]
GROUPS = ("growth", "people", "clean")
LIGHTS = ("green", "yellow", "red")
PERIODS = ("2024-11", "2024-12", "2025-01", "2025-02")
# Values, thresholds, baselines and targets come from one small grid, so that values often sit exactly on a threshold
# and a target on a baseline; some are not binary fractions (SQLite computes in floats).
GRID = tuple(Decimal(v) for v in ("-5", "0", "10", "19.99", "20", "20.01", "33.3", "50", "66.67", "80", "100", "120.5"))
HALF_UNIT = Fraction(1, 2 * 10**4) + Fraction(1, 10**9)  # SQLite: within half a unit of the 4th place


@cache
def may(role: str, obj: str) -> bool:
    return bool(ORACLE.enforce(role, obj, "read"))


# -- the world ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KpiDef:
    resolution: int
    direction: str  # increase | decrease
    baseline: Decimal
    target: Decimal
    yellow: Decimal
    red: Decimal
    group: str
    lead: int


@dataclass(frozen=True)
class Filter:
    resolution: int | None = None
    group: str | None = None
    kpi: int | None = None
    lights: tuple[str, ...] | None = None  # kpiStatuses only


@dataclass(frozen=True)
class Persona:
    own: int
    grants: tuple[tuple[str, int], ...]
    flt: Filter = Filter()
    page: int = 3  # the page size of the walk through kpiStatuses


@dataclass(frozen=True)
class Reading:
    kpi: int
    unit: int
    period: int  # index into PERIODS
    value: Decimal


@dataclass(frozen=True)
class World(Tree, Resolutions):
    """Every reference is an index into the lists; unit 0 is the root. Measurements are written in list order."""

    parents: tuple[int, ...]  # parents[i] < i
    personas: tuple[Persona, ...]
    resolutions: tuple[tuple[int, int | None], ...]  # (issuing unit, the resolution it implements)
    kpis: tuple[KpiDef, ...]
    measurements: tuple[Reading, ...]
    targets: tuple[tuple[int, int, Decimal | None], ...]  # (kpi, unit, the unit's own target)
    archived: frozenset[int] = frozenset()

    @staticmethod
    def kpi_code(k: int) -> str:
        return f"K{k:02d}"

    # -- what a persona reads: casbin per grant, the tree walked in Python -----------------------------
    def reads(self, p: Persona, obj: str, u: int) -> bool:
        return any(may(role, obj) and u in self.subtrees[g] for role, g in p.grants)

    def matches(self, p: Persona, k: int) -> bool:
        f, kpi = p.flt, self.kpis[k]
        # a resolution the caller may not read counts nothing; no task hands one down here, so it is read where it was
        # issued, or where one implementing it, down the chain, was issued (ACCESS.md, "handed down")
        readable = any(self.reads(p, "resolution", self.resolutions[d][0]) for d in self.family(f.resolution)) if f.resolution is not None else True
        of_family = f.resolution is None or (readable and kpi.resolution in self.family(f.resolution))
        return of_family and (f.group is None or kpi.group == f.group) and (f.kpi is None or k == f.kpi)

    def own_target(self, k: int, u: int) -> Decimal | None:
        return next((t for kk, uu, t in self.targets if (kk, uu) == (k, u)), None)


def light(kpi: KpiDef, value: Decimal) -> str:
    if kpi.direction == "increase":
        return "green" if value >= kpi.yellow else "yellow" if value >= kpi.red else "red"
    return "green" if value <= kpi.yellow else "yellow" if value <= kpi.red else "red"


@dataclass(frozen=True)
class Status:
    kpi: str
    unit: str
    period: str
    value: Decimal
    light: str
    previous_period: str | None
    previous_value: Decimal | None
    change: Decimal | None
    target: Decimal
    target_share: Fraction | None  # exact, not rounded


def statuses(w: World, p: Persona, pks: dict[int, int]) -> list[tuple[int, Status]]:
    """(unit, status) of every (KPI, unit) pair with a measurement the persona reads that passes the filter
    (lights aside), in KPI code then unit code order. `pks`: measurement index -> primary key."""
    by_pair: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, m in enumerate(w.measurements):
        if w.reads(p, "measurement", m.unit) and w.matches(p, m.kpi):
            by_pair[(m.kpi, m.unit)].append(i)
    found = []
    for (k, u), rows in by_pair.items():
        latest, *rest = sorted(rows, key=lambda i: (PERIODS[w.measurements[i].period], pks[i]), reverse=True)
        m, before = w.measurements[latest], (w.measurements[rest[0]] if rest else None)
        kpi = w.kpis[k]
        own = w.own_target(k, u)
        target = kpi.target if own is None else own
        share = None if target == kpi.baseline else Fraction(m.value - kpi.baseline) / Fraction(target - kpi.baseline)
        found.append((u, Status(
            kpi=w.kpi_code(k), unit=w.code(u), period=PERIODS[m.period], value=m.value, light=light(kpi, m.value),
            previous_period=None if before is None else PERIODS[before.period], previous_value=None if before is None else before.value,
            change=None if before is None else m.value - before.value, target=target, target_share=share,
        )))  # fmt: skip
    return sorted(found, key=lambda e: (e[1].kpi, e[1].unit))


def rounded(x: Fraction, places: int = 4) -> Fraction:
    """Half away from zero, as PostgreSQL's round(numeric)."""
    scaled = abs(x) * 10**places
    return (1 if x >= 0 else -1) * Fraction(floor(scaled + Fraction(1, 2)), 10**places)


def counts(rows: list[Status]) -> Json:
    n = {c: sum(s.light == c for s in rows) for c in LIGHTS}
    measured = sum(n.values())
    return {**n, "measured": measured, "greenShare": None if not measured else float(rounded(Fraction(n["green"], measured)))}


# -- writing a world -----------------------------------------------------------------------------------
DAY = date(2024, 1, 10)


async def load(api: Api, w: World) -> dict[str, dict[int, int]]:
    """The tree through the importer, the rest straight into the tables; type -> world index -> pk."""
    units = [unit(w.code(0), None, "central")] + [unit(w.code(i), w.code(p)) for i, p in enumerate(w.parents) if i]
    await api.seed(units, [], passwords=False)
    async with api.engine.begin() as conn:
        base = await write_world_base(api, conn, units=len(w.parents), archived=w.archived, personas=w.personas, resolutions=w.resolutions, issued_on=DAY)
        uid, res = base.uid, base.res
        kpis = await insert_rows(conn, Kpi, [
            {"code": w.kpi_code(i), "resolution_id": res[k.resolution], "name": f"KPI {i}", "search_name": f"kpi {i}", "unit_of_measure": "%",
             "direction": k.direction, "baseline": k.baseline, "target": k.target, "yellow_threshold": k.yellow, "red_threshold": k.red,
             "kpi_group": k.group, "frequency": "monthly", "lead_unit_id": uid[k.lead]}
            for i, k in enumerate(w.kpis)
        ])  # fmt: skip
        for k, u, target in w.targets:
            await conn.execute(insert(KpiUnitTarget).values(kpi_id=kpis[k], unit_id=uid[u], target=target))
        measurements = await insert_rows(conn, Measurement, [
            {"kpi_id": kpis[m.kpi], "unit_id": uid[m.unit], "period": PERIODS[m.period], "value": m.value} for m in w.measurements
        ])  # fmt: skip
    return {"Unit": uid, "Resolution": res, "Kpi": kpis, "Measurement": measurements}


# -- what GraphQL answers ------------------------------------------------------------------------------
COUNTS = "fragment C on LightCounts { green yellow red measured greenShare }"
ROLLUP = "fragment L on KpiLightRollup { unit { code } counts { ...C } children { unit { code } counts { ...C } } }"
NODE = "fragment N on KpiStatus { kpi { code } unit { code } period value light previousPeriod previousValue change target targetShare }"
CONNECTION = "fragment S on KpiStatusConnection { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { ...N } } }"
PAGE = f"query($u: ID, $f: KpiStatusFilterInput, $first: Int!, $after: String) {{ kpiStatuses(unit: $u, filter: $f, first: $first, after: $after) {{ ...S }} }} {CONNECTION} {NODE}"
LIGHTS_QUERY = f"query($u: ID, $f: KpiStatusFilterInput) {{ kpiLights(unit: $u, filter: $f) {{ ...L }} }} {ROLLUP} {COUNTS}"


def filter_input(f: Filter | None, pks: dict[str, dict[int, int]]) -> Json | None:
    if f is None:
        return None
    return {
        "resolution": None if f.resolution is None else encode_id("Resolution", pks["Resolution"][f.resolution]),
        "group": f.group,
        "kpi": None if f.kpi is None else encode_id("Kpi", pks["Kpi"][f.kpi]),
        "light": None if f.lights is None else [c.upper() for c in f.lights],
    }


def every_unit_query(unit_ids: list[int]) -> str:
    """kpiLights and kpiStatuses (one page of 100) of the caller's own unit and of every unit, in one request."""
    fields = ["ownLights: kpiLights(filter: $f) { ...L }", "ownStatuses: kpiStatuses(filter: $f, first: 100) { ...S }"]
    for i, pk in enumerate(unit_ids):
        gid = encode_id("Unit", pk)
        fields += [f'l{i}: kpiLights(unit: "{gid}", filter: $f) {{ ...L }}', f's{i}: kpiStatuses(unit: "{gid}", filter: $f, first: 100) {{ ...S }}']
    return f"query($f: KpiStatusFilterInput) {{ {' '.join(fields)} }} {ROLLUP} {COUNTS} {CONNECTION} {NODE}"


def check_status(got: Json, want: Status, exact: bool, where: str) -> None:
    def dec(v: str | None) -> Decimal | None:
        return None if v is None else Decimal(v)

    plain = {
        "kpi": got["kpi"]["code"], "unit": got["unit"]["code"], "period": got["period"], "value": dec(got["value"]), "light": got["light"].lower(),
        "previous_period": got["previousPeriod"], "previous_value": dec(got["previousValue"]), "change": dec(got["change"]), "target": dec(got["target"]),
    }  # fmt: skip
    wanted = {k: getattr(want, k) for k in plain}
    assert plain == wanted, f"{where}: {want.kpi} at {want.unit}: got {plain}, want {wanted}"
    share = got["targetShare"]
    if want.target_share is None or share is None:
        assert share is None and want.target_share is None, f"{where}: {want.kpi} at {want.unit}: targetShare {share}, want {want.target_share}"
    elif exact:
        assert share == float(rounded(want.target_share)), f"{where}: {want.kpi} at {want.unit}: targetShare {share}, want {want.target_share} rounded"
    else:
        assert abs(Fraction(share) - want.target_share) <= HALF_UNIT, f"{where}: {want.kpi} at {want.unit}: targetShare {share}, want {float(want.target_share)}"


def check_connection(got: Json, want: list[Status], exact: bool, where: str) -> None:
    """One page holding everything (first: 100)."""
    nodes = [e["node"] for e in got["edges"]]
    assert [(n["kpi"]["code"], n["unit"]["code"]) for n in nodes] == [(s.kpi, s.unit) for s in want], f"{where}: pairs"
    for n, s in zip(nodes, want, strict=True):
        check_status(n, s, exact, where)
    assert got["totalCount"] == len(want), f"{where}: totalCount"
    info = got["pageInfo"]
    cursors = [e["cursor"] for e in got["edges"]]
    assert info == {"hasNextPage": False, "hasPreviousPage": False, "startCursor": cursors[0] if cursors else None, "endCursor": cursors[-1] if cursors else None}, where


def check_lights(got: Json | None, w: World, p: Persona, u: int, pairs: list[tuple[int, Status]], where: str) -> None:
    if not w.reads(p, "unit", u):
        assert got is None, f"{where}: a unit out of scope: {got}"
        return
    assert got is not None, f"{where}: null"
    assert got["unit"]["code"] == w.code(u), where

    def under(top: int) -> Json:
        return counts([s for v, s in pairs if v in w.subtrees[top]])

    assert got["counts"] == under(u), f"{where}: the whole subtree"
    shown = [c for c in w.children(u) if w.reads(p, "unit", c) and c not in w.archived]
    assert [c["unit"]["code"] for c in got["children"]] == [w.code(c) for c in shown], f"{where}: children"
    for c, child in zip(got["children"], shown, strict=True):
        assert c["counts"] == under(child), f"{where} > {w.code(child)}"


async def walk(api: Api, user: str, variables: Json, page: int) -> tuple[list[Json], list[Json]]:
    """Every page of kpiStatuses, `page` at a time: (the pages, the edges in order)."""
    pages, edges, after = [], [], None
    while True:
        got = (await api.data(PAGE, {**variables, "first": page, "after": after}, as_user=user))["kpiStatuses"]
        pages.append(got)
        edges += got["edges"]
        assert len(pages) <= 200, "the walk does not end"
        if not got["pageInfo"]["hasNextPage"]:
            return pages, edges
        after = got["pageInfo"]["endCursor"]


def check_pages(pages: list[Json], edges: list[Json], want: list[Status], page: int, exact: bool, where: str) -> None:
    assert [(e["node"]["kpi"]["code"], e["node"]["unit"]["code"]) for e in edges] == [(s.kpi, s.unit) for s in want], f"{where}: pairs walked {page} at a time"
    for e, s in zip(edges, want, strict=True):
        check_status(e["node"], s, exact, where)
    assert len({e["cursor"] for e in edges}) == len(edges), f"{where}: cursors repeat"
    for i, got in enumerate(pages):
        cursors = [e["cursor"] for e in got["edges"]]
        last = i == len(pages) - 1
        assert len(cursors) == (page if not last else len(want) - page * i), f"{where}: page {i} holds {len(cursors)}"
        assert got["totalCount"] == len(want), f"{where}: totalCount on page {i}"
        assert got["pageInfo"] == {
            "hasNextPage": not last, "hasPreviousPage": i > 0, "startCursor": cursors[0] if cursors else None, "endCursor": cursors[-1] if cursors else None,
        }, f"{where}: pageInfo of page {i}"  # fmt: skip


async def check_persona(api: Api, w: World, pks: dict[str, dict[int, int]], n: int, exact: bool) -> None:
    p, user = w.personas[n], f"user{n}"
    who = f"user{n} {p}"
    pairs = statuses(w, p, pks["Measurement"])
    lit = [(u, s) for u, s in pairs if p.flt.lights is None or s.light in p.flt.lights]

    def listed(top: int) -> list[Status]:
        return [] if not w.reads(p, "unit", top) else [s for u, s in lit if u in w.subtrees[top]]

    f = filter_input(p.flt, pks)
    got = await api.data(every_unit_query([pks["Unit"][u] for u in range(len(w.parents))]), {"f": f}, as_user=user)
    for key, u in [("own", p.own)] + [(str(u), u) for u in range(len(w.parents))]:
        lights, connection = got[f"{key}Lights" if key == "own" else f"l{key}"], got["ownStatuses" if key == "own" else f"s{key}"]
        where = f"{'(own) ' if key == 'own' else ''}{w.code(u)} for {who}"
        check_lights(lights, w, p, u, pairs, f"kpiLights {where}")
        check_connection(connection, listed(u), exact, f"kpiStatuses {where}")

    event(f"statuses the user reads: {'none' if not pairs else 'a few' if len(pairs) < 5 else '5 or more'}")
    event(f"with a previous value: {any(s.previous_value is not None for _, s in pairs)}")
    event(f"filtered: {p.flt != Filter()}")
    pages, edges = await walk(api, user, {"u": None, "f": f}, p.page)
    check_pages(pages, edges, listed(p.own), p.page, exact, f"kpiStatuses (own) {p.page} at a time for {who}")


# -- 1. the property -----------------------------------------------------------------------------------
@st.composite
def kpi_defs(draw: st.DrawFn, resolutions: int, units: st.SearchStrategy[int]) -> KpiDef:
    grid = st.sampled_from(GRID)
    direction = draw(st.sampled_from(("increase", "decrease")))
    yellow, red = sorted(draw(st.lists(grid, min_size=2, max_size=2)), reverse=direction == "increase")
    if draw(st.integers(0, 9)) == 0:  # now and then thresholds against their direction: the rule still says what each value is
        yellow, red = red, yellow
    return KpiDef(draw(st.integers(0, resolutions - 1)), direction, draw(grid), draw(grid), yellow, red, draw(st.sampled_from(GROUPS)), draw(units))


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """3 to 10 units (up to 2 archived), 1 to 4 resolutions (some implementing another, cycles allowed), 1 to 5 KPIs,
    2 to 10 measured (KPI, unit) pairs with 1 to 4 periods each, 1 to 3 users (the first with a grant) each with its own filter and page size."""
    size = draw(st.integers(3, 10))
    parents = (0,) + tuple(draw(st.integers(0, i - 1)) for i in range(1, size))
    units, pick = st.integers(0, size - 1), st.integers(0, 1000)
    drawn = draw(st.lists(st.tuples(units, st.none() | pick), min_size=1, max_size=4))
    resolutions = tuple((u, None if k is None or k % len(drawn) == i else k % len(drawn)) for i, (u, k) in enumerate(drawn))
    kpis = tuple(draw(st.lists(kpi_defs(len(resolutions), units), min_size=1, max_size=5)))
    series = draw(st.lists(st.tuples(st.integers(0, len(kpis) - 1), units), min_size=2, max_size=10, unique=True))  # the measured (KPI, unit) pairs
    periods = st.lists(st.integers(0, len(PERIODS) - 1), min_size=1, max_size=len(PERIODS), unique=True)
    readings = [Reading(k, u, period, draw(st.sampled_from(GRID))) for k, u in series for period in draw(periods)]
    measurements = draw(st.permutations(readings))  # written in any order: the latest is the latest period, not the last row
    measured = sorted({(m.kpi, m.unit) for m in measurements})
    own = st.none() | st.sampled_from(GRID)
    targets = {pair: draw(own) for pair in measured}  # a unit reporting on a KPI has a target row, its target maybe null
    for k, u, t in draw(st.lists(st.tuples(st.integers(0, len(kpis) - 1), units, st.sampled_from(GRID)), max_size=3)):
        targets.setdefault((k, u), t)  # targets of units with no measurement: never a measured unit's
    lights = st.none() | st.lists(st.sampled_from(LIGHTS), max_size=3, unique=True).map(lambda ls: tuple(sorted(ls)))
    def often_none(values: list[Any]) -> st.SearchStrategy[Any]:
        return st.sampled_from([None, None, None, *values])

    filters = st.builds(
        Filter, resolution=often_none(list(range(len(resolutions)))), group=often_none([*GROUPS, "unused"]), kpi=often_none(list(range(len(kpis)))),
        lights=lights,
    )  # fmt: skip
    # the filter is often empty, so that most examples also judge everything unfiltered
    filters = st.one_of(st.just(Filter()), filters)

    def persona(min_grants: int) -> st.SearchStrategy[Persona]:
        grants = st.lists(st.tuples(st.sampled_from(ROLES), units), min_size=min_grants, max_size=3, unique=True).map(tuple)
        return st.builds(Persona, own=units, grants=grants, flt=filters, page=st.integers(1, 4))

    personas = [draw(persona(1))] + draw(st.lists(persona(0), max_size=2))
    archived = draw(st.frozensets(st.integers(1, size - 1), max_size=2))
    return World(
        parents=parents, personas=tuple(personas), resolutions=resolutions, kpis=kpis, measurements=tuple(measurements),
        targets=tuple((k, u, t) for (k, u), t in sorted(targets.items())), archived=archived,
    )  # fmt: skip


def _k(resolution: int, direction: str, baseline: str, target: str, yellow: str, red: str, group: str = "growth", lead: int = 0) -> KpiDef:
    return KpiDef(resolution, direction, Decimal(baseline), Decimal(target), Decimal(yellow), Decimal(red), group, lead)


# The root and two provinces; U01 has a commune U03 and an archived one U04. K00 rises (green from 50, yellow from 20),
# K01 falls (green up to 10, yellow up to 20, target below the baseline), K02's target is its baseline. Values sit on the
# thresholds, later periods are written first, U03 has its own target for K00 and a null one for K01. user1 (manager at
# U01) filters by R1, which implements R0 and is implemented by R2; user2 (viewer at U02) by R0, which it may not read.
EDGES = World(
    parents=(0, 0, 0, 1, 1),
    personas=(Persona(0, (("admin", 0),), page=2), Persona(1, (("manager", 1),), Filter(resolution=1), page=1),
              Persona(2, (("viewer", 2),), Filter(resolution=0))),
    resolutions=((0, None), (1, 0), (1, 1)),
    kpis=(_k(0, "increase", "0", "100", "50", "20"), _k(1, "decrease", "33.3", "10", "10", "20", "people", 1), _k(2, "increase", "50", "50", "50", "20")),
    measurements=(
        Reading(0, 3, 3, Decimal(50)), Reading(0, 3, 1, Decimal("19.99")), Reading(0, 3, 2, Decimal(20)),
        Reading(1, 3, 0, Decimal(20)), Reading(1, 3, 2, Decimal("20.01")), Reading(1, 4, 0, Decimal(20)),
        Reading(2, 1, 1, Decimal("66.67")), Reading(2, 2, 3, Decimal(-5)), Reading(0, 2, 0, Decimal("120.5")),
        Reading(0, 1, 3, Decimal(-5)), Reading(0, 1, 2, Decimal("33.3")),
    ),
    targets=((0, 1, None), (0, 2, None), (0, 3, Decimal(80)), (1, 3, None), (1, 4, None), (2, 1, None), (2, 2, None), (0, 4, Decimal("66.67"))),
    archived=frozenset({4}),
)  # fmt: skip


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@example(world=EDGES)
@given(world=worlds())
def test_kpi_lights_and_statuses_equal_the_oracle(backend: Backend, world: World) -> None:
    async def run() -> None:
        await backend.reset()
        async with running_app(backend.settings) as api:
            pks = await load(api, world)
            for n in range(len(world.personas)):
                await check_persona(api, world, pks, n, exact=backend.name == "postgresql")

    asyncio.run(run())


def test_the_edge_world_judges_what_it_is_meant_to() -> None:
    """The example above is not vacuous: each light, a change, a null previous value, both kinds of target,
    a null share, an archived child and a resolution filter that counts nothing all occur in it."""
    admin, p01, p02 = EDGES.personas
    every = [s for _, s in statuses(EDGES, admin, dict(enumerate(range(1, 100))))]
    assert {s.light for s in every} == set(LIGHTS)
    assert any(s.change is not None for s in every) and any(s.previous_value is None for s in every)
    assert any(s.target_share is None for s in every) and any(s.target != EDGES.kpis[0].target for s in every if s.kpi == "K00")
    assert any(s.target_share is not None and s.target_share < 0 for s in every)
    assert statuses(EDGES, p02, dict(enumerate(range(1, 100)))) == []
    assert {s.kpi for _, s in statuses(EDGES, p01, dict(enumerate(range(1, 100))))} == {"K01", "K02"}  # R1's family: R1 and R2, not R0


# -- 2. examples ---------------------------------------------------------------------------------------
ADMIN = Persona(0, (("admin", 0),))


def grid_world(units: int = 4, kpis: int = 3, personas: tuple[Persona, ...] = (ADMIN,)) -> World:
    """The root and `units` - 1 children; every KPI measured at every unit in two periods, the values spread over the grid."""
    defs = tuple(_k(0, ("increase", "decrease")[k % 2], "0", "100", "50" if k % 2 == 0 else "20", "20" if k % 2 == 0 else "50") for k in range(kpis))
    readings = []
    for k in range(kpis):
        for u in range(units):
            for period in (1, 2):
                readings.append(Reading(k, u, period, GRID[(3 * k + 5 * u + period) % len(GRID)]))
    return World(
        parents=(0,) + (0,) * (units - 1), personas=personas, resolutions=((0, None),), kpis=defs, measurements=tuple(readings),
        targets=tuple((k, u, None) for k in range(kpis) for u in range(units)),
    )  # fmt: skip


async def test_every_cursor_continues_exactly_after_its_edge(api: Api) -> None:
    w = grid_world(units=4, kpis=3)
    pks = await load(api, w)
    want = [s for _, s in statuses(w, ADMIN, pks["Measurement"])]
    assert len(want) == 12 and {s.light for s in want} == set(LIGHTS)
    exact = api.engine.dialect.name == "postgresql"
    whole = (await api.data(PAGE, {"f": None, "first": 100}, as_user="user0"))["kpiStatuses"]
    check_connection(whole, want, exact, "one page")
    cursors = [e["cursor"] for e in whole["edges"]]
    for page in (1, 2, 5, 12, 13):
        pages, edges = await walk(api, "user0", {"f": None}, page)
        check_pages(pages, edges, want, page, exact, f"{page} at a time")
        assert [e["cursor"] for e in edges] == cursors, f"{page} at a time: the cursors differ from one page's"
    for i, cursor in enumerate(cursors):  # any edge's cursor, not only an endCursor: the rest, from the next edge on
        got = (await api.data(PAGE, {"f": None, "first": 100, "after": cursor}, as_user="user0"))["kpiStatuses"]
        assert [e["cursor"] for e in got["edges"]] == cursors[i + 1 :], f"after edge {i}"
        assert got["totalCount"] == len(want) and got["pageInfo"]["hasPreviousPage"] is True, f"after edge {i}"
    nothing = (await api.data(PAGE, {"f": None, "first": 0}, as_user="user0"))["kpiStatuses"]
    assert nothing == {"totalCount": 12, "edges": [], "pageInfo": {"hasNextPage": True, "hasPreviousPage": False, "startCursor": None, "endCursor": None}}


async def test_a_cursor_continues_under_another_filter_by_its_keys(api: Api) -> None:
    """A cursor stands for a (KPI code, unit code) key: given to a filtered list, that list goes on after the key."""
    w = grid_world(units=4, kpis=3)
    pks = await load(api, w)
    every = [s for _, s in statuses(w, ADMIN, pks["Measurement"])]
    whole = (await api.data(PAGE, {"f": None, "first": 100}, as_user="user0"))["kpiStatuses"]
    middle = whole["edges"][5]["cursor"]  # K01 at U01
    for lights in (["GREEN"], ["YELLOW", "RED"]):
        got = (await api.data(PAGE, {"f": {"light": lights}, "first": 100, "after": middle}, as_user="user0"))["kpiStatuses"]
        want = [(s.kpi, s.unit) for s in every[6:] if s.light.upper() in lights]
        assert [(e["node"]["kpi"]["code"], e["node"]["unit"]["code"]) for e in got["edges"]] == want, lights


def forged(name: str, key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps([name, key]).encode()).decode().rstrip("=")


async def test_a_cursor_of_another_list_or_a_forged_one_is_refused(api: Api) -> None:
    w = grid_world(units=3, kpis=2)
    await load(api, w)
    others = await api.data(
        "{ kpis(first: 1) { pageInfo { endCursor } } units(first: 1) { pageInfo { endCursor } } measurements(first: 1) { pageInfo { endCursor } } }",
        as_user="user0",
    )
    mine = (await api.data(PAGE, {"f": None, "first": 1}, as_user="user0"))["kpiStatuses"]["pageInfo"]["endCursor"]
    assert mine is not None and all(others[k]["pageInfo"]["endCursor"] for k in others)
    invalid = [("INVALID", "after")]
    cases = {
        "a kpis cursor": others["kpis"]["pageInfo"]["endCursor"],
        "a units cursor": others["units"]["pageInfo"]["endCursor"],
        "a measurements cursor": others["measurements"]["pageInfo"]["endCursor"],
        "garbage": "not a cursor",
        "base64 of nothing of ours": base64.urlsafe_b64encode(b"[1, 2, 3]").decode(),
        "one key of two": forged("kpi_statuses", ["K00"]),
        "three keys of two": forged("kpi_statuses", ["K00", "U00", "U01"]),
        "a number for a code": forged("kpi_statuses", ["K00", 1]),
        "a code with a NUL": forged("kpi_statuses", ["K00\u0000", "U00"]),
        "another list's name": forged("kpis", ["K00", "U00"]),
    }
    problems = []
    for name, cursor in cases.items():
        body = await api.gql(PAGE, {"f": None, "first": 5, "after": cursor}, as_user="user0")
        if (typed_errors(body), body.get("data")) != (invalid, None):
            problems.append(f"{name}: {body.get('errors')} {body.get('data')}")
    for first in (-1, 101):
        body = await api.gql(PAGE, {"f": None, "first": first, "after": mine}, as_user="user0")
        if (typed_errors(body), body.get("data")) != ([("OUT_OF_RANGE", "first")], None):
            problems.append(f"first {first}: {body.get('errors')} {body.get('data')}")
    assert problems == []
    # a key past every pair, well formed: simply nothing after it
    body = await api.data(PAGE, {"f": None, "first": 5, "after": forged("kpi_statuses", ["K99", "U99"])}, as_user="user0")
    assert body["kpiStatuses"]["edges"] == [] and body["kpiStatuses"]["totalCount"] == len(w.kpis) * len(w.parents)


async def test_the_light_filter_keeps_the_statuses_of_those_lights_only(api: Api) -> None:
    w = grid_world(units=5, kpis=4)
    pks = await load(api, w)
    every = [s for _, s in statuses(w, ADMIN, pks["Measurement"])]
    assert {s.light for s in every} == set(LIGHTS)
    exact = api.engine.dialect.name == "postgresql"
    unfiltered = (await api.data(LIGHTS_QUERY, {"f": None}, as_user="user0"))["kpiLights"]
    seen: list[tuple[str, str]] = []
    for lights in ([], ["GREEN"], ["YELLOW"], ["RED"], ["GREEN", "RED"], ["RED", "YELLOW", "GREEN"], ["RED", "RED"]):
        want = [s for s in every if s.light.upper() in lights]
        got = (await api.data(PAGE, {"f": {"light": lights}, "first": 100}, as_user="user0"))["kpiStatuses"]
        check_connection(got, want, exact, f"light {lights}")
        if len(lights) == 1:
            seen += [(e["node"]["kpi"]["code"], e["node"]["unit"]["code"]) for e in got["edges"]]
        # kpiLights counts every light whatever the filter says of lights
        assert (await api.data(LIGHTS_QUERY, {"f": {"light": lights}}, as_user="user0"))["kpiLights"] == unfiltered, lights
    assert sorted(seen) == [(s.kpi, s.unit) for s in every]  # the three lights part the statuses
    pages, edges = await walk(api, "user0", {"f": {"light": ["YELLOW", "GREEN"]}}, 2)
    check_pages(pages, edges, [s for s in every if s.light != "red"], 2, exact, "yellow and green, 2 at a time")


async def test_bad_input_is_a_typed_error(api: Api) -> None:
    w = grid_world(units=3, kpis=2)
    pks = await load(api, w)
    root, resolution, kpi = (encode_id(t, pks[t][0]) for t in ("Unit", "Resolution", "Kpi"))
    cases = [  # (arguments, the type of $bad, $bad, the error)
        ("unit: $bad", "ID!", "not-an-id", ("INVALID_ID", "unit")),
        ("unit: $bad", "ID!", resolution, ("INVALID_ID", "unit")),  # an id of another type
        ("unit: $bad", "ID!", kpi, ("INVALID_ID", "unit")),
        ("filter: {resolution: $bad}", "ID!", "not-an-id", ("INVALID_ID", "filter.resolution")),
        ("filter: {resolution: $bad}", "ID!", root, ("INVALID_ID", "filter.resolution")),
        ("filter: {kpi: $bad}", "ID!", "not-an-id", ("INVALID_ID", "filter.kpi")),
        ("filter: {kpi: $bad}", "ID!", resolution, ("INVALID_ID", "filter.kpi")),
        ("filter: {group: $bad}", "String!", "g" * 33, ("TOO_LONG", "filter.group")),
        (f'unit: "{root}", filter: {{group: $bad}}', "String!", "g" * 33, ("TOO_LONG", "filter.group")),
        (f'filter: {{group: $bad, kpi: "{kpi}", light: [GREEN]}}', "String!", "é" * 33, ("TOO_LONG", "filter.group")),
    ]
    problems = []
    for args, kind, bad, want in cases:
        for root_field, selection, data in (("kpiLights", "{ unit { code } }", {"kpiLights": None}), ("kpiStatuses", "{ totalCount }", None)):
            body = await api.gql(f"query($bad: {kind}) {{ {root_field}({args}) {selection} }}", {"bad": bad}, as_user="user0")
            if (typed_errors(body), body.get("data")) != ([want], data):
                problems.append(f"{root_field}({args}) with {bad[:12]!r}: {body.get('errors')} {body.get('data')}")
    assert problems == []
    # 32 characters are a group (of no KPI here): no error, nothing counted
    body = await api.data('{ kpiLights(filter: {group: "' + "g" * 32 + '"}) { counts { measured } } kpiStatuses(filter: {group: "' + "g" * 32 + '"}) { totalCount } }', as_user="user0")
    assert body == {"kpiLights": {"counts": {"measured": 0}}, "kpiStatuses": {"totalCount": 0}}
    # a unit that does not exist is answered as one out of scope: null, and an empty list
    missing = encode_id("Unit", max(pks["Unit"].values()) + 1000)
    body = await api.data(f'{{ kpiLights(unit: "{missing}") {{ unit {{ code }} }} kpiStatuses(unit: "{missing}") {{ totalCount edges {{ cursor }} pageInfo {{ hasNextPage endCursor }} }} }}', as_user="user0")
    assert body == {"kpiLights": None, "kpiStatuses": {"totalCount": 0, "edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}}


# -- what is out of sight -------------------------------------------------------------------------------
async def test_statuses_never_show_a_kpi_the_caller_cannot_read(api: Api) -> None:
    """U01's viewer reads the measurement of K00 at U01 but not K00 (issued and led at the root, no target at U01):
    node(id) and Measurement.kpi say null and Measurement.light too (its thresholds are out of sight). kpiStatuses
    must not hand out the KPI (code, name, target) nor its light, and kpiLights must not count that light (ACCESS.md,
    rule 6: invisible in every entry point, aggregates included)."""
    w = World(
        parents=(0, 0), personas=(ADMIN, Persona(1, (("viewer", 1),))), resolutions=((0, None),), kpis=(_k(0, "increase", "0", "100", "50", "20"),),
        measurements=(Reading(0, 1, 0, Decimal(60)),), targets=(),
    )  # fmt: skip
    pks = await load(api, w)
    kpi = encode_id("Kpi", pks["Kpi"][0])
    seen = await api.data(f'{{ node(id: "{kpi}") {{ id }} measurements(first: 5) {{ nodes {{ light kpi {{ code }} }} }} }}', as_user="user1")
    assert seen == {"node": None, "measurements": {"nodes": [{"light": None, "kpi": None}]}}  # the measurement, not its KPI
    admin = await api.data("{ kpiStatuses { totalCount } kpiLights { counts { measured } } }", as_user="user0")
    assert admin == {"kpiStatuses": {"totalCount": 1}, "kpiLights": {"counts": {"measured": 1}}}  # the root sees the pair
    got = await api.data("{ kpiStatuses { totalCount nodes { kpi { code name } light } } kpiLights { counts { green measured } } }", as_user="user1")
    assert got == {"kpiStatuses": {"totalCount": 0, "nodes": []}, "kpiLights": {"counts": {"green": 0, "measured": 0}}}


async def test_kpi_lights_refuses_a_bad_filter_whatever_the_unit(api: Api) -> None:
    """kpiStatuses refuses a bad filter whether or not the unit is in scope; kpiLights answers null instead when the
    unit is out of scope (or does not exist, or the caller has no grant for its own unit)."""
    w = World(parents=(0, 0), personas=(ADMIN, Persona(1, (("viewer", 1),)), Persona(1, ())), resolutions=((0, None),), kpis=(), measurements=(), targets=())
    pks = await load(api, w)
    root, missing = encode_id("Unit", pks["Unit"][0]), encode_id("Unit", max(pks["Unit"].values()) + 1000)
    bad = {"group": "g" * 33}
    got = []
    for user, u in (("user1", root), ("user1", missing), ("user2", None)):
        for root_field, selection in (("kpiStatuses", "{ totalCount }"), ("kpiLights", "{ unit { code } }")):
            body = await api.gql(f"query($u: ID, $f: KpiStatusFilterInput) {{ {root_field}(unit: $u, filter: $f) {selection} }}", {"u": u, "f": bad}, as_user=user)
            got.append((root_field, typed_errors(body)))
    assert got == [(f, [("TOO_LONG", "filter.group")]) for f in ("kpiStatuses", "kpiLights")] * 3


# -- 3. statement counts --------------------------------------------------------------------------------
async def test_statements_do_not_grow_with_the_number_of_children(api: Api, statements: StatementCounter) -> None:
    """U01 has 3 children and U02 12, each with a child of its own; both KPIs measured in two periods at every one of them;
    R0 is issued at U01 (so U01's manager may filter by it) and R1 implements it. kpiLights: the unit, (the resolution's
    family,) one statement. kpiStatuses: the unit, (the family,) a page, a count."""
    parents = [0, 0, 0]
    for top, n in ((1, 3), (2, 12)):
        for _ in range(n):
            child = len(parents)
            parents += [top, child]
    measured = [u for u in range(3, len(parents))]
    readings = tuple(Reading(k, u, period, GRID[(k + u + period) % len(GRID)]) for k in (0, 1) for u in measured for period in (0, 2))
    w = World(
        parents=tuple(parents), personas=(ADMIN, Persona(1, (("manager", 1), ("viewer", 2)))), resolutions=((1, None), (1, 0)),
        kpis=(_k(0, "increase", "0", "100", "50", "20"), _k(1, "decrease", "100", "0", "30", "60")), measurements=readings,
        targets=tuple((k, u, Decimal(70) if u % 2 else None) for k in (0, 1) for u in measured),
    )  # fmt: skip
    pks = await load(api, w)
    uid = {u: encode_id("Unit", pk) for u, pk in pks["Unit"].items()}
    filters = {"none": None, "family and group": {"resolution": encode_id("Resolution", pks["Resolution"][0]), "group": "growth", "light": ["RED", "GREEN"]}}
    statuses_query = f"query($u: ID, $f: KpiStatusFilterInput, $first: Int!) {{ kpiStatuses(unit: $u, filter: $f, first: $first) {{ ...S }} }} {CONNECTION} {NODE}"

    async def cost(user: str, query: str, variables: Json, size: int) -> int:
        statements.reset()
        data = await api.data(query, variables, as_user=user)
        if "kpiLights" in data:
            children = data["kpiLights"]["children"]
            assert len(children) == size and all(c["counts"]["measured"] > 0 for c in children)  # every child really counted
        else:
            assert len(data["kpiStatuses"]["edges"]) == size  # the page really holds `size` statuses
        return statements.count

    for user in ("user0", "user1"):
        await api.token_for(user)
        statements.reset()
        await api.data("{ __typename }", as_user=user)
        baseline = statements.count  # the caller's account and grants
        for name, f in filters.items():
            family = int(f is not None)
            lights = (await cost(user, LIGHTS_QUERY, {"u": uid[1], "f": f}, 3), await cost(user, LIGHTS_QUERY, {"u": uid[2], "f": f}, 12))
            pages = (await cost(user, statuses_query, {"u": uid[1], "f": f, "first": 2}, 2), await cost(user, statuses_query, {"u": uid[2], "f": f, "first": 30}, 30))
            assert (lights, pages) == ((baseline + 2 + family,) * 2, (baseline + 3 + family,) * 2), (user, name, statements.statements)
