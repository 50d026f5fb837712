"""Figures over approved data (issue 11, step 3), property-based, on SQLite and PostgreSQL with today pinned:
`progressRollup(unit, filter: {resolution: R, approvedFor: P})` and `kpiLights(unit, filter: {resolution: R,
approvedFor: P})` of every unit, for every user of a random world (tests/monitoring_world.py, plus a user with an
admin grant at the root), equal a plain-Python oracle.

On top of the world, straight into the tables (SQLAlchemy core, no service code; the mutations are covered by
tests/test_data_approval.py): measurements of the period's months or quarters and of those around it (among them
the quarter a month ends, which does not lie within that month), progress reports of random statuses and progress
on the edges of P (some on the day of another report of the same assignment, so that the id breaks the tie),
approval rows of (R, P) at a random set of units and decoy approvals (another resolution, R's programmes among
them, or another period, the quarter holding P among them), and returns of random reports and measurements,
returned, corrected or cleared, for R or another resolution, for P or another period.

The oracle, from the rows as written (never the application's SQL), as the specification says:
- an assignment counts when the caller reads it, its assignee lies in the subtree, its task's resolution is in R's
  family (R and the resolutions implementing it down the chain, a cycle ending; none if the caller may not read R),
  it was assigned before P ended, its assignee has an approval row for (R, P), and no return of any of its reports
  is open (returned or corrected), whichever resolution and period it was returned under; it stands as its latest report dated before P ended (latest by day, then by id;
  none: not started, 0 %), completed on that report's day when the report says completed; overdue is open and due
  before min(today, end of P); the other figures as api/monitoring/figures.py defines them;
- a (KPI, unit) pair of the subtree, both readable, the KPI in R's family, stands at its latest measurement (by
  period, then id) among those of P or of a period within P, of a unit with an approval row for (R, P), with no
  open return of that measurement; the lights are counted over those.
Rates are exact fractions: on PostgreSQL the API's value is the fraction rounded half away from zero, on SQLite
within half a unit of the last place (monitoring_world.agrees).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from resolute.api.approvals.models import DataApproval, DataReturn
from resolute.api.tasks.models import ASSIGNMENT_STATUSES, ProgressReport
from tests.monitoring_world import (
    GRID,
    TODAYS,
    Clock,
    KpiDef,
    Persona,
    Reading,
    World,
    agrees,
    check_light_counts,
    gid,
    light_counts,
    load,
    period_bounds,
    pin_today,
    worlds,
)
from tests.support import Api, Backend, running_app
from tests.test_rollups import figures

Json = dict[str, Any]
ADMIN = Persona(0, (("admin", 0),))  # reads the whole tree
OPEN = ("returned", "corrected")  # a return holds its item back from approved figures until it is cleared
MAX_ALIASES = 24
PLACES = {"completionRate": 4, "onTimeRate": 4, "averageProgress": 2}


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    pin_today(monkeypatch)
    monkeypatch.setattr(Clock, "current", TODAYS[0])


# -- periods, worked out here ------------------------------------------------------------------------------------
def month_name(d: date) -> str:
    return f"{d.year}-{d.month:02d}"


def quarter_name(d: date) -> str:
    return f"{d.year}-Q{(d.month - 1) // 3 + 1}"


def complete_periods(today: date) -> tuple[list[str], list[str]]:
    """(the four last months ended by today, newest first; the two last quarters and the last year ended by today)."""
    months, first = [], today.replace(day=1)
    while len(months) < 4:
        first = (first - timedelta(days=1)).replace(day=1)
        months.append(month_name(first))
    longer, day = [], today.replace(day=1)
    while len(longer) < 2:
        day = (day - timedelta(days=1)).replace(day=1)
        q = quarter_name(day)
        if period_bounds(q)[1] <= today and q not in longer:
            longer.append(q)
    longer.append(str(today.year - 1))
    assert all(period_bounds(p)[1] <= today for p in months + longer)
    return months, longer


def within(period: str) -> set[str]:
    """The period and every period lying within it: a quarter's months; a year's quarters and months."""
    start, end = period_bounds(period)
    found = {period}
    d = start
    while d < end:
        found.add(month_name(d))
        if len(period) == 4:
            found.add(quarter_name(d))
        d = (d + timedelta(days=32)).replace(day=1)
    return found


# -- the case: a world, what is approved and what is returned ----------------------------------------------------
@dataclass(frozen=True)
class Report:
    work: int  # index into world.works
    day: date
    status: str
    progress: int


@dataclass(frozen=True)
class Approval:
    unit: int
    resolution: int
    period: str
    state: str  # approved | accepted


@dataclass(frozen=True)
class Return:
    kind: str  # measurement | progress_report
    item: int  # index into world.readings, or into Case.reports
    resolution: int
    period: str
    state: str  # returned | corrected | cleared


@dataclass(frozen=True)
class Case:
    world: World
    resolution: int  # R
    period: str  # P
    reports: tuple[Report, ...]  # the world's own (as `load` writes them), then the extra ones, in the order written (ids grow so)
    approvals: tuple[Approval, ...]
    returns: tuple[Return, ...]

    @property
    def end(self) -> date:
        return period_bounds(self.period)[1]

    @property
    def approved_units(self) -> set[int]:
        return {a.unit for a in self.approvals if (a.resolution, a.period) == (self.resolution, self.period)}


def world_reports(w: World) -> list[Report]:
    """The reports `load` writes: in the order it writes them, each in progress at the assignment's progress."""
    return [Report(a, day, "in_progress", work.progress) for a, work in enumerate(w.works) for day in work.reports]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    w = draw(worlds())
    w = replace(w, personas=(*w.personas, ADMIN))
    units = st.integers(0, len(w.parents) - 1)
    resolution = draw(st.integers(0, len(w.resolutions) - 1))
    months, longer = complete_periods(w.today)
    period = draw(st.one_of(st.just(months[0]), st.just(months[0]), st.sampled_from(months), st.sampled_from(longer)))
    start, end = period_bounds(period)
    others = [p for p in [*months, *longer, quarter_name(start)] if p != period]

    # more measurements in and around the period (the world's own fall in it by chance), mostly of KPIs of R's family
    # (one is added if it has none): of the period's months or quarters, of the month or quarter before and after it,
    # and of the quarter it ends (a quarter does not lie within its last month)
    if not any(k.resolution in w.family(resolution) for k in w.kpis):
        yellow, red = sorted(draw(st.lists(st.sampled_from(GRID), min_size=2, max_size=2)), reverse=True)
        kpi = KpiDef(resolution, "increase", yellow, red, "growth", draw(units), draw(st.sampled_from(("monthly", "quarterly"))))
        w = replace(w, kpis=(*w.kpis, kpi))
    if w.kpis:
        before, after = start - timedelta(days=1), end
        inside = {"monthly": sorted(p for p in within(period) if len(p) == 7 and p[5] != "Q"), "quarterly": sorted(p for p in within(period) if "Q" in p)}
        around = {"monthly": sorted({month_name(before), month_name(after)}),
                  "quarterly": sorted({quarter_name(before), quarter_name(after), quarter_name(end - timedelta(days=1))} - set(inside["quarterly"]))}  # fmt: skip
        kin = [k for k, kpi in enumerate(w.kpis) if kpi.resolution in w.family(resolution)]
        kpis = st.sampled_from(kin) | st.sampled_from(kin) | st.integers(0, len(w.kpis) - 1) if kin else st.integers(0, len(w.kpis) - 1)
        readings = list(w.readings)
        for k, u, n, value in draw(st.lists(st.tuples(kpis, units, st.integers(0, 100), st.sampled_from(GRID)), min_size=1 if kin else 0, max_size=8)):
            frequency = w.kpis[k].frequency
            choices = inside[frequency] if inside[frequency] and n % 2 else around[frequency]
            reading = Reading(k, u, choices[n // 2 % len(choices)], value)
            if period_bounds(reading.period)[0] <= w.today and all((r.kpi, r.unit, r.period) != (k, u, reading.period) for r in readings):
                readings.append(reading)
        w = replace(w, readings=tuple(readings))

    # reports of random statuses on the edges of the period (and on the day of another report of the assignment)
    reports = world_reports(w)
    for a in draw(st.lists(st.integers(0, len(w.works) - 1), max_size=2 * len(w.works))):
        work = w.works[a]
        edges = [start - timedelta(days=1), start, end - timedelta(days=1), end, end + timedelta(days=1), w.today, *work.reports]
        edges = [d for d in edges if work.assigned_on <= d <= w.today]
        any_day = st.integers(0, (w.today - work.assigned_on).days).map(lambda n, s=work.assigned_on: s + timedelta(days=n))
        same = sorted({r.day for r in reports if r.work == a and r.day < end})  # the day of another report before the end: the id decides
        day = draw(st.one_of(*([st.sampled_from(edges)] if edges else []), any_day, *([st.sampled_from(same)] * 2 if same else [])))
        status = draw(st.sampled_from(ASSIGNMENT_STATUSES))
        progress = 100 if status == "completed" and draw(st.booleans()) else draw(st.sampled_from((0, 10, 50, 99)) | st.integers(0, 100))
        reports.append(Report(a, day, status, progress))

    # approvals of (R, P) at some units, decoys of another resolution or period
    states = st.sampled_from(("approved", "accepted"))
    approvals = [Approval(u, resolution, period, draw(states)) for u in range(len(w.parents)) if draw(st.integers(0, 3))]
    for u, r, p in draw(st.lists(st.tuples(units, st.integers(0, len(w.resolutions) - 1), st.sampled_from(others) | st.just(period)), max_size=4)):
        if (r, p) != (resolution, period) and all((a.unit, a.resolution, a.period) != (u, r, p) for a in approvals):
            approvals.append(Approval(u, r, p, draw(states)))

    # returns: at most one open per item (the unique index), any number cleared
    def returns_of(kind: str, item: int) -> list[Return]:
        found = []
        for state in [draw(st.sampled_from(("returned", "corrected", "cleared")))] + ["cleared"] * draw(st.integers(0, 1)):
            r = draw(st.just(resolution) | st.just(resolution) | st.integers(0, len(w.resolutions) - 1))
            p = draw(st.just(period) | st.just(period) | st.sampled_from(others))
            found.append(Return(kind, item, r, p, state))
        return found

    returns: list[Return] = []
    if reports:
        for i in draw(st.lists(st.integers(0, len(reports) - 1), max_size=6, unique=True)):
            returns += returns_of("progress_report", i)
    if w.readings:
        for m in draw(st.lists(st.integers(0, len(w.readings) - 1), max_size=4, unique=True)):
            returns += returns_of("measurement", m)
    return Case(w, resolution, period, tuple(reports), tuple(approvals), tuple(returns))


async def write(api: Api, case: Case) -> dict[str, dict[int, int]]:
    """The world through `load`, then the extra reports, the approvals and the returns straight into the tables."""
    w = case.world
    pks = await load(api, w)
    uid, res, assignments, measurements = pks["Unit"], pks["Resolution"], pks["Assignment"], pks["Measurement"]
    own = world_reports(w)
    async with api.engine.begin() as conn:
        written = (await conn.execute(select(ProgressReport.id, ProgressReport.assignment_id, ProgressReport.reported_on).order_by(ProgressReport.id))).all()
        assert [(a, d) for _, a, d in written] == [(assignments[r.work], r.day) for r in own]  # ids grow in the order the oracle assumes
        report_ids = [i for i, _, _ in written]
        for r in case.reports[len(own) :]:
            values = {"assignment_id": assignments[r.work], "reported_on": r.day, "progress": r.progress, "status": r.status}
            report_ids.append((await conn.execute(insert(ProgressReport).values(**values).returning(ProgressReport.id))).scalar_one())
        assert report_ids == sorted(report_ids)
        moment = datetime(2025, 1, 2, 3, 4, tzinfo=UTC)
        for a in case.approvals:
            await conn.execute(insert(DataApproval).values(resolution_id=res[a.resolution], period=a.period, unit_id=uid[a.unit], state=a.state, approved_at=moment))
        for n, r in enumerate(case.returns):
            if r.kind == "measurement":
                unit_, item, assignment = w.readings[r.item].unit, measurements[r.item], None
            else:
                report = case.reports[r.item]
                unit_, item, assignment = w.works[report.work].assignee, report_ids[r.item], assignments[report.work]
            await conn.execute(insert(DataReturn).values(
                resolution_id=res[r.resolution], period=r.period, unit_id=uid[unit_], item_kind=r.kind, item_id=item, assignment_id=assignment,
                state=r.state, reason=f"lý do {n}", returned_at=moment,
            ))  # fmt: skip
    return pks


# -- the oracle --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Standing:
    """An assignment as its approved figures say."""

    status: str
    progress: int
    completed_on: date | None
    original_due: date
    due: date


def approved_works(case: Case, p: Persona, u: int) -> list[Standing]:
    w, end = case.world, case.end
    held = {case.reports[r.item].work for r in case.returns if r.kind == "progress_report" and r.state in OPEN}  # whatever approval it was returned under
    rows = []
    for a, work in w.works_under(p, u, case.resolution):  # read by p, assignee in u's subtree, of R's family (R read by p)
        if not (work.assigned_on < end and work.assignee in case.approved_units and a not in held):
            continue
        before = [(r.day, i) for i, r in enumerate(case.reports) if r.work == a and r.day < end]
        if before:
            latest = case.reports[max(before)[1]]
            status, progress, done = latest.status, latest.progress, latest.day if latest.status == "completed" else None
        else:
            status, progress, done = "not_started", 0, None
        rows.append(Standing(status, progress, done, work.original_due, work.due))
    return rows


def approved_figures(case: Case, p: Persona, u: int) -> Json:
    return figures(approved_works(case, p, u), min(case.world.today, case.end))


def approved_latest(case: Case, p: Persona, u: int) -> list[int]:
    """The reading standing for each (KPI, unit) pair of u's subtree over approved data."""
    w, covered = case.world, within(case.period)
    held = {r.item for r in case.returns if r.kind == "measurement" and r.state in OPEN}
    latest: dict[tuple[int, int], int] = {}
    for m, r in enumerate(w.readings):
        if not (w.readable_reading(p, m) and w.readable_kpi(p, r.kpi) and r.unit in w.subtrees[u] and w.in_family(p, case.resolution, w.kpis[r.kpi].resolution)):
            continue
        if r.period not in covered or r.unit not in case.approved_units or m in held:
            continue
        key = (r.kpi, r.unit)
        if key not in latest or (w.readings[latest[key]].period, latest[key]) < (r.period, m):  # readings are written in world order
            latest[key] = m
    return sorted(latest.values())


def check_figures(got: Json, want: Json, exact: bool, where: str) -> None:
    wrong = [k for k in want if not (agrees(got[k], want[k], PLACES[k], exact) if k in PLACES else got[k] == want[k])]
    shown = {k: str(v) if isinstance(v, Fraction) else v for k, v in want.items()}
    assert not wrong, f"{where}: {wrong} differ: got {got}, want {shown}"


# -- asking ------------------------------------------------------------------------------------------------------
FIGURES = ("fragment F on ProgressFigures { total notStarted inProgress completed cancelled overdue completedOnTime"
           " completedWithinExtension completedLate completionRate onTimeRate averageProgress }")  # fmt: skip
LIGHTS = "fragment C on LightCounts { green yellow red measured greenShare }"
ROLLUP = "fragment R on ProgressRollup { unit { code } figures { ...F } children { unit { code } figures { ...F } } }"
LIGHT_ROLLUP = "fragment L on KpiLightRollup { unit { code } counts { ...C } children { unit { code } counts { ...C } } }"


async def check_persona(api: Api, case: Case, pks: dict[str, dict[int, int]], n: int) -> None:
    w, p, user = case.world, case.world.personas[n], f"user{n}"
    exact = api.engine.dialect.name == "postgresql"
    who = f"user{n} {p}, approved for R{case.resolution} {case.period} (today {w.today})"
    readable = w.readable_units(p)
    asked: list[int | None] = [None, *range(len(w.parents))]
    variables = {"r": gid(pks, "Resolution", case.resolution), "p": case.period}
    for start in range(0, len(asked), MAX_ALIASES // 2):
        chunk = asked[start : start + MAX_ALIASES // 2]
        arg = lambda u: "" if u is None else f'unit: "{gid(pks, "Unit", u)}", '
        fields = " ".join(f"r{i}: progressRollup({arg(u)}filter: {{resolution: $r, approvedFor: $p}}) {{ ...R }}"
                          f" l{i}: kpiLights({arg(u)}filter: {{resolution: $r, approvedFor: $p}}) {{ ...L }}" for i, u in enumerate(chunk))  # fmt: skip
        got = await api.data(f"query($r: ID, $p: String) {{ {fields} }} {ROLLUP} {LIGHT_ROLLUP} {FIGURES} {LIGHTS}", variables, as_user=user)
        for i, u in enumerate(chunk):
            unit_ = p.own if u is None else u
            where = f"{{}}(unit: {'default ' if u is None else ''}{w.code(unit_)}) for {who}"
            rollup, lights = got[f"r{i}"], got[f"l{i}"]
            if unit_ not in readable:
                assert rollup is None and lights is None, f"{where.format('out of scope')}: {rollup} {lights}"
                continue
            shown = w.shown_children(p, unit_)
            for name, found in (("progressRollup", rollup), ("kpiLights", lights)):
                assert found is not None and found["unit"]["code"] == w.code(unit_), f"{where.format(name)}: {found}"
                assert [c["unit"]["code"] for c in found["children"]] == [w.code(c) for c in shown], f"{where.format(name)}: children"
            want = approved_figures(case, p, unit_)
            check_figures(rollup["figures"], want, exact, where.format("progressRollup"))
            for c, child in zip(rollup["children"], shown, strict=True):
                check_figures(c["figures"], approved_figures(case, p, child), exact, f"{where.format('progressRollup')} > {w.code(child)}")
            check_light_counts(lights["counts"], light_counts(w, approved_latest(case, p, unit_)), exact, where.format("kpiLights"))
            for c, child in zip(lights["children"], shown, strict=True):
                check_light_counts(c["counts"], light_counts(w, approved_latest(case, p, child)), exact, f"{where.format('kpiLights')} > {w.code(child)}")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=cases())
def test_figures_over_approved_data_equal_the_oracle_for_every_user_and_unit(backend: Backend, case: Case) -> None:
    Clock.current = case.world.today
    ties = Counter((r.work, r.day) for r in case.reports if r.day < case.end)
    if any(n > 1 for n in ties.values()):
        event("two reports of an assignment on one day before the end")
    whole = approved_figures(case, ADMIN, 0)  # what the admin at the root counts: how much the example exercises
    event(f"progress at the root: {'none counted' if not whole['total'] else 'some completed' if whole['completed'] else 'some counted'}")
    event(f"lights at the root: {'none measured' if not approved_latest(case, ADMIN, 0) else 'some measured'}")
    event(f"period: {'a month' if len(case.period) == 7 and case.period[5] != 'Q' else 'a quarter' if len(case.period) == 7 else 'a year'}")
    if any(r.kind == "progress_report" and r.state in OPEN for r in case.returns):
        event("a report held back")
    if any(r.kind == "measurement" and r.state in OPEN for r in case.returns):
        event("a measurement held back")

    async def run() -> None:
        async with running_app(backend.settings, engine=backend.engine) as api:
            pks = await write(api, case)
            for n in range(len(case.world.personas)):
                await check_persona(api, case, pks, n)

    asyncio.run(run())
