"""Importing the working cycle of the interchange format: resolutions to measurements.

Every reference is checked against the files and the database before anything is kept; a
problem anywhere is reported as file:line: reason, and the unit of work rolls everything back.
Rows are matched by their natural keys (codes; a report by assignment and date; a measurement by
KPI, unit and period), so importing the same files again changes nothing. The small files are
compared in Python; the big ones (assignments, progress reports, measurements) are streamed
into staging tables and compared in SQL (bulk.py), so memory does not grow with them.

The format's "overdue" status is not stored (overdue is derived from dates): such rows are kept
as in progress (or not started at 0 %). A unit that reports a KPI it neither issued nor leads
gets a per-unit target row (without a value) so that it may read the KPI it must report on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api import clock
from resolute.api.accounts.models import User
from resolute.api.audit.chain import record
from resolute.api.interchange.bulk import STREAMED, Known, approved_figures, check_references, merge, stage_files, unknown_assignments
from resolute.api.interchange.checks import CYCLE_FILES, PROBLEMS_KEPT, Checker, CycleReport
from resolute.api.interchange.progress import Progress
from resolute.api.interchange.reader import InterchangeError, read_rows
from resolute.api.kpis.models import DIRECTIONS, FREQUENCIES, GROUPS, Kpi
from resolute.api.kpis.service import threshold_problems
from resolute.api.org.models import Unit
from resolute.api.org.text import fold
from resolute.api.resolutions.models import Objective, Resolution
from resolute.api.tasks.models import Assignment, Milestone, Task, TaskCoordinator

__all__ = ["CYCLE_FILES", "CycleReport", "load_cycle"]


async def _codes(session: AsyncSession, model: Any, key: Any = None) -> dict[str, int]:
    key = key if key is not None else model.code
    return dict((await session.execute(select(key, model.id))).all())


async def _bulk_insert(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """COPY on PostgreSQL (an order of magnitude faster), executemany elsewhere."""
    if not rows:
        return
    if session.bind.dialect.name == "postgresql":
        columns = list(rows[0])
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(table.name, records=[tuple(r[c] for c in columns) for r in rows], columns=columns)  # type: ignore[union-attr]
    else:
        for start in range(0, len(rows), 50_000):
            await session.execute(insert(table), rows[start : start + 50_000])


async def _bulk_update(session: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 20_000):
        await session.execute(update(model), rows[start : start + 20_000])


async def load_cycle(session: AsyncSession, directory: Path, *, today: date | None = None, progress: Progress | None = None) -> CycleReport:
    """Check and load the cycle files present in `directory` (units and users already loaded)."""
    present = {name: directory / name for name in CYCLE_FILES if (directory / name).exists()}
    report = CycleReport()
    if not present:
        return report
    progress = progress or Progress()
    check = Checker()
    rows = {name: read_rows(path, CYCLE_FILES[name], check) for name, path in present.items() if name not in STREAMED}
    if check.problems:
        raise InterchangeError(check.problems)
    now = datetime.now(UTC)
    today = today or clock.today()
    units = await _codes(session, Unit)
    unit_paths = dict((await session.execute(select(Unit.id, Unit.path))).all())
    users = await _codes(session, User, User.username)

    # -- resolutions ------------------------------------------------------------------------
    stored_res = {r.code: r for r in (await session.execute(select(Resolution.id, Resolution.code, Resolution.title, Resolution.issuing_unit_id, Resolution.issued_on, Resolution.implements_id, Resolution.version))).all()}
    res_codes: set[str] = set(stored_res) | {r["code"] for _, r in rows.get("resolutions.csv", [])}
    wanted_res: list[dict[str, Any]] = []
    for line, r in rows.get("resolutions.csv", []):
        f = "resolutions.csv"
        unit_id = check.ref(f, line, r["issuing_unit_code"], "issuing unit", units)
        issued = check.date(f, line, r["issued_on"], "issued_on")
        implements = check.ref(f, line, r["implements_code"], "implemented resolution", res_codes, optional=True)
        if implements == r["code"]:
            check.add(f, line, "a resolution cannot implement itself")
        if not r["title"]:
            check.add(f, line, "empty title")
        wanted_res.append({"line": line, "code": r["code"], "title": r["title"], "issuing_unit_id": unit_id, "issued_on": issued, "implements": implements})

    # -- objectives, KPIs, tasks (codes first, so files may refer forward) -------------------
    obj_codes = set(await _codes(session, Objective)) | {r["code"] for _, r in rows.get("objectives.csv", [])}
    kpi_codes = set(await _codes(session, Kpi)) | {r["code"] for _, r in rows.get("kpis.csv", [])}
    task_codes = set(await _codes(session, Task)) | {r["code"] for _, r in rows.get("tasks.csv", [])}
    for line, r in rows.get("objectives.csv", []):
        check.ref("objectives.csv", line, r["resolution_code"], "resolution", res_codes)
    kpi_freq: dict[str, str] = {c: fr for c, fr in (await session.execute(select(Kpi.code, Kpi.frequency))).all()}
    for line, r in rows.get("kpis.csv", []):
        f = "kpis.csv"
        check.ref(f, line, r["resolution_code"], "resolution", res_codes)
        check.ref(f, line, r["objective_code"], "objective", obj_codes, optional=True)
        check.ref(f, line, r["lead_unit_code"], "lead unit", units)
        check.choice(f, line, r["direction"], "direction", DIRECTIONS)
        check.choice(f, line, r["kpi_group"], "kpi_group", GROUPS)
        if check.choice(f, line, r["frequency"], "frequency", FREQUENCIES):
            kpi_freq[r["code"]] = r["frequency"]
        amounts = [check.decimal(f, line, r[c], c) for c in ("baseline", "target", "yellow_threshold", "red_threshold")]
        if None not in amounts and r["direction"] in DIRECTIONS:
            for problem in threshold_problems(r["direction"], *amounts):  # type: ignore[arg-type]
                check.add(f, line, f"thresholds: {problem.message}")
    for line, r in rows.get("tasks.csv", []):
        f = "tasks.csv"
        check.ref(f, line, r["resolution_code"], "resolution", res_codes)
        check.ref(f, line, r["parent_task_code"], "parent task", task_codes, optional=True)
        check.ref(f, line, r["lead_unit_code"], "lead unit", units)
        check.ref(f, line, r["kpi_code"], "KPI", kpi_codes, optional=True)
        start, due = check.date(f, line, r["start_on"], "start_on"), check.date(f, line, r["due_on"], "due_on")
        if start and due and due < start:
            check.add(f, line, "due_on before start_on")
    for line, r in rows.get("task_coordinators.csv", []):
        check.ref("task_coordinators.csv", line, r["task_code"], "task", task_codes)
        check.ref("task_coordinators.csv", line, r["unit_code"], "unit", units)
    for line, r in rows.get("milestones.csv", []):
        check.ref("milestones.csv", line, r["task_code"], "task", task_codes)
        check.date("milestones.csv", line, r["due_on"], "due_on")
        check.date("milestones.csv", line, r["done_on"], "done_on", optional=True)
    small = sum(len(r) for r in rows.values())
    progress(f"cycle, small files: {small:,} rows read and checked")

    known = Known(units=units, unit_paths=unit_paths, users=users, task_codes=task_codes, kpi_codes=kpi_codes, kpi_freq=kpi_freq, today=today)
    staged = await stage_files(session, {n: p for n, p in present.items() if n in STREAMED}, check, known, progress)
    check.problems[:0] = await unknown_assignments(session, staged)  # first: within a line, the assignment is checked first
    check.problems += await approved_figures(session, staged)
    if check.problems:
        raise InterchangeError(sorted(check.problems, key=lambda p: (p.file, p.line))[:PROBLEMS_KEPT])

    await _write(session, rows, wanted_res, stored_res, units, report, now, today)
    progress(f"cycle, small files: {sum(report.created.values()):,} rows created, {sum(report.updated.values()):,} updated")
    set_wise = await merge(session, staged, report, now, progress)
    await _link_origins(session, rows.get("tasks.csv", []))
    await staged.drop()
    if report.changed() and session.bind.dialect.name == "postgresql":
        tables = "resolutions, objectives, kpis, kpi_unit_targets, tasks, task_coordinators, milestones, assignments, progress_reports, measurements, measurement_revisions"
        await session.execute(text(f"ANALYZE {tables}"))  # fresh statistics after a bulk load, or the planner guesses
        progress("ANALYZE")
    if set_wise:
        await check_references(session, now, progress)
    if report.changed():
        root_id = await session.scalar(select(Unit.id).where(Unit.parent_id.is_(None)))
        record(session, action="import", object_type="import", object_key="cycle", unit_id=root_id,
               after={"files": sorted(present), "created": dict(report.created), "updated": dict(report.updated)})
    return report


async def _write(
    session: AsyncSession,
    rows: dict[str, list[tuple[int, dict[str, str]]]],
    wanted_res: list[dict[str, Any]],
    stored_res: dict[str, Any],
    units: dict[str, int],
    report: CycleReport,
    now: datetime,
    today: date,
) -> None:
    """The small files: few enough rows to compare in Python with what is stored."""
    stamp = {"created_at": now, "updated_at": now, "version": 1}

    # resolutions: insert, then link `implements` once every code has an id
    new = [w for w in wanted_res if w["code"] not in stored_res]
    await _bulk_insert(session, Resolution.__table__, [
        {"code": w["code"], "title": w["title"], "search_title": fold(f"{w['code']} {w['title']}"), "kind": "action_programme" if w["implements"] else "resolution",
         "status": "in_effect", "issuing_unit_id": w["issuing_unit_id"], "issued_on": w["issued_on"], "implements_id": None,
         "implementer_kinds": None, "summary": None, "document_url": None, "programme_due_on": None, **stamp}
        for w in new
    ])
    res = await _codes(session, Resolution)
    changes = []
    for w in wanted_res:
        old = stored_res.get(w["code"])
        implements_id = res[w["implements"]] if w["implements"] else None
        if old is None:
            if implements_id:
                changes.append({"id": res[w["code"]], "implements_id": implements_id})
        elif (old.title, old.issuing_unit_id, old.issued_on, old.implements_id) != (w["title"], w["issuing_unit_id"], w["issued_on"], implements_id):
            changes.append({"id": old.id, "title": w["title"], "search_title": fold(f"{w['code']} {w['title']}"), "issuing_unit_id": w["issuing_unit_id"],
                            "issued_on": w["issued_on"], "implements_id": implements_id, "updated_at": now, "version": old.version + 1})
            report.updated["resolutions"] += 1
    await _bulk_update(session, Resolution, changes)
    implemented = {w["implements"] for w in wanted_res if w["implements"]}
    if implemented:  # the coverage view: provinces are expected to issue programmes for these
        await session.execute(update(Resolution).where(Resolution.code.in_(implemented), Resolution.implementer_kinds.is_(None)).values(implementer_kinds="province"))
    report.created["resolutions"] += len(new)

    await _upsert(session, Objective, rows.get("objectives.csv", []), report, "objectives",
                  key=lambda r: r["code"], values=lambda r: {"code": r["code"], "resolution_id": res[r["resolution_code"]], "title": r["title"]},
                  extra=lambda r: stamp)
    objectives = await _codes(session, Objective)
    await _upsert(session, Kpi, rows.get("kpis.csv", []), report, "kpis",
                  key=lambda r: r["code"],
                  values=lambda r: {
                      "code": r["code"], "resolution_id": res[r["resolution_code"]], "objective_id": objectives.get(r["objective_code"]) if r["objective_code"] else None,
                      "name": r["name"], "unit_of_measure": r["unit_of_measure"], "direction": r["direction"], "baseline": Decimal(r["baseline"]),
                      "target": Decimal(r["target"]), "yellow_threshold": Decimal(r["yellow_threshold"]), "red_threshold": Decimal(r["red_threshold"]),
                      "kpi_group": r["kpi_group"], "frequency": r["frequency"], "lead_unit_id": units[r["lead_unit_code"]],
                  },
                  extra=lambda r: {"search_name": fold(f"{r['code']} {r['name']}"), "key_result_id": None, "formula": None, "data_source": None, **stamp})
    kpis = await _codes(session, Kpi)
    await _upsert(session, Task, rows.get("tasks.csv", []), report, "tasks",
                  key=lambda r: r["code"],
                  values=lambda r: {
                      "code": r["code"], "resolution_id": res[r["resolution_code"]], "title": r["title"], "lead_unit_id": units[r["lead_unit_code"]],
                      "start_on": date.fromisoformat(r["start_on"]), "due_on": date.fromisoformat(r["due_on"]), "kpi_id": kpis[r["kpi_code"]] if r["kpi_code"] else None,
                  },
                  extra=lambda r: {"search_title": fold(f"{r['code']} {r['title']}"), "description": None, "objective_id": None, "key_result_id": None,
                                   "parent_task_id": None, "origin_assignment_id": None, "status": "in_progress" if date.fromisoformat(r["start_on"]) <= today else "not_started",
                                   "completed_on": None, "evaluation_criteria": None, **stamp})
    tasks = await _codes(session, Task)
    parents = {tasks[r["code"]]: tasks[r["parent_task_code"]] for _, r in rows.get("tasks.csv", []) if r["parent_task_code"]}
    stored_parents = dict((await session.execute(select(Task.id, Task.parent_task_id).where(Task.id.in_(list(parents))))).all()) if parents else {}
    await _bulk_update(session, Task, [{"id": t, "parent_task_id": p} for t, p in parents.items() if stored_parents.get(t) != p])

    pairs = {(tasks[r["task_code"]], units[r["unit_code"]]) for _, r in rows.get("task_coordinators.csv", [])}
    have = set((await session.execute(select(TaskCoordinator.task_id, TaskCoordinator.unit_id))).all())
    await _bulk_insert(session, TaskCoordinator.__table__, [{"task_id": t, "unit_id": u} for t, u in sorted(pairs - have)])
    report.created["task_coordinators"] += len(pairs - have)

    await _upsert(session, Milestone, rows.get("milestones.csv", []), report, "milestones",
                  key=lambda r: (tasks[r["task_code"]], r["title"]), stored_key=lambda row: (row.task_id, row.title),
                  values=lambda r: {"task_id": tasks[r["task_code"]], "title": r["title"], "due_on": date.fromisoformat(r["due_on"]),
                                    "done_on": date.fromisoformat(r["done_on"]) if r["done_on"] else None},
                  extra=lambda r: stamp)


async def _link_origins(session: AsyncSession, task_rows: list[tuple[int, dict[str, str]]]) -> None:
    """A programme task decomposes the assignment of its parent task to the programme's issuer."""
    codes = {r["code"]: r["parent_task_code"] for _, r in task_rows if r["parent_task_code"]}
    if not codes:
        return
    tasks = await _codes(session, Task)
    parents = {tasks[code]: tasks[parent] for code, parent in codes.items()}
    by_task_unit = {(t, u): a for a, t, u in (await session.execute(select(Assignment.id, Assignment.task_id, Assignment.assignee_unit_id).where(Assignment.task_id.in_(set(parents.values()))))).all()}
    issuers = dict((await session.execute(select(Task.id, Resolution.issuing_unit_id).join(Resolution, Resolution.id == Task.resolution_id).where(Task.id.in_(list(parents))))).all())
    origins = dict((await session.execute(select(Task.id, Task.origin_assignment_id).where(Task.id.in_(list(parents))))).all())
    links = [{"id": t, "origin_assignment_id": by_task_unit[(p, issuers[t])]} for t, p in parents.items() if (p, issuers[t]) in by_task_unit and origins.get(t) != by_task_unit[(p, issuers[t])]]
    await _bulk_update(session, Task, links)


