"""Engine, declarative base and the one session strategy for concurrently resolved fields.

Session strategy: each GraphQL request owns exactly one AsyncSession, wrapped in a
`RequestDB` whose asyncio.Lock lets only one coroutine use it at a time. Strawberry resolves
sibling fields concurrently; with the lock they queue for the session instead of corrupting
it, and a request never holds more than one pooled connection. Loaders batch their keys, so
queuing costs little: the number of statements depends on the query's shape, not its rows.

On PostgreSQL a second pool serves the reads that are one statement each and belong to no
unit of work: the caller's account at authentication and the compiled reads (schema/compiled). Its
connections read outside any transaction (autocommit: no BEGIN and no ROLLBACK around them) and plan
each prepared statement once (`plan_cache_mode = force_generic_plan` for the connection's life), so
such a request makes two round trips where it made five. Under PostgreSQL's default isolation (read
committed) every statement sees what was committed before it began, in a transaction or not, so the two
statements see what they would have seen in one. A request that then reads or writes through its
session gives the reader's connection back first: it holds one connection at a time (`RequestDB.reads`).
In front of each pool a `Gate` hands its connections out first come, first served.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, Dialect, Executable, MetaData, TypeDecorator, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool, StaticPool

from resolute.api.lru import LRU
from resolute.api.settings import Settings

log = logging.getLogger("resolute.db")
T = TypeVar("T")

__all__ = ["NAMING_CONVENTION", "Base", "Gate", "Reader", "RequestDB", "UtcDateTime", "built", "create_engine", "create_reader", "driver_sql", "plan_as_usual", "plan_once", "plan_with_parameters", "session_factory", "session_gate", "utcnow"]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """An instant, stored in UTC on both databases and read back with its zone.

    SQLite keeps datetimes as text without a zone: without this, `since: ...+07:00` would be
    compared as if it were UTC. Naive values are taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Timestamps are set by the application, to the microsecond: SQLite's CURRENT_TIMESTAMP keeps
    whole seconds, which would let an `updatedSince` sync miss a row created in the same second."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def create_engine(settings: Settings) -> AsyncEngine:
    """An engine configured from settings: pool size and timeout, statement timeout."""
    url = settings.database_url
    kwargs: dict[str, Any] = {"echo": settings.db_echo}
    if url.startswith("sqlite"):
        if ":memory:" in url or url.endswith("sqlite+aiosqlite://"):
            kwargs["poolclass"] = StaticPool
        else:
            kwargs["poolclass"] = NullPool  # a file connection is cheap; avoids cross-loop reuse
        kwargs["connect_args"] = {"timeout": settings.db_statement_timeout_ms / 1000}
    else:
        kwargs.update(_pooled(settings, settings.db_pool_size))
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    else:
        event.listen(engine.sync_engine, "checkout", _alive)
    return engine


class Gate:
    """Places in front of a pool, handed out first come, first served.

    SQLAlchemy's asyncio pool lets a request that has just arrived take a connection given back for a request
    already waiting (asyncio.Queue wakes the waiter, and a newcomer that finds the connection first keeps it):
    with the process saturated at 32 concurrent requests, some waited seconds (Q1's p99 1.4 s, against 0.12-0.30 s
    with enough connections for all). asyncio's semaphore hands a freed place to the longest waiter; the gate
    admits as many requests as its pool can hold (its size and overflow), so the pool itself never has a waiter.
    A place is waited for at most the pool's timeout, then PoolTimeout, as a full pool would raise (a request
    then answers 503 SERVICE_UNAVAILABLE; a compiled read leaves the answer to the executor)."""

    def __init__(self, places: int, timeout: float) -> None:
        self.places = places
        self.timeout = timeout
        self.waiting = 0  # requests waiting for a place now (/metrics)
        self.taken = 0  # places taken now
        self._places: asyncio.BoundedSemaphore | None = None  # made in the running event loop, at first use

    async def enter(self) -> None:
        """Take a place, once one is free; `leave` gives it back."""
        if self._places is None:
            self._places = asyncio.BoundedSemaphore(self.places)  # a place given back twice raises, never widens the pool
        self.waiting += 1
        try:
            async with asyncio.timeout(self.timeout):
                await self._places.acquire()
        except TimeoutError:
            raise PoolTimeout(f"no database connection was free within {self.timeout:g} s") from None
        finally:
            self.waiting -= 1
        self.taken += 1

    def leave(self) -> None:
        assert self._places is not None
        self._places.release()
        self.taken -= 1

    @property
    def free(self) -> int:
        """Places not taken."""
        return self.places - self.taken


class Reader:
    """PostgreSQL's pool for one-statement reads outside any transaction, each statement planned once per
    connection (see the module docstring), behind its `Gate`."""

    def __init__(self, engine: AsyncEngine, gate: Gate) -> None:
        self.engine = engine
        self.gate = gate

    async def connect(self) -> AsyncConnection:
        """A connection, once the gate lets the request through; `release` gives the place back after the connection."""
        await self.gate.enter()
        try:
            return await self.engine.connect()
        except BaseException:
            self.gate.leave()
            raise

    def release(self) -> None:
        self.gate.leave()

    async def dispose(self) -> None:
        await self.engine.dispose()


