"""Random small worlds for the monitoring tests (warnings, reporting discipline, series, rankings, report packs), and
their oracle in plain Python.

Shared by test_monitoring_warnings.py, test_monitoring_series.py and test_monitoring_reports.py (not a test module).

A world is a tree with kinds and archived units, resolutions implementing others (cycles allowed), KPIs of both
directions with thresholds from a small grid (values often sit exactly on a threshold), per-unit target rows, tasks
(lead unit, coordinators, maybe a KPI, a due date) with milestones, assignments with random statuses, progress,
assignment, due, original due, completion and acknowledgement dates (some acknowledged in another time zone, so that
the UTC day differs from the local one), progress reports on random dates, measurements of a few periods written in
random order, and users with random grants. It is written straight into the tables (SQLAlchemy core, no service
code); `today` is pinned through the one clock every request reads (`resolute.api.clock.date`), as the other
monitoring tests do.

The oracle never reads the application's SQL, paths or filters: which units, assignments, tasks (milestones),
resolutions, KPIs and measurements a user reads comes from casbin asked grant by grant over the tree walked in Python
(as in test_scope_property_cycle, ACCESS.md "Reading"), and every figure is worked out from the rows as written,
with exact fractions, from the definitions in README.md ("Leaders' dashboards") and the docstrings of
api/monitoring/{warnings,discipline,series}.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from functools import cache
from math import floor
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import insert, select, update

from resolute.api.accounts.models import Grant, User
from resolute.api.kpis.models import Kpi, KpiUnitTarget, Measurement
from resolute.api.org.models import Unit
from resolute.api.resolutions.models import Resolution
from resolute.api.tasks.models import ASSIGNMENT_STATUSES, Assignment, Milestone, ProgressReport, Task, TaskCoordinator
from resolute.schema.ids import encode_id
from tests.support import Api, Resolutions, Tree, unit
from tests.test_scope_property_cycle import ORACLE, ROLES, insert_rows

Json = dict[str, Any]

# "today" is one of these: mid-month, the first of a month, the first of a year (the last complete month is then
# December of the year before)
TODAYS = (date(2025, 6, 15), date(2025, 3, 1), date(2025, 1, 1))
KINDS = ("province", "commune", "department")
GROUPS = ("growth", "people")
GRID = tuple(Decimal(v) for v in ("-5", "0", "10", "19.99", "20", "20.01", "33.3", "50", "66.67", "80", "100"))
CLOSED = ("completed", "cancelled")
WARNING_KINDS = ("overdue", "behind_pace", "milestone_missed", "report_missing", "kpi_light", "stale", "unacknowledged")
GRACE_DAYS, ACK_DAYS = 5, 7
ICT = timezone(timedelta(hours=7))  # Indochina time: 03:00 there is 20:00 UTC the day before


class Clock(date):
    """The date every request believes it is: `resolute.api.clock.date` is replaced by this class."""

    current: date = TODAYS[0]

    @classmethod
    def today(cls) -> date:  # type: ignore[override]
        return cls.current


def pin_today(monkeypatch: Any) -> None:
    monkeypatch.setattr("resolute.api.clock.date", Clock)  # the one clock every request and report reads `today` from


@cache
def may(role: str, obj: str) -> bool:
    return bool(ORACLE.enforce(role, obj, "read"))


# -- the world --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Work:
    """An assignment (task, assigner and assignee are world indexes; the assigner lies strictly above the assignee)."""

    task: int
    assigner: int
    assignee: int
    status: str
    progress: int
    assigned_on: date
    original_due: date
    due: date
    completed_on: date | None
    acknowledged_at: datetime | None
    reports: tuple[date, ...]


@dataclass(frozen=True)
class TaskDef:
    resolution: int
    lead: int
    coordinators: frozenset[int]
    kpi: int | None
    due: date


@dataclass(frozen=True)
class KpiDef:
    resolution: int
    direction: str  # increase | decrease
    yellow: Decimal
    red: Decimal
    group: str
    lead: int
    frequency: str  # monthly | quarterly


@dataclass(frozen=True)
class Reading:
    kpi: int
    unit: int
    period: str
    value: Decimal


@dataclass(frozen=True)
class Persona:
    own: int
    grants: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class World(Tree, Resolutions):
    today: date
    parents: tuple[int, ...]  # parents[i] < i; unit 0 is the root
    kinds: tuple[str, ...]
    archived: frozenset[int]
    personas: tuple[Persona, ...]
    resolutions: tuple[tuple[int, int | None], ...]  # (issuing unit, the resolution it implements)
    tasks: tuple[TaskDef, ...]
    milestones: tuple[tuple[int, date, date | None], ...]  # (task, due on, done on)
    works: tuple[Work, ...]
    kpis: tuple[KpiDef, ...]
    readings: tuple[Reading, ...]  # written in this order (ids do not follow the periods)

    # -- what a persona reads (casbin per grant, the tree walked in Python) ----------------------------------
    def reach(self, p: Persona, obj: str) -> list[frozenset[int]]:
        return [self.subtrees[g] for role, g in p.grants if may(role, obj)]

    def readable_units(self, p: Persona) -> set[int]:
        return {u for u in range(len(self.parents)) if any(u in s for s in self.reach(p, "unit"))}

    def shown_children(self, p: Persona, u: int) -> list[int]:
        """The children a dashboard lists under u: readable, not archived, in code order."""
        units = self.readable_units(p)
        return [c for c in self.children(u) if c in units and c not in self.archived]

    def readable_work(self, p: Persona, a: int) -> bool:
        w = self.works[a]
        return any(w.assignee in s or w.assigner in s for s in self.reach(p, "assignment"))

    def _task_related(self, t: int, s: frozenset[int]) -> bool:
        task = self.tasks[t]
        handed = any(w.task == t and w.assignee in s for w in self.works)
        return task.lead in s or handed or bool(task.coordinators & s)

    def readable_milestone(self, p: Persona, m: int) -> bool:
        return any(self._task_related(self.milestones[m][0], s) for s in self.reach(p, "milestone"))

    def _reached_resolutions(self, s: frozenset[int]) -> set[int]:
        """Issued in s, or a task of it handed down to s, or so one implementing it, down the chain (ACCESS.md)."""
        reached = {self.tasks[w.task].resolution for w in self.works if w.assignee in s} | {r for r, (issuer, _) in enumerate(self.resolutions) if issuer in s}
        return {r for r in range(len(self.resolutions)) if self.family(r) & reached}

    def readable_resolution(self, p: Persona, r: int) -> bool:
        return any(r in self._reached_resolutions(s) for s in self.reach(p, "resolution"))

    def readable_kpi(self, p: Persona, k: int) -> bool:
        kpi = self.kpis[k]
        targets = {r.unit for r in self.readings if r.kpi == k}  # every measured unit has a target row (see `load`)
        return any(kpi.resolution in self._reached_resolutions(s) or kpi.lead in s or bool(targets & s) for s in self.reach(p, "kpi"))

    def readable_reading(self, p: Persona, m: int) -> bool:
        return any(self.readings[m].unit in s for s in self.reach(p, "measurement"))

    def in_family(self, p: Persona, resolution: int | None, of: int) -> bool:
        """Whether resolution `of` passes a filter by `resolution` (None: no filter) for p: a resolution p may not read
        has no family at all."""
        return resolution is None or (self.readable_resolution(p, resolution) and of in self.family(resolution))

    def works_under(self, p: Persona, u: int, resolution: int | None = None) -> list[tuple[int, Work]]:
        """The assignments p reads whose assignee lies in u's subtree, of the resolution's family."""
        return [
            (a, w) for a, w in enumerate(self.works)
            if self.readable_work(p, a) and w.assignee in self.subtrees[u] and self.in_family(p, resolution, self.tasks[w.task].resolution)
        ]  # fmt: skip

    def latest_readings(self, p: Persona, u: int, resolution: int | None = None, group: str | None = None) -> list[int]:
        """The latest reading of every (KPI, unit) pair of u's subtree, both readable, of the resolution's family and group."""
        latest: dict[tuple[int, int], int] = {}
        for m, r in enumerate(self.readings):
            kpi = self.kpis[r.kpi]
            if not (self.readable_reading(p, m) and self.readable_kpi(p, r.kpi) and r.unit in self.subtrees[u] and self.in_family(p, resolution, kpi.resolution)):
                continue
            if group is not None and kpi.group != group:
                continue
            key = (r.kpi, r.unit)
            if key not in latest or self.readings[latest[key]].period < r.period:
                latest[key] = m
        return sorted(latest.values())

    def light(self, k: int, value: Decimal) -> str:
        kpi = self.kpis[k]
        if kpi.direction == "increase":
            return "green" if value >= kpi.yellow else "yellow" if value >= kpi.red else "red"
        return "green" if value <= kpi.yellow else "yellow" if value <= kpi.red else "red"


# -- generating one ---------------------------------------------------------------------------------------------
def _periods(today: date, frequency: str) -> tuple[str, ...]:
    """The last four months (or quarters) up to today's."""
    names, (year, month) = [], (today.year, today.month)
    step = 1 if frequency == "monthly" else 3
    month = (month - 1) // step * step + 1
    for _ in range(4):
        names.append(f"{year}-{month:02d}" if frequency == "monthly" else f"{year}-Q{(month - 1) // 3 + 1}")
        month -= step
        if month < 1:
            year, month = year - 1, month + 12
    return tuple(reversed(names))


