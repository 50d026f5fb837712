"""The write transaction of one mutation: begin, work, chain its audit events, commit.

On SQLite it starts with BEGIN IMMEDIATE, so concurrent writers queue for the write lock
instead of reading stale rows; on PostgreSQL services take row locks (and the tree and audit
chain advisory locks) where they need them. Any exception rolls everything back, audit
events included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.access.scope import Principal
from resolute.api.audit.chain import append_pending, discard_pending

__all__ = ["write_transaction"]


@asynccontextmanager
async def write_transaction(
    session: AsyncSession, *, actor: Principal | None = None, request_id: str | None = None
) -> AsyncIterator[AsyncSession]:
    if session.in_transaction():
        await session.rollback()  # ends the read-only transaction and expires what it loaded: reread fresh
    discard_pending(session)
    await session.connection(execution_options={"resolute_write": True})
    try:
        yield session
        await append_pending(
            session,
            actor_id=actor.user_id if actor else None,
            actor_username=actor.username if actor else None,
            request_id=request_id,
        )
        await session.commit()
    except BaseException:
        discard_pending(session)
        await session.rollback()
        raise
