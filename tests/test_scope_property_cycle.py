"""Property: over random trees, grants and workloads, what GraphQL returns of the working cycle
(resolutions, tasks, assignments, progress reports, KPIs, measurements, audit events) equals a
per-row casbin oracle.

The workload is written straight into the database (SQLAlchemy core, no service code), which
keeps an example cheap. The oracle never touches the application's SQL,
paths or row filters: it walks the random tree in Python and, for each row and each grant of
the user, asks casbin (its own Enforcer over the policy files) whether the grant's role may
`read` that kind of object, and ACCESS.md ("Where an object lives", "Reading") whether the row
is related to the grant's subtree. A row is readable when one single grant does both.

Relations to a grant's subtree S, from ACCESS.md:
- resolution: issuing unit in S (down); a task of it is assigned to a unit in S (handed down); a unit
  in S lies below its issuer and is of a kind it expects to implement it (expected); or one of the
  resolutions implementing it, down the chain (a chain may loop here), is related so (up the chain)
- task: lead unit in S (down); assigned to a unit in S (handed down); coordinated by a unit in S (across)
- assignment and its progress reports: assignee or assigner in S (the assignee lies strictly
  below the assigner, so for a subtree the assignee side already holds whenever the other does)
- KPI: its resolution is related to S (as above), its lead unit is in S, or a unit in S has a target
  for it. A KPI coordinating unit reads nothing by that alone (rule 5: nothing else), so the
  workload has KPI coordinators too.
- measurement: the measured unit in S
- audit event: its unit in S (and only roles casbin lets read audit_event)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

import casbin
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from resolute.api.accounts.models import Grant, User
from resolute.api.audit.models import AuditEvent
from resolute.api.kpis.models import Kpi, KpiCoordinator, KpiUnitTarget, Measurement
from resolute.api.org.models import Unit
from resolute.api.resolutions.models import Resolution
from resolute.api.settings import ROOT
from resolute.api.tasks.models import Assignment, ProgressReport, Task, TaskCoordinator
from resolute.schema.ids import decode_any, encode_id
from tests.support import Api, Backend, running_app, unit

ROLES = ["admin", "leader", "manager", "officer", "viewer", "auditor"]
ORACLE = casbin.Enforcer(str(ROOT / "policies" / "model.conf"), str(ROOT / "policies" / "policy.csv"))
MAX_ALIASES = 30
PERIODS = ("2021", "2022", "2023")
KINDS = ("province", "department")  # implementer kinds are drawn from these too


@dataclass(frozen=True)
class World:
    """A tree, users with grants, and a workload; every reference is an index into the lists."""

    parents: tuple[int, ...]  # parents[i] < i for i >= 1; unit 0 is the root
    grants: tuple[tuple[int, tuple[tuple[str, int], ...]], ...]  # per user: (own unit, ((role, unit), ...))
    resolutions: tuple[tuple[int, int | None, frozenset[str]], ...]  # (issuing unit, the resolution it implements, implementer kinds)
    tasks: tuple[tuple[int, int, frozenset[int]], ...]  # (resolution, lead unit, coordinating units)
    assignments: tuple[tuple[int, int, int], ...]  # (task, assigner unit, assignee unit strictly below it)
    reports: tuple[int, ...]  # assignment
    kpis: tuple[tuple[int, int, frozenset[int], frozenset[int]], ...]  # (resolution, lead unit, target units, coordinating units)
    measurements: tuple[tuple[int, int, int], ...]  # (kpi, unit, period index)
    events: tuple[int, ...]  # the event's unit
    kinds: tuple[str, ...] = ()  # each unit's kind (none given: the root central, the others departments)
    drafts: frozenset[int] = frozenset()  # the resolutions still in draft

    def kind(self, i: int) -> str:
        return self.kinds[i] if self.kinds else ("central" if i == 0 else "department")

    # -- the tree, in Python ------------------------------------------------------------------
    def code(self, i: int) -> str:
        return f"U{i:02d}"

    @cached_property
    def subtrees(self) -> tuple[frozenset[int], ...]:
        """subtrees[g]: g and every unit below it, from the parent links alone."""
        below: list[set[int]] = [{i} for i in range(len(self.parents))]
        for i in range(len(self.parents) - 1, 0, -1):  # parents[i] < i: children before parents
            below[self.parents[i]] |= below[i]
        return tuple(frozenset(s) for s in below)

    # -- relations of a row to a grant's subtree (ACCESS.md) --------------------------------
    def _handed_down_tasks(self, s: frozenset[int]) -> set[int]:
        return {task for task, _, assignee in self.assignments if assignee in s}

    def _handed_down_resolutions(self, s: frozenset[int]) -> set[int]:
        return {self.tasks[t][0] for t in self._handed_down_tasks(s)}

    def _expected_of(self, r: int, s: frozenset[int]) -> bool:
        """A unit of S lies strictly below r's issuer and is of a kind r, not a draft, expects an implementing programme from."""
        issuer, _, kinds = self.resolutions[r]
        return r not in self.drafts and any(u != issuer and u in self.subtrees[issuer] and self.kind(u) in kinds for u in s)

    def _chain_below(self, r: int) -> set[int]:
        """r and every resolution implementing it, down the chain (which may loop)."""
        found, todo = {r}, [r]
        while todo:
            top = todo.pop()
            for d, (_, implements, _) in enumerate(self.resolutions):
                if implements == top and d not in found:
                    found.add(d)
                    todo.append(d)
        return found

    def _resolution_related(self, r: int, s: frozenset[int]) -> bool:
        handed = self._handed_down_resolutions(s)
        return any(self.resolutions[d][0] in s or d in handed or self._expected_of(d, s) for d in self._chain_below(r))

    def _task_related(self, t: int, s: frozenset[int]) -> bool:
        _, lead, coordinators = self.tasks[t]
        return lead in s or t in self._handed_down_tasks(s) or bool(coordinators & s)

    def _assignment_related(self, a: int, s: frozenset[int]) -> bool:
        _, assigner, assignee = self.assignments[a]
        return assignee in s or assigner in s

    def _report_related(self, p: int, s: frozenset[int]) -> bool:
        return self._assignment_related(self.reports[p], s)

    def _kpi_related(self, k: int, s: frozenset[int]) -> bool:
        resolution, lead, targets, _coordinators = self.kpis[k]
        return self._resolution_related(resolution, s) or lead in s or bool(targets & s)

    def _readable(self, user: int, obj: str, count: int, related: Callable[[int, frozenset[int]], bool]) -> set[int]:
        """The oracle: casbin asked row by row, grant by grant; one grant must do it all."""
        _, grants = self.grants[user]
        return {
            row
            for row in range(count)
            if any(ORACLE.enforce(role, obj, "read") and related(row, self.subtrees[g]) for role, g in grants)
        }

    def oracle(self, user: int) -> dict[str, set[int]]:
        return {
            "Resolution": self._readable(user, "resolution", len(self.resolutions), self._resolution_related),
            "Task": self._readable(user, "task", len(self.tasks), self._task_related),
            "Assignment": self._readable(user, "assignment", len(self.assignments), self._assignment_related),
            "ProgressReport": self._readable(user, "progress_report", len(self.reports), self._report_related),
            "Kpi": self._readable(user, "kpi", len(self.kpis), self._kpi_related),
            "Measurement": self._readable(user, "measurement", len(self.measurements), lambda m, s: self.measurements[m][1] in s),
            "AuditEvent": self._readable(user, "audit_event", len(self.events), lambda e, s: self.events[e] in s),
        }


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """Trees of 3 to 12 units, 1 to 3 users of 0 to 3 grants (the first holds one), a workload
    dense enough (several tasks, assignments and KPIs) that most examples tell the clauses apart."""
    size = draw(st.integers(min_value=3, max_value=12))
    parents = (0,) + tuple(draw(st.integers(min_value=0, max_value=i - 1)) for i in range(1, size))
    units = st.integers(min_value=0, max_value=size - 1)

    def user(min_grants: int) -> st.SearchStrategy[tuple[int, list[tuple[str, int]]]]:
        return st.tuples(units, st.lists(st.tuples(st.sampled_from(ROLES), units), min_size=min_grants, max_size=3, unique=True))

    users = [draw(user(1))] + draw(st.lists(user(0), max_size=2))  # 1-3 users; the first holds a grant
    unit_sets = st.frozensets(units, max_size=3)
    pick = st.integers(min_value=0, max_value=1000)  # an index, taken modulo the list it refers to
    kinds = ("central",) + tuple(draw(st.lists(st.sampled_from(KINDS), min_size=size - 1, max_size=size - 1)))
    implemented = st.one_of(st.none(), pick)
    drawn = draw(st.lists(st.tuples(units, implemented, st.frozensets(st.sampled_from(KINDS), max_size=2)), min_size=1, max_size=4))
    resolutions = tuple((issuer, None if i is None else i % len(drawn), expects) for issuer, i, expects in drawn)
    drafts = draw(st.frozensets(st.integers(min_value=0, max_value=len(resolutions) - 1), max_size=2))
    drawn_tasks = draw(st.lists(st.tuples(pick, units, unit_sets), min_size=2, max_size=5))
    tasks = tuple((r % len(resolutions), lead, coord) for r, lead, coord in drawn_tasks)

    # assignments: the assigner is a strict ancestor of the assignee; one per (task, assignee)
    assignments: list[tuple[int, int, int]] = []
    for t, assignee, k in draw(st.lists(st.tuples(pick, st.integers(min_value=1, max_value=size - 1), pick), min_size=2, max_size=8)):
        above = [parents[assignee]]
        while above[-1] != 0:
            above.append(parents[above[-1]])
        row = (t % len(tasks), above[k % len(above)], assignee)
        if all((a[0], a[2]) != (row[0], row[2]) for a in assignments):
            assignments.append(row)
    reports = tuple(a % len(assignments) for a in draw(st.lists(pick, max_size=8))) if assignments else ()

    drawn_kpis = draw(st.lists(st.tuples(pick, units, unit_sets, unit_sets), min_size=3, max_size=6))
    kpis = tuple((r % len(resolutions), lead, targets, coord) for r, lead, targets, coord in drawn_kpis)
    measurements: list[tuple[int, int, int]] = []
    for k, u, p in draw(st.lists(st.tuples(pick, units, st.integers(0, len(PERIODS) - 1)), max_size=8)):
        row = (k % len(kpis), u, p)
        if row not in measurements:
            measurements.append(row)
    events = tuple(draw(st.lists(units, max_size=6)))
    return World(
        parents=parents,
        kinds=kinds,
        drafts=drafts,
        grants=tuple((own, tuple(g)) for own, g in users),
        resolutions=resolutions,
        tasks=tasks,
        assignments=tuple(assignments),
        reports=reports,
        kpis=kpis,
        measurements=tuple(measurements),
        events=events,
    )


