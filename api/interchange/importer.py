"""Importing an interchange directory: the tree and accounts, then the working cycle, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from resolute.api.access.policy import Policy
from resolute.api.interchange.cycle import load_cycle
from resolute.api.interchange.loader import load_bundle
from resolute.api.interchange.progress import Progress
from resolute.api.interchange.reader import read_dir
from resolute.api.monitoring import summaries
from resolute.api.transaction import Tx, operation

__all__ = ["VACUUMED", "import_directory", "vacuum"]


# the tables a bulk import fills: VACUUM marks their pages all-visible, which index-only scans need
VACUUMED = ("units", "tasks", "assignments", "progress_reports", "measurements", "progress_summaries", "progress_totals")


async def vacuum(engine: AsyncEngine) -> bool:
    """VACUUM (ANALYZE) the tables an import filled, after it committed (PostgreSQL; False elsewhere). Until
    autovacuum gets there, the summaries' index-only scans visit the table for every row: a national
    province's dashboard answered in 237 ms just after an import and in 93 ms after a VACUUM (bench/README.md)."""
    if engine.dialect.name != "postgresql":
        return False
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")  # VACUUM cannot run in a transaction
        await conn.execute(text("SET statement_timeout = 0"))
        await conn.execute(text(f"VACUUM (ANALYZE) {', '.join(VACUUMED)}"))
    return True


@operation("import")
async def import_directory(tx: Tx, *, directory: Path, policy: Policy, progress: Callable[[str], None] | None = None) -> list[str]:
    """All or nothing, in one unit of work; returns the report's lines, and tells `progress` how each
    phase went as it ends (one line each). Raises InterchangeError, having written nothing."""
    session = tx.session
    step = Progress(progress)
    if session.bind.dialect.name == "postgresql":
        # A national import copies millions of rows: the API's per-statement timeout is not for it.
        await session.execute(text("SET LOCAL statement_timeout = 0"))
        # Room to sort and hash a million staged rows in memory (the default 4 MB spills them to disk).
        await session.execute(text("SET LOCAL work_mem = '256MB'"))
    # Summaries are rebuilt once at the end, not row by row by their triggers (PostgreSQL; SQLite runs them).
    rebuilt = await summaries.deferred(session)
    bundle = read_dir(directory)
    step(f"units.csv, users.csv: {len(bundle.units):,} units and {len(bundle.users):,} users read")
    tree = await load_bundle(session, bundle, policy)
    del bundle  # the records of 200,000 units and users need not outlive their writing
    step(f"tree: {tree.units_created:,} units created, {tree.units_updated:,} updated; {tree.users_created:,} users created, {tree.users_updated:,} updated")
    cycle = await load_cycle(session, directory, today=tx.today, progress=step)
    if rebuilt and (tree.units_created or tree.units_updated or cycle.changed()):
        await summaries.rebuild(session)
        await session.execute(text("ANALYZE progress_summaries"))
        step("progress summaries rebuilt, ANALYZE")
    return tree.lines() + cycle.lines()