def session_gate(settings: Settings) -> Gate | None:
    """The gate of the sessions' pool (PostgreSQL): its size and overflow, its timeout; None on SQLite."""
    if settings.database_url.startswith("sqlite"):
        return None
    return Gate(settings.db_pool_size + settings.db_max_overflow, settings.db_pool_timeout)


def create_reader(settings: Settings) -> Reader | None:
    """The reader pool (`Reader`); None on SQLite, where such reads go through the request's session."""
    if settings.database_url.startswith("sqlite"):
        return None
    kwargs = _pooled(settings, settings.db_read_pool_size)
    kwargs["connect_args"]["server_settings"]["plan_cache_mode"] = "force_generic_plan"  # api.db.plan_once, for good
    # outside transactions there is nothing to roll back when a connection goes back to the pool
    engine = create_async_engine(settings.database_url, echo=settings.db_echo, isolation_level="AUTOCOMMIT", pool_reset_on_return=None, **kwargs)
    event.listen(engine.sync_engine, "checkout", _alive)
    return Reader(engine, Gate(settings.db_read_pool_size + settings.db_max_overflow, settings.db_pool_timeout))


def _pooled(settings: Settings, size: int) -> dict[str, Any]:
    """A PostgreSQL pool's options: its size, overflow, waits and ages, and each connection's settings."""
    return {
        "pool_size": size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout,
        "pool_recycle": settings.db_pool_recycle_seconds,
        "pool_pre_ping": settings.db_pre_ping,
        "connect_args": {
            "timeout": settings.db_connect_timeout,  # asyncpg would wait a minute
            "server_settings": {
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "application_name": "resolute",
                # JIT pays off on long analytic scans; on a rollup it spends 30 ms compiling for 5 ms of work
                "jit": "off",
                "random_page_cost": str(settings.db_random_page_cost),  # see Settings: index probes over a scan where few rows are wanted
            },
        },
    }


def _alive(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A connection whose server has gone (a restart or a killed backend closes its socket) is not handed out: the
    pool discards it and opens a new one in its place. `pool_pre_ping` did this with three round trips per checkout
    (BEGIN, an empty statement, ROLLBACK), about a millisecond of every request; asyncpg already knows a closed
    socket. A connection a network device forgot without closing it is not seen here: `pool_recycle` bounds its
    age (Settings.db_pool_recycle_seconds), and Settings.db_pre_ping turns the ping back on."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the database closed this connection")


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, emit BEGIN: reads then see one snapshot and a write
    # transaction can take SQLite's write lock up front (see api.transaction).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    write = connection.get_execution_options().get("resolute_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def driver_sql(statement: Executable, dialect: Dialect) -> tuple[str, tuple[Any, ...]]:
    """A statement rendered once for the driver: SQL text and its positional parameters (bind values
    processed), for a statement run again and again with `exec_driver_sql`, which skips SQLAlchemy's
    per-execution work (cache key, compilation lookup, result processing)."""
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    values = compiled.construct_params()
    processors = compiled._bind_processors
    return str(compiled), tuple(processors[name](values[name]) if name in processors else values[name] for name in compiled.positiontup or ())


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