@st.composite
def works(draw: st.DrawFn, today: date, task: int, assigner: int, assignee: int) -> Work:
    """Dates often on the edges: due yesterday, today or tomorrow; assigned 7 or 8 days ago; reported on period ends."""
    days = lambda lo, hi: st.integers(lo, hi).map(lambda d: timedelta(days=d))
    status = draw(st.sampled_from(ASSIGNMENT_STATUSES))
    month_start = last_complete_month(today)[0]
    edges = [today - timedelta(days=d) for d in (0, 1, 7, 8, 30, 31)] + [month_start, month_start - timedelta(days=1), month_start + timedelta(days=1)]
    assigned = draw(st.one_of(st.sampled_from(edges), st.sampled_from(edges), days(0, 150).map(lambda d: today - d)))
    span = (today - assigned).days
    if status == "completed":  # due in the past, mostly: completed before it, on it, within an extension or late
        original = draw(st.one_of(days(0, span).map(lambda d: assigned + d), days(0, 60).map(lambda d: assigned + d)))
    else:
        original = draw(st.one_of(days(0, 200).map(lambda d: assigned + d), st.sampled_from((-1, 0, 1)).map(lambda d: today + timedelta(days=d))))
    original = max(original, assigned)
    due = original + draw(st.sampled_from((timedelta(0), timedelta(days=10))))  # an approved extension moves the due date only
    completed = None
    if status == "completed":
        edge = st.sampled_from(sorted({assigned, min(original, today), min(original + timedelta(days=1), today), min(due, today), today}))
        completed = draw(st.one_of(edge, edge, days(0, span).map(lambda d: assigned + d)))
    progress = 100 if status == "completed" else draw(st.sampled_from((0, 1, 10, 50, 99)) | st.integers(0, 100))
    acknowledged = None
    if draw(st.booleans()):
        moment = datetime.combine(assigned + draw(days(0, 12)), time(draw(st.sampled_from((1, 12, 23)))))
        acknowledged = moment.replace(tzinfo=draw(st.sampled_from((UTC, ICT))))
    this_month = today.replace(day=1)  # the last day of the last complete month, and its grace days (the 5th is the last)
    month_ends = [d for d in (this_month - timedelta(days=1), this_month, this_month + timedelta(days=4), this_month + timedelta(days=5)) if assigned <= d <= today]
    any_day = days(0, span).map(lambda d: assigned + d)
    reports = draw(st.lists(st.sampled_from(month_ends) | any_day if month_ends else any_day, max_size=3))
    if month_ends and draw(st.integers(0, 2)) == 0:
        reports = [draw(st.sampled_from(month_ends))]  # one report, on an edge of the last complete month or of its grace days
    return Work(task, assigner, assignee, status, progress, assigned, original, due, completed, acknowledged, tuple(sorted(set(reports))))