# -- loading: the tree through the importer, everything else straight into the tables ---------
DAY, DUE = date(2025, 1, 15), date(2030, 1, 1)


async def insert_rows(conn: AsyncConnection, model: type, values: list[dict[str, object]]) -> dict[int, int]:
    """Insert rows one by one; returns row index -> primary key."""
    table = model.__table__  # type: ignore[attr-defined]
    return {i: (await conn.execute(insert(table).values(**value).returning(table.c.id))).scalar_one() for i, value in enumerate(values)}


async def insert_workload(conn: AsyncConnection, world: World, uid: dict[int, int]) -> dict[str, dict[int, int]]:
    """Write the working cycle of the world (resolutions to measurements) under the units `uid`
    (world index -> unit id); returns, per GraphQL type, world index -> primary key."""
    pks: dict[str, dict[int, int]] = {}
    pks["Resolution"] = await insert_rows(conn, Resolution, [
        {"code": f"R{i}", "title": f"Resolution {i}", "search_title": f"resolution {i}", "kind": "resolution",
         "status": "draft" if i in world.drafts else "in_effect", "issuing_unit_id": uid[u], "issued_on": DAY, "implementer_kinds": ",".join(sorted(kinds)) or None}
        for i, (u, _, kinds) in enumerate(world.resolutions)
    ])  # fmt: skip
    for i, (_, implements, _) in enumerate(world.resolutions):  # set afterwards: a chain may loop
        if implements is not None:
            await conn.execute(update(Resolution).where(Resolution.id == pks["Resolution"][i]).values(implements_id=pks["Resolution"][implements]))
    pks["Task"] = await insert_rows(conn, Task, [
        {"code": f"T{i}", "title": f"Task {i}", "search_title": f"task {i}", "resolution_id": pks["Resolution"][r], "lead_unit_id": uid[lead],
         "start_on": DAY, "due_on": DUE, "status": "in_progress"}
        for i, (r, lead, _) in enumerate(world.tasks)
    ])  # fmt: skip
    for i, (_, _, coordinators) in enumerate(world.tasks):
        for u in sorted(coordinators):
            await conn.execute(insert(TaskCoordinator).values(task_id=pks["Task"][i], unit_id=uid[u]))
    pks["Assignment"] = await insert_rows(conn, Assignment, [
        {"code": f"A{i}", "task_id": pks["Task"][t], "assigner_unit_id": uid[frm], "assignee_unit_id": uid[to], "raci": "R", "assigned_on": DAY,
         "original_due_on": DUE, "due_on": DUE, "status": "in_progress", "progress": 10}
        for i, (t, frm, to) in enumerate(world.assignments)
    ])  # fmt: skip
    pks["ProgressReport"] = await insert_rows(conn, ProgressReport, [
        {"assignment_id": pks["Assignment"][a], "reported_on": date(2025, 2, 1 + i), "progress": 10 + i, "status": "in_progress"}
        for i, a in enumerate(world.reports)
    ])  # fmt: skip
    pks["Kpi"] = await insert_rows(conn, Kpi, [
        {"code": f"K{i}", "resolution_id": pks["Resolution"][r], "name": f"KPI {i}", "search_name": f"kpi {i}", "unit_of_measure": "%",
         "direction": "increase", "baseline": Decimal(0), "target": Decimal(100), "yellow_threshold": Decimal(50), "red_threshold": Decimal(20),
         "kpi_group": "development", "frequency": "yearly", "lead_unit_id": uid[lead]}
        for i, (r, lead, _, _) in enumerate(world.kpis)
    ])  # fmt: skip
    for i, (_, _, targets, coordinators) in enumerate(world.kpis):
        for u in sorted(targets):
            await conn.execute(insert(KpiUnitTarget).values(kpi_id=pks["Kpi"][i], unit_id=uid[u], target=Decimal(90)))
        for u in sorted(coordinators):
            await conn.execute(insert(KpiCoordinator).values(kpi_id=pks["Kpi"][i], unit_id=uid[u]))
    pks["Measurement"] = await insert_rows(conn, Measurement, [
        {"kpi_id": pks["Kpi"][k], "unit_id": uid[u], "period": PERIODS[p], "value": Decimal(42)}
        for k, u, p in world.measurements
    ])  # fmt: skip
    return pks


