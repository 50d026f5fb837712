"""PostgreSQL's reader pool (api.db.create_reader): the caller's account and the compiled reads, outside any
transaction, each statement planned once per connection; everything else on the request's session, as before.

A rolled-back test has no reader pool (its app reads through the one connection of the test, in its session),
so these tests commit, as production does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, literal
from sqlalchemy.exc import TimeoutError as PoolTimeout

from resolute.api.db import create_reader
from resolute.schema.compiled import catalog
from tests.support import Api, Backend, running_app, small_tree, small_users

pytestmark = pytest.mark.committing("the reader pool belongs to an app on its own engine, as in production")

UNITS = "query($first: Int!) { units(first: $first) { totalCount nodes { code name parent { code } } } }"
ME = "{ me { user { username } unit { code } } }"
GRANTS = '{ users(filter: {search: "p01.manager"}) { nodes { grants { id } } } }'
ROLE_REVOKE = "mutation($input: RoleRevokeInput!) { roleRevoke(input: $input) { revokedGrantId errors { code } } }"
USER_DEACTIVATE = "mutation($input: UserDeactivateInput!) { userDeactivate(input: $input) { user { active } errors { code } } }"


@pytest.fixture
async def tree(api: Api, backend: Backend) -> Api:
    if backend.name != "postgresql":
        pytest.skip("the reader pool is PostgreSQL's: on SQLite the request's session reads")
    assert api.reader is not None
    await api.seed(small_tree(), small_users())
    for username in ("admin", "p01.admin", "p01.manager"):
        await api.token_for(username)  # (minted with a statement of the test's own)
    return api


class Watch:
    """What each pool runs: (pool, first word of the statement, whether the connection was inside a transaction),
    and how often the sessions' pool handed out a connection."""

    def __init__(self, api: Api) -> None:
        self.seen: list[tuple[str, str, bool]] = []
        self.session_checkouts = 0
        assert api.reader is not None
        event.listen(api.engine.sync_engine, "after_cursor_execute", self._statement("sessions"))
        event.listen(api.reader.sync_engine, "after_cursor_execute", self._statement("reads"))
        event.listen(api.engine.sync_engine, "checkout", self._checkout)

    def _statement(self, pool: str) -> Callable[..., None]:
        def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            # asyncpg's own view of the connection once the statement ran: in a transaction after a BEGIN (which asyncpg sends just before)
            self.seen.append((pool, statement.split(None, 1)[0].upper(), conn.connection.driver_connection.is_in_transaction()))
        return seen

    def _checkout(self, *args: Any) -> None:
        self.session_checkouts += 1

    def reset(self) -> None:
        self.seen.clear()
        self.session_checkouts = 0


async def test_a_compiled_read_is_two_statements_outside_any_transaction(tree: Api) -> None:
    watch = Watch(tree)
    body = await tree.data(UNITS, {"first": 3}, as_user="p01.manager")
    assert body["units"]["totalCount"] == 4
    assert watch.seen == [("reads", "SELECT", False), ("reads", "SELECT", False)]  # the caller's account, the read: no BEGIN, no SET
    assert watch.session_checkouts == 0  # the request's session was never opened


async def test_the_executor_still_reads_in_a_transaction_on_the_session(tree: Api) -> None:
    watch = Watch(tree)
    body = await tree.data(ME, as_user="p01.manager")
    assert body["me"] == {"user": {"username": "p01.manager"}, "unit": {"code": "P01"}}
    assert watch.seen[0] == ("reads", "SELECT", False)  # authentication
    rest = watch.seen[1:]
    assert rest and all(pool == "sessions" and in_transaction for pool, _, in_transaction in rest), watch.seen
    assert watch.session_checkouts == 1