@st.composite
def worlds(draw: st.DrawFn, min_units: int = 4, max_units: int = 10, max_works: int = 14) -> World:
    today = draw(st.sampled_from(TODAYS))
    size = draw(st.integers(min_units, max_units))
    parents = (0,) + tuple(draw(st.integers(0, i - 1)) for i in range(1, size))
    kinds = ("central",) + tuple(draw(st.sampled_from(KINDS)) for _ in range(1, size))
    archived = draw(st.frozensets(st.integers(1, size - 1), max_size=2))
    units, pick = st.integers(0, size - 1), st.integers(0, 1000)
    drawn = draw(st.lists(st.tuples(units, st.none() | pick), min_size=1, max_size=3))
    resolutions = tuple((u, None if k is None or k % len(drawn) == i else k % len(drawn)) for i, (u, k) in enumerate(drawn))

    kpis = []
    for r, direction, a, b, group, lead, frequency in draw(st.lists(
        st.tuples(pick, st.sampled_from(("increase", "decrease")), st.sampled_from(GRID), st.sampled_from(GRID), st.sampled_from(GROUPS), units,
                  st.sampled_from(("monthly", "quarterly"))), max_size=3)):  # fmt: skip
        yellow, red = (max(a, b), min(a, b)) if direction == "increase" else (min(a, b), max(a, b))
        kpis.append(KpiDef(r % len(resolutions), direction, yellow, red, group, lead, frequency))

    task_due = st.integers(-30, 60).map(lambda d: today + timedelta(days=d))
    tasks = tuple(
        TaskDef(r % len(resolutions), lead, coordinators, None if k is None or not kpis else k % len(kpis), due)
        for r, lead, coordinators, k, due in draw(st.lists(st.tuples(pick, units, st.frozensets(units, max_size=2), st.none() | pick, task_due), min_size=2, max_size=5))
    )
    edge = st.sampled_from((-1, 0, 1)).map(lambda d: today + timedelta(days=d))
    milestone_due = st.one_of(edge, edge, st.integers(-40, 20).map(lambda d: today + timedelta(days=d)))
    milestones = []
    for t, due, done in draw(st.lists(st.tuples(pick, milestone_due, st.none() | st.none() | st.integers(-3, 3)), min_size=1, max_size=5)):
        milestones.append((t % len(tasks), due, None if done is None else min(due + timedelta(days=done), today)))

    chosen: list[Work] = []
    for t, assignee, k in draw(st.lists(st.tuples(pick, st.integers(1, size - 1), pick), min_size=3, max_size=max_works)):
        above = [parents[assignee]]
        while above[-1] != 0:
            above.append(parents[above[-1]])
        if all((w.task, w.assignee) != (t % len(tasks), assignee) for w in chosen):
            chosen.append(draw(works(today, t % len(tasks), above[k % len(above)], assignee)))

    readings: list[Reading] = []
    if kpis:
        for k, u, n, value in draw(st.lists(st.tuples(pick, units, st.integers(0, 3), st.sampled_from(GRID)), max_size=12)):
            kpi = k % len(kpis)
            period = _periods(today, kpis[kpi].frequency)[n]
            if all((r.kpi, r.unit, r.period) != (kpi, u, period) for r in readings):
                readings.append(Reading(kpi, u, period, value))

    def persona(min_grants: int) -> st.SearchStrategy[Persona]:
        grants = st.lists(st.tuples(st.sampled_from(ROLES), units), min_size=min_grants, max_size=3, unique=True).map(tuple)
        return st.builds(Persona, own=units, grants=grants)

    personas = [draw(persona(1))] + draw(st.lists(persona(0), max_size=2))
    if draw(st.booleans()):  # the first user reads the whole tree
        personas[0] = Persona(personas[0].own, ((draw(st.sampled_from(ROLES)), 0),))
    return World(today=today, parents=parents, kinds=kinds, archived=archived, personas=tuple(personas), resolutions=resolutions, tasks=tasks,
                 milestones=tuple(milestones), works=tuple(chosen), kpis=tuple(kpis), readings=tuple(readings))  # fmt: skip


