"""Monitoring: progressRollup and ranking, on SQLite and PostgreSQL, with today fixed at TODAY.

1. Property: random small worlds (a tree with kinds and archived units, resolutions implementing
   others, even in a cycle, KPIs of groups, tasks, assignments with random statuses, progress,
   extensions and completion dates, users with random grants) are written straight into the
   tables. For every user, with a random filter, the rollup of every unit (and of the user's own,
   by default; and of its grants' units filtered by each resolution alone), and by two random
   metrics (each with a random thenBy) the ranking of every unit's children and of every kind,
   equal a plain-Python oracle: the readable units, assignments and resolutions come from a per-row casbin
   oracle over the tree (as in test_scope_property_cycle), and the figures are aggregated over the
   rows the user gets from the `assignments` list, which must be exactly the oracle's: nobody sees
   a count of what it may not list. Rates are checked against exact fractions: equal to the value
   rounded half away from zero on PostgreSQL, within half a unit of the last place on SQLite.
2. Examples: rank ties and skips, thenBy breaking ties, null values last, OVERDUE ascending,
   timeliness and overdue on their edges, quartiles of 1 to 5 values, what is out of scope (a
   unit, a resolution), typed errors for bad input that run no SQL of the resolver, whether or
   not the unit named is in the caller's scope.
3. Statement counts: a rollup and a ranking cost the same number of statements for 3 groups as
   for 12, with and without a resolution filter, for a caller at the root and a scoped one.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import cache
from math import floor
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolute.api.kpis.models import Kpi
from resolute.api.tasks.models import ASSIGNMENT_STATUSES, Assignment, Task
from resolute.schema.ids import decode_any, encode_id
from tests.support import Api, Backend, Resolutions, StatementCounter, Tree, running_app, typed_errors, unit, write_world_base
from tests.test_scope_property_cycle import ORACLE, ROLES, insert_rows

TODAY = date(2025, 6, 15)
KINDS = ("province", "commune", "department")  # below the root ("central"); "cell" is never used
GROUPS = ("growth", "people", "green")
METRICS = {"COMPLETION_RATE": "completionRate", "ON_TIME_RATE": "onTimeRate", "AVERAGE_PROGRESS": "averageProgress", "OVERDUE": "overdue", "COMPLETED": "completed"}
PLACES = {"completionRate": 4, "onTimeRate": 4, "averageProgress": 2}  # the rates and their rounding
Json = dict[str, Any]


class _Today(date):
    @classmethod
    def today(cls) -> date:  # type: ignore[override]
        return TODAY


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("resolute.api.clock.date", _Today)  # the one clock every request reads `today` from


@cache
def may(role: str, obj: str, act: str) -> bool:
    return bool(ORACLE.enforce(role, obj, act))


# -- the world ------------------------------------------------------------------------------------
class Work(NamedTuple):
    """An assignment as the figures see it (task and assignee are world indexes)."""

    task: int
    assignee: int
    status: str
    progress: int
    original_due: date
    due: date
    completed_on: date | None


@dataclass(frozen=True)
class Filter:
    resolution: int | None = None
    kpi_group: str | None = None
    due_from: date | None = None
    due_to: date | None = None


@dataclass(frozen=True)
class Persona:
    own: int
    grants: tuple[tuple[str, int], ...]
    flt: Filter = Filter()
    orders: tuple[tuple[str, str | None], ...] = ()  # (metric, thenBy) of the rankings asked


@dataclass(frozen=True)
class World(Tree, Resolutions):
    """Every reference is an index into the lists; unit 0 is the root."""

    parents: tuple[int, ...]  # parents[i] < i
    kinds: tuple[str, ...]
    personas: tuple[Persona, ...]
    resolutions: tuple[tuple[int, int | None], ...]  # (issuing unit, the resolution it implements)
    tasks: tuple[tuple[int, int | None], ...]  # (resolution, KPI); the lead unit is the root
    assignments: tuple[tuple[int, Work], ...]  # (assigner unit, strictly above the assignee; the work)
    kpi_groups: tuple[str, ...] = GROUPS  # one KPI per entry
    archived: frozenset[int] = frozenset()

    # -- the oracle: casbin per grant, the tree walked in Python ----------------------------------
    def reach(self, p: Persona, obj: str) -> list[frozenset[int]]:
        return [self.subtrees[g] for role, g in p.grants if may(role, obj, "read")]

    def readable_units(self, p: Persona) -> set[int]:
        return {u for u in range(len(self.parents)) if any(u in s for s in self.reach(p, "unit"))}

    def readable_assignments(self, p: Persona) -> dict[int, Work]:
        return {a: w for a, (assigner, w) in enumerate(self.assignments) if any(w.assignee in s or assigner in s for s in self.reach(p, "assignment"))}

    def readable_resolution(self, p: Persona, r: int) -> bool:
        """Issued in reach, or a task of it handed down there, or so one implementing it, down the chain."""
        def reached(d: int, s: frozenset[int]) -> bool:
            return self.resolutions[d][0] in s or any(w.assignee in s for _, w in self.assignments if self.tasks[w.task][0] == d)
        return any(reached(d, s) for s in self.reach(p, "resolution") for d in self.family(r))

    def counts(self, p: Persona, f: Filter, w: Work) -> bool:
        if f.resolution is not None and not (self.readable_resolution(p, f.resolution) and self.tasks[w.task][0] in self.family(f.resolution)):
            return False
        kpi = self.tasks[w.task][1]
        if f.kpi_group is not None and (kpi is None or self.kpi_groups[kpi] != f.kpi_group):
            return False
        return (f.due_from is None or w.due >= f.due_from) and (f.due_to is None or w.due <= f.due_to)


# -- the figures and the ranking, in plain Python ---------------------------------------------------
def figures(rows: Iterable[Any], today: date = TODAY) -> Json:
    """Counts as ints, rates as exact fractions (None for a zero denominator), of rows with a status, a progress, a
    completion day and the original and current due dates (also the oracle of tests/test_approved_figures_property.py)."""
    rows = list(rows)
    status = Counter(w.status for w in rows)
    done = [w for w in rows if w.status == "completed"]
    owed = len(rows) - status["cancelled"]
    on_time = sum(w.completed_on <= w.original_due for w in done)  # type: ignore[operator]
    return {
        "total": len(rows), "notStarted": status["not_started"], "inProgress": status["in_progress"],
        "completed": len(done), "cancelled": status["cancelled"],
        "overdue": sum(w.status in ("not_started", "in_progress") and w.due < today for w in rows),
        "completedOnTime": on_time,
        "completedWithinExtension": sum(w.original_due < w.completed_on <= w.due for w in done),  # type: ignore[operator]
        "completedLate": sum(w.completed_on > w.due for w in done),  # type: ignore[operator]
        "completionRate": Fraction(len(done), owed) if owed else None,
        "onTimeRate": Fraction(on_time, len(done)) if done else None,
        "averageProgress": Fraction(sum(w.progress for w in rows if w.status != "cancelled"), owed) if owed else None,
    }  # fmt: skip


def rounded(x: Fraction, places: int) -> Fraction:
    """Half away from zero (the figures are never negative)."""
    return Fraction(floor(x * 10**places + Fraction(1, 2)), 10**places)


def same(got: float | None, want: Fraction | int | None, places: int | None, exact: bool) -> bool:
    """`got` is `want` rounded to `places`: exactly (PostgreSQL's numeric), or within half a unit of the last place
    (SQLite's floats)."""
    if want is None or got is None:
        return got is None and want is None
    if places is None:
        return got == want
    if exact:
        return got == float(rounded(Fraction(want), places))
    return abs(Fraction(got) - Fraction(want)) <= Fraction(1, 2 * 10**places) + Fraction(1, 10**9)


def check_figures(got: Json, want: Json, exact: bool, where: str) -> None:
    wrong = [k for k in want if not same(got[k], want[k], PLACES.get(k), exact)]
    assert not wrong, f"{where}: {wrong} differ: got {got}, want {want}"


def metric_value(figs: Json, metric: str) -> Fraction | None:
    """The value a ranking orders by: the figure as the API rounds it."""
    name = METRICS[metric]
    value = figs[name]
    return None if value is None else rounded(Fraction(value), PLACES[name]) if name in PLACES else Fraction(value)


def expected_ranking(entries: list[tuple[str, Json]], metric: str, then_by: str | None) -> tuple[list[tuple[str, int | None]], list[Fraction | None]]:
    """(code, rank) in order, and the quartiles of the ranked values (statistics.quantiles, inclusive)."""

    def key(m: str, figs: Json) -> tuple[Any, ...]:
        v = metric_value(figs, m)
        return (v is None, 0 if v is None else v if m == "OVERDUE" else -v)

    def full(figs: Json) -> tuple[Any, ...]:
        return key(metric, figs) + (key(then_by, figs) if then_by else ())

    order: list[tuple[str, int | None]] = []
    ordered = sorted(entries, key=lambda e: (full(e[1]), e[0]))
    for i, (code, figs) in enumerate(ordered):
        tied = i > 0 and full(ordered[i - 1][1]) == full(figs)
        order.append((code, None if metric_value(figs, metric) is None else order[-1][1] if tied else i + 1))
    return order, quartiles([v for _, figs in entries if (v := metric_value(figs, metric)) is not None])


def quartiles(values: list[Fraction]) -> list[Fraction | None]:
    if len(values) < 2:
        return [values[0] if values else None] * 3
    return statistics.quantiles(sorted(values), n=4, method="inclusive")


def check_ranking(got: Json | None, entries: list[tuple[str, Json]] | None, metric: str, then_by: str | None, exact: bool, where: str) -> None:
    if entries is None:
        assert got is None, f"{where}: a ranking of children of a unit out of scope: {got}"
        return
    assert got is not None, f"{where}: null ranking"
    order, quarts = expected_ranking(entries, metric, then_by)
    assert [(e["unit"]["code"], e["rank"]) for e in got["entries"]] == order, f"{where}: order and ranks, {metric} then {then_by}"
    by_code = dict(entries)
    for e in got["entries"]:
        want = by_code[e["unit"]["code"]]
        check_figures(e["figures"], want, exact, f"{where} > {e['unit']['code']}")
        assert same(e["value"], want[METRICS[metric]], PLACES.get(METRICS[metric]), exact), f"{where} > {e['unit']['code']}: value {e['value']}"
    assert got["rankedCount"] == sum(rank is not None for _, rank in order), where
    stats = [got["lowerQuartile"], got["median"], got["upperQuartile"]]
    assert all(same(g, q, 4, exact) for g, q in zip(stats, quarts, strict=True)), f"{where}: quartiles {stats}, want {[str(q) for q in quarts]}"
    assert (got["metric"], got["thenBy"]) == (metric, then_by), where


# -- writing a world ----------------------------------------------------------------------------------
DAY = date(2024, 1, 10)


async def load(api: Api, w: World) -> dict[str, dict[int, int]]:
    """The tree through the importer, the rest straight into the tables; type -> world index -> pk."""
    units = [unit(w.code(0), None, "central")] + [unit(w.code(i), w.code(p), w.kinds[i]) for i, p in enumerate(w.parents) if i]
    await api.seed(units, [], passwords=False)
    async with api.engine.begin() as conn:
        base = await write_world_base(api, conn, units=len(w.parents), archived=w.archived, personas=w.personas, resolutions=w.resolutions, issued_on=DAY)
        uid, res = base.uid, base.res
        kpis = await insert_rows(conn, Kpi, [
            {"code": f"K{i}", "resolution_id": res[0], "name": f"KPI {i}", "search_name": f"kpi {i}", "unit_of_measure": "%", "direction": "increase",
             "baseline": Decimal(0), "target": Decimal(100), "yellow_threshold": Decimal(50), "red_threshold": Decimal(20), "kpi_group": group, "frequency": "yearly", "lead_unit_id": uid[0]}
            for i, group in enumerate(w.kpi_groups)
        ])  # fmt: skip
        tasks = await insert_rows(conn, Task, [
            {"code": f"T{i}", "title": f"T {i}", "search_title": f"t {i}", "resolution_id": res[r], "kpi_id": None if k is None else kpis[k],
             "lead_unit_id": uid[0], "start_on": DAY, "due_on": date(2030, 1, 1), "status": "in_progress"}
            for i, (r, k) in enumerate(w.tasks)
        ])  # fmt: skip
        assignments = await insert_rows(conn, Assignment, [
            {"code": f"A{i}", "task_id": tasks[a.task], "assigner_unit_id": uid[assigner], "assignee_unit_id": uid[a.assignee], "raci": "R",
             "assigned_on": DAY, "original_due_on": a.original_due, "due_on": a.due, "status": a.status, "progress": a.progress, "completed_on": a.completed_on}
            for i, (assigner, a) in enumerate(w.assignments)
        ])  # fmt: skip
    return {"Unit": uid, "Resolution": res, "Task": tasks, "Assignment": assignments}


# -- what GraphQL answers -----------------------------------------------------------------------------
FIGURES = ("fragment F on ProgressFigures { total notStarted inProgress completed cancelled overdue"
           " completedOnTime completedWithinExtension completedLate completionRate onTimeRate averageProgress }")
ROLLUP = "fragment R on ProgressRollup { unit { code } figures { ...F } children { unit { code } figures { ...F } } }"
RANKING = "fragment K on Ranking { metric thenBy rankedCount lowerQuartile median upperQuartile entries { rank value unit { code } figures { ...F } } }"
LIST = """query($after: String) { assignments(first: 7, after: $after) {
  pageInfo { hasNextPage endCursor } nodes { id status progress dueOn originalDueOn completedOn unit { code } task { id } } } }"""


def filter_input(f: Filter, pks: dict[str, dict[int, int]]) -> Json:
    return {
        "resolution": None if f.resolution is None else encode_id("Resolution", pks["Resolution"][f.resolution]),
        "kpiGroup": f.kpi_group, "dueFrom": f.due_from and f.due_from.isoformat(), "dueTo": f.due_to and f.due_to.isoformat(),
    }  # fmt: skip


def rollups_query(asked: list[tuple[int | None, Filter]], pks: dict[str, dict[int, int]]) -> str:
    """progressRollup r<i> of each (unit, filter) asked (the caller's own unit for None), the filter in $f<i>."""
    unit_arg = lambda u: "" if u is None else f'unit: "{encode_id("Unit", pks["Unit"][u])}", '
    fields = " ".join(f"r{i}: progressRollup({unit_arg(u)}filter: $f{i}) {{ ...R }}" for i, (u, _) in enumerate(asked))
    return f"query({', '.join(f'$f{i}: ProgressFilterInput' for i in range(len(asked)))}) {{ {fields} }} {ROLLUP} {FIGURES}"


def rankings_query(unit_ids: list[int], kinds: list[str]) -> str:
    args = "metric: $m, thenBy: $t, filter: $f"
    fields = [f'c{i}: ranking({args}, childrenOf: "{encode_id("Unit", pk)}") {{ ...K }}' for i, pk in enumerate(unit_ids)]
    fields += [f'k{i}: ranking({args}, kind: "{kind}") {{ ...K }}' for i, kind in enumerate(kinds)]
    return f"query($m: RankingMetric!, $t: RankingMetric, $f: ProgressFilterInput) {{ {' '.join(fields)} }} {RANKING} {FIGURES}"


async def listed(api: Api, user: str, pks: dict[str, dict[int, int]]) -> dict[int, Work]:
    """The user's assignments, page by page, as assignment pk -> Work."""
    task_of = {pk: i for i, pk in pks["Task"].items()}
    rows: dict[int, Work] = {}
    after = None
    while True:
        page = (await api.data(LIST, {"after": after}, as_user=user))["assignments"]
        for a in page["nodes"]:
            decoded, task = decode_any(a["id"]), decode_any(a["task"]["id"])
            assert decoded and task and decoded[0] == "Assignment" and task[0] == "Task", a
            rows[decoded[1]] = Work(task_of[task[1]], int(a["unit"]["code"][1:]), a["status"], a["progress"], date.fromisoformat(a["originalDueOn"]),
                                    date.fromisoformat(a["dueOn"]), a["completedOn"] and date.fromisoformat(a["completedOn"]))  # fmt: skip
        if not page["pageInfo"]["hasNextPage"]:
            return rows
        after = page["pageInfo"]["endCursor"]


async def check_persona(api: Api, w: World, pks: dict[str, dict[int, int]], n: int, exact: bool) -> None:
    p, user = w.personas[n], f"user{n}"
    who = f"user{n} {p}"
    rows = await listed(api, user, pks)
    oracle = {pks["Assignment"][a]: work for a, work in w.readable_assignments(p).items()}
    assert rows == oracle, f"assignments listed for {who}: extra {sorted(rows.keys() - oracle.keys())}, missing {sorted(oracle.keys() - rows.keys())}"

    units = w.readable_units(p)
    shown = {u: [c for c in w.children(u) if c in units and c not in w.archived] for u in units}  # children a rollup or a ranking shows

    def counted(u: int, flt: Filter) -> Json:
        """The figures of unit u: over the listed rows (checked above against the oracle) of its subtree that count."""
        return figures(work for work in rows.values() if work.assignee in w.subtrees[u] and w.counts(p, flt, work))

    # every unit with the user's filter, its own unit by default, and each of its grants' units with each resolution alone
    asked: list[tuple[int | None, Filter]] = [(None, p.flt)] + [(u, p.flt) for u in range(len(w.parents))]
    asked += [(g, Filter(resolution=r)) for g in sorted({g for _, g in p.grants}) for r in range(len(w.resolutions))]
    for start in range(0, len(asked), 25):  # at most 30 aliases a request
        chunk = asked[start : start + 25]
        got = await api.data(rollups_query(chunk, pks), {f"f{i}": filter_input(f, pks) for i, (_, f) in enumerate(chunk)}, as_user=user)
        for i, (asked_unit, flt) in enumerate(chunk):
            u = p.own if asked_unit is None else asked_unit
            rollup, where = got[f"r{i}"], f"progressRollup(unit: {'default ' if asked_unit is None else ''}{w.code(u)}, {flt}) for {who}"
            if u not in units:
                assert rollup is None, f"{where}: out of scope, got {rollup}"
                continue
            assert rollup is not None and rollup["unit"]["code"] == w.code(u), f"{where}: {rollup}"
            check_figures(rollup["figures"], counted(u, flt), exact, where)
            assert [c["unit"]["code"] for c in rollup["children"]] == [w.code(c) for c in shown[u]], f"{where}: children"
            for c, child in zip(rollup["children"], shown[u], strict=True):
                check_figures(c["figures"], counted(child, flt), exact, f"{where} > {w.code(child)}")

    # two metrics (each with a thenBy): the children of every unit that has some (and of one leaf), the units of every kind
    leaves = [u for u in range(1, len(w.parents)) if not w.children(u)]
    parents = sorted(set(w.parents) | set(leaves[:1]))
    unit_ids, kinds = [pks["Unit"][u] for u in parents], ["central", *KINDS, "cell"]
    for metric, then_by in p.orders:
        got = await api.data(rankings_query(unit_ids, kinds), {"f": filter_input(p.flt, pks), "m": metric, "t": then_by}, as_user=user)
        for i, u in enumerate(parents):
            entries = None if u not in units else [(w.code(c), counted(c, p.flt)) for c in shown[u]]
            check_ranking(got[f"c{i}"], entries, metric, then_by, exact, f"ranking(childrenOf: {w.code(u)}) for {who}")
        for i, kind in enumerate(kinds):
            entries = [(w.code(u), counted(u, p.flt)) for u in sorted(units - w.archived) if w.kinds[u] == kind]
            check_ranking(got[f"k{i}"], entries, metric, then_by, exact, f"ranking(kind: {kind}) for {who}")


# -- 1. the property ----------------------------------------------------------------------------------
def day(lo: int, hi: int) -> st.SearchStrategy[date]:
    return st.integers(lo, hi).map(lambda d: TODAY + timedelta(days=d))


@st.composite
def works(draw: st.DrawFn, task: int, assignee: int) -> Work:
    """Dates often on the edges: due yesterday, today or tomorrow; completed on or a day around either due date."""
    status = draw(st.sampled_from(ASSIGNMENT_STATUSES))
    due = draw(st.sampled_from((-1, 0, 1)).map(lambda d: TODAY + timedelta(days=d)) | day(-15, 15))
    original = due - timedelta(days=draw(st.sampled_from((0, 5))))  # an approved extension moves dueOn only
    edges = st.sampled_from([d + timedelta(days=k) for d in (original, due) for k in (-1, 0, 1)])
    done = draw(st.one_of(edges, edges, day(-20, 20))) if status == "completed" else None
    progress = 100 if status == "completed" else draw(st.sampled_from((0, 25, 50, 100)) | st.integers(0, 100))
    return Work(task, assignee, status, progress, original, due, done)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """5 to 12 units, 1 to 4 resolutions (some implementing another, cycles allowed), 3 to 6 tasks (some serving a KPI),
    6 to 20 assignments, 1 to 3 users (the first with a grant) each with its own filter and two (metric, thenBy)."""
    size = draw(st.integers(5, 12))
    parents = (0,) + tuple(draw(st.integers(0, i - 1)) for i in range(1, size))
    kinds = ("central",) + tuple(draw(st.sampled_from(KINDS)) for _ in range(1, size))
    units, pick = st.integers(0, size - 1), st.integers(0, 1000)
    drawn = draw(st.lists(st.tuples(units, st.none() | pick), min_size=1, max_size=4))
    resolutions = tuple((u, None if k is None or k % len(drawn) == i else k % len(drawn)) for i, (u, k) in enumerate(drawn))
    tasks = tuple((r % len(resolutions), None if k is None else k % len(GROUPS)) for r, k in draw(st.lists(st.tuples(pick, st.none() | pick), min_size=3, max_size=6)))
    assignments: list[tuple[int, Work]] = []
    for t, assignee, k in draw(st.lists(st.tuples(pick, st.integers(1, size - 1), pick), min_size=6, max_size=20)):
        above = [parents[assignee]]
        while above[-1] != 0:
            above.append(parents[above[-1]])
        if all((a.task, a.assignee) != (t % len(tasks), assignee) for _, a in assignments):
            assignments.append((above[k % len(above)], draw(works(t % len(tasks), assignee))))
    maybe = lambda s: st.one_of(st.none(), st.none(), s)  # each condition of a filter, a third of the time
    dates = maybe(day(-1, 1) | day(-25, 25))
    filters = st.builds(Filter, resolution=maybe(st.integers(0, len(resolutions) - 1)), kpi_group=maybe(st.sampled_from((*GROUPS, "unused"))), due_from=dates, due_to=dates)
    metric = st.sampled_from(sorted(METRICS))
    orders = st.lists(metric, min_size=2, max_size=2, unique=True).flatmap(lambda ms: st.tuples(*[st.tuples(st.just(m), st.none() | metric) for m in ms]))

    def persona(min_grants: int) -> st.SearchStrategy[Persona]:
        grants = st.lists(st.tuples(st.sampled_from(ROLES), units), min_size=min_grants, max_size=3, unique=True).map(tuple)
        return st.builds(Persona, own=units, grants=grants, flt=filters, orders=orders)

    personas = [draw(persona(1))] + draw(st.lists(persona(0), max_size=2))
    if draw(st.booleans()):  # the first user reads the whole tree: rankings of many units
        personas[0] = Persona(personas[0].own, ((draw(st.sampled_from(ROLES)), 0),), personas[0].flt, personas[0].orders)
    for i, p in enumerate(personas):  # dueFrom after dueTo is refused (tested below): keep them in order
        if p.flt.due_from and p.flt.due_to and p.flt.due_from > p.flt.due_to:
            personas[i] = Persona(p.own, p.grants, Filter(p.flt.resolution, p.flt.kpi_group, p.flt.due_to, p.flt.due_from), p.orders)
    archived = draw(st.frozensets(st.integers(1, size - 1), max_size=2))
    return World(parents=parents, kinds=kinds, personas=tuple(personas), resolutions=resolutions, tasks=tasks, assignments=tuple(assignments), archived=archived)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(world=worlds())
def test_rollups_and_rankings_equal_the_oracle_over_what_each_user_may_list(backend: Backend, world: World) -> None:
    async def run() -> None:
        async with running_app(backend.settings, engine=backend.engine) as api:
            pks = await load(api, world)
            for n in range(len(world.personas)):
                await check_persona(api, world, pks, n, exact=backend.name == "postgresql")

    asyncio.run(run())


# -- 2. examples --------------------------------------------------------------------------------------
ADMIN = Persona(0, (("admin", 0),))


def flat(per_child: list[list[tuple[str, int, int]]], personas: tuple[Persona, ...] = (ADMIN,), **extra: Any) -> World:
    """The root and one province per list, each assigned one task per (status, progress, days overdue or
    late) given: completed work is late by that many days (0: on time), open work overdue by it."""
    assignments = []
    for c, works_of_child in enumerate(per_child, start=1):
        for t, (status, progress, days) in enumerate(works_of_child):
            due = TODAY - timedelta(days=days) if status != "completed" else TODAY - timedelta(days=30)
            done = due + timedelta(days=days) if status == "completed" else None
            assignments.append((0, Work(t, c, status, progress, due, due, done)))
    tasks = max((len(x) for x in per_child), default=0) or 1
    return World(parents=(0,) + (0,) * len(per_child), kinds=("central",) + ("province",) * len(per_child), personas=personas,
                 resolutions=((0, None),), tasks=((0, None),) * tasks, assignments=tuple(assignments), **extra)  # fmt: skip


async def rank(api: Api, pks: dict[str, dict[int, int]], metric: str, then_by: str | None = None, parent: int = 0, user: str = "user0") -> Json:
    query = f"query($m: RankingMetric!, $t: RankingMetric, $u: ID) {{ ranking(metric: $m, thenBy: $t, childrenOf: $u) {{ ...K }} }} {RANKING} {FIGURES}"
    return (await api.data(query, {"m": metric, "t": then_by, "u": encode_id("Unit", pks["Unit"][parent])}, as_user=user))["ranking"]


def ranks(ranking: Json) -> list[tuple[str, int | None, float | None]]:
    return [(e["unit"]["code"], e["rank"], e["value"]) for e in ranking["entries"]]


DONE, OPEN, CANCELLED = ("completed", 100, 0), ("in_progress", 50, 0), ("cancelled", 0, 0)


async def test_ties_share_a_rank_the_next_skips_and_null_values_come_last(api: Api) -> None:
    # completion rates U01 1, U02 1/2, U03 1/2 (2 of 4), U04 1/2, U05 0 (and overdue), U06 nothing owed (null), U07 nothing at all (null)
    w = flat([[DONE], [DONE, OPEN], [DONE, DONE, OPEN, OPEN], [OPEN, DONE], [("in_progress", 50, 3)], [CANCELLED], []])
    pks = await load(api, w)
    by_rate = await rank(api, pks, "COMPLETION_RATE")
    assert ranks(by_rate) == [("U01", 1, 1.0), ("U02", 2, 0.5), ("U03", 2, 0.5), ("U04", 2, 0.5), ("U05", 5, 0.0), ("U06", None, None), ("U07", None, None)]
    assert (by_rate["rankedCount"], by_rate["lowerQuartile"], by_rate["median"], by_rate["upperQuartile"]) == (5, 0.5, 0.5, 0.5)
    # thenBy COMPLETED breaks the tie (U03 completed 2), the rest stay tied and skip
    by_rate_then_done = await rank(api, pks, "COMPLETION_RATE", "COMPLETED")
    assert [(c, r) for c, r, _ in ranks(by_rate_then_done)] == [("U01", 1), ("U03", 2), ("U02", 3), ("U04", 3), ("U05", 5), ("U06", None), ("U07", None)]
    # no value (nothing completed): last, ordered among themselves by thenBy (U05 has one overdue), then by code
    by_on_time = await rank(api, pks, "ON_TIME_RATE", "OVERDUE")
    assert [(c, r) for c, r, _ in ranks(by_on_time)] == [("U01", 1), ("U02", 1), ("U03", 1), ("U04", 1), ("U06", None), ("U07", None), ("U05", None)]
    assert (by_on_time["rankedCount"], by_on_time["median"]) == (4, 1.0)
    # every figure and quartile as the oracle says
    figs = [(w.code(c), figures(work for _, work in w.assignments if work.assignee == c)) for c in w.children(0)]
    for metric in METRICS:
        for then_by in (None, *METRICS):
            check_ranking(await rank(api, pks, metric, then_by), figs, metric, then_by, api.engine.dialect.name == "postgresql", f"{metric} then {then_by}")


async def test_overdue_ranks_the_fewest_first(api: Api) -> None:
    overdue, due_later = ("in_progress", 10, 3), ("not_started", 0, -3)  # due 3 days ago; due in 3 days
    w = flat([[overdue, overdue], [due_later], [overdue, due_later, ("completed", 100, 9)], [overdue, overdue]])
    pks = await load(api, w)
    got = await rank(api, pks, "OVERDUE")
    assert ranks(got) == [("U02", 1, 0.0), ("U03", 2, 1.0), ("U01", 3, 2.0), ("U04", 3, 2.0)]
    assert (got["metric"], got["thenBy"], got["rankedCount"]) == ("OVERDUE", None, 4)
    assert [got["lowerQuartile"], got["median"], got["upperQuartile"]] == [0.75, 1.5, 2.0]  # of 0, 1, 2, 2
    late = await rank(api, pks, "COMPLETED")
    assert [(c, r) for c, r, _ in ranks(late)] == [("U03", 1), ("U01", 2), ("U02", 2), ("U04", 2)]
    rollup = (await api.data(f'{{ progressRollup(unit: "{encode_id("Unit", pks["Unit"][3])}") {{ figures {{ ...F }} }} }} {FIGURES}', as_user="user0"))
    assert rollup["progressRollup"]["figures"] == {
        "total": 3, "notStarted": 1, "inProgress": 1, "completed": 1, "cancelled": 0, "overdue": 1, "completedOnTime": 0,
        "completedWithinExtension": 0, "completedLate": 1, "completionRate": 0.3333, "onTimeRate": 0.0, "averageProgress": 36.67,
    }  # fmt: skip
    by_kind = await api.data(f'{{ ranking(metric: OVERDUE, kind: "province") {{ ...K }} }} {RANKING} {FIGURES}', as_user="user0")
    assert ranks(by_kind["ranking"]) == ranks(got)


async def test_timeliness_and_overdue_on_their_edges(api: Api) -> None:
    day_ = lambda n: TODAY + timedelta(days=n)
    cases = [  # (status, progress, original due, due, completed on) -> what it counts as
        ("completed", 100, day_(-9), day_(-9), day_(-9)),  # on time
        ("completed", 100, day_(-9), day_(-4), day_(-9)),  # on time, though extended
        ("completed", 100, day_(-9), day_(-4), day_(-8)),  # within the extension
        ("completed", 100, day_(-9), day_(-4), day_(-4)),  # within the extension, on its last day
        ("completed", 100, day_(-9), day_(-4), day_(-3)),  # late
        ("completed", 100, day_(-9), day_(-9), day_(-8)),  # late, never extended
        ("in_progress", 30, day_(-6), day_(-1), None),  # overdue since today
        ("not_started", 0, day_(-1), day_(-1), None),  # overdue
        ("in_progress", 60, day_(0), day_(0), None),  # due today: not yet overdue
        ("cancelled", 90, day_(-1), day_(-1), None),  # not owed, never overdue
    ]
    w = World(parents=(0, 0), kinds=("central", "province"), personas=(ADMIN,), resolutions=((0, None),), tasks=((0, None),) * len(cases),
              assignments=tuple((0, Work(t, 1, *case)) for t, case in enumerate(cases)))  # fmt: skip
    pks = await load(api, w)
    got = await api.data(f'{{ progressRollup(unit: "{encode_id("Unit", pks["Unit"][1])}") {{ figures {{ ...F }} }} }} {FIGURES}', as_user="user0")
    assert got["progressRollup"]["figures"] == {
        "total": 10, "notStarted": 1, "inProgress": 2, "completed": 6, "cancelled": 1, "overdue": 2, "completedOnTime": 2,
        "completedWithinExtension": 2, "completedLate": 2, "completionRate": 0.6667, "onTimeRate": 0.3333, "averageProgress": 76.67,
    }  # fmt: skip
    check_figures(got["progressRollup"]["figures"], figures(work for _, work in w.assignments), True, "the oracle agrees")


async def test_quartiles_of_one_to_five_values(api: Api) -> None:
    # five provinces; province k has k communes, the i-th with one assignment at PROGRESS[i] percent
    progress = (7, 91, 20, 50, 33)
    parents, assignments = [0], []
    for k in range(1, 6):
        province = len(parents)
        parents.append(0)
        for i in range(k):
            assignments.append((province, Work(0, len(parents), "in_progress", progress[i], TODAY, TODAY, None)))
            parents.append(province)
    w = World(parents=tuple(parents), kinds=("central",) + ("commune",) * (len(parents) - 1), personas=(ADMIN,),
              resolutions=((0, None),), tasks=((0, None),), assignments=tuple(assignments))  # fmt: skip
    pks = await load(api, w)
    by_hand = {  # statistics.quantiles(method="inclusive"), worked out: position 1 + q(n-1)/4 between ranks
        1: [7, 7, 7], 2: [28, 49, 70], 3: [13.5, 20, 55.5], 4: [16.75, 35, 60.25], 5: [20, 33, 50],
    }
    for k, want in by_hand.items():
        province = [u for u in w.children(0)][k - 1]
        got = await rank(api, pks, "AVERAGE_PROGRESS", parent=province)
        assert got["rankedCount"] == k
        assert [got["lowerQuartile"], got["median"], got["upperQuartile"]] == want, k
        values = sorted(Fraction(v) for v in progress[:k])
        assert [float(q) for q in quartiles(values)] == want  # the oracle agrees with the hand


async def test_out_of_scope_units_are_null_and_a_filter_reads_resolutions_up_the_chain(api: Api) -> None:
    # U00 root, U01 and U02 provinces, U03 under U01. R0 issued at the root; R1 at U01 implements R0, R2 at U02 implements R1;
    # R3 at U02. Tasks: T0 of R0 assigned to U02 only; T1 of R1 and T2 of R2 assigned to U03 and U02; T3 of R3 to U02.
    works_ = [(0, Work(0, 2, *OPEN[:2], TODAY, TODAY, None)), (1, Work(1, 3, *DONE[:2], TODAY, TODAY, TODAY)), (0, Work(2, 2, *DONE[:2], TODAY, TODAY, TODAY)),
              (1, Work(2, 3, *OPEN[:2], TODAY, TODAY, None)), (0, Work(3, 2, *DONE[:2], TODAY, TODAY, TODAY))]  # fmt: skip
    p01 = Persona(1, (("manager", 1),))
    w = World(parents=(0, 0, 0, 1), kinds=("central", "province", "province", "commune"), personas=(ADMIN, p01, Persona(2, ())),
              resolutions=((0, None), (1, 0), (2, 1), (2, None)), tasks=((0, None), (1, None), (2, None), (3, None)), assignments=tuple(works_))  # fmt: skip
    pks = await load(api, w)
    uid = {u: encode_id("Unit", pk) for u, pk in pks["Unit"].items()}
    res = {r: encode_id("Resolution", pk) for r, pk in pks["Resolution"].items()}
    query = """query($u: ID, $f: ProgressFilterInput) { progressRollup(unit: $u, filter: $f) { unit { code } figures { total completed } }
      ranking(metric: COMPLETED, childrenOf: $u, filter: $f) { entries { unit { code } value } } }"""

    async def ask(user: str, u: int, resolution: int | None = None) -> Json:
        return await api.data(query, {"u": uid[u], "f": {"resolution": None if resolution is None else res[resolution]}}, as_user=user)

    for u in (0, 2):  # above and beside the manager's grant
        assert await ask("user1", u) == {"progressRollup": None, "ranking": None}
    missing = await api.data(query, {"u": encode_id("Unit", max(pks["Unit"].values()) + 1000), "f": None}, as_user="user0")
    assert missing == {"progressRollup": None, "ranking": None}
    assert (await api.data("{ progressRollup { unit { code } } }", as_user="user2"))["progressRollup"] is None  # no grant: not even its own unit
    assert (await api.data("{ progressRollup { unit { code } } }", as_user="user1"))["progressRollup"] == {"unit": {"code": "U01"}}

    # R0 is U01's to read up the implementation chain (its own R1 implements it): its family's work at U03 counts
    assert (await ask("user1", 1, 0))["progressRollup"]["figures"] == {"total": 2, "completed": 1}
    # R3, U02's own, is not: filtering by it counts nothing, as for an id that does not exist
    assert (await ask("user1", 1, 3))["progressRollup"]["figures"] == {"total": 0, "completed": 0}
    assert (await ask("user1", 1, 1))["progressRollup"]["figures"] == {"total": 2, "completed": 1}  # R1 and R2
    assert (await ask("user1", 1, 2))["progressRollup"]["figures"] == {"total": 1, "completed": 0}
    assert (await ask("user1", 1))["ranking"] == {"entries": [{"unit": {"code": "U03"}, "value": 1.0}]}
    # the root reads R0, whose family is all three
    assert (await ask("user0", 0, 0))["progressRollup"]["figures"] == {"total": 4, "completed": 2}
    assert (await ask("user0", 0, 3))["progressRollup"]["figures"] == {"total": 1, "completed": 1}
    assert (await ask("user0", 0, 2))["ranking"] == {"entries": [{"unit": {"code": "U02"}, "value": 1.0}, {"unit": {"code": "U01"}, "value": 0.0}]}


async def test_bad_input_is_a_typed_error_and_runs_no_sql_of_the_resolver(api: Api, statements: StatementCounter) -> None:
    """The same refusal for the admin at the root and for a viewer of U01, to whom the root is out of scope: a bad
    filter is refused whatever the unit, before any statement of the resolver (the caller's account and grants only)."""
    pks = await load(api, flat([[DONE], [OPEN]], personas=(ADMIN, Persona(1, (("viewer", 1),)))))
    root, resolution = encode_id("Unit", pks["Unit"][0]), encode_id("Resolution", pks["Resolution"][0])
    backwards, long_group = '{dueFrom: "2025-06-02", dueTo: "2025-06-01"}', f'{{kpiGroup: "{"g" * 33}"}}'
    rank_ = "ranking(metric: COMPLETED, {}) {{ rankedCount }}"
    roll = "progressRollup({}) {{ unit {{ code }} }}"
    cases = [
        ("ranking", rank_.format("thenBy: OVERDUE"), ("INVALID", "childrenOf")),
        ("ranking", rank_.format(f'childrenOf: "{root}", kind: "province"'), ("INVALID", "childrenOf")),
        ("ranking", rank_.format(f'kind: "province", filter: {backwards}'), ("OUT_OF_RANGE", "filter.dueTo")),
        ("ranking", rank_.format(f'childrenOf: "{root}", filter: {backwards}'), ("OUT_OF_RANGE", "filter.dueTo")),
        ("ranking", rank_.format('childrenOf: "not-an-id"'), ("INVALID_ID", "childrenOf")),
        ("ranking", rank_.format(f'childrenOf: "{resolution}"'), ("INVALID_ID", "childrenOf")),  # an id of another type
        ("ranking", rank_.format('kind: "province", filter: {resolution: "not-an-id"}'), ("INVALID_ID", "filter.resolution")),
        ("ranking", rank_.format(f'childrenOf: "{root}", filter: {{resolution: "{root}"}}'), ("INVALID_ID", "filter.resolution")),
        ("ranking", rank_.format(f'kind: "province", filter: {long_group}'), ("TOO_LONG", "filter.kpiGroup")),
        ("ranking", rank_.format(f'kind: "{"k" * 33}"'), ("TOO_LONG", "kind")),
        ("progressRollup", roll.format('unit: "not-an-id"'), ("INVALID_ID", "unit")),
        ("progressRollup", roll.format(f'unit: "{resolution}"'), ("INVALID_ID", "unit")),
        ("progressRollup", roll.format(f"filter: {backwards}"), ("OUT_OF_RANGE", "filter.dueTo")),  # the caller's own unit
        ("progressRollup", roll.format(f'unit: "{root}", filter: {backwards}'), ("OUT_OF_RANGE", "filter.dueTo")),
        ("progressRollup", roll.format(f'unit: "{root}", filter: {{resolution: "not-an-id"}}'), ("INVALID_ID", "filter.resolution")),
        ("progressRollup", roll.format(f'unit: "{root}", filter: {long_group}'), ("TOO_LONG", "filter.kpiGroup")),
    ]
    problems = []
    for user in ("user0", "user1"):
        await api.token_for(user)
        statements.reset()
        await api.data("{ __typename }", as_user=user)
        baseline = statements.count  # the caller's account and grants
        for root_field, query, want in cases:
            statements.reset()
            body = await api.gql(f"{{ {query} }}", as_user=user)
            if (typed_errors(body), body.get("data"), statements.count) != ([want], {root_field: None}, baseline):
                problems.append(f"{user}: {query}: {body.get('errors')} {body.get('data')}, {statements.count - baseline} statements of the resolver")
    assert problems == []
    # the same filters, in order, are answered (a root out of scope: null, without an error)
    fine = roll.format(f'unit: "{root}", filter: {{dueFrom: "2025-06-01", dueTo: "2025-06-01", kpiGroup: "growth"}}')
    assert await api.data(f"{{ {fine} }}", as_user="user1") == {"progressRollup": None}
    assert await api.data(f"{{ {fine} }}", as_user="user0") == {"progressRollup": {"unit": {"code": "U00"}}}


# -- 3. statement counts ------------------------------------------------------------------------------
async def test_statements_do_not_grow_with_the_number_of_groups(api: Api, statements: StatementCounter) -> None:
    # U01 (province) with 3 communes, U02 (province) with 12 departments; a cell under each of those; work at every
    # commune, department and cell, of R0 or of R1 (which implements R0)
    parents, kinds, assignments = [0, 0, 0], ["central", "province", "province"], []
    for province, n, kind in ((1, 3, "commune"), (2, 12, "department")):
        for i in range(n):
            child = len(parents)
            parents += [province, child]
            kinds += [kind, "cell"]
            for t, u in enumerate((child, child + 1)):
                status = ASSIGNMENT_STATUSES[(i + t) % 4]
                done = TODAY - timedelta(days=i % 3) if status == "completed" else None
                assignments.append((province, Work((i + t) % 2, u, status, 8 * i, TODAY - timedelta(days=i), TODAY, done)))
    scoped = Persona(1, (("manager", 1), ("viewer", 2)))
    w = World(parents=tuple(parents), kinds=tuple(kinds), personas=(ADMIN, scoped), resolutions=((0, None), (0, 0)),
              tasks=((0, 0), (1, None)), assignments=tuple(assignments))  # fmt: skip
    pks = await load(api, w)
    uid = {u: encode_id("Unit", pk) for u, pk in pks["Unit"].items()}
    filters = {"none": None, "resolution": {"resolution": encode_id("Resolution", pks["Resolution"][0]), "dueFrom": "2025-01-01"}}
    rollup = f"query($u: ID, $f: ProgressFilterInput) {{ progressRollup(unit: $u, filter: $f) {{ ...R }} }} {ROLLUP} {FIGURES}"
    by_parent = f"query($u: ID, $f: ProgressFilterInput) {{ ranking(metric: ON_TIME_RATE, thenBy: OVERDUE, childrenOf: $u, filter: $f) {{ ...K }} }} {RANKING} {FIGURES}"
    by_kind = f"query($k: String, $f: ProgressFilterInput) {{ ranking(metric: AVERAGE_PROGRESS, kind: $k, filter: $f) {{ ...K }} }} {RANKING} {FIGURES}"

    async def count(user: str, query: str, variables_: Json, groups: int) -> int:
        statements.reset()
        data = await api.data(query, variables_, as_user=user)
        got = data.get("progressRollup", {}).get("children") if "progressRollup" in data else data["ranking"]["entries"]
        assert len(got) == groups  # the query really returns every group
        return statements.count

    for user in ("user0", "user1"):
        await api.token_for(user)
        statements.reset()
        await api.data("{ __typename }", as_user=user)
        baseline = statements.count
        for name, f in filters.items():
            family = int(f is not None)  # the resolution's family: one statement before the aggregate
            family += int(api.engine.dialect.name == "postgresql")  # and, on PostgreSQL, SET LOCAL plan_cache_mode
            cost = {}
            for shape, query, small, large in [
                ("progressRollup", rollup, {"u": uid[1]}, {"u": uid[2]}),
                ("ranking(childrenOf)", by_parent, {"u": uid[1]}, {"u": uid[2]}),
                ("ranking(kind)", by_kind, {"k": "commune"}, {"k": "department"}),
            ]:
                cost[shape] = (await count(user, query, small | {"f": f}, 3), await count(user, query, large | {"f": f}, 12))
            # the unit (progressRollup, childrenOf), the family (with a resolution), then one aggregate
            assert cost == {
                "progressRollup": (baseline + 2 + family,) * 2,
                "ranking(childrenOf)": (baseline + 2 + family,) * 2,
                "ranking(kind)": (baseline + 1 + family,) * 2,
            }, (user, name, statements.statements)