async def test_the_reader_plans_once_and_the_sessions_as_postgresql_chooses(tree: Api) -> None:
    assert tree.reader is not None
    await tree.data(UNITS, {"first": 3}, as_user="admin")
    async with tree.reader.connect() as connection:
        assert (await connection.exec_driver_sql("SHOW plan_cache_mode")).scalar() == "force_generic_plan"
        assert (await connection.exec_driver_sql("SHOW jit")).scalar() == "off"  # the pools' other settings are the same
    async with tree.engine.connect() as connection:
        assert (await connection.exec_driver_sql("SHOW plan_cache_mode")).scalar() == "auto"


async def test_a_revocation_and_a_deactivation_count_from_the_next_request(tree: Api) -> None:
    """The caller's account is read on every request, on the reader as before on the session: what another
    request committed just before is seen (read committed), compiled read or not."""
    assert (await tree.data(UNITS, {"first": 10}, as_user="p01.manager"))["units"]["totalCount"] == 4
    grant = (await tree.data(GRANTS, as_user="p01.admin"))["users"]["nodes"][0]["grants"][0]["id"]
    revoked = await tree.data(ROLE_REVOKE, {"input": {"grantId": grant}}, as_user="p01.admin")
    assert revoked["roleRevoke"] == {"revokedGrantId": grant, "errors": []}
    assert (await tree.data(UNITS, {"first": 10}, as_user="p01.manager"))["units"]["totalCount"] == 0
    manager = (await tree.data('{ users(filter: {search: "p01.manager"}) { nodes { id } } }', as_user="p01.admin"))["users"]["nodes"][0]["id"]
    deactivated = await tree.data(USER_DEACTIVATE, {"input": {"id": manager}}, as_user="p01.admin")
    assert deactivated["userDeactivate"] == {"user": {"active": False}, "errors": []}
    refused = await tree.client.post("/graphql", json={"query": UNITS, "variables": {"first": 10}},
                                     headers={"Authorization": f"Bearer {await tree.token_for('p01.manager')}"})
    assert refused.status_code == 401


async def test_the_reader_answers_what_the_executor_answers(tree: Api) -> None:
    """The same bytes from an app that compiles nothing, over the same committed data, for several callers and shapes."""
    documents: list[tuple[str, dict[str, Any]]] = [
        (UNITS, {"first": 5}),
        ("query($c: String!) { unit(code: $c) { code kind children(first: 2) { totalCount nodes { code } } } }", {"c": "P01"}),
        ("query($skip: Boolean!) { a: units(first: 2) { nodes { ...U __typename } } b: units(first: 1) @skip(if: $skip) { totalCount } }"
         + " fragment U on Unit { code parent { code } }", {"skip": False}),
        ("{ __typename units(first: 0) { totalCount nodes { code } } }", {}),
    ]
    async with running_app(tree.settings.replace(compiled_reads=False), committing=True) as executor:
        executor.tokens.update(tree.tokens)
        for username in ("admin", "p01.manager", "p01.admin"):
            for document, variables in documents:
                headers = {"Authorization": f"Bearer {tree.tokens[username]}"}
                ours = await tree.client.post("/graphql", json={"query": document, "variables": variables}, headers=headers)
                theirs = await executor.client.post("/graphql", json={"query": document, "variables": variables}, headers=headers)
                assert ours.status_code == theirs.status_code == 200
                assert ours.content == theirs.content, (username, document)