# -- writing one ------------------------------------------------------------------------------------------------
DAY0 = date(2024, 1, 10)


async def load(api: Api, w: World) -> dict[str, dict[int, int]]:
    """The tree through the importer, the rest straight into the tables; type -> world index -> primary key.
    Every unit with a measurement of a KPI also gets a target row for it (a null target), as a unit that reports on a
    KPI does: whoever reads the measurement reads the KPI."""
    units = [unit(w.code(0), None, "central")] + [unit(w.code(i), w.code(p), w.kinds[i]) for i, p in enumerate(w.parents) if i]
    await api.seed(units, [], passwords=False)
    async with api.engine.begin() as conn:
        uid = dict(enumerate((await conn.execute(select(Unit.id).order_by(Unit.code))).scalars()))
        assert len(uid) == len(w.parents)
        if w.archived:
            await conn.execute(update(Unit).where(Unit.id.in_([uid[u] for u in w.archived])).values(archived_at=datetime(2024, 12, 1, tzinfo=UTC)))
        for n, p in enumerate(w.personas):
            values = {"username": f"user{n}", "full_name": f"User {n}", "search_name": f"user{n}", "unit_id": uid[p.own], "active": True, "version": 1}
            user_id = (await conn.execute(insert(User).values(**values).returning(User.id))).scalar_one()
            for role, g in p.grants:
                await conn.execute(insert(Grant).values(user_id=user_id, role=role, unit_id=uid[g]))
        res = await insert_rows(conn, Resolution, [
            {"code": f"R{i}", "title": f"Nghị quyết {i}", "search_title": f"nghi quyet {i}", "kind": "resolution", "status": "in_effect",
             "issuing_unit_id": uid[u], "issued_on": DAY0}
            for i, (u, _) in enumerate(w.resolutions)
        ])  # fmt: skip
        for i, (_, implements) in enumerate(w.resolutions):
            if implements is not None:
                await conn.execute(update(Resolution).where(Resolution.id == res[i]).values(implements_id=res[implements]))
        kpis = await insert_rows(conn, Kpi, [
            {"code": f"K{i}", "resolution_id": res[k.resolution], "name": f"Chỉ tiêu {i}", "search_name": f"chi tieu {i}", "unit_of_measure": "%",
             "direction": k.direction, "baseline": Decimal(0), "target": Decimal(100), "yellow_threshold": k.yellow, "red_threshold": k.red,
             "kpi_group": k.group, "frequency": k.frequency, "lead_unit_id": uid[k.lead]}
            for i, k in enumerate(w.kpis)
        ])  # fmt: skip
        for k, u in sorted({(r.kpi, r.unit) for r in w.readings}):
            await conn.execute(insert(KpiUnitTarget).values(kpi_id=kpis[k], unit_id=uid[u], target=None))
        tasks = await insert_rows(conn, Task, [
            {"code": f"T{i}", "title": f"Nhiệm vụ {i}", "search_title": f"nhiem vu {i}", "resolution_id": res[t.resolution],
             "kpi_id": None if t.kpi is None else kpis[t.kpi], "lead_unit_id": uid[t.lead], "start_on": DAY0, "due_on": t.due, "status": "in_progress"}
            for i, t in enumerate(w.tasks)
        ])  # fmt: skip
        for i, t in enumerate(w.tasks):
            for u in sorted(t.coordinators):
                await conn.execute(insert(TaskCoordinator).values(task_id=tasks[i], unit_id=uid[u]))
        milestones = await insert_rows(conn, Milestone, [
            {"task_id": tasks[t], "title": f"Mốc {i}", "due_on": due, "done_on": done} for i, (t, due, done) in enumerate(w.milestones)
        ])  # fmt: skip
        assignments = await insert_rows(conn, Assignment, [
            {"code": f"A{i}", "task_id": tasks[a.task], "assigner_unit_id": uid[a.assigner], "assignee_unit_id": uid[a.assignee], "raci": "R",
             "assigned_on": a.assigned_on, "original_due_on": a.original_due, "due_on": a.due, "status": a.status, "progress": a.progress,
             "completed_on": a.completed_on, "acknowledged_at": a.acknowledged_at}
            for i, a in enumerate(w.works)
        ])  # fmt: skip
        for i, a in enumerate(w.works):
            for day in a.reports:
                await conn.execute(insert(ProgressReport).values(assignment_id=assignments[i], reported_on=day, progress=a.progress, status="in_progress"))
        measurements = await insert_rows(conn, Measurement, [
            {"kpi_id": kpis[r.kpi], "unit_id": uid[r.unit], "period": r.period, "value": r.value} for r in w.readings
        ])  # fmt: skip
    return {"Unit": uid, "Resolution": res, "Kpi": kpis, "Task": tasks, "Milestone": milestones, "Assignment": assignments, "Measurement": measurements}