async def _load(api: Api, world: World) -> dict[str, dict[int, int]]:
    """Write the world; returns, per GraphQL type, world index -> primary key."""
    units = [unit(world.code(0), None, "central")] + [unit(world.code(i), world.code(p), world.kind(i)) for i, p in enumerate(world.parents) if i]
    await api.seed(units, [], passwords=False)
    async with api.engine.begin() as conn:
        postgresql = conn.dialect.name == "postgresql"
        if postgresql:  # as a superuser, past the audit's append-only trigger, and back at once (the summaries' triggers must run)
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(delete(AuditEvent))  # the importer's own events: only the workload's are judged
        if postgresql:
            await conn.execute(text("SET LOCAL session_replication_role = origin"))
        uid = dict(enumerate((await conn.execute(select(Unit.id).order_by(Unit.code))).scalars()))  # U00, U01, ...
        assert len(uid) == len(world.parents)
        for n, (own, grants) in enumerate(world.grants):
            values = {"username": f"user{n}", "full_name": f"User {n}", "search_name": f"user{n}", "unit_id": uid[own], "active": True, "version": 1}
            user_id = (await conn.execute(insert(User).values(**values).returning(User.id))).scalar_one()
            for role, g in grants:
                await conn.execute(insert(Grant).values(user_id=user_id, role=role, unit_id=uid[g]))

        pks = await insert_workload(conn, world, uid)
        # Audit rows need no valid chain here (that is test_audit's business): any distinct hashes do.
        pks["AuditEvent"] = await insert_rows(conn, AuditEvent, [
            {"occurred_at": datetime(2025, 3, 1, 12, i, tzinfo=UTC), "actor_username": "seed", "action": "unitUpdate", "object_type": "unit",
             "object_key": str(uid[u]), "unit_id": uid[u], "prev_hash": f"{i:064x}", "hash": f"{i + 1:064x}"}
            for i, u in enumerate(world.events)
        ])  # fmt: skip
    return pks


