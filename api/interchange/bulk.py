"""The cycle's big files (assignments, progress reports, measurements: millions of rows at national scale).

Each is read as a stream and checked row by row in Python against what the small files and the
database hold (codes, units, users, KPI frequencies), with the exact file:line problems of the
small files; the rows go into a staging table (staging.py) a chunk at a time, never all at once.
A report's assignment is looked up in SQL, among the staged and the stored assignments. Once
nothing is wrong, SQL compares the staging tables with the stored rows by natural key: an
anti-join inserts the new rows, an UPDATE ... FROM with IS DISTINCT FROM rewrites the changed ones
(their version moves on, as for an edit through the API), and equal rows are not touched.

Within one file the first row of a key wins, as it always has. Progress reports are history:
a stored report is never rewritten, only reports of a new (assignment, date) are added.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import Column, ColumnElement, Date, Integer, Numeric, Select, String, exists, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.accounts.models import User
from resolute.api.approvals.models import DataApproval
from resolute.api.bulk_load import indexes_after
from resolute.api.interchange import references
from resolute.api.interchange.checks import CYCLE_FILES, FORMAT_STATUSES, PROBLEMS_KEPT, Checker, CycleReport, stored_status
from resolute.api.interchange.progress import Progress
from resolute.api.interchange.reader import Problem, stream_rows
from resolute.api.interchange.staging import Stage
from resolute.api.kpis.models import Kpi, KpiUnitTarget, Measurement, MeasurementRevision
from resolute.api.kpis.periods import period_start, periods_containing
from resolute.api.kpis.service import CENT, LIMIT
from resolute.api.org.models import Unit
from resolute.api.org.tree import lies_under
from resolute.api.resolutions.models import Resolution
from resolute.api.tasks.models import RACI, Assignment, ProgressReport, Task

__all__ = ["STREAMED", "Known", "Staged", "check_references", "merge", "stage_files", "unknown_assignments"]

STREAMED = ("assignments.csv", "progress_reports.csv", "measurements.csv")
_PERCENT = {str(n): n for n in range(101)}
_RACI = frozenset(RACI)
_STATUSES = frozenset(FORMAT_STATUSES)


@dataclass
class Known:
    """What a row of a big file may refer to: the stored rows and those of the small files."""

    units: dict[str, int]
    unit_paths: dict[int, str]
    users: dict[str, int]
    task_codes: set[str]
    kpi_codes: set[str]
    kpi_freq: dict[str, str]
    today: date


@dataclass
class Staged:
    """The staging table of each big file present."""

    assignments: Stage | None = None
    reports: Stage | None = None
    measurements: Stage | None = None

    async def drop(self) -> None:
        for stage in (self.assignments, self.reports, self.measurements):
            if stage is not None:
                await stage.drop()


class _Dates(dict[str, Any]):
    """Text -> the staged value of a valid date, parsed once per distinct text; a KeyError otherwise."""

    def __init__(self, stage: Stage, latest: date | None = None) -> None:
        super().__init__()
        self._stage, self._latest = stage, latest

    def __missing__(self, text: str) -> Any:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise KeyError(text) from None
        if self._latest is not None and day > self._latest:
            raise KeyError(text)
        value = self[text] = self._stage.date(day)
        return value


def _day(stage: Stage, text: str) -> Any:
    return stage.date(date.fromisoformat(text)) if text else None


async def stage_files(session: AsyncSession, present: dict[str, Path], check: Checker, known: Known, progress: Progress) -> Staged:
    """Read, check and stage the big files present; problems go to `check`, rows with one are staged
    with their key only (so that the references to them can still be checked)."""
    staged = Staged()
    if "assignments.csv" in present:
        staged.assignments = await _stage_assignments(session, present["assignments.csv"], check, known)
        progress(f"assignments.csv: {staged.assignments.count:,} rows read, checked and staged")
    if "progress_reports.csv" in present:
        staged.reports = await _stage_reports(session, present["progress_reports.csv"], check, known)
        progress(f"progress_reports.csv: {staged.reports.count:,} rows read, checked and staged")
    if "measurements.csv" in present:
        staged.measurements = await _stage_measurements(session, present["measurements.csv"], check, known)
        progress(f"measurements.csv: {staged.measurements.count:,} rows read, checked and staged")
    return staged


async def _stage_assignments(session: AsyncSession, path: Path, check: Checker, known: Known) -> Stage:
    f = "assignments.csv"
    stage = await Stage(
        session, "import_assignments",
        Column("code", String), Column("task_code", String), Column("assignee_unit_id", Integer),
        Column("assigner_unit_id", Integer), Column("raci", String), Column("assigned_on", Date), Column("due_on", Date),
        Column("completed_on", Date), Column("status", String), Column("progress", Integer),
        keys=[("code",)],
    ).create()
    units, paths, tasks = known.units, known.unit_paths, known.task_codes
    dates = _Dates(stage)
    below: set[tuple[int, int]] = set()  # (assignee, assigner) pairs known to be in order
    for line, row in stream_rows(path, CYCLE_FILES[f], check):
        code, task, assignee, assigner, raci, assigned_on, due_on, status, percent, completed_on = row
        try:  # the fast way, for rows without a problem: set and dict lookups, each date parsed once
            if task not in tasks or raci not in _RACI or status not in _STATUSES:
                raise KeyError(task)
            pair = units[assignee], units[assigner]
            if pair not in below:
                if not lies_under(paths[pair[0]], paths[pair[1]], strictly=True):
                    raise KeyError(assignee)
                below.add(pair)
            value = _PERCENT[percent]
            days = dates[assigned_on], dates[due_on], dates[completed_on] if completed_on else None
        except KeyError:
            if _assignment_problems(check, line, row, known):
                if stage.add((line, code) + (None,) * 9):
                    await stage.flush()
                continue
            pair, value = (units[assignee], units[assigner]), int(percent)
            days = _day(stage, assigned_on), _day(stage, due_on), _day(stage, completed_on)
        if stage.add((line, code, task, *pair, raci, *days, stored_status(status, value), value)):
            await stage.flush()
    await stage.close()
    return stage


def _assignment_problems(check: Checker, line: int, row: Sequence[str], known: Known) -> bool:
    """The checks of a row, one by one, each naming its field; True if any failed."""
    f = "assignments.csv"
    before = check.counts[f]
    _, task, assignee_code, assigner_code, raci, assigned_on, due_on, status, percent, completed_on = row
    check.ref(f, line, task, "task", known.task_codes)
    assignee = check.ref(f, line, assignee_code, "assignee unit", known.units)
    assigner = check.ref(f, line, assigner_code, "assigner unit", known.units)
    if assignee and assigner and not lies_under(known.unit_paths[assignee], known.unit_paths[assigner], strictly=True):
        check.add(f, line, "the assignee does not lie strictly below the assigner")
    check.choice(f, line, raci, "raci", RACI)
    check.choice(f, line, status, "status", FORMAT_STATUSES)
    check.percent(f, line, percent, "progress")
    check.date(f, line, assigned_on, "assigned_on")
    check.date(f, line, due_on, "due_on")
    check.date(f, line, completed_on, "completed_on", optional=True)
    return check.counts[f] > before


async def _stage_reports(session: AsyncSession, path: Path, check: Checker, known: Known) -> Stage:
    f = "progress_reports.csv"
    stage = await Stage(
        session, "import_reports",
        Column("assignment_code", String), Column("reported_on", Date), Column("progress", Integer),
        Column("status", String), Column("note", String), Column("reporter_id", Integer),
        keys=[("assignment_code", "reported_on")],
    ).create()
    users = known.users
    days = _Dates(stage, latest=known.today)
    for line, row in stream_rows(path, CYCLE_FILES[f], check):
        assignment, reported_on, percent, status, note, reporter = row
        try:
            if not assignment or status not in _STATUSES:
                raise KeyError(status)
            reporter_id = users[reporter] if reporter else None
            value = _PERCENT[percent]
            day = days[reported_on]
        except KeyError:
            if _report_problems(check, line, row, known):
                if stage.add((line, assignment or None) + (None,) * 5):
                    await stage.flush()
                continue
            reporter_id, value, day = users.get(reporter), int(percent), _day(stage, reported_on)
        if stage.add((line, assignment, day, value, stored_status(status, value), note or None, reporter_id)):
            await stage.flush()
    await stage.close()
    return stage


def _report_problems(check: Checker, line: int, row: Sequence[str], known: Known) -> bool:
    """As _assignment_problems; whether the assignment exists is asked of the database later (`unknown_assignments`)."""
    f = "progress_reports.csv"
    before = check.counts[f]
    assignment, reported_on, percent, status, _, reporter = row
    if not assignment:
        check.add(f, line, "empty assignment")
    check.ref(f, line, reporter, "reporter", known.users, optional=True)
    check.percent(f, line, percent, "progress")
    check.choice(f, line, status, "status", FORMAT_STATUSES)
    if (day := check.date(f, line, reported_on, "reported_on")) and day > known.today:
        check.add(f, line, "reported_on lies in the future")
    return check.counts[f] > before


async def _stage_measurements(session: AsyncSession, path: Path, check: Checker, known: Known) -> Stage:
    f = "measurements.csv"
    stage = await Stage(
        session, "import_measurements",
        Column("kpi_code", String), Column("unit_id", Integer), Column("period", String), Column("value", Numeric(18, 2)),
        keys=[("kpi_code", "unit_id", "period")],
    ).create()
    units, kpis, frequencies, today = known.units, known.kpi_codes, known.kpi_freq, known.today
    periods: set[tuple[str, str]] = set()  # (frequency, period) pairs known to fit and to have begun
    for line, row in stream_rows(path, CYCLE_FILES[f], check):
        kpi, unit, period, text = row
        try:
            if kpi not in kpis:
                raise KeyError(kpi)
            unit_id = units[unit]
            amount = Decimal(text)
            if not (amount.is_finite() and abs(amount) < LIMIT):
                raise KeyError(text)
            frequency = frequencies.get(kpi)
            if frequency and (frequency, period) not in periods:
                start = period_start(frequency, period)
                if start is None or start > today:
                    raise KeyError(period)
                periods.add((frequency, period))
        except (KeyError, InvalidOperation, ValueError):
            if _measurement_problems(check, line, row, known):
                if stage.add((line, kpi, None, period, None)):
                    await stage.flush()
                continue
            unit_id, amount = units[unit], Decimal(text)
        if stage.add((line, kpi, unit_id, period, stage.amount(amount.quantize(CENT)))):
            await stage.flush()
    await stage.close()
    return stage


def _measurement_problems(check: Checker, line: int, row: Sequence[str], known: Known) -> bool:
    f = "measurements.csv"
    before = check.counts[f]
    kpi, unit, period, value = row
    check.ref(f, line, unit, "unit", known.units)
    check.decimal(f, line, value, "value")
    if check.ref(f, line, kpi, "KPI", known.kpi_codes):
        frequency = known.kpi_freq.get(kpi)
        start = period_start(frequency, period) if frequency else None
        if frequency and start is None:
            check.add(f, line, f"period '{period}' does not fit a {frequency} KPI")
        elif start and start > known.today:
            check.add(f, line, f"period '{period}' lies in the future")
    return check.counts[f] > before


async def unknown_assignments(session: AsyncSession, staged: Staged) -> list[Problem]:
    """Reports whose assignment is neither in assignments.csv nor stored (the first PROBLEMS_KEPT, in line order)."""
    if staged.reports is None:
        return []
    s, a = staged.reports.c, Assignment.__table__.c
    query = select(s.line, s.assignment_code).where(s.assignment_code.is_not(None), ~exists().where(a.code == s.assignment_code))
    if staged.assignments is not None:
        sa = staged.assignments.c
        query = query.where(~exists().where(sa.code == s.assignment_code))
    rows = (await session.execute(query.order_by(s.line).limit(PROBLEMS_KEPT))).all()
    return [Problem("progress_reports.csv", line, f"unknown assignment '{code}'") for line, code in rows]


async def approved_figures(session: AsyncSession, staged: Staged) -> list[Problem]:
    """Reports and measurements that would enter or change figures their unit approved (api.approvals.locks): the
    import goes around the services, so it is refused there as the API refuses them (the first PROBLEMS_KEPT)."""
    approvals = (await session.execute(select(DataApproval.resolution_id, DataApproval.period, DataApproval.unit_id))).all()
    if not approvals or (staged.reports is None and staged.measurements is None):
        return []
    implementing: dict[int, list[int]] = {}
    for pk, implements in (await session.execute(select(Resolution.id, Resolution.implements_id))).all():
        implementing.setdefault(implements, []).append(pk)
    locked: set[tuple[int, str, int]] = set()  # (unit, period, resolution of the figure)
    for resolution, period, unit in approvals:
        family, todo = set(), [resolution]
        while todo:
            current = todo.pop()
            if current not in family:
                family.add(current)
                todo += implementing.get(current, [])
        locked |= {(unit, period, member) for member in family}
    units = select(DataApproval.unit_id)
    candidates: list[tuple[str, int, int, str | date, int]] = []  # file, line, unit, period or day, resolution
    if staged.measurements is not None:
        s, m, k = staged.measurements.c, Measurement.__table__.c, Kpi.__table__.c
        stored = select(m.value).where(m.kpi_id == k.id, m.unit_id == s.unit_id, m.period == s.period).scalar_subquery()
        query = select(s.line, s.unit_id, s.period, k.resolution_id).select_from(staged.measurements.table.join(Kpi.__table__, k.code == s.kpi_code)).where(
            s.unit_id.in_(units), or_(stored.is_(None), stored != s.value))
        candidates += [("measurements.csv", *row) for row in (await session.execute(query)).all()]
    if staged.reports is not None:
        s, a, t, r = staged.reports.c, Assignment.__table__.c, Task.__table__.c, ProgressReport.__table__.c
        query = (
            select(s.line, a.assignee_unit_id, s.reported_on, t.resolution_id)
            .select_from(staged.reports.table.join(Assignment.__table__, a.code == s.assignment_code).join(Task.__table__, t.id == a.task_id))
            .where(a.assignee_unit_id.in_(units), ~exists().where(r.assignment_id == a.id, r.reported_on == s.reported_on))
        )  # fmt: skip
        candidates += [("progress_reports.csv", *row) for row in (await session.execute(query)).all()]
    problems = []
    for name, line, unit, when, resolution in sorted(candidates, key=lambda c: (c[0], c[1])):
        locking = [period for period in periods_containing(when) if (unit, period, resolution) in locked]
        if locking:
            problems.append(Problem(name, line, f"its unit approved the figures of {locking[0]}: the level above returns an item to have it corrected"))
    return problems[:PROBLEMS_KEPT]


async def merge(session: AsyncSession, staged: Staged, report: CycleReport, now: datetime, progress: Progress) -> bool:
    """Write the staged rows, counting them in the cycle's report. True if PostgreSQL's per-row checks were
    skipped (references.py): then `check_references` must run before the import commits."""
    set_wise = await references.row_checks_off(session)
    if staged.assignments is not None:
        created, updated = await _merge_assignments(session, staged.assignments, now)
        report.created["assignments"] += created
        report.updated["assignments"] += updated
        progress(f"assignments: {created:,} created, {updated:,} updated")
    if staged.reports is not None:
        created = await _merge_reports(session, staged.reports, now)
        report.created["progress_reports"] += created
        progress(f"progress_reports: {created:,} created")
    if staged.measurements is not None:
        created, updated = await _merge_measurements(session, staged.measurements, now)
        report.created["measurements"] += created
        report.updated["measurements"] += updated
        duties = await _duties(session)
        report.created["kpi_unit_targets"] += duties
        progress(f"measurements: {created:,} created, {updated:,} updated; kpi_unit_targets: {duties:,} created")
    if set_wise:
        await references.row_checks_on(session)
    return set_wise


async def check_references(session: AsyncSession, now: datetime, progress: Progress) -> None:
    """Hold and check, set-wise, the references of the rows `merge` wrote without PostgreSQL's per-row checks.
    After the written tables' ANALYZE: without statistics the planner takes the 1,070,039 reports of a national
    import for 5,000 and probes their assignments one by one (3 s a statement instead of 0.5)."""
    named = _references(now)
    for file, key, selects, mine in named:
        await references.hold(session, key, *selects, mine=mine)
        await references.all_there(session, file, key, *selects)
    tables = sorted({key.table.name for _, key, _, _ in named})  # type: ignore[attr-defined]
    progress(f"the written rows' references to {', '.join(tables)}: held and checked set-wise, PostgreSQL's per-row checks skipped")


def _references(now: datetime) -> list[tuple[str, Column, list[Select], ColumnElement[bool] | None]]:
    """What the rows this import wrote (stamped `now`) refer to, as their foreign keys would have checked it: each
    referenced key, with the file the rows came from, the selects that name it, and which of the rows named this
    import inserted itself (they need no lock). The KPI duties (`_duties`) are not stamped: each repeats the KPI and
    unit of a measurement, stored (its own keys hold them) or checked here."""
    a, r, m, v = Assignment.__table__.c, ProgressReport.__table__.c, Measurement.__table__.c, MeasurementRevision.__table__.c
    written, reported, measured = a.updated_at == now, r.created_at == now, m.updated_at == now
    return [
        ("measurements.csv", m.id, [select(v.measurement_id).where(v.replaced_at == now)], None),
        ("assignments.csv", Unit.__table__.c.id, [select(a.assignee_unit_id).where(written), select(a.assigner_unit_id).where(written)], None),
        ("assignments.csv", Task.__table__.c.id, [select(a.task_id).where(written)], None),
        ("progress_reports.csv", a.id, [select(r.assignment_id).where(reported)], a.created_at == now),
        ("progress_reports.csv", User.__table__.c.id, [select(r.reporter_id).where(reported)], None),
        ("measurements.csv", Unit.__table__.c.id, [select(m.unit_id).where(measured)], None),
        ("measurements.csv", Kpi.__table__.c.id, [select(m.kpi_id).where(measured)], None),
    ]


def _rows(result: Any) -> int:
    return int(result.rowcount or 0)


async def _merge_assignments(session: AsyncSession, stage: Stage, now: datetime) -> tuple[int, int]:
    await stage.keep_first(["code"])
    s, a, t = stage.c, Assignment.__table__, Task.__table__
    wanted = {
        "task_id": t.c.id, "assignee_unit_id": s.assignee_unit_id, "assigner_unit_id": s.assigner_unit_id, "raci": s.raci,
        "assigned_on": s.assigned_on, "due_on": s.due_on, "status": s.status, "progress": s.progress, "completed_on": s.completed_on,
    }
    changed = await session.execute(
        update(a)
        .values(**wanted, updated_at=now, version=a.c.version + 1)
        .where(a.c.code == s.code, t.c.code == s.task_code, or_(*(a.c[name].is_distinct_from(value) for name, value in wanted.items())))
    )
    stamp = literal(now, a.c.created_at.type)
    new = (
        select(s.code, *wanted.values(), s.due_on, stamp, stamp, literal(1))
        .select_from(stage.table.join(t, t.c.code == s.task_code))
        .where(~exists().where(a.c.code == s.code))
        .order_by(s.line)
    )
    columns = ["code", *wanted, "original_due_on", "created_at", "updated_at", "version"]  # the others start empty
    async with indexes_after(session, a):
        created = await session.execute(insert(a).from_select(columns, new, include_defaults=False))
    return _rows(created), _rows(changed)


async def _merge_reports(session: AsyncSession, stage: Stage, now: datetime) -> int:
    await stage.keep_first(["assignment_code", "reported_on"])
    s, a, r = stage.c, Assignment.__table__, ProgressReport.__table__
    new = (
        select(a.c.id, s.reported_on, s.progress, s.status, s.note, s.reporter_id, literal(now, r.c.created_at.type))
        .select_from(stage.table.join(a, a.c.code == s.assignment_code))
        .where(~exists().where(r.c.assignment_id == a.c.id, r.c.reported_on == s.reported_on))
        .order_by(s.line)
    )
    async with indexes_after(session, r):
        created = await session.execute(insert(r).from_select(["assignment_id", "reported_on", "progress", "status", "note", "reporter_id", "created_at"], new, include_defaults=False))
    return _rows(created)


async def _merge_measurements(session: AsyncSession, stage: Stage, now: datetime) -> tuple[int, int]:
    """A changed value keeps the one it replaces as a revision, as a correction through the API does."""
    await stage.keep_first(["kpi_code", "unit_id", "period"])
    s, m, k = stage.c, Measurement.__table__, Kpi.__table__
    same = (k.c.code == s.kpi_code, m.c.kpi_id == k.c.id, m.c.unit_id == s.unit_id, m.c.period == s.period)
    stamp = literal(now, m.c.created_at.type)
    revised = select(m.c.id, m.c.value, m.c.note, stamp, literal("corrected by an import")).where(*same, m.c.value != s.value).order_by(s.line)
    await session.execute(insert(MeasurementRevision.__table__).from_select(["measurement_id", "value", "note", "replaced_at", "reason"], revised, include_defaults=False))
    changed = await session.execute(update(m).values(value=s.value, updated_at=now, version=m.c.version + 1).where(*same, m.c.value != s.value))
    new = (
        select(k.c.id, s.unit_id, s.period, s.value, stamp, stamp, literal(1))
        .select_from(stage.table.join(k, k.c.code == s.kpi_code))
        .where(~exists().where(m.c.kpi_id == k.c.id, m.c.unit_id == s.unit_id, m.c.period == s.period))
        .order_by(s.line)
    )
    async with indexes_after(session, m):
        created = await session.execute(insert(m).from_select(["kpi_id", "unit_id", "period", "value", "created_at", "updated_at", "version"], new, include_defaults=False))
    return _rows(created), _rows(changed)


async def _duties(session: AsyncSession) -> int:
    """A unit reporting a KPI it neither issued nor leads must be able to read it: give it a duty row."""
    m, k, r, d = Measurement.__table__, Kpi.__table__, Resolution.__table__, KpiUnitTarget.__table__
    missing = (
        select(m.c.kpi_id, m.c.unit_id)
        .distinct()
        .select_from(m.join(k, k.c.id == m.c.kpi_id).join(r, r.c.id == k.c.resolution_id))
        .where(m.c.unit_id != k.c.lead_unit_id, m.c.unit_id != r.c.issuing_unit_id, ~exists().where(d.c.kpi_id == m.c.kpi_id, d.c.unit_id == m.c.unit_id))
        .order_by(m.c.kpi_id, m.c.unit_id)
    )
    return _rows(await session.execute(insert(d).from_select(["kpi_id", "unit_id"], missing, include_defaults=False)))
