"""Importing the working cycle: bad lines are named file:line and nothing is written; a good import is idempotent,
and a re-import of files with a few changed rows changes exactly those rows."""

from __future__ import annotations

import asyncio
import csv
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from resolute.api.cli import main
from tests.support import Api
from tests.test_progress_summaries import check as summaries_equal_a_recomputation

pytestmark = pytest.mark.committing("`resolute import` runs on its own connection, in a thread: it must see the test's data, and the test its writes")

TABLES = ("resolutions", "objectives", "kpis", "tasks", "task_coordinators", "milestones", "assignments", "progress_reports", "measurements", "kpi_unit_targets", "units", "users", "audit_events")


async def counts(api: Api) -> dict[str, int]:
    async with api.engine.connect() as conn:
        return {t: int((await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()) for t in TABLES}


def spoil(directory: Path, name: str, row: int, column: str, value: str) -> int:
    """Replace one field of one data row (1-based) and return its line number in the file."""
    path = directory / name
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
        fields = list(rows[0])
    rows[row - 1][column] = value
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return row + 1


CASES = [
    ("assignments.csv", 5, "task_code", "NOPE-T999", "unknown task 'NOPE-T999'"),
    ("assignments.csv", 7, "assignee_unit_code", "TW", "the assignee does not lie strictly below the assigner"),
    ("assignments.csv", 3, "progress", "120", "not a whole percentage"),
    ("measurements.csv", 4, "period", "2025-Q1", "does not fit a monthly KPI"),
    ("measurements.csv", 9, "period", "2099-01", "lies in the future"),
    ("kpis.csv", 2, "target", "-5", "thresholds: an increasing KPI has a target above its baseline"),
    ("tasks.csv", 6, "due_on", "2020-01-01", "due_on before start_on"),
    ("progress_reports.csv", 2, "reporter_username", "ghost", "unknown reporter 'ghost'"),
    ("progress_reports.csv", 3, "assignment_code", "AS9999999", "unknown assignment 'AS9999999'"),  # looked up in SQL, among staged and stored rows
    ("progress_reports.csv", 4, "assignment_code", "", "empty assignment"),
    ("measurements.csv", 2, "value", "12,5", "value '12,5' is not a number"),
    ("assignments.csv", 2, "raci", "X", "raci 'X' is not one of R, A, C, I"),
    ("resolutions.csv", 3, "issuing_unit_code", "P99", "unknown issuing unit 'P99'"),
    ("milestones.csv", 2, "due_on", "someday", "is not a date"),
]


@pytest.mark.parametrize(("name", "row", "column", "value", "reason"), CASES)
async def test_a_bad_line_is_named_and_nothing_is_written(
    api: Api, env: None, small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, row: int, column: str, value: str, reason: str
) -> None:
    directory = tmp_path / "data"
    shutil.copytree(small, directory)
    if name == "measurements.csv" and reason.startswith("does not fit"):
        kpi = next(csv.DictReader((directory / "kpis.csv").open(encoding="utf-8")))
        row = next(i for i, r in enumerate(csv.DictReader((directory / "measurements.csv").open(encoding="utf-8")), 1) if r["kpi_code"] == kpi["code"])
        assert kpi["frequency"] == "monthly"
    line = spoil(directory, name, row, column, value)
    before = await counts(api)
    assert await asyncio.to_thread(main, ["import", str(directory)]) == 1
    err = capsys.readouterr().err
    assert f"{name}:{line}: " in err and reason in err, err
    assert await counts(api) == before  # nothing of any file was written, units and users included


async def test_the_cycle_imports_once_and_reads_through_graphql(api: Api, env: None, small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert await asyncio.to_thread(main, ["import", str(small)]) == 0
    first = await counts(api)
    assert (first["assignments"], first["progress_reports"], first["measurements"], first["tasks"]) == (2691, 3775, 1330, 827)
    await summaries_equal_a_recomputation(api, "the small data set imported")
    assert await asyncio.to_thread(main, ["import", str(small)]) == 0
    assert await counts(api) == first  # idempotent: not even an audit event
    capsys.readouterr()
    async with api.engine.begin() as conn:  # give the imported province officer a password to look around
        from resolute.api.auth.passwords import hash_password

        await conn.execute(text("UPDATE users SET password_hash = :h"), {"h": hash_password(api.settings, "a long passphrase")})
    mine = await api.data("{ assignments(first: 100, filter: {toMyUnit: true}) { totalCount nodes { unit { code } task { code resolution { code } } } } }", as_user="p01.c001.officer")
    assert mine["assignments"]["totalCount"] > 0
    assert {n["unit"]["code"] for n in mine["assignments"]["nodes"]} == {"P01-C001"}
    assert all(n["task"]["resolution"]["code"].startswith("CTr-") for n in mine["assignments"]["nodes"])
    chain = await api.data('{ task(code: "CTr-57/P01-T01") { parentTask { code } originAssignment { unit { code } } } }', as_user="p01.manager")
    task = chain["task"]
    assert task["parentTask"]["code"].startswith("57-NQ/TW-T") and task["originAssignment"]["unit"]["code"] == "P01"
    coverage = await api.data('{ resolution(code: "57-NQ/TW") { coverageSummary { expected onTime pending missing } } }', as_user="admin")
    assert coverage["resolution"]["coverageSummary"]["expected"] == 3  # the three provinces of the small scale, each with its programme


async def snapshot(api: Api) -> dict[str, dict[Any, tuple[Any, ...]]]:
    """Every row of every table an import writes, by primary key, as the database returns it."""
    keys = {"task_coordinators": "task_id, unit_id", "kpi_unit_targets": "kpi_id, unit_id"}
    tables = {}
    async with api.engine.connect() as conn:
        for table in (*TABLES, "grants", "measurement_revisions"):
            key = keys.get(table, "id")
            result = await conn.execute(text(f"SELECT {key}, * FROM {table}"))
            width = len(key.split(","))
            tables[table] = {row[:width] if width > 1 else row[0]: tuple(row[width:]) for row in result.all()}
    return tables


def append(directory: Path, name: str, row: dict[str, str]) -> None:
    with (directory / name).open("a", encoding="utf-8", newline="") as handle:
        csv.DictWriter(handle, fieldnames=list(row), lineterminator="\n").writerow(row)


async def test_a_reimport_changes_exactly_the_changed_rows(api: Api, env: None, small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One assignment's progress, one new report of it, one measurement value: those rows change, nothing else does."""
    directory = tmp_path / "data"
    shutil.copytree(small, directory)
    assert await asyncio.to_thread(main, ["import", str(directory)]) == 0
    before = await snapshot(api)

    with (directory / "progress_reports.csv").open(encoding="utf-8", newline="") as handle:
        reports = list(csv.DictReader(handle))
    with (directory / "assignments.csv").open(encoding="utf-8", newline="") as handle:
        assignments = list(csv.DictReader(handle))
    last_report = {r["assignment_code"]: r for r in reports}  # rows are in date order within an assignment
    row, chosen = next(
        (i, a) for i, a in enumerate(assignments, 1)
        if a["status"] == "in_progress" and int(a["progress"]) <= 90 and a["code"] in last_report and last_report[a["code"]]["reported_on"] < "2025-09-30"
    )
    progress = str(int(chosen["progress"]) + 5)
    day = (date.fromisoformat(last_report[chosen["code"]]["reported_on"]) + timedelta(days=1)).isoformat()
    spoil(directory, "assignments.csv", row, "progress", progress)
    append(directory, "progress_reports.csv", {**last_report[chosen["code"]], "reported_on": day, "progress": progress, "note": "Báo cáo bổ sung"})
    with (directory / "measurements.csv").open(encoding="utf-8", newline="") as handle:
        measurement = next(csv.DictReader(handle))
    value = f"{float(measurement['value']) + 1.25:.2f}"
    spoil(directory, "measurements.csv", 1, "value", value)

    capsys.readouterr()
    assert await asyncio.to_thread(main, ["import", str(directory)]) == 0
    lines = capsys.readouterr().out.splitlines()
    changed = {"assignments: 0 created, 1 updated", "progress_reports: 1 created, 0 updated", "measurements: 0 created, 1 updated"}
    assert changed <= set(lines), lines
    assert all(line in changed or line.endswith(" 0 created, 0 updated") or line.startswith(("units: 0 created, 0 updated,", "users: 0 created, 0 updated,", "grants: 0 created", "imported ")) for line in lines), lines
    after = await snapshot(api)

    def differing(table: str) -> tuple[set[Any], set[Any], set[Any]]:
        old, new = before[table], after[table]
        return set(new) - set(old), set(old) - set(new), {k for k in set(old) & set(new) if old[k] != new[k]}

    untouched = {t for t in after if t not in ("assignments", "progress_reports", "measurements", "measurement_revisions", "audit_events")}
    assert {t: differing(t) for t in untouched} == {t: (set(), set(), set()) for t in untouched}
    async with api.engine.connect() as conn:
        assignment_id = (await conn.execute(text("SELECT id FROM assignments WHERE code = :c"), {"c": chosen["code"]})).scalar_one()
        measurement_id = (await conn.execute(text(
            "SELECT m.id FROM measurements m JOIN kpis k ON k.id = m.kpi_id JOIN units u ON u.id = m.unit_id WHERE k.code = :k AND u.code = :u AND m.period = :p"
        ), {"k": measurement["kpi_code"], "u": measurement["unit_code"], "p": measurement["period"]})).scalar_one()
        columns = {t: list((await conn.execute(text(f"SELECT * FROM {t} LIMIT 0"))).keys()) for t in ("assignments", "progress_reports", "measurements", "measurement_revisions")}

    def field(table: str, row: tuple[Any, ...], name: str) -> Any:
        return row[columns[table].index(name)]

    def without(table: str, row: tuple[Any, ...], *names: str) -> tuple[Any, ...]:
        return tuple(v for c, v in zip(columns[table], row, strict=True) if c not in names)

    assert differing("assignments") == (set(), set(), {assignment_id})
    old, new = before["assignments"][assignment_id], after["assignments"][assignment_id]
    assert (field("assignments", new, "progress"), field("assignments", new, "version")) == (int(progress), field("assignments", old, "version") + 1)
    assert without("assignments", old, "progress", "version", "updated_at") == without("assignments", new, "progress", "version", "updated_at")

    added, removed, rewritten = differing("progress_reports")
    assert (len(added), removed, rewritten) == (1, set(), set())
    report = after["progress_reports"][added.pop()]
    assert (field("progress_reports", report, "assignment_id"), str(field("progress_reports", report, "reported_on")), field("progress_reports", report, "progress"),
            field("progress_reports", report, "note")) == (assignment_id, day, int(progress), "Báo cáo bổ sung")

    assert differing("measurements") == (set(), set(), {measurement_id})
    old, new = before["measurements"][measurement_id], after["measurements"][measurement_id]
    assert (f"{float(field('measurements', new, 'value')):.2f}", field("measurements", new, "version")) == (value, field("measurements", old, "version") + 1)
    assert without("measurements", old, "value", "version", "updated_at") == without("measurements", new, "value", "version", "updated_at")
    added, removed, rewritten = differing("measurement_revisions")  # the value it replaced stays in the history
    assert (len(added), removed, rewritten) == (1, set(), set())
    revision = after["measurement_revisions"][added.pop()]
    assert (field("measurement_revisions", revision, "measurement_id"), f"{float(field('measurement_revisions', revision, 'value')):.2f}") == (measurement_id, measurement["value"])

    added, removed, rewritten = differing("audit_events")  # one event says what the import did
    assert (len(added), removed, rewritten) == (1, set(), set())

    assert await asyncio.to_thread(main, ["import", str(directory)]) == 0  # and the same files once more change nothing
    assert await snapshot(api) == after
    await summaries_equal_a_recomputation(api, "a reimport that changed one assignment")  # rebuilt on PostgreSQL, by triggers on SQLite


async def test_within_a_file_the_first_row_of_a_key_wins(api: Api, env: None, small: Path, tmp_path: Path) -> None:
    """A key repeated in a big file (assignment code; report's assignment and date; measurement's KPI, unit and period): the first row is imported."""
    directory = tmp_path / "data"
    shutil.copytree(small, directory)
    firsts = {}
    for name, column, value in (("assignments.csv", "progress", "55"), ("progress_reports.csv", "note", "bản trùng"), ("measurements.csv", "value", "1.00")):
        with (directory / name).open(encoding="utf-8", newline="") as handle:
            firsts[name] = next(csv.DictReader(handle))
        append(directory, name, {**firsts[name], column: value})
    assert await asyncio.to_thread(main, ["import", str(directory)]) == 0
    assert {t: n for t, n in (await counts(api)).items() if t in ("assignments", "progress_reports", "measurements")} == {
        "assignments": 2691, "progress_reports": 3775, "measurements": 1330,
    }
    async with api.engine.connect() as conn:
        progress = (await conn.execute(text("SELECT progress FROM assignments WHERE code = :c"), {"c": firsts["assignments.csv"]["code"]})).scalar_one()
        notes = (await conn.execute(text("SELECT count(*) FROM progress_reports WHERE note = 'bản trùng'"))).scalar_one()
        value = (await conn.execute(text(
            "SELECT m.value FROM measurements m JOIN kpis k ON k.id = m.kpi_id JOIN units u ON u.id = m.unit_id WHERE k.code = :k AND u.code = :u AND m.period = :p"
        ), {"k": firsts["measurements.csv"]["kpi_code"], "u": firsts["measurements.csv"]["unit_code"], "p": firsts["measurements.csv"]["period"]})).scalar_one()
    assert (progress, notes, f"{float(value):.2f}") == (int(firsts["assignments.csv"]["progress"]), 0, firsts["measurements.csv"]["value"])


async def test_an_import_does_not_touch_figures_their_unit_approved(api: Api, env: None, small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The import goes around the services, so it refuses, as they do, a changed measurement or a new report that falls
    into figures its unit approved (api.approvals.locks), naming the line; the same files unchanged still import."""
    directory = tmp_path / "data"
    shutil.copytree(small, directory)
    assert await asyncio.to_thread(main, ["import", str(directory)]) == 0
    with (directory / "measurements.csv").open(encoding="utf-8", newline="") as handle:
        measurement = next(csv.DictReader(handle))
    with (directory / "progress_reports.csv").open(encoding="utf-8", newline="") as handle:
        report = list(csv.DictReader(handle))[-1]
    async with api.engine.begin() as conn:
        m = (await conn.execute(text("SELECT k.resolution_id, u.id FROM kpis k, units u WHERE k.code = :k AND u.code = :u"),
                                {"k": measurement["kpi_code"], "u": measurement["unit_code"]})).one()  # fmt: skip
        r = (await conn.execute(text("SELECT t.resolution_id, a.assignee_unit_id FROM assignments a JOIN tasks t ON t.id = a.task_id WHERE a.code = :a"),
                                {"a": report["assignment_code"]})).one()  # fmt: skip
        month = report["reported_on"][:7]
        for resolution, period, unit_id in ((m[0], measurement["period"], m[1]), (r[0], month, r[1])):
            await conn.execute(text("INSERT INTO data_approvals (resolution_id, period, unit_id, state, approved_at) VALUES (:r, :p, :u, 'approved', :t)"),
                               {"r": resolution, "p": period, "u": unit_id, "t": datetime.now(UTC)})  # fmt: skip
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["import", str(directory)]) == 0  # nothing changes: nothing is refused
    before = await counts(api)
    line = spoil(directory, "measurements.csv", 1, "value", f"{float(measurement['value']) + 1:.2f}")
    day = f"{month}-28" if report["reported_on"] < f"{month}-28" else f"{month}-01"
    append(directory, "progress_reports.csv", {**report, "reported_on": day, "note": "Báo cáo bổ sung"})
    lines = sum(1 for _ in (directory / "progress_reports.csv").open(encoding="utf-8"))
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["import", str(directory)]) == 1
    err = capsys.readouterr().err
    assert f"measurements.csv:{line}: its unit approved the figures of {measurement['period']}" in err, err
    assert f"progress_reports.csv:{lines}: its unit approved the figures of {month}" in err, err
    assert await counts(api) == before