# -- what GraphQL answers -----------------------------------------------------------------------
LISTS = """{
  resolutions(first: 100) { totalCount nodes { id } }
  tasks(first: 100) { totalCount nodes { id assignments(first: 20) { totalCount nodes { id reports(first: 20) { totalCount nodes { id } } } } } }
  assignments(first: 100) { totalCount nodes { id reports(first: 20) { totalCount nodes { id } } } }
  kpis(first: 100) { totalCount nodes { id } }
  measurements(first: 100) { totalCount nodes { id } }
  auditEvents(first: 100) { totalCount nodes { id } }
}"""
LIST_TYPES = {
    "resolutions": "Resolution", "tasks": "Task", "assignments": "Assignment", "kpis": "Kpi", "measurements": "Measurement", "auditEvents": "AuditEvent",
}  # fmt: skip
# nested pages of 20 hold every row of a world (at most 8 assignments and 8 reports) and keep the query's computed cost
# under the ceiling (schema/cost.py): three nested pages of 100 may read a million objects
NESTED = {"Task": "... on Task { assignments(first: 20) { totalCount nodes { id reports(first: 20) { totalCount nodes { id } } } } }",
          "Assignment": "... on Assignment { reports(first: 20) { totalCount nodes { id } } }"}
Json = dict[str, Any]


