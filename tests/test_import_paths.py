"""The fast paths of a bulk import on PostgreSQL give the database the slow ones give.

As a role that may (a superuser here), the merges hold and check the big files' references set-wise
instead of PostgreSQL's per-row triggers (api/interchange/references.py), and a table that was empty
gets its plain indexes built after its rows (api/bulk_load.py). As a role that may neither, the same
files import to the same rows, with the per-row checks and the indexes kept up.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.cli import main
from resolute.api.db import session_factory
from resolute.api.interchange import references
from resolute.api.interchange.reader import InterchangeError
from resolute.api.org.models import Unit
from tests.support import Api, Backend
from tests.test_import_cycle import counts
from tests.test_progress_summaries import check as summaries_equal_a_recomputation

pytestmark = pytest.mark.committing(
    "`resolute import` runs on its own connection, in a thread: it must see the test's data, and the test its writes"
)

SMALL = {"assignments": 2691, "progress_reports": 3775, "measurements": 1330, "tasks": 827}  # the small data set's rows


async def index_definitions(api: Api) -> set[str]:
    """Every index of the schema, as the database would create it again."""
    async with api.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            rows = await conn.execute(text("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'"))
        else:
            rows = await conn.execute(text("SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
        return {row[0] for row in rows}


async def index_ids(api: Api) -> dict[str, int]:
    """Each index of the big tables by name, with the id PostgreSQL gave it (a rebuilt index has a new one)."""
    async with api.engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT indexrelid::regclass::text, indexrelid::int FROM pg_index"
            " WHERE indrelid IN ('assignments'::regclass, 'progress_reports'::regclass, 'measurements'::regclass, 'progress_summaries'::regclass)"
        ))  # fmt: skip
        return {name: oid for name, oid in rows}


async def test_a_first_import_leaves_every_index_as_migrated(api: Api, env: None, small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    migrated = await index_definitions(api)
    before = await index_ids(api) if api.engine.dialect.name == "postgresql" else {}
    assert await asyncio.to_thread(main, ["import", str(small)]) == 0
    err = capsys.readouterr().err
    assert await index_definitions(api) == migrated
    if before:  # built after the rows: the plain ones are new, the constraints' the same
        after = await index_ids(api)
        assert after.keys() == before.keys()
        assert {name for name in before if after[name] != before[name]} == {name for name in before if name.startswith("ix_")}
    found = await counts(api)
    assert {table: found[table] for table in SMALL} == SMALL
    await summaries_equal_a_recomputation(api, "a first import, its indexes built after the rows")
    set_wise = "held and checked set-wise" in err
    assert set_wise == (api.engine.dialect.name == "postgresql"), err  # the tests' PostgreSQL role is a superuser


@pytest.fixture
async def plain_role(backend: Backend, api: Api) -> AsyncIterator[str]:
    """A login role that may read and write every table and move every sequence, but owns none and may not set
    session_replication_role (dropped after the test)."""
    if backend.name != "postgresql":
        pytest.skip("roles are PostgreSQL's")
    role = f"resolute_plain_{secrets.token_hex(4)}"
    async with api.engine.begin() as conn:
        await conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        await conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
        await conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"))
        await conn.execute(text(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}"))
    yield role
    async with api.engine.begin() as conn:
        await conn.execute(text(f"DROP OWNED BY {role}"))
        await conn.execute(text(f"DROP ROLE {role}"))


async def test_a_role_that_may_not_skip_the_checks_imports_the_same(
    api: Api, backend: Backend, env: None, small: Path, plain_role: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    migrated = await index_definitions(api)
    monkeypatch.setenv("RESOLUTE_DATABASE_URL", backend.url.replace("://postgres@", f"://{plain_role}@", 1))
    assert await asyncio.to_thread(main, ["import", str(small)]) == 0
    err = capsys.readouterr().err
    assert "set-wise" not in err, err
    assert await index_definitions(api) == migrated
    found = await counts(api)
    assert {table: found[table] for table in SMALL} == SMALL
    await summaries_equal_a_recomputation(api, "imported by a plain role, with the per-row checks")


async def test_a_reference_gone_since_it_was_checked_refuses_the_import(api: Api, backend: Backend) -> None:
    """What the per-row triggers would have caught: a staged row names a unit that is not there (deleted by hand
    after the importer read the codes); the rows that are there are held until the transaction ends."""
    if backend.name != "postgresql":
        pytest.skip("the set-wise checks replace PostgreSQL's per-row triggers")
    async with api.engine.begin() as conn:
        root = await conn.scalar(
            text(
                "INSERT INTO units (code, name, search_name, kind, path, depth) VALUES ('TW', 'Trung ương', 'trung uong', 'central', '/', 1) RETURNING id"
            )
        )
    staged = Table("staged_units", MetaData(), Column("unit_id", Integer))
    named, key = select(staged.c.unit_id), Unit.__table__.c.id
    async with session_factory(api.engine)() as session, api.engine.connect() as other:
        await session.execute(text("CREATE TEMPORARY TABLE staged_units (unit_id integer) ON COMMIT DROP"))
        await session.execute(text("INSERT INTO staged_units VALUES (:root), (:root), (NULL)"), {"root": root})
        await references.hold(session, key, named)
        await references.all_there(session, "assignments.csv", key, named)  # one unit, named twice, and an empty reference: all there
        with pytest.raises(DBAPIError, match="could not obtain lock"):  # as a DELETE of it would: held until the import ends
            await other.execute(text("SELECT id FROM units WHERE id = :root FOR UPDATE NOWAIT"), {"root": root})
        await session.execute(text("INSERT INTO staged_units VALUES (:gone)"), {"gone": root + 1000})
        with pytest.raises(InterchangeError, match="assignments.csv: 1 of the units it refers to were deleted while importing"):
            await references.all_there(session, "assignments.csv", key, named)
        await session.rollback()


async def test_a_unit_deleted_during_the_import_refuses_it(
    api: Api, backend: Backend, env: None, small: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The set-wise checks look at the rows the import wrote: a unit an imported assignment names, deleted while the
    per-row triggers are off (here by the import's own transaction, the moment before the checks), refuses it."""
    if backend.name != "postgresql":
        pytest.skip("the set-wise checks replace PostgreSQL's per-row triggers")
    turn_on = references.row_checks_on

    async def delete_a_unit_first(session: AsyncSession) -> None:
        await session.execute(text("DELETE FROM units WHERE id = (SELECT max(assignee_unit_id) FROM assignments)"))
        await turn_on(session)

    monkeypatch.setattr(references, "row_checks_on", delete_a_unit_first)
    before = await counts(api)
    assert await asyncio.to_thread(main, ["import", str(small)]) == 1
    assert "assignments.csv: 1 of the units it refers to were deleted while importing" in capsys.readouterr().err
    assert await counts(api) == before
