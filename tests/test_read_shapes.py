"""The read shapes of the task list, the task page and the KPI board, over HTTP on SQLite and PostgreSQL.

1. Properties over random workloads on small_tree() (assignments with random assigner, assignee,
   due date, progress and status; progress reports with random, often equal, dates; KPIs of either
   direction with measurements around their thresholds), written straight into the tables as
   test_scope_property_cycle does, each example in a rolled-back app of its own, for a random caller:
   - `assignments(orderBy, filter: {status})`, walked page by page with a small `first` following
     `endCursor`, equals an independent Python sort of the rows the caller may see (assignee or
     assigner side in its subtree) and of the statuses asked for, for every order; `totalCount` and
     `pageInfo` are checked on every page; `latestReport` equals the max by (reportedOn, id);
   - `Task.assignments`, walked the same way task by task, and the first page of every task's
     assignments in one batched `tasks` request, equal that oracle restricted to the task;
   - resuming after any edge's cursor (not only endCursor) gives the rest of the walk;
   - `Kpi.latestByChild(unit)`, through `kpis` and through `resolution { kpis }`, equals, per KPI,
     the latest period of each direct sub-unit of the unit (the caller's own by default) that the
     caller may see, in code order, with value and light; [] for a unit out of scope or unknown.
2. Scope: a commune officer never sees a sibling commune's assignments (Task.assignments in every
   order, the batched task list, the root list) nor its measurements (latestByChild).
3. Refusals: a malformed cursor, a cursor of another order or another list, `first` outside 0..100,
   more than 10 statuses and latestByChild given another type's id are each exactly one typed error
   (code, field), with no data and nothing written; one status string alone and exactly 10 statuses are accepted, [] matches nothing,
   `first` 0 and 100 are accepted. A forged cursor whose key the column cannot hold (an id past
   int4, a code with NUL) is refused or answered, never an internal error; and an internal error
   is masked on every read path.
4. Statement counts: the task list with each task's first assignments and their latest reports, and
   a resolution's KPIs with their latestByChild, cost a fixed number of statements, whatever the
   number of rows.

On PostgreSQL the queries schema.compiled covers are answered by one SQL statement per root field
unless compiled reads are off, by the resolvers and their loaders otherwise: the properties draw
the switch, and the fixed tests read through both apps (see `readers`), so both paths answer to
the same oracle and both statement counts are pinned.

Dates are fixed (2025); no read asked here depends on today.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from resolute.api.kpis.models import Kpi, KpiUnitTarget, Measurement
from resolute.api.org.models import Unit
from resolute.api.resolutions.models import Resolution
from resolute.api.tasks.models import ASSIGNMENT_STATUSES, Assignment, ProgressReport, Task
from resolute.schema.ids import encode_id
from tests.support import Api, Backend, StatementCounter, executor_twin, running_app, small_tree, user, within
from tests.test_cycle import snapshot
from tests.test_scope_property_cycle import insert_rows

Json = dict[str, Any]

# -- the tree and the callers ---------------------------------------------------------------------

UNITS = small_tree()
PARENT = {u.code: u.parent_code for u in UNITS}
CODES = sorted(PARENT)
CALLERS = {  # username -> (role, unit): one grant each, at the user's own unit
    "admin": ("admin", "TW"),
    "p01.manager": ("manager", "P01"),
    "p01.c01.officer": ("officer", "P01-C01"),
    "p01.c02.officer": ("officer", "P01-C02"),
    "p02.manager": ("manager", "P02"),
}
USERS = [user(name, code, role) for name, (role, code) in CALLERS.items()]


def under(code: str, top: str) -> bool:
    """`code` is `top` or lies below it."""
    return within(code, top, PARENT)


PAIRS = [(a, b) for a in CODES for b in CODES if a != b and under(b, a)]  # (assigner, assignee strictly below it)
ORDERS = ("ID", "DUE_ON", "PROGRESS", "ASSIGNEE_CODE")
PERIODS = ("2021", "2022", "2023")
DAY = date(2025, 1, 1)
DIRECTIONS = {"increase": (Decimal(50), Decimal(20)), "decrease": (Decimal(50), Decimal(60))}  # direction -> (yellow, red)
UNKNOWN_UNIT = encode_id("Unit", 987654)


def days(n: int) -> date:
    return DAY + timedelta(days=n)


def cents(n: int) -> Decimal:
    return Decimal(n).scaleb(-2)


def light_of(direction: str, value: Decimal) -> str:
    """Reaching the yellow threshold (in the KPI's direction) is green, reaching the red one yellow."""
    yellow, red = DIRECTIONS[direction]
    reaches = (lambda a, b: a >= b) if direction == "increase" else (lambda a, b: a <= b)
    return "GREEN" if reaches(value, yellow) else "YELLOW" if reaches(value, red) else "RED"


# -- a workload, and writing it ---------------------------------------------------------------------


@dataclass(frozen=True)
class Asg:
    task: int
    assigner: str
    assignee: str
    due: int  # days after DAY
    progress: int
    status: str


@dataclass(frozen=True)
class Workload:
    tasks: int  # T0, T1, ... all led by TW in one resolution of TW
    assignments: tuple[Asg, ...]
    reports: tuple[tuple[int, int], ...]  # (assignment, reported on: days after DAY), in the order entered
    kpis: tuple[str, ...]  # each KPI's direction
    measurements: tuple[tuple[int, str, int, int], ...]  # (kpi, unit, period index, value in cents)


@st.composite
def workloads(draw: st.DrawFn) -> Workload:
    """Up to 14 assignments over 1-3 tasks, with few distinct due dates and progress values (ties
    that only the id breaks), up to 12 reports, 1-3 KPIs with up to 8 series of 1-3 periods each."""
    tasks = draw(st.integers(1, 3))
    assignments: list[Asg] = []
    for t, (frm, to), due, progress, status in draw(st.lists(st.tuples(
        st.integers(0, tasks - 1), st.sampled_from(PAIRS), st.integers(0, 4), st.one_of(st.sampled_from((0, 50, 100)), st.integers(0, 100)),
        st.sampled_from(ASSIGNMENT_STATUSES),
    ), max_size=14)):  # fmt: skip
        if all((a.task, a.assignee) != (t, to) for a in assignments):  # one per (task, assignee)
            assignments.append(Asg(t, frm, to, due, progress, status))
    drawn_reports = draw(st.lists(st.tuples(st.integers(0, 99), st.integers(0, 3)), max_size=12))
    reports = tuple((a % len(assignments), d) for a, d in drawn_reports) if assignments else ()
    kpis = tuple(draw(st.lists(st.sampled_from(sorted(DIRECTIONS)), min_size=1, max_size=3)))
    value = st.one_of(st.sampled_from((1999, 2000, 2001, 4999, 5000, 5001, 5999, 6000, 6001)), st.integers(-10_000, 20_000))
    series = st.lists(st.tuples(st.integers(0, len(PERIODS) - 1), value), min_size=1, max_size=3, unique_by=lambda pv: pv[0])  # any order
    measurements: dict[tuple[int, str, int], int] = {}
    for k, code, values in draw(st.lists(st.tuples(st.integers(0, len(kpis) - 1), st.sampled_from(CODES), series), max_size=8)):
        for p, v in values:
            measurements.setdefault((k, code, p), v)  # one per (kpi, unit, period)
    return Workload(tasks, tuple(assignments), reports, kpis, tuple((k, code, p, v) for (k, code, p), v in measurements.items()))


@dataclass(frozen=True)
class Loaded:
    """World index -> primary key, per kind of row."""

    tasks: dict[int, int]
    assignments: dict[int, int]
    reports: dict[int, int]
    kpis: dict[int, int]
    measurements: dict[int, int]


async def write_workload(conn: AsyncConnection, w: Workload) -> Loaded:
    """The workload under the seeded tree, straight into the tables. Every unit has a target for
    every KPI, so every caller may read every KPI (latestByChild is what is judged, not KPI scope)."""
    uid = {code: pk for pk, code in (await conn.execute(select(Unit.id, Unit.code))).all()}
    resolution = (await conn.execute(insert(Resolution).values(
        code="R", title="R", search_title="r", kind="resolution", status="in_effect", issuing_unit_id=uid["TW"], issued_on=DAY,
    ).returning(Resolution.id))).scalar_one()  # fmt: skip
    tasks = await insert_rows(conn, Task, [
        {"code": f"T{i}", "title": f"T{i}", "search_title": f"t{i}", "resolution_id": resolution, "lead_unit_id": uid["TW"],
         "start_on": DAY, "due_on": days(90), "status": "in_progress"}
        for i in range(w.tasks)
    ])  # fmt: skip
    assignments = await insert_rows(conn, Assignment, [
        {"task_id": tasks[a.task], "assigner_unit_id": uid[a.assigner], "assignee_unit_id": uid[a.assignee], "raci": "R",
         "assigned_on": DAY, "original_due_on": days(a.due), "due_on": days(a.due), "status": a.status, "progress": a.progress}
        for a in w.assignments
    ])  # fmt: skip
    reports = await insert_rows(conn, ProgressReport, [
        {"assignment_id": assignments[a], "reported_on": days(d), "progress": 10, "status": "in_progress"} for a, d in w.reports
    ])
    kpis = await insert_rows(conn, Kpi, [
        {"code": f"K{i}", "resolution_id": resolution, "name": f"K{i}", "search_name": f"k{i}", "unit_of_measure": "%",
         "direction": direction, "baseline": Decimal(0), "target": Decimal(100), "yellow_threshold": DIRECTIONS[direction][0],
         "red_threshold": DIRECTIONS[direction][1], "kpi_group": "development", "frequency": "yearly", "lead_unit_id": uid["TW"]}
        for i, direction in enumerate(w.kpis)
    ])  # fmt: skip
    if kpis:
        targets = [{"kpi_id": k, "unit_id": u, "target": Decimal(90)} for k in kpis.values() for u in uid.values()]
        await conn.execute(insert(KpiUnitTarget), targets)
    measurements = await insert_rows(conn, Measurement, [
        {"kpi_id": kpis[k], "unit_id": uid[code], "period": PERIODS[p], "value": cents(v)} for k, code, p, v in w.measurements
    ])  # fmt: skip
    return Loaded(tasks, assignments, reports, kpis, measurements)


async def seed(api: Api, w: Workload) -> Loaded:
    await api.seed(UNITS, USERS, passwords=False)
    async with api.engine.begin() as conn:
        return await write_workload(conn, w)


def run_example(backend: Backend, w: Workload, compiled: bool, check: Callable[[Api, Loaded], Awaitable[None]]) -> None:
    """One hypothesis example: a fresh app on the backend (compiled reads on or off: PostgreSQL only
    has them), the workload written, `check` run, all rolled back."""

    async def run() -> None:
        async with running_app(backend.settings.replace(compiled_reads=compiled), engine=backend.engine) as api:
            await check(api, await seed(api, w))

    asyncio.run(run())


@asynccontextmanager
async def readers(api: Api) -> AsyncIterator[list[tuple[str, Api]]]:
    """(label, app) to read through: the app as configured and, on PostgreSQL, a twin over the same
    connection with compiled reads off, so that a covered query is answered by both paths."""
    if api.engine.dialect.name != "postgresql":
        yield [("executor", api)]
        return
    async with executor_twin(api) as twin:
        yield [("as configured", api), ("executor", twin)]


# -- the oracle: what a caller may see, in each order -----------------------------------------------


@dataclass(frozen=True)
class Oracle:
    w: Workload
    pks: Loaded

    def keyed(self, caller: str, order: str, *, task: int | None = None, statuses: Sequence[str] | None = None) -> list[tuple[Any, str]]:
        """(sort key, global id) of the assignments the caller may see (either side in its subtree), in `order`."""
        top = CALLERS[caller][1]
        key = {
            "ID": lambda a, pk: (pk,), "DUE_ON": lambda a, pk: (days(a.due), pk), "PROGRESS": lambda a, pk: (a.progress, pk),
            "ASSIGNEE_CODE": lambda a, pk: (a.assignee.encode(), pk),  # code order is byte order
        }[order]  # fmt: skip
        return sorted(
            (key(a, pk), encode_id("Assignment", pk))
            for a, pk in zip(self.w.assignments, self.pks.assignments.values(), strict=True)
            if (under(a.assignee, top) or under(a.assigner, top)) and task in (None, a.task) and (statuses is None or a.status in statuses)
        )

    def assignments(self, caller: str, order: str, *, task: int | None = None, statuses: Sequence[str] | None = None) -> list[str]:
        return [gid for _, gid in self.keyed(caller, order, task=task, statuses=statuses)]

    def latest_report(self, assignment_id: str) -> Json | None:
        """The report with the latest date, of those the latest entered; None without any."""
        mine = [(d, self.pks.reports[r]) for r, (a, d) in enumerate(self.w.reports)
                if encode_id("Assignment", self.pks.assignments[a]) == assignment_id]
        if not mine:
            return None
        d, pk = max(mine)
        return {"id": encode_id("ProgressReport", pk), "reportedOn": days(d).isoformat()}

    def tasks(self, caller: str) -> list[str]:
        """The tasks the caller may see: all led by TW, so led in its scope or handed down to it."""
        top = CALLERS[caller][1]
        return [encode_id("Task", self.pks.tasks[t]) for t in range(self.w.tasks)
                if under("TW", top) or any(a.task == t and under(a.assignee, top) for a in self.w.assignments)]

    def sees_resolution(self, caller: str) -> bool:
        """R is issued by TW; below, it is seen where one of its tasks was handed down."""
        top = CALLERS[caller][1]
        return under("TW", top) or any(under(a.assignee, top) for a in self.w.assignments)

    def latest_by_child(self, caller: str, parent: str | None) -> dict[str, list[Json]]:
        """KPI code -> the latest measurement of each direct sub-unit of `parent` (a code; None:
        the caller's own unit) that the caller may see, in code order; none when `parent` is out of
        the caller's scope."""
        top = CALLERS[caller][1]
        parent = parent or top
        answer: dict[str, list[Json]] = {}
        for k, direction in enumerate(self.w.kpis):
            rows = []
            if under(parent, top):
                for child in sorted(c for c in CODES if PARENT[c] == parent and under(c, top)):
                    periods = [(p, v) for kk, code, p, v in self.w.measurements if (kk, code) == (k, child)]
                    if periods:
                        p, v = max(periods)
                        value = cents(v)
                        light = light_of(direction, value)
                        rows.append({"unit": {"code": child}, "period": PERIODS[p], "value": str(value), "light": light})
            answer[f"K{k}"] = rows
        return answer


# -- walking a connection ---------------------------------------------------------------------------

PAGE = ("totalCount edges { cursor node { id latestReport { id reportedOn } } }"
        " pageInfo { hasNextPage hasPreviousPage startCursor endCursor }")
ROOT_PAGE = ("query($first: Int!, $after: String, $order: AssignmentOrder!, $status: [String!]) {"
             " page: assignments(first: $first, after: $after, orderBy: $order, filter: {status: $status}) { " + PAGE + " } }")
TASK_PAGE = ("query($task: ID!, $first: Int!, $after: String, $order: AssignmentOrder!) {"
             " task(id: $task) { page: assignments(first: $first, after: $after, orderBy: $order) { " + PAGE + " } } }")
Fetch = Callable[[int, str | None], Awaitable[Json]]  # (first, after) -> a page of the connection


def root_pages(api: Api, caller: str, order: str, statuses: list[str] | None) -> Fetch:
    async def fetch(first: int, after: str | None) -> Json:
        variables = {"first": first, "after": after, "order": order, "status": statuses}
        return (await api.data(ROOT_PAGE, variables, as_user=caller))["page"]

    return fetch


def task_pages(api: Api, caller: str, task: str, order: str) -> Fetch:
    async def fetch(first: int, after: str | None) -> Json:
        variables = {"task": task, "first": first, "after": after, "order": order}
        return (await api.data(TASK_PAGE, variables, as_user=caller))["task"]["page"]

    return fetch


async def walk(fetch: Fetch, first: int, where: str, after: str | None = None) -> tuple[list[Json], int]:
    """Every edge after `after`, following endCursor page after page; checks each page's pageInfo
    and that totalCount does not change from page to page. Returns the edges and the totalCount."""
    edges_seen: list[Json] = []
    totals: set[int] = set()
    for _ in range(1000):  # never for ever
        page = await fetch(first, after)
        edges, info = page["edges"], page["pageInfo"]
        totals.add(page["totalCount"])
        assert info["hasPreviousPage"] is (after is not None), where
        assert (info["startCursor"], info["endCursor"]) == ((edges[0]["cursor"], edges[-1]["cursor"]) if edges else (None, None)), where
        assert len(edges) == first if info["hasNextPage"] else len(edges) <= first, (where, len(edges), info)
        assert edges or not edges_seen, f"{where}: an empty page after a page that said there was more"
        edges_seen += edges
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    else:
        pytest.fail(f"{where}: still more after 1000 pages")
    assert len(totals) == 1, f"{where}: totalCount changed from page to page: {totals}"
    return edges_seen, totals.pop()


async def check_walk(fetch: Fetch, first: int, resume: int, want: list[str], oracle: Oracle, where: str) -> None:
    """The walk in pages of `first` gives exactly `want`, its count and each one's latest report;
    resuming after the edge at `resume` (modulo the length) gives the rest."""
    edges, total = await walk(fetch, first, where)
    assert ([e["node"]["id"] for e in edges], total) == (want, len(want)), where
    assert {e["node"]["id"]: e["node"]["latestReport"] for e in edges} == {a: oracle.latest_report(a) for a in want}, where
    if edges:
        i = resume % len(edges)
        rest, _ = await walk(fetch, 100, where, after=edges[i]["cursor"])
        assert [e["node"]["id"] for e in rest] == want[i + 1 :], f"{where}: resumed after edge {i}"


# -- 1. properties ----------------------------------------------------------------------------------

PROPERTY = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
callers = st.sampled_from(sorted(CALLERS))
statuses = st.one_of(st.none(), st.lists(st.sampled_from(ASSIGNMENT_STATUSES), max_size=5))
compiled = st.booleans()  # PostgreSQL: the compiled read path or the resolvers (SQLite: always the resolvers)
resumes = st.integers(0, 20)


@PROPERTY
@given(w=workloads(), caller=callers, first=st.integers(1, 4), wanted=statuses, resume=resumes, compiled=compiled)
def test_assignments_in_every_order_equal_a_python_sort(
    backend: Backend, w: Workload, caller: str, first: int, wanted: list[str] | None, resume: int, compiled: bool
) -> None:
    """The root list, walked in pages of `first`, in each order, filtered by a set of statuses (or not)."""

    async def check(api: Api, pks: Loaded) -> None:
        oracle = Oracle(w, pks)
        for order in ORDERS:
            where = f"assignments(orderBy: {order}, status: {wanted}) by {caller} in pages of {first}"
            want = oracle.assignments(caller, order, statuses=wanted)
            await check_walk(root_pages(api, caller, order, wanted), first, resume, want, oracle, where)

    run_example(backend, w, compiled, check)


BATCHED = "query($first: Int!) { tasks(first: 100) { nodes { id " + " ".join(
    f"by_{o.lower()}: assignments(first: $first, orderBy: {o}) {{ totalCount nodes {{ id }} pageInfo {{ hasNextPage }} }}" for o in ORDERS
) + " } } }"


@PROPERTY
@given(w=workloads(), caller=callers, first=st.integers(2, 5), resume=resumes, compiled=compiled)  # pages of 1: the root list's
def test_task_assignments_in_every_order_equal_a_python_sort(
    backend: Backend, w: Workload, caller: str, first: int, resume: int, compiled: bool
) -> None:
    """Every task's first page in one batched `tasks` request, then Task.assignments walked task by task."""

    async def check(api: Api, pks: Loaded) -> None:
        oracle = Oracle(w, pks)
        tasks = (await api.data(BATCHED, {"first": first}, as_user=caller))["tasks"]["nodes"]
        assert [t["id"] for t in tasks] == oracle.tasks(caller)
        index = {encode_id("Task", pk): t for t, pk in pks.tasks.items()}
        for task in tasks:
            t = index[task["id"]]
            for order in ORDERS:
                where = f"Task T{t}.assignments(orderBy: {order}) by {caller} in pages of {first}"
                want = oracle.assignments(caller, order, task=t)
                page = task["by_" + order.lower()]
                got = ([n["id"] for n in page["nodes"]], page["totalCount"], page["pageInfo"]["hasNextPage"])
                assert got == (want[:first], len(want), len(want) > first), where
                await check_walk(task_pages(api, caller, task["id"], order), first, resume, want, oracle, where)

    run_example(backend, w, compiled, check)


MEASURED = "latestByChild(unit: $unit) { unit { code } period value light }"
BOARDS = {  # two roots to the same KPIs
    "kpis": "query($unit: ID) { board: kpis(first: 100) { nodes { code " + MEASURED + " } } }",
    "resolution": 'query($unit: ID) { board: resolution(code: "R") { nodes: kpis { code ' + MEASURED + " } } }",
}
parents = st.one_of(st.none(), st.sampled_from(("TW", "P01", "P02", "P01-C01")), st.sampled_from(CODES), st.just("unknown"))


async def unit_ids(api: Api) -> dict[str, str]:
    """Unit code -> global id, and "unknown" -> the id of no unit."""
    async with api.engine.connect() as conn:
        rows = (await conn.execute(select(Unit.id, Unit.code))).all()
    return {code: encode_id("Unit", pk) for pk, code in rows} | {"unknown": UNKNOWN_UNIT}


@PROPERTY
@given(w=workloads(), caller=callers, parent=parents, compiled=compiled)
def test_latest_by_child_equals_an_independent_computation(
    backend: Backend, w: Workload, caller: str, parent: str | None, compiled: bool
) -> None:
    """For every KPI, below the caller's own unit (None), any unit of the tree, or an unknown unit id."""

    async def check(api: Api, pks: Loaded) -> None:
        oracle = Oracle(w, pks)
        unit_id = None if parent is None else (await unit_ids(api))[parent]
        want = {f"K{k}": [] for k in range(len(w.kpis))} if parent == "unknown" else oracle.latest_by_child(caller, parent)
        for root, query in BOARDS.items():
            board = (await api.data(query, {"unit": unit_id}, as_user=caller))["board"]
            if root == "resolution" and not oracle.sees_resolution(caller):
                assert board is None, (caller, "sees a resolution it may not")
                continue
            assert {k["code"]: k["latestByChild"] for k in board["nodes"]} == want, (root, caller, parent)

    run_example(backend, w, compiled, check)


# -- 2. scope: never a sibling commune's rows --------------------------------------------------------

SIBLINGS = Workload(
    tasks=1,
    assignments=(
        Asg(0, "TW", "P01", 3, 40, "in_progress"), Asg(0, "TW", "P02", 1, 10, "in_progress"),
        Asg(0, "P01", "P01-C01", 2, 90, "in_progress"), Asg(0, "P01", "P01-C02", 0, 20, "not_started"),
        Asg(0, "P02", "P02-C01", 0, 0, "not_started"), Asg(0, "P01-C01", "P01-C01-K01", 4, 30, "in_progress"),
    ),
    reports=((2, 1), (3, 2), (5, 0)),
    kpis=("increase",),  # green from 50.00, yellow from 20.00
    measurements=(
        (0, "P01", 0, 6000), (0, "P01", 1, 4000), (0, "P01-C01", 0, 1000), (0, "P01-C01", 1, 5000), (0, "P01-C02", 2, 2000),
        (0, "P01-C02", 1, 9000), (0, "P01-C01-K01", 2, 7000), (0, "P02-C01", 2, 1999),
    ),
)  # fmt: skip


@pytest.fixture
async def siblings(api: Api) -> tuple[Api, Loaded]:
    return api, await seed(api, SIBLINGS)


async def test_a_commune_officer_never_sees_a_sibling_communes_assignments(siblings: tuple[Api, Loaded]) -> None:
    api, pks = siblings
    task = encode_id("Task", pks.tasks[0])
    aliased = " ".join(f"by_{o.lower()}: assignments(orderBy: {o}) {{ totalCount nodes {{ unit {{ code }} }} }}" for o in ORDERS)
    queries = {  # the same assignments three ways: the task page, the batched task list, the root list narrowed to the task
        "task(id)": (f'{{ task(id: "{task}") {{ {aliased} }} }}', lambda data: data["task"]),
        "tasks": (f"{{ tasks {{ nodes {{ {aliased} }} }} }}", lambda data: data["tasks"]["nodes"][0]),
        "assignments": ("{ " + aliased.replace("assignments(", f'assignments(filter: {{task: "{task}"}}, ') + " }", lambda data: data),
    }
    wanted = {
        "p01.c01.officer": {"ID": ["P01-C01", "P01-C01-K01"], "DUE_ON": ["P01-C01", "P01-C01-K01"],
                            "PROGRESS": ["P01-C01-K01", "P01-C01"], "ASSIGNEE_CODE": ["P01-C01", "P01-C01-K01"]},
        "p01.c02.officer": {order: ["P01-C02"] for order in ORDERS},
        "p01.manager": {"ID": ["P01", "P01-C01", "P01-C02", "P01-C01-K01"], "DUE_ON": ["P01-C02", "P01-C01", "P01", "P01-C01-K01"],
                        "PROGRESS": ["P01-C02", "P01-C01-K01", "P01", "P01-C01"],
                        "ASSIGNEE_CODE": ["P01", "P01-C01", "P01-C01-K01", "P01-C02"]},
    }  # fmt: skip
    async with readers(api) as paths:
        for path, reader in paths:
            for caller, want in wanted.items():
                for where, (query, pick) in queries.items():
                    got = pick(await reader.data(query, as_user=caller))
                    for order in ORDERS:
                        page = got["by_" + order.lower()]
                        got_codes = [n["unit"]["code"] for n in page["nodes"]]
                        assert (got_codes, page["totalCount"]) == (want[order], len(want[order])), (path, caller, where, order)
    by_code = {a.assignee: encode_id("Assignment", pks.assignments[i]) for i, a in enumerate(SIBLINGS.assignments)}
    for caller, want in wanted.items():  # the oracle of the properties agrees with these literals
        for order in ORDERS:
            assert Oracle(SIBLINGS, pks).assignments(caller, order) == [by_code[code] for code in want[order]], (caller, order)


async def test_a_commune_officer_never_sees_a_sibling_communes_measurements(siblings: tuple[Api, Loaded]) -> None:
    api, pks = siblings
    uid = await unit_ids(api)
    k01 = ("P01-C01-K01", "2023", "70.00", "GREEN")
    c01, c02 = ("P01-C01", "2022", "50.00", "GREEN"), ("P01-C02", "2023", "20.00", "YELLOW")  # each on a threshold
    cases = {  # (caller, unit asked about) -> its children's latest values
        ("p01.c01.officer", None): [k01], ("p01.c01.officer", "P01-C01"): [k01],
        ("p01.c01.officer", "P01"): [],  # its province is out of its scope: neither the sibling's latest nor its own
        ("p01.c01.officer", "P01-C02"): [], ("p01.c01.officer", "TW"): [], ("p01.c01.officer", "unknown"): [],
        ("p01.c02.officer", None): [], ("p01.c02.officer", "P01-C01"): [], ("p01.c02.officer", "P01"): [],
        ("p01.manager", None): [c01, c02], ("p01.manager", "P01"): [c01, c02], ("p01.manager", "P01-C01"): [k01],
        ("p01.manager", "P02"): [],
        ("admin", None): [("P01", "2022", "40.00", "YELLOW")], ("admin", "P02"): [("P02-C01", "2023", "19.99", "RED")],
        ("admin", "P01"): [c01, c02], ("admin", "P01-C02"): [], ("admin", "unknown"): [],
    }  # fmt: skip
    def flat(measured: list[Json]) -> list[tuple[str, str, str, str]]:
        return [(m["unit"]["code"], m["period"], m["value"], m["light"]) for m in measured]

    oracle = Oracle(SIBLINGS, pks)
    for (caller, parent), want in cases.items():  # the oracle of the properties agrees with these literals
        if parent != "unknown":
            assert flat(oracle.latest_by_child(caller, parent)["K0"]) == want, (caller, parent)
    async with readers(api) as paths:
        for path, reader in paths:
            for root, query in BOARDS.items():
                for (caller, parent), want in cases.items():
                    variables = {"unit": None if parent is None else uid[parent]}
                    (kpi,) = (await reader.data(query, variables, as_user=caller))["board"]["nodes"]
                    assert flat(kpi["latestByChild"]) == want, (path, root, caller, parent)


# -- 3. refusals ------------------------------------------------------------------------------------


def cursor(name: str, values: list[Any]) -> str:
    """A cursor spelled as the server spells them (schema.pagination), to forge bad ones."""
    return base64.urlsafe_b64encode(json.dumps([name, values]).encode()).decode().rstrip("=")


ROOT = ("query($first: Int!, $after: String, $order: AssignmentOrder!, $status: [String!]) {"
        " assignments(first: $first, after: $after, orderBy: $order, filter: {status: $status}) { totalCount nodes { id } } }")
NESTED = ("query($task: ID!, $first: Int!, $after: String, $order: AssignmentOrder!) {"
          " task(id: $task) { assignments(first: $first, after: $after, orderBy: $order) { totalCount nodes { id } } } }")


def typed_errors(body: Json) -> list[tuple[str | None, str | None]]:
    return [(e.get("extensions", {}).get("code"), e.get("extensions", {}).get("field")) for e in body.get("errors") or []]


async def test_bad_cursors_pages_and_status_sets_are_typed_errors_that_change_nothing(siblings: tuple[Api, Loaded]) -> None:
    api, pks = siblings
    task = encode_id("Task", pks.tasks[0])
    ends = {}  # order -> a real cursor of that order
    for order in ORDERS:
        ends[order] = (await api.data(ROOT_PAGE, {"first": 1, "order": order}, as_user="admin"))["page"]["pageInfo"]["endCursor"]
    tasks_cursor = (await api.data("{ tasks(first: 1) { pageInfo { endCursor } } }", as_user="admin"))["tasks"]["pageInfo"]["endCursor"]
    invalid_after, out_of_range = [("INVALID", "after")], [("OUT_OF_RANGE", "first")]
    cases: list[tuple[str, Json, list[tuple[str, str]]]] = [
        ("garbage", {"after": "not a cursor"}, invalid_after),
        ("base64 of nothing of ours", {"after": base64.urlsafe_b64encode(b"[1, 2, 3]").decode()}, invalid_after),
        ("DUE_ON cursor for PROGRESS", {"after": ends["DUE_ON"], "order": "PROGRESS"}, invalid_after),
        ("PROGRESS cursor for DUE_ON", {"after": ends["PROGRESS"], "order": "DUE_ON"}, invalid_after),
        ("ID cursor for ASSIGNEE_CODE", {"after": ends["ID"], "order": "ASSIGNEE_CODE"}, invalid_after),
        ("ASSIGNEE_CODE cursor for ID", {"after": ends["ASSIGNEE_CODE"], "order": "ID"}, invalid_after),
        ("a tasks cursor", {"after": tasks_cursor}, invalid_after),
        ("DUE_ON key of the wrong length", {"after": cursor("assignments-due-on", ["2025-01-01"]), "order": "DUE_ON"}, invalid_after),
        ("DUE_ON key with no date", {"after": cursor("assignments-due-on", ["2025-13-01", 1]), "order": "DUE_ON"}, invalid_after),
        ("PROGRESS key of the wrong type", {"after": cursor("assignments-progress", ["50", 1]), "order": "PROGRESS"}, invalid_after),
        ("negative id", {"after": cursor("assignments", [-1])}, invalid_after),
        ("first 101", {"first": 101}, out_of_range),
        ("first -1", {"first": -1}, out_of_range),
        ("11 statuses", {"status": ["completed"] * 11}, [("OUT_OF_RANGE", "filter.status")]),
    ]
    before = await snapshot(api)
    problems = []
    async with readers(api) as paths:
        for path, reader in paths:
            for name, override, want in cases:
                variables = {"first": 5, "after": None, "order": "ID", "status": None, **override}
                body = await reader.gql(ROOT, variables, as_user="admin")
                if (typed_errors(body), body.get("data")) != (want, None):
                    problems.append(f"{path}: assignments, {name}: {body.get('errors')} {body.get('data')}")
                if "status" in override:
                    continue
                body = await reader.gql(NESTED, {k: v for k, v in variables.items() if k != "status"} | {"task": task}, as_user="admin")
                refused_whole = name.startswith("first")  # a page size is refused before anything runs (schema.cost), not in the field
                if (typed_errors(body), body.get("data")) != (want, None if refused_whole else {"task": None}):
                    problems.append(f"{path}: Task.assignments, {name}: {body.get('errors')} {body.get('data')}")
            for root, query in BOARDS.items():  # latestByChild(unit:) given the id of a task
                body = await reader.gql(query, {"unit": task}, as_user="admin")
                if (typed_errors(body), body.get("data")) != ([("INVALID_ID", "unit")], None if root == "kpis" else {"board": None}):
                    problems.append(f"{path}: {root} latestByChild(unit: a Task id): {body.get('errors')} {body.get('data')}")
    assert problems == []
    assert await snapshot(api) == before


FORGED = {  # a cursor the decoder takes as well formed, with a key its column cannot hold on PostgreSQL -> (order, key)
    "id past int4": ("ID", [2**31]),
    "id at the decoder's bound": ("ID", [2**63 - 1]),
    "progress past int4": ("PROGRESS", [2**40, 1]),
    "assignee code with a NUL": ("ASSIGNEE_CODE", ["P01\u0000", 1]),
}
CURSOR_NAMES = {
    "ID": "assignments", "DUE_ON": "assignments-due-on", "PROGRESS": "assignments-progress", "ASSIGNEE_CODE": "assignments-assignee-code",
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(FORGED))
async def test_a_forged_key_out_of_the_columns_range_is_refused_or_answered_never_an_internal_error(
    siblings: tuple[Api, Loaded], backend: Backend, request: pytest.FixtureRequest, case: str
) -> None:
    """Either INVALID on `after` (the cursor is not one the server made) or the rows after that key; never "Unexpected error"."""
    api, pks = siblings
    order, key = FORGED[case]
    after = cursor(CURSOR_NAMES[order], key)
    compare = (key[0].encode(), key[1]) if order == "ASSIGNEE_CODE" else tuple(key)
    rest = [gid for k, gid in Oracle(SIBLINGS, pks).keyed("admin", order) if k > compare]
    task = encode_id("Task", pks.tasks[0])
    problems = []
    async with readers(api) as paths:
        for path, reader in paths:
            for where, query, variables, pick in (
                ("assignments", ROOT, {"status": None}, lambda d: d["assignments"]),
                ("Task.assignments", NESTED, {"task": task}, lambda d: d["task"]["assignments"]),
            ):
                body = await reader.gql(query, {"first": 100, "after": after, "order": order, **variables}, as_user="admin")
                refused = typed_errors(body) == [("INVALID", "after")]
                answered = not body.get("errors") and [n["id"] for n in pick(body["data"])["nodes"]] == rest
                if not (refused or answered):
                    problems.append(f"{path}: {where}: {body.get('errors')}")
    assert problems == []


async def listed_with_status(reader: Api, status: str) -> list[str]:
    """The ids `assignments(filter: {status: <status>})` lists, `status` a GraphQL literal; totalCount agreeing."""
    query = "{ assignments(first: 100, filter: {status: " + status + "}) { totalCount nodes { id } } }"
    page = (await reader.data(query, as_user="admin"))["assignments"]
    assert page["totalCount"] == len(page["nodes"]), status
    return [n["id"] for n in page["nodes"]]


async def test_status_sets_one_status_ten_statuses_none_and_page_bounds(siblings: tuple[Api, Loaded]) -> None:
    api, pks = siblings
    oracle = Oracle(SIBLINGS, pks)
    task = encode_id("Task", pks.tasks[0])
    not_started = oracle.assignments("admin", "ID", statuses=["not_started"])
    async with readers(api) as paths:
        for path, reader in paths:
            assert await listed_with_status(reader, '"not_started"') == not_started, path  # one string: list coercion
            assert await listed_with_status(reader, '["not_started", "in_progress"]') == oracle.assignments("admin", "ID"), path
            assert await listed_with_status(reader, json.dumps(["completed"] * 9 + ["not_started"])) == not_started, path  # 10: the bound
            assert await listed_with_status(reader, "[]") == [], path
            assert await listed_with_status(reader, '["no such status"]') == [], path
            variables = {"first": 100, "order": "DUE_ON", "status": "in_progress"}  # a variable of one string is coerced too
            page = (await reader.data(ROOT_PAGE, variables, as_user="admin"))["page"]
            assert [e["node"]["id"] for e in page["edges"]] == oracle.assignments("admin", "DUE_ON", statuses=["in_progress"]), path

            for first in (0, 100):  # the bounds of `first` are accepted, on both lists
                for query, variables, pick in (
                    (ROOT, {"status": None}, lambda d: d["assignments"]),
                    (NESTED, {"task": task}, lambda d: d["task"]["assignments"]),
                ):
                    got = pick(await reader.data(query, {"first": first, "order": "PROGRESS", **variables}, as_user="admin"))
                    want = oracle.assignments("admin", "PROGRESS")
                    assert ([n["id"] for n in got["nodes"]], got["totalCount"]) == (want[:first], len(want)), (path, first)


# -- 4. statement counts ----------------------------------------------------------------------------

TASK_LIST = ("query($n: Int!) { tasks(first: $n) { nodes {"
             " assignments(first: 5, orderBy: DUE_ON) { totalCount nodes { latestReport { reportedOn } } } } } }")
KPI_BOARD = "query($code: String!) { resolution(code: $code) { kpis { code latestByChild { unit { code } } } } }"


async def counted(reader: Api, counter: StatementCounter, query: str, variables: Json, caller: str) -> tuple[int, Json]:
    await reader.token_for(caller)  # the user id is looked up outside the counted window
    counter.reset()
    data = await reader.data(query, variables, as_user=caller)
    return counter.count, data


async def test_task_list_with_paged_assignments_and_latest_reports_costs_a_fixed_number_of_statements(
    api: Api, statements: StatementCounter
) -> None:
    assignees = ["P01", "P01-C01", "P01-C02", "P02", "P02-C01", "P02-C02"]
    w = Workload(
        tasks=20,
        assignments=tuple(Asg(t, "TW", code, (t + i) % 5, 10 * i, "in_progress") for t in range(20) for i, code in enumerate(assignees)),
        reports=tuple((a, d) for a in range(120) for d in range(a % 3)),  # none, one or two reports each
        kpis=(), measurements=(),
    )  # fmt: skip
    await seed(api, w)
    expected = {
        # 1 the caller with its grants, 2 the page of tasks, then one batch each: 3 the assignment pages of
        # all the tasks, 4 their counts, 5 the latest reports of all the assignments shown
        "executor": 5,
        # 1 the caller with its grants, 2 plans made once (api.db.plan_once), 3 the whole answer as JSON, built
        # by one statement of schema.compiled
        "as configured": 3 if api.settings.compiled_reads else 5,
    }
    async with readers(api) as paths:
        for path, reader in paths:
            for caller, seen, shown in (("admin", 6, 5), ("p01.manager", 3, 3)):  # a province sees P01, P01-C01 and P01-C02 of each task
                for n in (3, 20):
                    count, data = await counted(reader, statements, TASK_LIST, {"n": n}, caller)
                    got = data["tasks"]["nodes"]
                    sizes = [(t["assignments"]["totalCount"], len(t["assignments"]["nodes"])) for t in got]
                    assert sizes == [(seen, shown)] * n, (path, caller)
                    assert any(a["latestReport"] for t in got for a in t["assignments"]["nodes"]), (path, caller)
                    assert count == expected[path], (path, caller, n, statements.statements)


async def test_kpi_board_latest_by_child_costs_a_fixed_number_of_statements(api: Api, statements: StatementCounter) -> None:
    await api.seed(UNITS, USERS, passwords=False)
    sizes = {"R-FEW": 2, "R-MANY": 8}
    async with api.engine.begin() as conn:
        uid = {code: pk for pk, code in (await conn.execute(select(Unit.id, Unit.code))).all()}
        for code, kpis in sizes.items():
            resolution = (await conn.execute(insert(Resolution).values(
                code=code, title=code, search_title=code.lower(), kind="resolution", status="in_effect", issuing_unit_id=uid["TW"],
                issued_on=DAY,
            ).returning(Resolution.id))).scalar_one()  # fmt: skip
            pks = await insert_rows(conn, Kpi, [
                {"code": f"{code}-K{i}", "resolution_id": resolution, "name": "K", "search_name": "k", "unit_of_measure": "%",
                 "direction": "increase", "baseline": Decimal(0), "target": Decimal(100), "yellow_threshold": Decimal(50),
                 "red_threshold": Decimal(20), "kpi_group": "development", "frequency": "yearly", "lead_unit_id": uid["TW"]}
                for i in range(kpis)
            ])  # fmt: skip
            await conn.execute(insert(Measurement), [
                {"kpi_id": k, "unit_id": uid[u], "period": p, "value": Decimal(i)}
                for i, k in enumerate(pks.values()) for u in ("P01", "P02", "P01-C01") for p in PERIODS
            ])  # fmt: skip
    expected = {
        # 1 the caller with its grants, 2 the resolution, 3 its KPIs, 4 the latest values of all the KPIs below TW, 5 their units
        "executor": 5,
        # 1 the caller with its grants, 2 plans made once (api.db.plan_once), 3 the whole answer as JSON, built
        # by one statement of schema.compiled
        "as configured": 3 if api.settings.compiled_reads else 5,
    }
    async with readers(api) as paths:
        for path, reader in paths:
            for code, kpis in sizes.items():
                count, data = await counted(reader, statements, KPI_BOARD, {"code": code}, "admin")
                children = [[m["unit"]["code"] for m in k["latestByChild"]] for k in data["resolution"]["kpis"]]
                assert children == [["P01", "P02"]] * kpis, path
                assert count == expected[path], (path, code, statements.statements)