class RequestDB:
    """The request's single AsyncSession behind a lock (see the module docstring)."""

    def __init__(self, factory: async_sessionmaker[AsyncSession], reader: Reader | None = None, gate: Gate | None = None) -> None:
        self._factory = factory
        self._reader = reader
        self._gate = gate  # the sessions' pool's (session_gate): a place is held while the request has a session
        self._read: AsyncConnection | None = None  # the reader's connection, while the request holds one
        self._session: AsyncSession | None = None
        self._lock = asyncio.Lock()

    @property
    def dialect(self) -> Dialect:
        """The database's dialect, known without opening the session."""
        return self._factory.kw["bind"].dialect  # type: ignore[no-any-return]

    @asynccontextmanager
    async def reads(self, *, planned_once: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection for reads that belong to no unit of work (the caller's account, then a compiled read).

        One of the reader pool's (api.db.create_reader), outside any transaction, taken at the first such read
        and kept until the request ends or its session is wanted (`use`): a checkout costs about as much Python
        as a statement. A failed or cut-off statement leaves it discarded, not pooled again. Without that pool,
        the session's, held as `use` holds it, and with `planned_once` its statements are planned once
        (plan_once) for the rest of its transaction."""
        if self._reader is None:
            async with self.use() as session:
                if planned_once:
                    await plan_once(session)
                yield await session.connection()
            return
        async with self._lock:
            if self._read is None:
                self._read = await self._reader.connect()
            try:
                yield self._read
            except BaseException:
                await self._let_go_of_read(broken=True)
                raise

    async def _let_go_of_read(self, *, broken: bool = False) -> None:
        """Hand the reader's connection back; a `broken` one (it may still be busy with a cut-off statement) is
        discarded and the pool opens another."""
        connection, self._read = self._read, None
        if connection is None:
            return
        try:
            if broken:
                with suppress(Exception):
                    await connection.invalidate()
            with suppress(Exception):
                await connection.close()
        finally:
            self._reader.release()  # type: ignore[union-attr]  # (a connection was read: there is a reader)

    @asynccontextmanager
    async def use(self) -> AsyncIterator[AsyncSession]:
        """Hold the session exclusively for one unit of work (a loader batch, a mutation)."""
        async with self._lock:
            if self._read is not None:
                await self._let_go_of_read()  # a connection of one pool at a time: no request waits for one holding the other
            if self._session is None:
                if self._gate is not None:
                    await self._gate.enter()
                self._session = self._factory()
            try:
                yield self._session
            except BaseException:
                # A failed statement poisons a PostgreSQL transaction: end it, so that the
                # request's other fields can still read.
                try:
                    await self._session.rollback()
                except Exception as exc:  # noqa: BLE001 - the connection itself is gone, or its statement was cut off by a deadline
                    await self._discard(exc)
                # (a CancelledError is not always a deadline: graphql-core cancels a failed field's siblings; the
                # rollback then ends the cut-off statement's transaction and the connection stays in use)
                raise

    async def _discard(self, error: BaseException) -> None:
        """Drop the session and its connection (the pool makes a new one): it cannot be trusted to roll back."""
        log.warning("dropping the request's database connection: %s: %s", type(error).__name__, error)
        session, self._session = self._session, None
        if session is not None:
            try:
                with suppress(Exception):
                    await session.invalidate()
                with suppress(Exception):
                    await session.close()
            finally:
                self._leave_gate()

    async def close(self) -> None:
        await self._let_go_of_read()
        if self._session is not None:
            try:
                await self._session.close()
            except Exception as exc:  # noqa: BLE001 - a dead connection: the request has been answered; drop it
                await self._discard(exc)
                return
            self._session = None
            self._leave_gate()

    def _leave_gate(self) -> None:
        if self._gate is not None:
            self._gate.leave()


_built = LRU(512)


def built(key: Hashable, build: Callable[[], T]) -> T:
    """The statement `build` makes, built once per `key` and reused (the 512 most recently used are kept).

    A dashboard's statement is a few hundred SQLAlchemy constructs: building it cost 30 ms of Python on the
    benchmark machine, more than PostgreSQL spends running it (bench/README.md); SQLAlchemy then finds its
    compiled form in its own cache. `key` must name everything the statement depends on: the caller's
    principal and policy (its scope filters), the inputs, and the day if it is dated. Statements are immutable
    and hold no connection, so one serves every request and dialect."""
    found = _built.get_fresh(key)
    if found is None:
        found = build()
        _built.put(key, found)
    return found  # type: ignore[no-any-return]


async def plan_with_parameters(session: AsyncSession) -> None:
    """Have PostgreSQL plan the rest of this transaction's statements with their parameters (once per transaction).

    asyncpg prepares and caches every statement; after five runs PostgreSQL may switch to a generic plan, which
    cannot see a scope's path ranges or a resolution family's ids: a province dashboard's statement then takes
    30-40 ms instead of 14 (bench/README.md). Planning costs a millisecond, more than small lookups save, so only
    the dashboards' aggregates ask for it."""
    if session.bind.dialect.name != "postgresql":
        return
    transaction = session.get_transaction()
    if transaction is not None and session.info.get("custom_plans") is transaction:
        return
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    session.info["custom_plans"] = session.get_transaction()


async def plan_once(session: AsyncSession) -> None:
    """Have PostgreSQL plan the next statements once per connection and reuse the plan (a generic plan), until
    `plan_with_parameters` says otherwise.

    A compiled read is one statement whose planning cost more than its run: a commune's list of assignments
    (bench Q1) planned in 6 ms and ran in 3; PostgreSQL kept planning it afresh because it guesses a generic
    plan dearer, while the generic plan ran the whole statement in 3.4 ms, and a province's KPI lights (Q5) in
    4 to 10 ms where fresh plans took 14 to 27 (bench/README.md)."""
    if session.bind.dialect.name != "postgresql":
        return
    await (await session.connection()).exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    session.info.pop("custom_plans", None)
    session.info["generic_plans"] = session.get_transaction()


async def plan_as_usual(session: AsyncSession) -> None:
    """Undo `plan_once` for the rest of the transaction, if it was asked in it: PostgreSQL chooses again (the
    executor answering after all)."""
    transaction = session.get_transaction()
    if transaction is None or session.info.get("generic_plans") is not transaction:
        return
    await (await session.connection()).exec_driver_sql("SET LOCAL plan_cache_mode = auto")
    session.info.pop("custom_plans", None)
    session.info.pop("generic_plans", None)
