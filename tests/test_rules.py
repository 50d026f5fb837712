"""The domain rules (api.tasks.rules, api.kpis.rules) on SQLite and PostgreSQL.

1. Properties: each SQL expression, evaluated by the real database over the rows of a scratch
   table (the real columns' types, created and dropped in one rolled-back transaction; a whole
   example in one SELECT), equals a plain-Python transcription of the rule below: the traffic
   light in both directions on and around its thresholds, timeliness, overdue (tasks,
   assignments, milestones), expected progress and behind pace, around a fixed today.
2. Through GraphQL: every read that answers tasks, milestones, assignments and measurements
   (lists, node, task(code), nested loaders, the status matrix, a mutation's payload re-read
   after the service changed the row) carries the values the same transcription gives for the
   real today; the overdue filters agree with the overdue fields; a measurement's light is null
   where the caller cannot see its KPI; the status matrix shows only the caller's columns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, ColumnElement, Integer, MetaData, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from resolute.api.access.policy import load_policy
from resolute.api.access.scope import Scope
from resolute.api.auth.principal import load_principal
from resolute.api.auth.tokens import TokenClaims
from resolute.api.db import RequestDB, create_engine, session_factory
from resolute.api.kpis import rules as kpi_rules
from resolute.api.kpis.models import Kpi, Measurement
from resolute.api.org.models import Unit
from resolute.api.resolutions.models import Resolution
from resolute.api.tasks import rules
from resolute.api.tasks.models import ASSIGNMENT_STATUSES, Assignment, Milestone, Task
from resolute.schema.ids import encode_id
from resolute.schema.loaders import Loaders
from tests.support import Api, Backend, small_tree, user

# -- the rules, transcribed in plain Python (the oracle) ------------------------------------------


def light_of(direction: str, yellow: Decimal, red: Decimal, value: Decimal) -> str:
    """Reaching the yellow threshold (in the KPI's direction) is green, reaching the red one yellow."""
    reaches = (lambda a, b: a >= b) if direction == "increase" else (lambda a, b: a <= b)
    return "green" if reaches(value, yellow) else "yellow" if reaches(value, red) else "red"


def is_open(status: str) -> bool:
    return status not in ("completed", "cancelled")


def overdue_of(status: str, due_on: date, today: date) -> bool:
    return is_open(status) and due_on < today


def milestone_overdue_of(done_on: date | None, due_on: date, today: date) -> bool:
    return done_on is None and due_on < today


def timeliness_of(status: str, completed_on: date | None, original_due_on: date, due_on: date) -> str | None:
    if status != "completed" or completed_on is None:
        return None
    return "on_time" if completed_on <= original_due_on else "within_extension" if completed_on <= due_on else "late"


def expected_progress_of(assigned_on: date, due_on: date, today: date) -> int:
    """The straight line from (assigned_on, 0) to (due_on, 100), floored and clamped to 0..100."""
    span = (due_on - assigned_on).days
    if span <= 0:  # no time was given: all is due from the due date on
        return 100 if today >= due_on else 0
    return max(0, min(100, 100 * (today - assigned_on).days // span))


def behind_pace_of(status: str, progress: int, assigned_on: date, due_on: date, today: date, margin: int = rules.BEHIND_PACE_MARGIN) -> bool:
    return is_open(status) and progress < expected_progress_of(assigned_on, due_on, today) - margin


# -- 1. properties over a scratch table -------------------------------------------------------------

TODAY = date(2024, 3, 1)  # fixed, the day after a 29 February: spans cross a leap day and month ends
SCRATCH = MetaData()


def _scratch(name: str, *columns: Column[Any]) -> Table:
    """A temporary table with these columns of the real tables, of the very same types."""
    return Table(name, SCRATCH, Column("n", Integer, primary_key=True), *(Column(c.name, c.type) for c in columns), prefixes=["TEMPORARY"])


LIGHTS = _scratch("rules_lights", *(Kpi.__table__.c[n] for n in ("direction", "yellow_threshold", "red_threshold")), Measurement.__table__.c.value)
ASSIGNMENTS = _scratch("rules_assignments", *(Assignment.__table__.c[n] for n in ("status", "assigned_on", "original_due_on", "due_on", "completed_on", "progress")))
MILESTONES = _scratch("rules_milestones", Milestone.__table__.c.due_on, Milestone.__table__.c.done_on)
FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
async def engine(backend: Backend) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(backend.settings)
    try:
        yield engine
    finally:
        await engine.dispose()


async def evaluate(engine: AsyncEngine, table: Table, rows: Sequence[dict[str, Any]], *exprs: ColumnElement[Any]) -> list[tuple[Any, ...]]:
    """The expressions over the rows, in the rows' order, computed by the database; nothing is kept."""
    async with engine.connect() as conn:
        tx = await conn.begin()
        try:
            await conn.run_sync(table.create)
            await conn.execute(insert(table), [{"n": n, **row} for n, row in enumerate(rows)])
            return [tuple(r) for r in await conn.execute(select(*exprs).order_by(table.c.n))]
        finally:
            await tx.rollback()


def days(lo: int, hi: int) -> st.SearchStrategy[date]:
    return st.integers(lo, hi).map(lambda d: TODAY + timedelta(days=d))


near = st.one_of(days(-3, 3), days(-400, 400))  # often on and around today, sometimes far
statuses = st.sampled_from(ASSIGNMENT_STATUSES)
cents = st.one_of(st.integers(-100_000, 100_000), st.integers(-(10**15) + 2, 10**15 - 2))  # amounts stay below 10^13


@st.composite
def light_cases(draw: st.DrawFn) -> dict[str, Any]:
    direction = draw(st.sampled_from(("increase", "decrease")))
    a, b = draw(cents), draw(cents)
    red, yellow = (min(a, b), max(a, b)) if direction == "increase" else (max(a, b), min(a, b))  # as threshold_problems demands
    value = draw(st.one_of(cents, st.sampled_from((red, yellow)).flatmap(lambda t: st.sampled_from((t - 1, t, t + 1)))))
    return {"direction": direction, "yellow_threshold": _amount(yellow), "red_threshold": _amount(red), "value": _amount(value)}


def _amount(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


@FAST
@given(cases=st.lists(light_cases(), min_size=1, max_size=60))
@example(cases=[{"direction": d, "yellow_threshold": Decimal("62.00"), "red_threshold": Decimal("54.00"), "value": Decimal(v)}
                for d in ("increase", "decrease") for v in ("53.99", "54.00", "54.01", "61.99", "62.00", "62.01")])
async def test_light_equals_the_rule(engine: AsyncEngine, cases: list[dict[str, Any]]) -> None:
    got = await evaluate(engine, LIGHTS, cases, kpi_rules.light(LIGHTS.c, LIGHTS.c.value))
    want = [(light_of(c["direction"], c["yellow_threshold"], c["red_threshold"], c["value"]),) for c in cases]
    assert got == want


@st.composite
def assignment_rows(draw: st.DrawFn) -> dict[str, Any]:
    assigned = draw(near)
    original = draw(st.one_of(near, st.integers(0, 90).map(lambda d: assigned + timedelta(days=d))))
    due = draw(st.one_of(st.integers(0, 60).map(lambda d: original + timedelta(days=d)), near))  # an extension moves it later
    status = draw(statuses)
    completed = draw(st.one_of(st.none(), near, st.sampled_from((original, due, original + timedelta(days=1), due + timedelta(days=1)))))
    return {"status": status, "assigned_on": assigned, "original_due_on": original, "due_on": due, "completed_on": completed,
            "progress": draw(st.integers(0, 100))}


@FAST
@given(rows=st.lists(assignment_rows(), min_size=1, max_size=60))
async def test_timeliness_equals_the_rule(engine: AsyncEngine, rows: list[dict[str, Any]]) -> None:
    got = await evaluate(engine, ASSIGNMENTS, rows, rules.timeliness(ASSIGNMENTS.c))
    assert got == [(timeliness_of(r["status"], r["completed_on"], r["original_due_on"], r["due_on"]),) for r in rows]


@FAST
@given(rows=st.lists(assignment_rows(), min_size=1, max_size=60),
       milestones=st.lists(st.fixed_dictionaries({"due_on": near, "done_on": st.one_of(st.none(), near)}), min_size=1, max_size=30))
async def test_overdue_equals_the_rule(engine: AsyncEngine, rows: list[dict[str, Any]], milestones: list[dict[str, Any]]) -> None:
    got = await evaluate(engine, ASSIGNMENTS, rows, rules.overdue(ASSIGNMENTS.c, TODAY))  # tasks have the same status and due_on
    assert got == [(overdue_of(r["status"], r["due_on"], TODAY),) for r in rows]
    got = await evaluate(engine, MILESTONES, milestones, rules.milestone_overdue(TODAY, MILESTONES.c))
    assert got == [(milestone_overdue_of(m["done_on"], m["due_on"], TODAY),) for m in milestones]


@FAST
@given(rows=st.lists(assignment_rows(), min_size=1, max_size=60), margin=st.one_of(st.just(rules.BEHIND_PACE_MARGIN), st.integers(0, 40)))
async def test_expected_progress_and_behind_pace_equal_the_rule(engine: AsyncEngine, rows: list[dict[str, Any]], margin: int) -> None:
    t = ASSIGNMENTS.c
    got = await evaluate(engine, ASSIGNMENTS, rows, rules.expected_progress(TODAY, t), rules.behind_pace(TODAY, margin, t))
    want = [(expected_progress_of(r["assigned_on"], r["due_on"], TODAY), behind_pace_of(r["status"], r["progress"], r["assigned_on"], r["due_on"], TODAY, margin))
            for r in rows]
    assert got == want


# (assigned_on, due_on) in days from today -> expected progress today
PACE_LANDMARKS = {
    (-10, 10): 50, (-1, 2): 33, (-2, 1): 66, (0, 10): 0, (1, 10): 0, (-10, 0): 100, (-10, -1): 100,
    (0, 0): 100, (1, 1): 0, (5, -5): 100, (5, 3): 0, (-366, 366): 50, (-1, 299): 0, (-3, 297): 1,
}


async def test_expected_progress_landmarks(engine: AsyncEngine) -> None:
    """The documented corners: 0 up to the assignment date, 100 from the due date on, floored in between."""
    rows = [{"status": "in_progress", "assigned_on": TODAY + timedelta(days=a), "original_due_on": TODAY + timedelta(days=d),
             "due_on": TODAY + timedelta(days=d), "completed_on": None, "progress": 0} for a, d in PACE_LANDMARKS]
    got = await evaluate(engine, ASSIGNMENTS, rows, rules.expected_progress(TODAY, ASSIGNMENTS.c))
    assert dict(zip(PACE_LANDMARKS, (g for (g,) in got))) == PACE_LANDMARKS


# -- 2. through GraphQL ---------------------------------------------------------------------------

def D(n: int) -> date:  # noqa: N802 - a short name for the many dates of the seed
    """n days from the real today, which GraphQL reads with."""
    return date.today() + timedelta(days=n)


@dataclass
class Seeded:
    api: Api
    ids: dict[str, str]  # name -> global id
    pks: dict[str, int]  # name -> primary key
    assignments: dict[str, dict[str, Any]]  # name -> the row as written
    tasks: dict[str, dict[str, Any]]
    milestones: dict[str, dict[str, Any]]


def _assignment_facts(row: dict[str, Any], today: date) -> dict[str, Any]:
    timeliness = timeliness_of(row["status"], row["completed_on"], row["original_due_on"], row["due_on"])
    return {"overdue": overdue_of(row["status"], row["due_on"], today), "timeliness": timeliness.upper() if timeliness else None,
            "expectedProgress": expected_progress_of(row["assigned_on"], row["due_on"], today),
            "behindPace": behind_pace_of(row["status"], row["progress"], row["assigned_on"], row["due_on"], today)}


def _row_facts(row: Assignment) -> dict[str, Any]:
    return {"overdue": row.overdue, "timeliness": row.timeliness.upper() if row.timeliness else None, "expectedProgress": row.expected_progress,
            "behindPace": row.behind_pace}


A_FIELDS = "id overdue timeliness expectedProgress behindPace"


@pytest.fixture
async def seeded(api: Api) -> Seeded:
    """A resolution of TW with three tasks, assignments at every stage and milestones, written straight into the tables."""
    await api.seed(small_tree(), [user("admin", "TW", "admin"), user("p01.manager", "P01", "manager"), user("p01.officer", "P01", "officer"),
                                  user("p01.c01.officer", "P01-C01", "officer"), user("p02.manager", "P02", "manager")])
    tasks = {
        "T1": {"code": "R-T1", "status": "in_progress", "start_on": D(-40), "due_on": D(30)},
        "T2": {"code": "R-T2", "status": "in_progress", "start_on": D(-40), "due_on": D(-1)},  # overdue
        "T3": {"code": "R-T3", "status": "completed", "start_on": D(-40), "due_on": D(-1), "completed_on": D(-2)},
    }
    base = {"completed_on": None, "raci": "R"}
    assignments = {  # name -> (task, assigner, assignee, row)
        "T1/P01": ("T1", "TW", "P01", {**base, "status": "in_progress", "progress": 20, "assigned_on": D(-10), "original_due_on": D(10), "due_on": D(10)}),
        "T1/P02": ("T1", "TW", "P02", {**base, "status": "in_progress", "progress": 45, "assigned_on": D(-10), "original_due_on": D(10), "due_on": D(10)}),
        "T1/P01-C01": ("T1", "P01", "P01-C01", {**base, "status": "completed", "progress": 100, "assigned_on": D(-20), "original_due_on": D(-5),
                                                "due_on": D(-1), "completed_on": D(-2)}),
        "T1/P02-C01": ("T1", "P02", "P02-C01", {**base, "status": "completed", "progress": 100, "assigned_on": D(-20), "original_due_on": D(-5),
                                                "due_on": D(-5), "completed_on": D(-3)}),
        "T2/P01": ("T2", "TW", "P01", {**base, "status": "in_progress", "progress": 50, "assigned_on": D(-30), "original_due_on": D(-3), "due_on": D(-3)}),
        "T2/P02": ("T2", "TW", "P02", {**base, "status": "not_started", "progress": 0, "assigned_on": D(0), "original_due_on": D(0), "due_on": D(0)}),
        "T3/P02": ("T3", "TW", "P02", {**base, "status": "completed", "progress": 100, "assigned_on": D(-30), "original_due_on": D(-5), "due_on": D(-5),
                                       "completed_on": D(-8)}),
    }
    milestones = {"M-late": {"task": "T1", "due_on": D(-1), "done_on": None}, "M-done": {"task": "T1", "due_on": D(-1), "done_on": D(-3)},
                  "M-today": {"task": "T1", "due_on": D(0), "done_on": None}, "M-soon": {"task": "T2", "due_on": D(3), "done_on": None}}
    pks: dict[str, int] = {}
    async with api.engine.begin() as conn:
        unit = {code: pk for pk, code in (await conn.execute(select(Unit.id, Unit.code))).all()}
        rid = (await conn.execute(insert(Resolution).values(code="R", title="R", search_title="r", kind="resolution", status="in_effect",
                                                            issuing_unit_id=unit["TW"], issued_on=D(-60)).returning(Resolution.id))).scalar_one()
        task_pk = {}
        for name, t in tasks.items():
            values = {"title": name, "search_title": name.lower(), "resolution_id": rid, "lead_unit_id": unit["TW"], **t}
            task_pk[name] = pks[name] = (await conn.execute(insert(Task).values(**values).returning(Task.id))).scalar_one()
        rows = {}
        for name, (task, assigner, assignee, row) in assignments.items():
            values = {"task_id": task_pk[task], "assigner_unit_id": unit[assigner], "assignee_unit_id": unit[assignee], **row}
            pks[name] = (await conn.execute(insert(Assignment).values(**values).returning(Assignment.id))).scalar_one()
            rows[name] = row
        for name, m in milestones.items():
            values = {"task_id": task_pk[m["task"]], "title": name, "due_on": m["due_on"], "done_on": m["done_on"]}
            pks[name] = (await conn.execute(insert(Milestone).values(**values).returning(Milestone.id))).scalar_one()
    kinds = {**dict.fromkeys(tasks, "Task"), **dict.fromkeys(assignments, "Assignment"), **dict.fromkeys(milestones, "Milestone")}
    return Seeded(api, {name: encode_id(kinds[name], pk) for name, pk in pks.items()}, pks, rows, tasks, milestones)


def _want_assignments(s: Seeded, names: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    today = date.today()
    return {s.ids[n]: {"id": s.ids[n], **_assignment_facts(s.assignments[n], today)} for n in (names or s.assignments)}


def _want_tasks(s: Seeded) -> dict[str, bool]:
    return {t["code"]: overdue_of(t["status"], t["due_on"], date.today()) for t in s.tasks.values()}


def _want_milestones(s: Seeded) -> dict[str, bool]:
    return {name: milestone_overdue_of(m["done_on"], m["due_on"], date.today()) for name, m in s.milestones.items()}


async def test_every_read_answers_the_rules(seeded: Seeded) -> None:
    s, api = seeded, seeded.api
    want = _want_assignments(s)
    # the rules are not trivially constant over the seed
    assert {a["overdue"] for a in want.values()} == {a["behindPace"] for a in want.values()} == {True, False}
    assert {a["timeliness"] for a in want.values()} == {None, "ON_TIME", "WITHIN_EXTENSION", "LATE"}

    listed = await api.data("{ assignments(first: 50) { nodes { " + A_FIELDS + " } } }", as_user="admin")
    assert {a["id"]: a for a in listed["assignments"]["nodes"]} == want

    nested = await api.data("{ tasks(first: 10) { nodes { code overdue assignments(first: 100) { nodes { " + A_FIELDS + " task { code overdue } } }"
                            " milestones { title overdue task { code overdue } } } } }", as_user="admin")
    tasks = nested["tasks"]["nodes"]
    assert {t["code"]: t["overdue"] for t in tasks} == _want_tasks(s)
    assert {a["id"]: {k: v for k, v in a.items() if k != "task"} for t in tasks for a in t["assignments"]["nodes"]} == want
    assert all(a["task"] == {"code": t["code"], "overdue": t["overdue"]} for t in tasks for a in t["assignments"]["nodes"])
    assert {m["title"]: m["overdue"] for t in tasks for m in t["milestones"]} == _want_milestones(s)

    by_node = " ".join(f'{n.replace("/", "_").replace("-", "_")}: node(id: "{s.ids[n]}") {{ ... on Assignment {{ {A_FIELDS} }}'
                       f' ... on Task {{ code overdue }} ... on Milestone {{ title overdue }} }}' for n in s.ids)
    nodes = await api.data("{ " + by_node + " }", as_user="admin")
    assert {a["id"]: a for a in nodes.values() if "id" in a} == want
    assert {t["code"]: t["overdue"] for t in nodes.values() if "code" in t} == _want_tasks(s)
    assert {m["title"]: m["overdue"] for m in nodes.values() if "title" in m} == _want_milestones(s)

    by_code = await api.data('{ t2: task(code: "R-T2") { overdue } t3: task(code: "R-T3") { overdue } }', as_user="admin")
    assert by_code == {"t2": {"overdue": True}, "t3": {"overdue": False}}


async def test_overdue_filters_agree_with_the_fields(seeded: Seeded) -> None:
    s, api = seeded, seeded.api
    want = _want_assignments(s)
    for flag in (True, False):
        got = await api.data("query($o: Boolean) { assignments(first: 50, filter: {overdue: $o}) { totalCount nodes { id overdue } } }", {"o": flag},
                             as_user="admin")
        assert sorted(a["id"] for a in got["assignments"]["nodes"]) == sorted(i for i, a in want.items() if a["overdue"] is flag)
        assert got["assignments"]["totalCount"] == len(got["assignments"]["nodes"])
        got = await api.data("query($o: Boolean) { tasks(first: 50, filter: {overdue: $o}) { totalCount nodes { code overdue } } }", {"o": flag},
                             as_user="admin")
        assert {t["code"]: t["overdue"] for t in got["tasks"]["nodes"]} == {c: o for c, o in _want_tasks(s).items() if o is flag}
        assert got["tasks"]["totalCount"] == len(got["tasks"]["nodes"])


MATRIX = ("query($r: ID, $t: ID, $first: Int!, $after: String) { statusMatrix(resolution: $r, task: $t, first: $first, after: $after) {"
          " units { code } rows { task { code overdue } cells { " + A_FIELDS + " } } totalTasks"
          " pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }")


async def test_status_matrix_cells_carry_the_rules_and_only_the_callers_columns(seeded: Seeded) -> None:
    s, api = seeded, seeded.api
    want = _want_assignments(s)
    async with api.engine.connect() as conn:
        resolution = encode_id("Resolution", (await conn.execute(select(Resolution.id))).scalar_one())

    def cells(*names: str | None) -> list[dict[str, Any] | None]:
        return [want[s.ids[n]] if n else None for n in names]

    got = (await api.data(MATRIX, {"r": resolution, "first": 2}, as_user="admin"))["statusMatrix"]
    assert [u["code"] for u in got["units"]] == ["P01", "P01-C01", "P02", "P02-C01"]
    assert got["rows"] == [
        {"task": {"code": "R-T1", "overdue": False}, "cells": cells("T1/P01", "T1/P01-C01", "T1/P02", "T1/P02-C01")},
        {"task": {"code": "R-T2", "overdue": True}, "cells": cells("T2/P01", None, "T2/P02", None)},
    ]
    assert (got["totalTasks"], got["pageInfo"]["hasNextPage"], got["pageInfo"]["hasPreviousPage"]) == (3, True, False)
    rest = (await api.data(MATRIX, {"r": resolution, "first": 2, "after": got["pageInfo"]["endCursor"]}, as_user="admin"))["statusMatrix"]
    assert [u["code"] for u in rest["units"]] == ["P02"]
    assert rest["rows"] == [{"task": {"code": "R-T3", "overdue": False}, "cells": cells("T3/P02")}]
    assert (rest["totalTasks"], rest["pageInfo"]["hasNextPage"], rest["pageInfo"]["hasPreviousPage"]) == (3, False, True)

    # a province sees its own subtree's columns only; a commune its own column of the task handed down to it
    got = (await api.data(MATRIX, {"r": resolution, "first": 10}, as_user="p01.manager"))["statusMatrix"]
    assert [u["code"] for u in got["units"]] == ["P01", "P01-C01"]
    assert [(r["task"]["code"], r["cells"]) for r in got["rows"]] == [("R-T1", cells("T1/P01", "T1/P01-C01")), ("R-T2", cells("T2/P01", None))]
    got = (await api.data(MATRIX, {"t": s.ids["T1"], "first": 10}, as_user="p01.c01.officer"))["statusMatrix"]
    assert [u["code"] for u in got["units"]] == ["P01-C01"]
    assert [(r["task"]["code"], r["cells"]) for r in got["rows"]] == [("R-T1", cells("T1/P01-C01"))]
    assert (got["totalTasks"], got["pageInfo"]["hasNextPage"]) == (1, False)
    got = (await api.data(MATRIX, {"t": s.ids["T3"], "first": 10}, as_user="p01.c01.officer"))["statusMatrix"]
    assert (got["units"], got["rows"], got["totalTasks"]) == ([], [], 0)


async def test_a_mutations_payload_reread_carries_the_rules(seeded: Seeded) -> None:
    """Two reports in one request: the second payload's re-read must not keep the values the first one loaded."""
    s, api = seeded, seeded.api
    selection = "{ assignment { progress status " + A_FIELDS + " } errors { field code } }"
    query = ("mutation($a: ProgressReportSubmitInput!, $b: ProgressReportSubmitInput!) {"
             f" a: progressReportSubmit(input: $a) {selection} b: progressReportSubmit(input: $b) {selection} }}")
    report = {"assignmentId": s.ids["T1/P01"], "status": "in_progress"}
    got = await api.data(query, {"a": {**report, "progress": 45}, "b": {**report, "progress": 10}}, as_user="p01.officer")
    for alias, progress, behind in (("a", 45, False), ("b", 10, True)):
        row = {**s.assignments["T1/P01"], "progress": progress}
        assert got[alias] == {"assignment": {"progress": progress, "status": "in_progress", "id": s.ids["T1/P01"], **_assignment_facts(row, date.today())},
                              "errors": []}
        assert got[alias]["assignment"]["behindPace"] is behind


async def test_loaders_read_for_their_today_even_with_the_rows_already_in_the_session(seeded: Seeded) -> None:
    """Loaders of one session for three days in turn: rows already loaded for another day are refreshed, not reused."""
    s, api = seeded, seeded.api
    db = RequestDB(session_factory(api.engine))
    try:
        async with db.use() as session:
            principal = await load_principal(session, TokenClaims(user_id=await api.user_id("admin"), issued_at=9e9, expires_at=9e9))
        assert principal is not None
        scope = Scope(principal, load_policy(api.settings.policy_dir))
        for today in (D(0), D(-15), D(25)):
            loaders = Loaders(db, scope, today=today)
            assert loaders.today == today
            want = {n: _assignment_facts(row, today) for n, row in s.assignments.items()}
            rows = await loaders.assignments_by_id.load_many([s.pks[n] for n in s.assignments])
            assert dict(zip(s.assignments, map(_row_facts, rows))) == want, today
            grouped = await loaders.assignment_pages_by_task_id.load_many([(s.pks[t], (100, None, "due_on")) for t in s.tasks])
            assert {a.id: _row_facts(a) for rows in grouped for a, _ in rows} == {s.pks[n]: f for n, f in want.items()}, today
            tasks = await loaders.tasks_by_id.load_many([s.pks[t] for t in s.tasks])
            assert {t.code: t.overdue for t in tasks} == {t["code"]: overdue_of(t["status"], t["due_on"], today) for t in s.tasks.values()}, today
            milestones = await loaders.milestones_by_task_id.load_many([s.pks[t] for t in s.tasks])
            assert {m.title: m.overdue for rows in milestones for m in rows} == {
                n: milestone_overdue_of(m["done_on"], m["due_on"], today) for n, m in s.milestones.items()}, today
    finally:
        await db.close()


LIGHT_QUERY = "{ measurements(first: 50) { nodes { id period value light kpi { code } unit { code } } } }"


async def test_measurement_light_and_its_kpis_visibility(seeded: Seeded) -> None:
    """Every measurement read answers the light of the rule; null where the caller may not see the KPI."""
    api = seeded.api
    kpi = {"unit_of_measure": "%", "baseline": Decimal(0), "target": Decimal(100), "kpi_group": "development", "frequency": "yearly"}
    measured = {  # (kpi, unit, period) -> value
        ("K-TW", "P01", "2021"): "60.00", ("K-TW", "P01-C01", "2021"): "50.00", ("K-TW", "P02", "2021"): "20.00", ("K-TW", "P02-C01", "2021"): "19.99",
        ("K-P02", "P01-C01", "2022"): "55.00", ("K-P02", "P02", "2022"): "50.00", ("K-P02", "P02-C01", "2022"): "60.01",
    }
    async with api.engine.begin() as conn:
        unit = {code: pk for pk, code in (await conn.execute(select(Unit.id, Unit.code))).all()}
        r_p02 = (await conn.execute(insert(Resolution).values(code="R-P02", title="R", search_title="r", kind="resolution", status="in_effect",
                                                              issuing_unit_id=unit["P02"], issued_on=D(-60)).returning(Resolution.id))).scalar_one()
        r_tw = (await conn.execute(select(Resolution.id).where(Resolution.code == "R"))).scalar_one()
        k = {
            "K-TW": (await conn.execute(insert(Kpi).values(code="K-TW", resolution_id=r_tw, name="K", search_name="k", direction="increase",
                                                           yellow_threshold=Decimal(50), red_threshold=Decimal(20), lead_unit_id=unit["TW"], **kpi)
                                        .returning(Kpi.id))).scalar_one(),
            "K-P02": (await conn.execute(insert(Kpi).values(code="K-P02", resolution_id=r_p02, name="K", search_name="k", direction="decrease",
                                                            yellow_threshold=Decimal(50), red_threshold=Decimal(60), lead_unit_id=unit["P02"],
                                                            **{**kpi, "baseline": Decimal(100), "target": Decimal(0)}).returning(Kpi.id))).scalar_one(),
        }
        mid = {}
        for (code, unit_code, period), value in measured.items():
            values = {"kpi_id": k[code], "unit_id": unit[unit_code], "period": period, "value": Decimal(value)}
            mid[(code, unit_code)] = encode_id("Measurement", (await conn.execute(insert(Measurement).values(**values).returning(Measurement.id))).scalar_one())
    thresholds = {"K-TW": ("increase", Decimal(50), Decimal(20)), "K-P02": ("decrease", Decimal(50), Decimal(60))}
    lights = {(c, u): light_of(*thresholds[c], Decimal(v)).upper() for (c, u, _), v in measured.items()}
    assert set(lights.values()) == {"GREEN", "YELLOW", "RED"}

    # K-TW is handed down to both provinces' subtrees (tasks of R are assigned there); K-P02 is P02's own
    for as_user, sees_kpis in (("admin", {"K-TW", "K-P02"}), ("p01.c01.officer", {"K-TW"}), ("p02.manager", {"K-TW", "K-P02"})):
        nodes = (await api.data(LIGHT_QUERY, as_user=as_user))["measurements"]["nodes"]
        assert nodes, as_user
        for m in nodes:
            key = next(key for key, gid in mid.items() if gid == m["id"])
            seen = key[0] in sees_kpis
            assert (m["light"], m["kpi"]) == ((lights[key], {"code": key[0]}) if seen else (None, None)), (as_user, key, m)
        one = nodes[0]
        by_node = await api.data(f'{{ node(id: "{one["id"]}") {{ ... on Measurement {{ light kpi {{ code }} }} }} }}', as_user=as_user)
        assert by_node["node"] == {"light": one["light"], "kpi": one["kpi"]}
    hidden = await api.data(f'{{ node(id: "{mid[("K-P02", "P01-C01")]}") {{ ... on Measurement {{ value light kpi {{ code }} }} }} }}',
                            as_user="p01.c01.officer")
    assert hidden["node"] == {"value": "55.00", "light": None, "kpi": None}
