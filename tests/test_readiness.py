"""/readyz: ready only when the database answers at the migrations' head, and Redis when it is configured.

Each failure is made without touching the machine's shared servers: a SQLite file never migrated or migrated to
an older revision, a database URL and a Redis URL on a TCP port nothing listens on. The answer names what is wrong
in words and never the URL; /healthz stays 200 (the process is alive) throughout.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from resolute.api import migrate
from resolute.api.readiness import CHECK_SECONDS
from tests.support import Backend, running_app, settings_for


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def readyz(settings_url: str, **changes: object) -> tuple[int, dict[str, object], int]:
    settings = settings_for(settings_url).replace(**changes)
    async with running_app(settings, committing=True) as api:
        started = time.perf_counter()
        ready = await api.client.get("/readyz")
        elapsed = time.perf_counter() - started
        health = await api.client.get("/healthz")
        assert elapsed < 3 * CHECK_SECONDS + 2, f"/readyz took {elapsed:.1f} s"
        return ready.status_code, ready.json(), health.status_code


async def test_a_migrated_database_is_ready(backend: Backend) -> None:
    async with running_app(backend.settings, engine=backend.engine) as api:
        answer = await api.client.get("/readyz")
    assert (answer.status_code, answer.json()) == (200, {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}})
    assert answer.headers["cache-control"] == "no-store"


async def test_a_database_never_migrated_or_behind_is_not_ready(tmp_path: Path) -> None:
    empty = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    status, body, health = await readyz(empty)
    assert (status, health) == (503, 200)
    assert body == {"status": "not ready", "checks": {"database": "ok", "migrations": "not migrated: run `resolute migrate`"}}

    behind = f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}"
    await asyncio.to_thread(migrate.upgrade, settings_for(behind), "0006")  # alembic runs its own event loop
    status, body, _ = await readyz(behind)
    assert status == 503 and body["checks"]["migrations"].startswith("at 0006, the code expects "), body  # type: ignore[index, union-attr]

    await asyncio.to_thread(migrate.upgrade, settings_for(behind))
    status, body, _ = await readyz(behind)
    assert (status, body["status"]) == (200, "ready")


async def test_an_unreachable_database_or_redis_is_not_ready_and_the_url_is_not_told(tmp_path: Path) -> None:
    port = closed_port()
    url = f"postgresql+asyncpg://resolute:s3cret@127.0.0.1:{port}/nowhere"
    status, body, health = await readyz(url)
    assert (status, health) == (503, 200)
    checks = body["checks"]
    assert checks["database"].startswith("unreachable (") and checks["migrations"] == "unknown", body  # type: ignore[index, union-attr]
    assert "s3cret" not in str(body) and str(port) not in str(body)

    migrated = f"sqlite+aiosqlite:///{tmp_path / 'ok.db'}"
    await asyncio.to_thread(migrate.upgrade, settings_for(migrated))
    status, body, _ = await readyz(migrated, redis_url=f"redis://:s3cret@127.0.0.1:{closed_port()}/0")
    assert status == 503 and body["checks"]["redis"].startswith("unreachable ("), body  # type: ignore[index, union-attr]
    assert (body["checks"]["database"], body["checks"]["migrations"]) == ("ok", "ok") and "s3cret" not in str(body)  # type: ignore[index]


async def test_a_configured_redis_that_answers_is_ready(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.settimeout(1)
        if probe.connect_ex(("127.0.0.1", 6379)) != 0:
            pytest.skip("no Redis on 127.0.0.1:6379")
    migrated = f"sqlite+aiosqlite:///{tmp_path / 'ok.db'}"
    await asyncio.to_thread(migrate.upgrade, settings_for(migrated))
    status, body, _ = await readyz(migrated, redis_url="redis://127.0.0.1:6379/15")
    assert (status, body) == (200, {"status": "ready", "checks": {"database": "ok", "migrations": "ok", "redis": "ok"}})