def _pk(global_id: str, type_name: str) -> int:
    decoded = decode_any(global_id)
    assert decoded is not None and decoded[0] == type_name, global_id
    return decoded[1]


def _pks(items: list[Json], type_name: str) -> set[int]:
    return {_pk(item["id"], type_name) for item in items}


def _diff(got: set[int], want: set[int]) -> str:
    return f"leaked {sorted(got - want)}, missing {sorted(want - got)}"


async def _nodes(api: Api, user: str, targets: list[tuple[str, int]]) -> dict[tuple[str, int], Json | None]:
    """node(id) for each (type, pk), at most MAX_ALIASES aliases a request."""
    found: dict[tuple[str, int], Json | None] = {}
    for start in range(0, len(targets), MAX_ALIASES):
        chunk = targets[start : start + MAX_ALIASES]
        fields = " ".join(f'n{j}: node(id: "{encode_id(t, pk)}") {{ id {NESTED.get(t, "")} }}' for j, (t, pk) in enumerate(chunk))
        data = await api.data(f"{{ {fields} }}", as_user=user)
        for j, key in enumerate(chunk):
            found[key] = data[f"n{j}"]
    return found


@dataclass
class Expected:
    """One user's oracle, in primary keys, with the parent of every nested row."""

    who: str
    rows: dict[str, set[int]]  # GraphQL type -> readable primary keys
    task_of: dict[int, int]  # assignment pk -> task pk
    assignment_of: dict[int, int]  # report pk -> assignment pk

    def task(self, task: Json, where: str) -> None:
        task_pk = _pk(task["id"], "Task")
        got, want = _pks(task["assignments"]["nodes"], "Assignment"), {a for a in self.rows["Assignment"] if self.task_of[a] == task_pk}
        assert got == want, f"{where}: Task.assignments of task {task_pk} for {self.who}: {_diff(got, want)}"
        assert task["assignments"]["totalCount"] == len(want), f"{where}: Task.assignments.totalCount of task {task_pk} for {self.who}"
        for assignment in task["assignments"]["nodes"]:
            self.assignment(assignment, f"{where} > Task.assignments")

    def assignment(self, assignment: Json, where: str) -> None:
        assignment_pk = _pk(assignment["id"], "Assignment")
        want = {p for p in self.rows["ProgressReport"] if self.assignment_of[p] == assignment_pk}
        got = _pks(assignment["reports"]["nodes"], "ProgressReport")
        assert assignment["reports"]["totalCount"] == len(want), f"{where}: Assignment.reports.totalCount of assignment {assignment_pk} for {self.who}"
        assert got == want, f"{where}: Assignment.reports of assignment {assignment_pk} for {self.who}: {_diff(got, want)}"


