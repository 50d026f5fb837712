"""Test support: databases per backend, the app over HTTP, and quick ways to build trees and users.

Everything a test asserts goes through the real stack: HTTP -> auth -> GraphQL -> services ->
a real SQLite or PostgreSQL database. Fixtures may seed data through the importer (a real
code path too), never through a mocked session.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import event, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from resolute.api import migrate
from resolute.api.access.policy import load_policy
from resolute.api.accounts.models import User
from resolute.api.app import create_app
from resolute.api.auth.passwords import hash_password
from resolute.api.auth.tokens import issue_token
from resolute.api.db import create_engine, session_factory
from resolute.api.interchange.loader import ImportReport, load_bundle
from resolute.api.interchange.reader import Bundle, UnitRecord, UserRecord
from resolute.api.org.models import DEFAULT_KINDS
from resolute.api.settings import Settings
from resolute.api.transaction import Tx, UnitOfWork

PG_ADMIN_URL = os.environ.get("RESOLUTE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "correct horse battery"
TABLES = ("evaluations", "extensions", "progress_reports", "milestones", "task_coordinators", "assignments", "tasks", "measurement_revisions", "measurements", "kpi_unit_targets", "kpi_coordinators", "kpis", "key_results", "objectives", "resolutions", "idempotency_keys", "audit_events", "grants", "users", "units")  # children first


def settings_for(database_url: str) -> Settings:
    return Settings().replace(
        database_url=database_url,
        jwt_secret="test-secret-" + "x" * 32,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        db_pool_size=5,
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

    @property
    def settings(self) -> Settings:
        return settings_for(self.url)

    def migrate(self) -> None:
        migrate.upgrade(self.settings)

    async def reset(self) -> None:
        """Empty every table but the seeded unit kinds; cheaper than a new database per test."""
        engine = create_engine(self.settings)
        try:
            async with engine.begin() as conn:
                if self.name == "postgresql":
                    await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
                else:
                    await conn.execute(text("UPDATE tasks SET origin_assignment_id = NULL"))  # tasks <-> assignments
                    for table in TABLES:
                        await conn.execute(text(f"DELETE FROM {table}"))
                kinds = ", ".join(f"'{k}'" for k in DEFAULT_KINDS)
                await conn.execute(text(f"DELETE FROM unit_kinds WHERE code NOT IN ({kinds})"))
        finally:
            await engine.dispose()


class StatementCounter:
    """Counts the SQL statements an engine runs (for N+1 tests)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        self.statements: list[str] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
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
    engine: AsyncEngine
    tokens: dict[str, str] = field(default_factory=dict)

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
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None, *, as_user: str) -> dict[str, Any]:
        """Like gql, but fails the test on any GraphQL error."""
        body = await self.gql(query, variables, as_user=as_user)
        assert not body.get("errors"), body.get("errors")
        return body["data"]


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[Api]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://resolute.test") as client:
            yield Api(client=client, settings=settings, engine=app.state.engine)


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

