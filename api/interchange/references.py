"""The big files' references, checked once per set instead of once per row by PostgreSQL's triggers.

An inserted assignment fires four foreign-key triggers, each a lookup that locks the row it finds
(FOR KEY SHARE): at national scale, 33 s of a 113 s import went to them (bench/README.md), although
the importer has already checked every reference (in Python against the stored codes, or by the
join that gives the id). Where the importing role may set `session_replication_role` (a superuser,
or a role granted `SET ON PARAMETER session_replication_role`, PostgreSQL 15), the merges run with
`replica`, which skips those triggers, and then do what they would have done, set-wise: for each
reference of the rows the import wrote, one statement locks the rows they name (FOR KEY SHARE, so
that nothing deletes them before this transaction ends) and one checks that every one is there.
A row deleted by hand since the importer looked it up refuses the import, as the trigger would
have. A role without that right keeps the per-row triggers; SQLite runs them as before.

`replica` also skips the summaries' triggers, which the import has deferred anyway (it rebuilds the
summaries once at the end), and is set back to `origin` before that rebuild.
"""

from __future__ import annotations

from sqlalchemy import Column, ColumnElement, Select, Subquery, func, literal, select, text, union
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.interchange.reader import InterchangeError, Problem

__all__ = ["all_there", "hold", "row_checks_off", "row_checks_on"]


async def row_checks_off(session: AsyncSession) -> bool:
    """Skip the per-row triggers until `row_checks_on`, if this role may; True if it did. The caller then
    `hold`s and checks (`all_there`) every reference of the rows it wrote before the transaction commits."""
    if session.bind.dialect.name != "postgresql":
        return False
    try:
        async with session.begin_nested():  # a refused SET must not abort the import's transaction
            await session.execute(text("SET LOCAL session_replication_role = replica"))
    except DBAPIError:
        return False
    return True


async def row_checks_on(session: AsyncSession) -> None:
    await session.execute(text("SET LOCAL session_replication_role = origin"))


async def hold(session: AsyncSession, key: Column, *named: Select, mine: ColumnElement[bool] | None = None) -> None:
    """Lock the rows whose `key` one of the `named` selects names, FOR KEY SHARE as the triggers would have, in
    one statement: nothing can delete them before this transaction ends. Rows `mine` says this import inserted
    need no lock (no one else sees them), and locking them would write every one again: 8 s for the national
    reports' assignments."""
    wanted = _wanted(*named)
    held = select(literal(1)).where(key.in_(select(wanted.c[0])))
    if mine is not None:
        held = held.where(~mine)
    held = held.with_for_update(read=True, key_share=True)
    await session.execute(select(func.count()).select_from(held.subquery()))


async def all_there(session: AsyncSession, file: str, key: Column, *named: Select) -> None:
    """Refuse the import if a row that `named` names is not there (after `hold`: deleted by hand since the
    importer looked it up; the API deletes no unit, user, task, KPI or assignment)."""
    wanted = _wanted(*named)
    counted = select(func.count(), func.count(key)).select_from(wanted.outerjoin(key.table, key == wanted.c[0]))
    expected, found = (await session.execute(counted)).one()
    if found != expected:
        table = key.table.name  # type: ignore[attr-defined]
        raise InterchangeError([Problem(file, 0, f"{expected - found} of the {table} it refers to were deleted while importing")])


def _wanted(*named: Select) -> Subquery:
    """The distinct values the selects name, nulls (rows staged with a problem, or an empty reference) left out."""
    kept = [query.where(query.selected_columns[0].is_not(None)) for query in named]
    return (union(*kept) if len(kept) > 1 else kept[0].distinct()).subquery()