async def _upsert(
    session: AsyncSession,
    model: Any,
    rows: list[tuple[int, dict[str, str]]],
    report: CycleReport,
    name: str,
    *,
    key: Callable[[dict[str, str]], Any],
    values: Callable[[dict[str, str]], dict[str, Any]],
    extra: Callable[[dict[str, str]], dict[str, Any]],
    stored_key: Callable[[Any], Any] | None = None,
) -> None:
    """Insert the rows not stored yet; update those whose values differ; leave the rest alone."""
    if not rows:
        return
    fields = list(values(rows[0][1]))
    stored_key = stored_key or (lambda row: row.code)
    stored = {stored_key(row): row for row in (await session.execute(select(model.id, model.version, *[getattr(model, f) for f in fields]))).all()}
    inserts, updates, seen = [], [], set()
    for _, r in rows:
        k = key(r)
        if k in seen:
            continue
        seen.add(k)
        wanted = values(r)
        old = stored.get(k)
        if old is None:
            inserts.append({**wanted, **extra(r)})
        elif any(getattr(old, f) != v for f, v in wanted.items()):
            updates.append({"id": old.id, **wanted, "updated_at": datetime.now(UTC), "version": old.version + 1})  # as an edit through the API
    await _bulk_insert(session, model.__table__, inserts)
    await _bulk_update(session, model, updates)
    report.created[name] += len(inserts)
    report.updated[name] += len(updates)