async def _check_user(api: Api, world: World, pks: dict[str, dict[int, int]], n: int) -> None:
    user = f"user{n}"
    expected = Expected(
        who=f"{user} with grants {world.grants[n][1]}",
        rows={t: {pks[t][i] for i in rows} for t, rows in world.oracle(n).items()},
        task_of={pks["Assignment"][a]: pks["Task"][t] for a, (t, _, _) in enumerate(world.assignments)},
        assignment_of={pks["ProgressReport"][p]: pks["Assignment"][a] for p, a in enumerate(world.reports)},
    )

    # lists and their counts, then the nested edges of what they return
    listed = await api.data(LISTS, as_user=user)
    for field, type_name in LIST_TYPES.items():
        got, want = _pks(listed[field]["nodes"], type_name), expected.rows[type_name]
        assert got == want, f"{field} for {expected.who}: {_diff(got, want)}"
        assert listed[field]["totalCount"] == len(want), f"{field}.totalCount for {expected.who}"
    for task in listed["tasks"]["nodes"]:
        expected.task(task, "tasks")
    for assignment in listed["assignments"]["nodes"]:
        expected.assignment(assignment, "assignments")

    # node(id) of every row of every type
    nodes = await _nodes(api, user, [(t, pk) for t in pks for pk in pks[t].values()])
    for type_name in pks:
        got, want = {pk for (t, pk), value in nodes.items() if t == type_name and value is not None}, expected.rows[type_name]
        assert got == want, f"node(id) of {type_name} for {expected.who}: {_diff(got, want)}"
    for (type_name, _), value in nodes.items():
        if value is not None and type_name == "Task":
            expected.task(value, "node")
        elif value is not None and type_name == "Assignment":
            expected.assignment(value, "node")


async def _check(api: Api, world: World) -> None:
    pks = await _load(api, world)
    for n in range(len(world.grants)):
        await _check_user(api, world, pks, n)


# Two levels of assignment (U00 -> U01 -> U02) with three reports, and a sibling branch U03:
# the admin at the root and the manager at U01 see every report (also by node(id)), the viewer
# at U03 none. Run first, before the generated worlds.
HANDED_DOWN_REPORTS = World(
    parents=(0, 0, 1, 0),
    kinds=("central", "department", "department", "department"),
    grants=((0, (("admin", 0),)), (1, (("manager", 1),)), (3, (("viewer", 3),))),
    resolutions=((0, None, frozenset()),),
    tasks=((0, 0, frozenset()),),
    assignments=((0, 0, 1), (0, 1, 2)),
    reports=(0, 1, 1),
    kpis=(),
    measurements=(),
    events=(),
)


# The implementer's view: R0 (root) expects provinces to implement it; U01's programme R1 implements R0
# and its task is handed to U02; R2 is U03's own. The viewer at U02 reads R1 (handed down) and R0 (up
# the chain), the viewer at U03, a province, R0 (expected) and R2 (home), the manager at U01 R1 and R0,
# with their KPIs (all led from the root); nobody but the root reads another's, nor R3, a draft of the root
# expecting provinces.
IMPLEMENTERS = World(
    parents=(0, 0, 1, 0),
    kinds=("central", "province", "department", "province"),
    grants=((2, (("viewer", 2),)), (3, (("viewer", 3),)), (1, (("manager", 1),))),
    resolutions=((0, None, frozenset({"province"})), (1, 0, frozenset()), (3, None, frozenset()), (0, None, frozenset({"province"}))),
    drafts=frozenset({3}),
    tasks=((1, 1, frozenset()),),
    assignments=((0, 1, 2),),
    reports=(),
    kpis=((0, 0, frozenset(), frozenset()), (1, 0, frozenset(), frozenset()), (2, 0, frozenset(), frozenset()), (3, 0, frozenset(), frozenset())),
    measurements=(),
    events=(),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@example(world=HANDED_DOWN_REPORTS)
@example(world=IMPLEMENTERS)
@given(world=worlds())
def test_working_cycle_scope_equals_per_row_casbin_oracle(backend: Backend, world: World) -> None:
    """Lists, counts, node(id), Task.assignments and Assignment.reports, for every kind of the cycle."""

    async def run() -> None:
        await backend.reset()
        async with AsyncExitStack() as stack:
            api = await stack.enter_async_context(running_app(backend.settings))
            await _check(api, world)

    asyncio.run(run())


def test_the_oracle_reads_the_implementers_example_as_its_comment_says() -> None:
    """The oracle itself, on the hand-made world: handed down, expected, up the chain, and KPIs with them."""
    assert [IMPLEMENTERS.oracle(user)["Resolution"] for user in range(3)] == [{0, 1}, {0, 2}, {0, 1}]
    assert [IMPLEMENTERS.oracle(user)["Kpi"] for user in range(3)] == [{0, 1}, {0, 2}, {0, 1}]
