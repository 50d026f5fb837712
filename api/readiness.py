"""Readiness: whether this process can serve requests now (`/readyz`), as a load balancer or an orchestrator asks.

`/healthz` says the process is alive; `/readyz` says its dependencies answer: the database (a round trip within
a bound), its schema at the migrations' head (a process started before `resolute migrate` finished, or after a
newer release migrated further, must not take traffic), and Redis when the live events cross processes through it.
Each check says what it found in words, never a URL or a password; any failure answers 503.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from resolute.api.migrate import alembic_config
from resolute.api.settings import Settings

__all__ = ["CHECK_SECONDS", "head_revision", "readiness"]

CHECK_SECONDS = 2.0  # each dependency answers within this, or counts as down


def head_revision(settings: Settings) -> str | None:
    """The revision the shipped migrations end at."""
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


async def _database(sessions: async_sessionmaker[AsyncSession], head: str | None) -> tuple[str, str]:
    """(database check, migrations check)."""
    try:
        async with sessions() as session:
            await asyncio.wait_for(session.execute(text("SELECT 1")), CHECK_SECONDS)
            try:
                current = await asyncio.wait_for(session.scalar(text("SELECT version_num FROM alembic_version")), CHECK_SECONDS)
            except DBAPIError:  # no alembic_version table: never migrated
                return "ok", "not migrated: run `resolute migrate`"
    except asyncio.TimeoutError:
        return f"no answer within {CHECK_SECONDS:g} s", "unknown"
    except Exception as exc:  # refused, unknown host, bad credentials: the kind of failure, not its details
        return f"unreachable ({type(exc).__name__})", "unknown"
    if current != head:
        return "ok", f"at {current}, the code expects {head}: run `resolute migrate`"
    return "ok", "ok"


async def _redis(url: str) -> str:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url, socket_connect_timeout=CHECK_SECONDS, socket_timeout=CHECK_SECONDS)
    try:
        await asyncio.wait_for(client.ping(), CHECK_SECONDS)
        return "ok"
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"
    finally:
        await client.aclose()


async def readiness(settings: Settings, sessions: async_sessionmaker[AsyncSession], head: str | None) -> tuple[bool, dict[str, Any]]:
    """(ready, the body of /readyz)."""
    database, migrations = await _database(sessions, head)
    checks = {"database": database, "migrations": migrations}
    if settings.redis_url:
        checks["redis"] = await _redis(settings.redis_url)
    ready = all(value == "ok" for value in checks.values())
    return ready, {"status": "ready" if ready else "not ready", "checks": checks}
