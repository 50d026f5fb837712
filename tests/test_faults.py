"""Faults, on PostgreSQL behind a TCP proxy of the test's own (tests/tcp_proxy.py; the shared server is never
touched): the database stopped then back (503 SERVICE_UNAVAILABLE quickly, then served again without a restart),
a connection cut mid-mutation (an error, nothing half-written, a retry writes once), the pool exhausted
(SERVICE_UNAVAILABLE after the pool wait), and a database that stops answering mid-statement (504 TIMEOUT at the
deadline, its connection handed back)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.support import Api, Backend, running_app, small_tree, small_users
from tests.tcp_proxy import TcpProxy

UNITS = "{ units(first: 3) { totalCount nodes { code } } }"  # compiled (schema/compiled): the reader pool's alone on PostgreSQL
ME = "{ me { user { username } unit { code } } }"  # the executor's: the session's pool too
CREATE = "mutation($i: UnitCreateInput!) { unitCreate(input: $i) { unit { code } errors { field code } } }"
COUNT = '{ units(first: 0, filter: {search: "P01-X7"}) { totalCount } } '
CREATE_EVENTS = '{ auditEvents(first: 5, filter: {action: "unitCreate"}) { totalCount } }'
DEADLINE = 2.5
POOL_WAIT = 0.5


@pytest.fixture
async def faulty(backend: Backend) -> AsyncIterator[tuple[Api, TcpProxy]]:
    if backend.name != "postgresql":
        pytest.skip("fault tests need PostgreSQL behind a proxy")
    await backend.reset()
    url = make_url(backend.url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    settings = backend.settings.replace(
        database_url=url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
        db_pool_size=2, db_read_pool_size=2, db_max_overflow=0, db_pool_timeout=POOL_WAIT, db_connect_timeout=1, request_timeout_seconds=DEADLINE,
        db_statement_timeout_ms=1200,
    )
    try:
        async with running_app(settings, committing=True) as api:
            await api.seed(small_tree(), small_users())
            for user in ("admin", "p01.admin"):
                await api.token_for(user)
            yield api, proxy
    finally:
        proxy.release()
        await proxy.stop()


async def timed(api: Api, query: str, variables: dict[str, Any] | None = None, user: str = "admin") -> tuple[dict[str, Any], float, Any]:
    start = time.monotonic()
    response = await api.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers={"Authorization": f"Bearer {await api.token_for(user)}"})
    body = response.json()
    body["_status"] = response.status_code
    return body, time.monotonic() - start, response.headers


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


async def test_a_stopped_database_answers_503_quickly_and_is_served_again_when_it_returns(faulty: tuple[Api, TcpProxy]) -> None:
    api, proxy = faulty
    assert (await timed(api, UNITS))[0]["_status"] == 200
    await proxy.stop()
    for _ in range(3):
        body, elapsed, headers = await timed(api, UNITS)
        assert body["_status"] == 503 and codes(body) == ["SERVICE_UNAVAILABLE"], body
        assert elapsed < 2 and headers["retry-after"] == "5" and headers["x-request-id"]
    login = await api.client.post("/auth/token", json={"username": "admin", "password": "x" * 12})
    assert login.status_code == 503 and login.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert (await api.client.get("/healthz")).status_code == 200
    assert (await api.client.get("/readyz")).status_code == 503
    await proxy.start()
    body, _, _ = await timed(api, UNITS)
    assert body["_status"] == 200 and body["data"]["units"]["totalCount"] > 0, body
    assert (await api.client.get("/readyz")).status_code == 200


async def test_after_a_restart_the_first_request_is_served(faulty: tuple[Api, TcpProxy]) -> None:
    """The database goes away and comes back between two requests: the pool's connections, closed by then, are
    replaced at checkout (api.db's check of the socket, not a ping round trip), so no request sees them."""
    api, proxy = faulty
    assert api.reader is not None
    # both connections of each pool are open: a compiled read takes the reader's, `me` (the executor's) the session's too
    warm = await asyncio.gather(*(timed(api, query, user=user) for query in (UNITS, ME) for user in ("admin", "p01.admin")))
    assert [body["_status"] for body, _, _ in warm] == [200] * 4
    assert api.engine.pool.checkedin() == 2 and api.reader.pool.checkedin() == 2  # type: ignore[attr-defined]
    await proxy.stop()
    await proxy.start()
    await asyncio.sleep(0.2)  # the event loop sees the closed sockets
    for user in ("admin", "p01.admin", "admin"):
        body, _, _ = await timed(api, UNITS, user=user)
        assert body["_status"] == 200 and body["data"]["units"]["totalCount"] > 0, body
        body, _, _ = await timed(api, ME, user=user)
        assert body["_status"] == 200 and body["data"]["me"]["user"]["username"] == user and body["data"]["me"]["unit"]["code"], body


async def test_a_connection_cut_mid_mutation_writes_nothing_and_a_retry_writes_once(faulty: tuple[Api, TcpProxy]) -> None:
    api, proxy = faulty
    parent = (await api.data('{ units(first: 1, filter: {search: "P01"}) { nodes { id } } }', as_user="admin"))["units"]["nodes"][0]["id"]
    new = {"i": {"parentId": parent, "code": "P01-X7", "name": "Xã Mới", "kind": "commune"}}
    proxy.cut_on = b"INSERT INTO units"
    body, _, _ = await timed(api, CREATE, new)
    assert proxy.cuts == 1
    assert body["_status"] in (200, 503) and "SERVICE_UNAVAILABLE" in codes(body), body
    assert (await api.data(COUNT, as_user="admin"))["units"]["totalCount"] == 0
    assert (await api.data(CREATE_EVENTS, as_user="admin"))["auditEvents"]["totalCount"] == 0
    again = await api.data(CREATE, new, as_user="admin")
    assert again["unitCreate"] == {"unit": {"code": "P01-X7"}, "errors": []}
    assert (await api.data(COUNT, as_user="admin"))["units"]["totalCount"] == 1
    assert (await api.data(CREATE_EVENTS, as_user="admin"))["auditEvents"]["totalCount"] == 1


async def test_a_database_that_stops_answering_times_out_and_the_pool_recovers(faulty: tuple[Api, TcpProxy]) -> None:
    """Two requests hang mid-statement and hold the pool's two connections: a third waits for the pool and gets
    SERVICE_UNAVAILABLE; the two end at the deadline with TIMEOUT; once the database answers, so does the app."""
    api, proxy = faulty
    assert api.reader is not None
    warm = await asyncio.gather(*(timed(api, query, user=user) for query in (UNITS, ME) for user in ("admin", "p01.admin")))  # both pools' two connections are open
    assert [body["_status"] for body, _, _ in warm] == [200] * 4
    assert api.engine.pool.checkedin() == 2 and api.reader.pool.checkedin() == 2  # type: ignore[attr-defined]
    metrics = (await api.client.get("/metrics")).text  # the pools as /metrics reports them
    for pool in ("sessions", "reads"):
        assert f'resolute_db_pool_connections{{pool="{pool}",state="idle"}} 2.0' in metrics, metrics
        assert f'resolute_db_pool_connections{{pool="{pool}",state="checked_out"}} 0.0' in metrics, metrics
    proxy.hold()  # the two hanging requests hold the reader pool's two connections (authentication reads there)
    hanging = [asyncio.create_task(timed(api, UNITS, user=user)) for user in ("admin", "p01.admin")]
    await asyncio.sleep(0.3)
    body, elapsed, _ = await timed(api, UNITS)
    assert body["_status"] == 503 and codes(body) == ["SERVICE_UNAVAILABLE"] and elapsed < DEADLINE, (body, elapsed)
    for task in hanging:
        body, elapsed, _ = await task
        assert body["_status"] == 504 and codes(body) == ["TIMEOUT"], body
        # (over HTTP the 504 leaves at the deadline; in-process, httpx returns once the cut-off work has dropped its
        # connection, which SQLAlchemy gives two seconds to close gracefully)
        assert DEADLINE - 0.1 <= elapsed < DEADLINE + 3.5, elapsed
    proxy.release()
    pools = (api.engine.pool, api.reader.pool)  # type: ignore[attr-defined]
    for _ in range(50):  # the cut-off connections are dropped or handed back
        if all(pool.checkedout() == 0 for pool in pools):
            break
        await asyncio.sleep(0.1)
    assert [pool.checkedout() for pool in pools] == [0, 0]
    assert api.reads is not None and api.gate is not None
    for gate in (api.reads.gate, api.gate):  # every place given back, at the reader's gate and the sessions'
        assert gate.free == gate.places == 2 and gate.waiting == 0
    for _ in range(3):
        body, _, _ = await timed(api, UNITS)
        assert body["_status"] == 200 and body["data"]["units"]["nodes"], body
