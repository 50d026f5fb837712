"""Importing the working cycle: bad lines are named file:line and nothing is written; a good import is idempotent."""

from __future__ import annotations

import asyncio
import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from resolute.api.cli import main
from resolute.api.settings import ROOT
from tests.support import Api, Backend

pytestmark = pytest.mark.committing("`resolute import` runs on its own connection, in a thread: it must see the test's data, and the test its writes")

TABLES = ("resolutions", "objectives", "kpis", "tasks", "task_coordinators", "milestones", "assignments", "progress_reports", "measurements", "kpi_unit_targets", "units", "users", "audit_events")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    subprocess.run([sys.executable, str(ROOT / "api" / "demo" / "generator.py"), "--scale", "small", "--seed", "1", "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
    return out


@pytest.fixture
def env(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESOLUTE_DATABASE_URL", backend.url)
    monkeypatch.setenv("RESOLUTE_JWT_SECRET", backend.settings.jwt_secret)


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