def gid(pks: dict[str, dict[int, int]], type_name: str, i: int) -> str:
    return encode_id(type_name, pks[type_name][i])


# -- numbers ----------------------------------------------------------------------------------------------------
def rounded(x: Fraction, places: int) -> Fraction:
    """Half away from zero, as README's figures and PostgreSQL's round(numeric) do."""
    sign = -1 if x < 0 else 1
    return sign * Fraction(floor(abs(x) * 10**places + Fraction(1, 2)), 10**places)


_EPS = Fraction(1, 10**12)


def agrees(got: Any, want: Fraction | int | Decimal | None, places: int, exact: bool) -> bool:
    """`got` (a float, a decimal string or Decimal) is `want` rounded to `places` places: on PostgreSQL exactly (its numeric
    rounds half away from zero; a value a hair from a half-unit boundary, as a repeating fraction computed in numeric is,
    may round either way), on SQLite (floats) within half a unit of the last place."""
    if want is None or got is None:
        return got is None and want is None
    g = Fraction(repr(got)) if isinstance(got, float) else Fraction(str(got))
    w = Fraction(want) if not isinstance(want, Decimal) else Fraction(str(want))
    if exact:
        return any(g == rounded(w + d, places) for d in (-_EPS, 0, _EPS))
    return abs(g - w) <= Fraction(1, 2 * 10**places) + Fraction(1, 10**9)