async def test_a_failing_statement_on_the_reader_is_answered_by_the_executor_and_its_connection_dropped(
    tree: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tree.reader is not None
    query = "{ units(first: 5) { totalCount nodes { code } } }"
    expected = await tree.data(query, as_user="p01.manager")
    monkeypatch.setitem(catalog.ROOTS, "units", lambda compiler, field: literal(1) / literal(0))
    invalidated: list[Any] = []
    event.listen(tree.reader.sync_engine, "invalidate", lambda *args: invalidated.append(args))
    body = await tree.gql(query + " ", as_user="p01.manager")  # another text: compiled afresh, and failing in PostgreSQL
    assert not body.get("errors") and body["data"] == expected
    assert len(invalidated) == 1  # not handed to the next request: it may still be busy with the failed statement
    monkeypatch.undo()
    assert await tree.data(query, as_user="p01.manager") == expected
    assert tree.reader.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_the_reader_pool_serves_waiting_requests_first_come_first_served(backend: Backend) -> None:
    """SQLAlchemy's asyncio pool lets a newcomer take a connection given back for a request already waiting; at
    32 concurrent requests some waited seconds. The reader's gate (api.db.Reader) queues the newcomer behind them."""
    if backend.name != "postgresql":
        pytest.skip("the reader pool is PostgreSQL's")
    reader = create_reader(backend.settings.replace(db_read_pool_size=1, db_max_overflow=0, db_pool_timeout=0.5))
    assert reader is not None
    order: list[str] = []

    async def take(name: str) -> None:
        connection = await reader.connect()
        order.append(name)
        await connection.close()
        reader.release()

    try:
        first = await reader.connect()
        waiting = [asyncio.create_task(take(name)) for name in ("a", "b", "c")]
        await asyncio.sleep(0.05)  # all three wait for the one place
        assert reader.gate.waiting == 3
        late = asyncio.create_task(take("late"))  # scheduled before the connection and its place are given back: it runs first
        await first.close()
        reader.release()
        await asyncio.gather(*waiting, late)
        assert order == ["a", "b", "c", "late"] and reader.gate.free == 1 and reader.gate.waiting == 0
        held = await reader.connect()
        with pytest.raises(PoolTimeout):  # a request that finds no place within the pool's timeout: 503, as for the sessions' pool
            await reader.connect()
        await held.close()
        reader.release()
    finally:
        await reader.dispose()


async def test_a_websocket_authenticated_at_its_upgrade_keeps_no_reader_place(tree: Api) -> None:
    """Authentication reads the caller on the reader pool for a websocket too; the connection lives long, so it
    gives its place back at once (else twenty open sockets would leave every request waiting for one)."""
    assert tree.reads is not None and tree.reader is not None
    app = tree.client._transport.app  # type: ignore[attr-defined]  # the ASGI app behind the test's client
    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await incoming.put({"type": "websocket.connect"})
    accepted = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.accept":
            accepted.set()

    scope = {
        "type": "websocket", "asgi": {"version": "3.0"}, "scheme": "ws", "path": "/graphql", "raw_path": b"/graphql", "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("resolute.test", 80), "subprotocols": ["graphql-transport-ws"],
        "headers": [(b"host", b"resolute.test"), (b"authorization", f"Bearer {await tree.token_for('p01.manager')}".encode()),
                    (b"sec-websocket-protocol", b"graphql-transport-ws")],
    }  # fmt: skip
    served = asyncio.create_task(app(scope, incoming.get, send))
    try:
        await asyncio.wait_for(accepted.wait(), 5)
        assert tree.reads.gate.free == tree.reads.gate.places and tree.reader.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await incoming.put({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(served, 5)


async def test_the_sessions_pool_is_gated_too(backend: Backend) -> None:
    """Requests that read through their session (the executor's) take a place at the sessions' gate while they
    hold a session: with one connection for all, eight at once are all answered, and every place comes back (the
    gate's order is the reader test's above: the same class)."""
    if backend.name != "postgresql":
        pytest.skip("the gates are PostgreSQL's pools'")
    await backend.reset()
    places = 1
    settings = backend.settings.replace(db_pool_size=places, db_max_overflow=0, db_read_pool_size=places, db_pool_timeout=5)
    async with running_app(settings, committing=True) as api:
        await api.seed(small_tree(), small_users())
        assert api.gate is not None and api.reads is not None
        users = ("admin", "p01.admin", "p01.manager", "p02.admin") * 2
        answers = await asyncio.gather(*(api.gql(ME, as_user=user) for user in users))
        assert [a["data"]["me"]["user"]["username"] for a in answers] == list(users)
        assert api.gate.free == api.gate.places == places and api.gate.waiting == 0
        assert api.reads.gate.free == api.reads.gate.places == places
        metrics = (await api.client.get("/metrics")).text
        assert 'resolute_db_pool_connections{pool="sessions",state="waiting"} 0.0' in metrics
