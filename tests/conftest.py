"""Fixtures: each test runs once on SQLite and once on PostgreSQL (skipped loudly if unreachable)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from resolute.api.settings import ROOT
from tests.support import Api, Backend, StatementCounter, pg_create_database, pg_drop_database, pg_reachable, pg_url, running_app

_PG_SKIPPED: list[str] = []


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """A migrated database of one kind for the whole session; a test finds it empty (see tests/support.py)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "resolute.db"
        db = Backend("sqlite", f"sqlite+aiosqlite:///{path}")
        db.migrate()
        yield db
        return
    if not asyncio.run(pg_reachable()):
        _PG_SKIPPED.append("PostgreSQL is not reachable at 127.0.0.1:5432 (set RESOLUTE_TEST_PG)")
        pytest.skip("PostgreSQL NOT REACHABLE: the PostgreSQL half of the suite was SKIPPED")
    name = asyncio.run(pg_create_database())
    db = Backend("postgresql", pg_url(name))
    try:
        db.migrate()
        yield db
    finally:
        asyncio.run(pg_drop_database(name))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "committing(reason): the test's writes are committed, not rolled back: another connection, thread or process"
        " must see them, or its requests must race in the database (see tests/support.py)",
    )


@pytest.fixture
async def api(backend: Backend, request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    """The running application over an empty tree; what the test writes is rolled back after it.

    A test marked `@pytest.mark.committing("why")` gets the app on its own engine instead, its
    writes committed as in production (and emptied before the next test).
    """
    marker = request.node.get_closest_marker("committing")
    if marker is not None:
        if not marker.args:
            pytest.fail("say why the test must commit: @pytest.mark.committing(\"reason\")")
        await backend.reset()
        async with running_app(backend.settings, committing=True) as running:
            yield running
        return
    async with running_app(backend.settings, engine=backend.engine) as running:
        yield running


@pytest.fixture
def statements(api: Api) -> StatementCounter:
    return StatementCounter(api.engine, api.reader)  # a committing test: its reader pool too


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Also runs where the tests run in worker processes (pytest-xdist forwards their reports): the skip the
    PostgreSQL fixture makes is remembered where the summary is written."""
    if report.skipped and "PostgreSQL NOT REACHABLE" in str(report.longrepr) and not _PG_SKIPPED:
        _PG_SKIPPED.append("PostgreSQL is not reachable at 127.0.0.1:5432 (set RESOLUTE_TEST_PG)")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _PG_SKIPPED:
        terminalreporter.write_sep("!", "POSTGRESQL SKIPPED", red=True, bold=True)
        terminalreporter.write_line(f"{_PG_SKIPPED[0]}: every PostgreSQL test was skipped; only SQLite was tested.", red=True, bold=True)


@pytest.fixture(scope="session")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small data set (seed 1) in the interchange format, generated once."""
    out = tmp_path_factory.mktemp("small")
    subprocess.run([sys.executable, str(ROOT / "api" / "demo" / "generator.py"), "--scale", "small", "--seed", "1", "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
    return out


@pytest.fixture
def env(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI (`resolute.api.cli.main`) pointed at the test's database."""
    monkeypatch.setenv("RESOLUTE_DATABASE_URL", backend.url)
    monkeypatch.setenv("RESOLUTE_JWT_SECRET", backend.settings.jwt_secret)
