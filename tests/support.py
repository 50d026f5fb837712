"""Test support: databases per backend, the app over HTTP, and quick ways to build trees and users.

Everything a test asserts goes through the real stack: HTTP -> auth -> GraphQL -> services ->
a real SQLite or PostgreSQL database. Fixtures may seed data through the importer (a real
code path too), never through a mocked session.

A test's writes are rolled back, not truncated (see `running_app`): the test runs on one
connection inside one outer transaction, every session of the app and of the test joins it with a
SAVEPOINT of its own (so a unit of work's commit or rollback is a RELEASE or a ROLLBACK TO that
savepoint), and the outer transaction is rolled back at the end. A test that needs its writes
really committed (another connection, thread or process must see them, or requests must run
concurrently) is marked `@pytest.mark.committing("why")` and gets the app on its own engine as
in production; the next test finds the database dirty and empties it first.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import event, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as AsgiScope

from resolute.api import migrate
from resolute.api.access.policy import load_policy
from resolute.api.accounts.models import User
from resolute.api.auth.passwords import hash_password
from resolute.api.auth.tokens import issue_token
from resolute.api.db import Gate, Reader, create_engine, session_factory
from resolute.api.interchange.loader import ImportReport, load_bundle
from resolute.api.interchange.reader import Bundle, UnitRecord, UserRecord
from resolute.api.models import KeyResult, Kpi, Measurement, Milestone, Objective, Resolution, Task, Unit
from resolute.api.org.models import DEFAULT_KINDS
from resolute.api.settings import Settings
from resolute.api.transaction import Tx, UnitOfWork
from resolute.schema.ids import decode_any
from resolute.schema.server import create_app

PG_ADMIN_URL = os.environ.get("RESOLUTE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "correct horse battery"
TABLES = ("data_returns", "data_approvals", "plan_revisions", "notification_outbox", "notifications", "worker_leases", "review_adjustments", "review_confidences", "reviews", "published_results", "decomposition_targets", "target_decompositions", "evaluations", "extensions", "progress_reports", "milestones", "task_coordinators", "assignments", "tasks", "measurement_revisions", "measurements", "kpi_unit_targets", "kpi_coordinators", "kpis", "key_results", "objectives", "resolutions", "idempotency_keys", "audit_events", "refresh_tokens", "auth_sessions", "grants", "users", "units", "progress_summaries", "progress_totals")  # children first; the summaries last (SQLite's deletes of assignments run their triggers first)


def settings_for(database_url: str) -> Settings:
    return Settings().replace(
        database_url=database_url,
        jwt_secret="test-secret-" + "x" * 32,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        db_pool_size=5,
        rate_limit_cost=0,  # off: a test's many queries would spend a caller's allowance; tests/test_rate_limit.py turns it on
    )


async def pg_reachable() -> bool:
    import asyncpg

    try:
        conn = await asyncio.wait_for(asyncpg.connect(PG_ADMIN_URL), timeout=3)
    except Exception:
        return False
    await conn.close()
    return True


async def pg_create_database() -> str:
    import asyncpg

    name = f"resolute_test_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def pg_drop_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def pg_url(name: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


@dataclass
class Backend:
    name: str
    url: str
    _engine: AsyncEngine | None = field(default=None, repr=False, compare=False)

    @property
    def settings(self) -> Settings:
        return settings_for(self.url)

    @property
    def engine(self) -> AsyncEngine:
        """One engine for the whole session (its dialect is set up once); tests get connections of it.

        Each test runs in an event loop of its own and an asyncpg connection cannot outlive its loop:
        `running_app` disposes of the pool's connections after each test, the engine stays.
        """
        if self._engine is None:
            self._engine = create_engine(self.settings)
        return self._engine

    def migrate(self) -> None:
        migrate.upgrade(self.settings)

    async def reset(self) -> None:
        """Empty every table but the seeded unit kinds, unless they are empty already."""
        engine = create_engine(self.settings)
        try:
            async with engine.connect() as conn:
                await empty(conn, self.name)
        finally:
            await engine.dispose()


_KINDS = ", ".join(f"'{k}'" for k in DEFAULT_KINDS)
_DIRTY = "SELECT " + " OR ".join([f"EXISTS (SELECT 1 FROM {t})" for t in TABLES] + [f"EXISTS (SELECT 1 FROM unit_kinds WHERE code NOT IN ({_KINDS}))"])


async def empty(conn: AsyncConnection, backend: str) -> None:
    """Empty every table but the seeded unit kinds, on a connection with no transaction open.

    One cheap query tells whether anything was committed since the last time (a committing test,
    the CLI, a test that failed before its rollback); only then are the tables emptied.
    """
    dirty = bool((await conn.execute(text(_DIRTY))).scalar_one())
    if not dirty:
        await conn.rollback()
        return
    if backend == "postgresql":
        await conn.execute(text("SET LOCAL session_replication_role = replica"))  # as a superuser: past the audit's append-only trigger
        await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    else:
        await conn.execute(text("UPDATE tasks SET origin_assignment_id = NULL"))  # tasks <-> assignments
        for table in TABLES:
            await conn.execute(text(f"DELETE FROM {table}"))
    await conn.execute(text(f"DELETE FROM unit_kinds WHERE code NOT IN ({_KINDS})"))
    await conn.commit()


class TestConnection(AsyncConnection):
    """The one connection of a rolled-back test, inside the test's outer transaction; `api.engine`.

    It stands in for the engine the tests used to read and write with directly:
    `async with api.engine.connect() as conn` and `async with api.engine.begin() as conn` each run
    in a SAVEPOINT (rolled back at the end of a `connect()` block, released at the end of a
    `begin()` block, as a connection's transaction would be rolled back or committed), and
    `conn.commit()` / `conn.rollback()` inside a block end its savepoint and start another.
    `session_factory(api.engine)` gives sessions on it that make savepoints of their own (the
    connection always sits in a SAVEPOINT, so SQLAlchemy's default join mode creates one), and
    `api.engine.sync_engine` is a per-test copy of the backend's engine for event listeners.

    A block must not span a request (the request's writes would be undone with the block), nor run
    while a request is served (both would use the connection at once): either raises.
    """

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self._outer: AsyncTransaction | None = None
        self._blocks: list[AsyncTransaction] = []
        self.serving = False  # set by OneRequestAtATime while a request runs

    async def open(self) -> None:
        """Connect, empty the database if a committing test left anything, and begin the test's
        transaction, with a SAVEPOINT in it for the sessions to join."""
        await self.start()
        await empty(self, self.dialect.name)
        self._outer = await AsyncConnection.begin(self)
        await self.begin_nested()

    async def undo(self) -> None:
        """Roll the test's transaction back, whatever it wrote; then close."""
        try:
            if self._outer is not None and self._outer.is_active:
                await self._outer.rollback()
        finally:
            if self.sync_connection is not None:
                await self.close()

    def connect(self) -> Any:
        """Like AsyncEngine.connect(): what the block writes and does not commit is undone."""
        return self._block(keep=False)

    def begin(self) -> Any:  # type: ignore[override]
        """Like AsyncEngine.begin(): what the block writes stays, unless it raises."""
        return self._block(keep=True)

    @asynccontextmanager
    async def _block(self, *, keep: bool) -> AsyncIterator[TestConnection]:
        if self.serving:
            raise RuntimeError("api.engine is used while a request is served: they share the test's one connection")
        self._blocks.append(await self.begin_nested())
        ok = False
        try:
            yield self
            ok = True
        finally:
            savepoint = self._blocks.pop()
            if savepoint.is_active:
                await (savepoint.commit() if keep and ok else savepoint.rollback())

    async def commit(self) -> None:
        if self._outer is None:  # not yet in the test's transaction (emptying the database)
            await super().commit()
            return
        if not self._blocks:
            raise RuntimeError("commit() inside `async with api.engine.connect()` or `.begin()` only: the test's transaction is rolled back")
        await self._blocks[-1].commit()
        self._blocks[-1] = await self.begin_nested()

    async def rollback(self) -> None:
        if self._outer is None:
            await super().rollback()
            return
        if not self._blocks:
            raise RuntimeError("rollback() inside `async with api.engine.connect()` or `.begin()` only")
        await self._blocks[-1].rollback()
        self._blocks[-1] = await self.begin_nested()


_TRANSACTION_CONTROL = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


class StatementCounter:
    """Counts the SQL statements an engine runs (for N+1 tests): the application's queries and writes.

    Transaction control is not counted: SQLite's BEGIN (which SQLAlchemy emits as a statement,
    while asyncpg begins without one) nor the SAVEPOINTs that stand for transactions in a
    rolled-back test; so a count is the same on both backends, rolled back or committed.
    """

    def __init__(self, *engines: AsyncEngine | AsyncConnection | None) -> None:
        """Counting what each of `engines` runs (None, for an app without a reader pool, is left out)."""
        self.count = 0
        self.statements: list[str] = []
        for engine in engines:
            if engine is not None:
                event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if _TRANSACTION_CONTROL.match(statement):
            return
        self.count += 1
        self.statements.append(statement)

    def reset(self) -> None:
        self.count = 0
        self.statements.clear()


@dataclass
class Api:
    """The application over HTTP, with helpers to log in and run GraphQL as a given user."""

    client: httpx.AsyncClient
    settings: Settings
    engine: AsyncEngine | TestConnection  # a TestConnection unless the test is `committing`
    reader: AsyncEngine | None = None  # a `committing` test's PostgreSQL reader pool (api.db.create_reader); else None, the session reads
    reads: Reader | None = None  # that pool with its gate (api.db.Reader)
    gate: Gate | None = None  # a `committing` test's gate of the sessions' pool (api.db.session_gate)
    tokens: dict[str, str] = field(default_factory=dict)
    last_cost: dict[str, int] | None = None  # extensions.cost of the last answer to `gql`

    async def seed(self, units: list[UnitRecord], users: list[UserRecord] | None = None, *, passwords: bool = True) -> ImportReport:
        """Load units and users through the importer, and give every user PASSWORD."""
        async def work(tx: Tx) -> ImportReport:
            report = await load_bundle(tx.session, Bundle(units=units, users=users or [], notices=[]), load_policy(self.settings.policy_dir))
            if passwords:
                await tx.session.execute(update(User).where(User.password_hash.is_(None)).values(password_hash=hash_password(self.settings, PASSWORD)))
            return report

        outcome = await UnitOfWork(sessions=session_factory(self.engine), settings=self.settings, actor_label="test-seed").run("seed", work)
        assert outcome.ok, outcome.errors
        return outcome.value  # type: ignore[return-value]

    async def user_id(self, username: str) -> int:
        async with session_factory(self.engine)() as session:
            return int(await session.scalar(select(User.id).where(User.username == username)))  # type: ignore[arg-type]

    async def token_for(self, username: str) -> str:
        """A token minted by the app's own token code (login itself is tested in test_auth)."""
        if username not in self.tokens:
            self.tokens[username] = issue_token(self.settings, await self.user_id(username))[0]
        return self.tokens[username]

    async def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        return await self.client.post("/auth/token", json={"username": username, "password": password})

    async def gql(self, query: str, variables: dict[str, Any] | None = None, *, as_user: str | None = None, token: str | None = None) -> dict[str, Any]:
        """POST a GraphQL request and return the decoded JSON body (data and errors)."""
        headers = {}
        if as_user is not None:
            token = await self.token_for(as_user)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        response = await self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        body = response.json()
        body["_status"] = response.status_code
        extensions = body.pop("extensions", None)  # every answer says what it cost (schema.cost): kept in `last_cost`
        self.last_cost = extensions.get("cost") if isinstance(extensions, dict) else None
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None, *, as_user: str) -> dict[str, Any]:
        """Like gql, but fails the test on any GraphQL error."""
        body = await self.gql(query, variables, as_user=as_user)
        assert not body.get("errors"), body.get("errors")
        return body["data"]


VERSIONED = {model.__name__: model for model in (Unit, Task, Milestone, Resolution, Objective, KeyResult, Kpi, Measurement)}  # id type -> model


def typed_errors(body: dict[str, Any]) -> list[tuple[str | None, str | None]]:
    """The (code, field) of each error of an answer."""
    return [(e.get("extensions", {}).get("code"), e.get("extensions", {}).get("field")) for e in body.get("errors") or []]


async def current_version(api: Api, global_id: str) -> int:
    """The object's version read straight from the database, not through GraphQL: a caller that may not read it still sends the true one."""
    decoded = decode_any(global_id)
    assert decoded is not None, f"not a global id: {global_id!r}"
    type_name, pk = decoded
    model = VERSIONED[type_name]
    async with session_factory(api.engine)() as session:
        version = await session.scalar(select(model.version).where(model.id == pk))
    assert version is not None, f"no {type_name} {pk}"
    return int(version)


class OneRequestAtATime:
    """Serves the requests of a rolled-back test one after the other: they share one connection.

    Requests sent together (asyncio.gather) still all get their answers; a test about concurrent
    requests racing in the database must be `committing`.
    """

    def __init__(self, app: ASGIApp, conn: TestConnection) -> None:
        self.app = app
        self.conn = conn
        self.lock = asyncio.Lock()

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        async with self.lock:
            if self.conn._blocks:
                raise RuntimeError("a request inside `async with api.engine.connect()` or `.begin()`: its writes would be undone with the block")
            self.conn.serving = True
            try:
                await self.app(scope, receive, send)
            finally:
                self.conn.serving = False


@asynccontextmanager
async def running_app(settings: Settings, *, engine: AsyncEngine | None = None, committing: bool = False) -> AsyncIterator[Api]:
    """The app over HTTP on an empty database; everything the test writes is rolled back at the end.

    The app's sessions, `Api.seed` and `api.engine` all use one TestConnection (see the module
    docstring); `engine` is the engine to take it from (a new one on `settings` if None).
    `committing`: the app on an engine of its own, writes committed as in production.
    """
    if committing:
        app = create_app(settings)
        async with app.router.lifespan_context(app), _client(app) as client:
            reads = app.state.reader
            yield Api(client=client, settings=settings, engine=app.state.engine, reader=reads.engine if reads else None, reads=reads,
                      gate=app.state.session_gate)
        return
    base = engine or create_engine(settings)
    conn = TestConnection(base.execution_options())  # a per-test copy: listeners added by the test go with it
    try:
        await conn.open()
        app = create_app(settings, sessions=session_factory(conn))
        async with app.router.lifespan_context(app), _client(OneRequestAtATime(app, conn)) as client:
            yield Api(client=client, settings=settings, engine=conn)
    finally:
        try:
            await conn.undo()
        finally:
            await base.dispose()  # the pool's connections belong to this test's event loop


@asynccontextmanager
async def executor_twin(api: Api) -> AsyncIterator[Api]:
    """A second app over the same connection and data, with compiled reads off (strawberry resolves every
    field), sharing the tokens: a covered query sent to both is answered by both read paths."""
    async with twin(api, compiled_reads=False) as other:
        yield other


@asynccontextmanager
async def twin(api: Api, **changes: Any) -> AsyncIterator[Api]:
    """A second app over the same connection, data and tokens, with settings changed (a profile, a limit)."""
    settings = api.settings.replace(**changes)
    app = create_app(settings, sessions=session_factory(api.engine))
    async with app.router.lifespan_context(app), _client(OneRequestAtATime(app, api.engine)) as client:  # type: ignore[arg-type]
        yield Api(client=client, settings=settings, engine=api.engine, tokens=api.tokens)


def _client(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://resolute.test")


def unit(code: str, parent: str | None, kind: str = "department", name: str | None = None) -> UnitRecord:
    return UnitRecord(code=code, parent_code=parent, name=name or f"Đơn vị {code}", kind=kind)


def user(username: str, unit_code: str, role: str) -> UserRecord:
    return UserRecord(username=username, unit_code=unit_code, role=role, full_name=f"Người dùng {username}")


def small_tree() -> list[UnitRecord]:
    """TW with two provinces, each with two communes and a cell: enough for own/child/sibling/ancestor."""
    return [
        unit("TW", None, "central", "Ban Chấp hành Trung ương Đảng"),
        unit("P01", "TW", "province", "Thành phố Hà Nội"),
        unit("P01-C01", "P01", "commune", "Phường Hoàn Kiếm"),
        unit("P01-C01-K01", "P01-C01", "cell", "Chi bộ thôn Đông"),
        unit("P01-C02", "P01", "commune", "Xã Tân Phong"),
        unit("P02", "TW", "province", "Tỉnh Lào Cai"),
        unit("P02-C01", "P02", "commune", "Xã Đông Hà"),
        unit("P02-C02", "P02", "commune", "Phường Hòa An"),
    ]


def small_users() -> list[UserRecord]:
    return [
        user("admin", "TW", "admin"),
        user("tw.viewer", "TW", "viewer"),
        user("p01.admin", "P01", "admin"),
        user("p01.manager", "P01", "manager"),
        user("p01.c01.officer", "P01-C01", "officer"),
        user("p02.admin", "P02", "admin"),
        user("p02.manager", "P02", "manager"),
    ]


def within(code: str, top: str, parents: Mapping[str, str | None]) -> bool:
    """`code` is `top` or lies below it, by the parent links alone (an oracle independent of paths)."""
    node: str | None = code
    while node is not None:
        if node == top:
            return True
        node = parents[node]
    return False


# -- random worlds written straight into the tables ---------------------------------------------------


@dataclass(frozen=True)
class WorldBase:
    """What the monitoring tests' random worlds share: the units (world index -> id) and resolutions."""

    uid: dict[int, int]
    res: dict[int, int]


async def write_world_base(
    api: Api,
    conn: AsyncConnection,
    *,
    units: int,
    archived: Any,
    personas: Any,
    resolutions: Any,
    issued_on: Any,
) -> WorldBase:
    """After `api.seed` wrote the tree (codes in world order): the archived units, one user per persona (its own
    unit and grants (role, unit)), the resolutions ((issuing unit, implemented resolution or None); the links
    are set afterwards, so a chain may loop)."""
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from resolute.api.accounts.models import Grant
    from resolute.api.org.models import Unit
    from resolute.api.resolutions.models import Resolution

    uid = dict(enumerate((await conn.execute(select(Unit.id).order_by(Unit.code))).scalars()))
    assert len(uid) == units
    if archived:
        await conn.execute(update(Unit).where(Unit.id.in_([uid[u] for u in archived])).values(archived_at=datetime(2025, 1, 1, tzinfo=UTC)))
    for n, p in enumerate(personas):
        values = {"username": f"user{n}", "full_name": f"User {n}", "search_name": f"user{n}", "unit_id": uid[p.own], "active": True, "version": 1}
        user_id = (await conn.execute(insert(User).values(**values).returning(User.id))).scalar_one()
        for role, g in p.grants:
            await conn.execute(insert(Grant).values(user_id=user_id, role=role, unit_id=uid[g]))
    table = Resolution.__table__
    res = {}
    for i, (issuer, _) in enumerate(resolutions):
        row = {"code": f"R{i}", "title": f"R {i}", "search_title": f"r {i}", "kind": "resolution", "status": "in_effect", "issuing_unit_id": uid[issuer],
               "issued_on": issued_on}
        res[i] = (await conn.execute(insert(table).values(**row).returning(table.c.id))).scalar_one()
    for i, (_, implements) in enumerate(resolutions):
        if implements is not None:
            await conn.execute(update(Resolution).where(Resolution.id == res[i]).values(implements_id=res[implements]))
    return WorldBase(uid=uid, res=res)


class Tree:
    """A random world's tree, walked in Python: units are indexes, `parents[i] < i` for i >= 1, unit 0 the root;
    its code U00, U01, ... sorts in index order. Mixed into the monitoring tests' World dataclasses."""

    parents: tuple[int, ...]

    @staticmethod
    def code(i: int) -> str:
        return f"U{i:02d}"

    @functools.cached_property
    def subtrees(self) -> tuple[frozenset[int], ...]:
        """subtrees[u]: u and every unit below it, from the parent links alone."""
        below: list[set[int]] = [{i} for i in range(len(self.parents))]
        for i in range(len(self.parents) - 1, 0, -1):  # children before parents
            below[self.parents[i]] |= below[i]
        return tuple(frozenset(s) for s in below)

    def children(self, u: int) -> list[int]:
        """u's direct children, in code (= index) order."""
        return [c for c in range(1, len(self.parents)) if self.parents[c] == u]


class Resolutions:
    """A random world's resolutions, (issuing unit, the resolution it implements or None); a chain may loop."""

    resolutions: tuple[tuple[int, int | None], ...]

    def family(self, r: int) -> set[int]:
        """r and every resolution implementing it, down the chain."""
        found, todo = {r}, [r]
        while todo:
            top = todo.pop()
            for i, (_, implements) in enumerate(self.resolutions):
                if implements == top and i not in found:
                    found.add(i)
                    todo.append(i)
        return found
