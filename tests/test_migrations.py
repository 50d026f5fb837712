"""Migrations: upgrade, downgrade to nothing, upgrade again, and nothing left for autogenerate."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from resolute.api import migrate
from resolute.api.db import create_engine
from resolute.api.models import Base
from resolute.api.settings import Settings
from tests.support import Backend, pg_create_database, pg_drop_database, pg_url, settings_for


@pytest.fixture
def fresh(backend: Backend, tmp_path) -> Iterator[Settings]:  # type: ignore[no-untyped-def]
    """An empty database of the backend's kind, just for this test."""
    if backend.name == "sqlite":
        yield settings_for(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
        return
    name = asyncio.run(pg_create_database())
    try:
        yield settings_for(pg_url(name))
    finally:
        asyncio.run(pg_drop_database(name))


async def _tables_and_diff(settings: Settings) -> tuple[set[str], list[object]]:
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata))
        return tables, diff
    finally:
        await engine.dispose()


def test_upgrade_downgrade_upgrade_and_no_drift(fresh: Settings) -> None:
    migrate.upgrade(fresh)
    tables, diff = asyncio.run(_tables_and_diff(fresh))
    assert {"units", "unit_kinds", "users", "grants"} <= tables
    assert diff == [], f"models and migrations differ: {diff}"
    migrate.downgrade(fresh, "base")
    tables, _ = asyncio.run(_tables_and_diff(fresh))
    assert tables <= {"alembic_version"}
    migrate.upgrade(fresh)
    tables, diff = asyncio.run(_tables_and_diff(fresh))
    assert {"units", "unit_kinds", "users", "grants"} <= tables and diff == []