def ratio(numerator: int, denominator: int) -> Fraction | None:
    return Fraction(numerator, denominator) if denominator else None


# -- warnings ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Thresholds:
    pace_margin: int = 10
    stale_days: int = 30
    unacknowledged_days: int = 7

    def graphql(self) -> Json:
        return {"paceMargin": self.pace_margin, "staleDays": self.stale_days, "unacknowledgedDays": self.unacknowledged_days}


def last_complete_month(today: date) -> tuple[date, date]:
    end = today.replace(day=1)
    return (end - timedelta(days=1)).replace(day=1), end


def expected_progress(today: date, assigned: date, due: date) -> int:
    if due <= today:
        return 100
    if assigned >= today:
        return 0
    return 100 * (today - assigned).days // (due - assigned).days


def warnings(
    w: World, p: Persona, u: int, pks: dict[str, dict[int, int]], *, kinds: Iterable[str] = WARNING_KINDS, severities: Iterable[str] = ("red", "yellow"),
    resolution: int | None = None, th: Thresholds = Thresholds(),
) -> list[Json]:
    """The warnings p gets under u, as GraphQL shows them (but `value` a Decimal), in the list's order: red first, then by
    kind (its code), then by the id of the object (assignment, milestone or measurement)."""
    if u not in w.readable_units(p):
        return []
    today, sub, found = w.today, w.subtrees[u], []
    month_start, month_end = last_complete_month(today)

    def add(kind: str, severity: str, unit_: int, obj: tuple[str, int], **fields: Any) -> None:
        record = {
            "kind": kind.upper(), "severity": severity.upper(), "unit": {"code": w.code(unit_)},
            "assignment": None, "milestone": None, "task": None, "kpi": None, "measurement": None,
            "dueOn": None, "days": None, "progress": None, "expectedProgress": None, "projectedFinishOn": None, "period": None, "value": None,
        }  # fmt: skip
        record[obj[0]] = {"id": gid(pks, obj[0].capitalize(), obj[1])}
        record.update(fields)
        type_name = {"assignment": "Assignment", "milestone": "Milestone", "measurement": "Measurement"}[obj[0]]
        found.append(((0 if severity == "red" else 1, kind, pks[type_name][obj[1]]), record))

    for a, work in w.works_under(p, u, resolution):
        if work.status in CLOSED:
            continue
        task = {"id": gid(pks, "Task", work.task)}
        common = {"task": task, "dueOn": work.due.isoformat(), "progress": work.progress}
        overdue = work.due < today
        if overdue:
            add("overdue", "red", work.assignee, ("assignment", a), **common, days=(today - work.due).days)
        expected = expected_progress(today, work.assigned_on, work.due)
        if not overdue and work.progress < expected - th.pace_margin:
            elapsed = (today - work.assigned_on).days
            projected = None if work.progress <= 0 else -(-((100 - work.progress) * elapsed) // work.progress)  # ceiling
            red = projected is None or projected > (work.due - today).days
            add("behind_pace", "red" if red else "yellow", work.assignee, ("assignment", a), **common, expectedProgress=expected,
                projectedFinishOn=None if projected is None else (today + timedelta(days=projected)).isoformat())  # fmt: skip
        if work.assigned_on < month_start and not any(month_start <= r < month_end for r in work.reports):
            add("report_missing", "yellow", work.assignee, ("assignment", a), **common, period=month_start.strftime("%Y-%m"))
        since = (today - max(work.reports, default=work.assigned_on)).days
        if since > th.stale_days:
            add("stale", "yellow", work.assignee, ("assignment", a), **common, days=since)
        elapsed = (today - work.assigned_on).days
        if work.acknowledged_at is None and elapsed > th.unacknowledged_days:
            add("unacknowledged", "yellow", work.assignee, ("assignment", a), **common, days=elapsed)

    for m, (t, due, done) in enumerate(w.milestones):
        task = w.tasks[t]
        if w.readable_milestone(p, m) and task.lead in sub and w.in_family(p, resolution, task.resolution) and done is None and due < today:
            add("milestone_missed", "yellow", task.lead, ("milestone", m), task={"id": gid(pks, "Task", t)}, dueOn=due.isoformat(), days=(today - due).days)

    for m in w.latest_readings(p, u, resolution):
        r = w.readings[m]
        colour = w.light(r.kpi, r.value)
        if colour != "green":
            add("kpi_light", colour, r.unit, ("measurement", m), kpi={"id": gid(pks, "Kpi", r.kpi)}, period=r.period, value=r.value)

    kinds, severities = set(kinds), set(severities)
    return [record for key, record in sorted(found, key=lambda kr: kr[0]) if key[1] in kinds and record["severity"].lower() in severities]


def warning_counts(expected: list[Json]) -> list[Json]:
    """(kind, severity, count) of a list in the list's order (red first, then kind), only those with some."""
    counts = Counter((x["kind"], x["severity"]) for x in expected)
    order = sorted(counts, key=lambda ks: (0 if ks[1] == "RED" else 1, ks[0].lower()))
    return [{"kind": k, "severity": s, "count": counts[(k, s)]} for k, s in order]


# -- reporting discipline ---------------------------------------------------------------------------------------
def period_bounds(period: str) -> tuple[date, date]:
    """[first day, first day of the next) of 2025-07, 2025-Q3 or 2025, worked out independently of the application."""
    if len(period) == 4:
        return date(int(period), 1, 1), date(int(period) + 1, 1, 1)
    year = int(period[:4])
    if period[5] == "Q":
        first = 3 * (int(period[6]) - 1) + 1
        return date(year, first, 1), date(year + (first + 3 > 12), (first + 2) % 12 + 1, 1)
    month = int(period[5:7])
    return date(year, month, 1), date(year + (month == 12), month % 12 + 1, 1)


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def discipline_figures(rows: Iterable[Work], start: date, end: date) -> Json:
    """Counts as ints, rates as exact fractions (None where there is nothing to count)."""
    rows = list(rows)
    expected = [w for w in rows if w.assigned_on < end and w.status != "cancelled" and (w.completed_on is None or w.completed_on >= start)]
    grace = end + timedelta(days=GRACE_DAYS)
    received = [w for w in expected if any(start <= r < grace for r in w.reports)]
    on_time = [w for w in expected if any(start <= r < end for r in w.reports)]
    assigned = [w for w in rows if start <= w.assigned_on < end]
    acked = [w for w in assigned if w.acknowledged_at is not None]
    delays = [(utc_day(w.acknowledged_at) - w.assigned_on).days for w in acked]  # type: ignore[arg-type]
    in_time = sum(d <= ACK_DAYS for d in delays)
    completeness, timeliness, ack = ratio(len(received), len(expected)), ratio(len(on_time), len(expected)), ratio(in_time, len(assigned))
    parts = ([(Fraction(2, 5), completeness), (Fraction(2, 5), timeliness)] if expected else []) + ([(Fraction(1, 5), ack)] if assigned else [])
    index = sum(weight * value for weight, value in parts) / sum(weight for weight, _ in parts) if parts else None  # type: ignore[operator]
    return {
        "expected": len(expected), "received": len(received), "onTime": len(on_time), "assigned": len(assigned), "acknowledged": len(acked),
        "acknowledgedInTime": in_time, "completeness": completeness, "timeliness": timeliness,
        "averageAckDays": ratio(sum(delays), len(acked)), "disciplineIndex": index,
    }  # fmt: skip


DISCIPLINE_PLACES = {"completeness": 4, "timeliness": 4, "averageAckDays": 2, "disciplineIndex": 4}


def check_discipline_figures(got: Json, want: Json, exact: bool, where: str) -> None:
    wrong = [k for k in want if not (agrees(got[k], want[k], DISCIPLINE_PLACES[k], exact) if k in DISCIPLINE_PLACES else got[k] == want[k])]
    assert not wrong, f"{where}: {wrong} differ: got {got}, want { {k: str(v) if isinstance(v, Fraction) else v for k, v in want.items()} }"


# -- KPI lights -------------------------------------------------------------------------------------------------
def light_counts(w: World, readings: Iterable[int]) -> Json:
    counts = Counter(w.light(w.readings[m].kpi, w.readings[m].value) for m in readings)
    measured = sum(counts.values())
    return {"green": counts["green"], "yellow": counts["yellow"], "red": counts["red"], "measured": measured, "greenShare": ratio(counts["green"], measured)}


def check_light_counts(got: Json, want: Json, exact: bool, where: str) -> None:
    wrong = [k for k in want if not (agrees(got[k], want[k], 4, exact) if k == "greenShare" else got[k] == want[k])]
    assert not wrong, f"{where}: {wrong} differ: got {got}, want {want}"
