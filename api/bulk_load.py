"""Filling an empty table with many rows at once: its plain indexes are built after the rows, not kept up row by row.

This is what pg_restore does. Into an empty table, a b-tree built once from sorted rows costs a
fraction of a million single insertions, most of them into pages no longer in shared buffers:
the national progress reports take 7.4 s with their indexes kept up, 4.6 s with them built after
(bench/README.md). Only the indexes that no constraint owns are dropped (the primary key and the
unique constraints stay and keep checking), from their own definitions (`pg_get_indexdef`), and
rebuilt in the same transaction: a failure anywhere rolls the drop back with everything else.

Dropping an index locks its table (ACCESS EXCLUSIVE) until the transaction ends, so this is done
only where the table was empty (checked again once the lock is held), and only if the lock comes
within 2 s; readers of that table then wait until the import commits, instead of reading nothing.
Elsewhere (SQLite, a role that does not own the table, a table with rows, a reader holding it) the
rows are inserted with the indexes in place. A caller that swallowed an error raised inside the
block and committed would lose the indexes: the import never does, it is all or nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import Table, exists, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["indexes_after"]

_PLAIN = text("""
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid = CAST(:table AS regclass)
  AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)
ORDER BY 1
""")


@asynccontextmanager
async def indexes_after(session: AsyncSession, table: Table) -> AsyncIterator[bool]:
    """Around the statements that fill `table`: yields True if its plain indexes were dropped (they are
    built again on leaving), False if the rows go in with the indexes kept up."""
    dropped = await _drop_plain_indexes(session, table)
    yield bool(dropped)
    if dropped:
        await session.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))  # sorts a million keys in memory
        connection = await session.connection()
        for definition in dropped:
            await connection.exec_driver_sql(definition)  # as written: a ':' in a predicate is no parameter


async def _drop_plain_indexes(session: AsyncSession, table: Table) -> list[str]:
    """The definitions of the indexes dropped: none unless PostgreSQL, an empty table and a role that owns it."""
    if session.bind.dialect.name != "postgresql" or await session.scalar(select(exists().select_from(table))):
        return []
    indexes = (await session.execute(_PLAIN, {"table": table.name})).all()
    if not indexes:
        return []
    waited = await session.scalar(text("SELECT current_setting('lock_timeout')"))
    try:
        async with session.begin_nested():  # a role that may not drop them keeps them, and its transaction goes on
            # a reader that keeps the table open must not stall the import: then the rows go in with the indexes
            await session.execute(text("SET LOCAL lock_timeout = '2s'"))
            for name, _ in indexes:
                await session.execute(text(f"DROP INDEX {name}"))
            if await session.scalar(select(exists().select_from(table))):  # rows came in before the lock: keep them
                raise _NotEmpty
    except (DBAPIError, _NotEmpty):
        return []
    finally:
        await session.execute(text("SELECT set_config('lock_timeout', :waited, true)"), {"waited": waited})
    return [definition for _, definition in indexes]


class _NotEmpty(Exception):
    """The table had rows by the time its indexes were dropped: the drop is rolled back."""
