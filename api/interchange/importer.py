"""Importing an interchange directory: the tree and accounts, then the working cycle, in one transaction."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from resolute.api.access.policy import Policy
from resolute.api.interchange.cycle import load_cycle
from resolute.api.interchange.loader import load_bundle
from resolute.api.interchange.reader import read_dir
from resolute.api.transaction import Tx, operation

__all__ = ["import_directory"]


@operation("import")
async def import_directory(tx: Tx, *, directory: Path, policy: Policy) -> list[str]:
    """All or nothing, in one unit of work; returns the report's lines. Raises InterchangeError,
    having written nothing."""
    session = tx.session
    if session.bind.dialect.name == "postgresql":
        # A national import copies millions of rows: the API's per-statement timeout is not for it.
        await session.execute(text("SET LOCAL statement_timeout = 0"))
    bundle = read_dir(directory)
    tree = await load_bundle(session, bundle, policy)
    cycle = await load_cycle(session, directory)
    return tree.lines() + cycle.lines()
