"""From a verified token to a Principal, read fresh from the database on every request.

Reading the user and its grants per request (one indexed statement) is what makes a
deactivation, a revocation or a password change take effect on the very next request.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Dialect, Select, bindparam, exists, inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased

from resolute.api.access.scope import GrantScope, Principal
from resolute.api.accounts.models import Grant, User
from resolute.api.auth.models import AuthSession
from resolute.api.auth.tokens import TokenClaims
from resolute.api.db import driver_sql
from resolute.api.org.models import Unit

__all__ = ["Account", "load_account", "load_principal"]

# The caller's own unit and the units of its grants. Made once: an alias builds a copy of every
# column of the table when first used, which per request would cost more than the statement saved.
_HOME, _HELD = aliased(Unit, name="home_unit"), aliased(Unit, name="held_unit")


@dataclass(frozen=True)
class Account:
    """A caller as loaded: its principal, and the values of the rows it was made of (the user, its
    grants in id order), from which the request's loaders can start instead of reading them again."""

    principal: Principal
    user_values: dict[str, Any]
    grant_values: tuple[dict[str, Any], ...]

    @property
    def user(self) -> User:
        return User(**self.user_values)  # a detached copy: the loaders only read its attributes

    @property
    def grants(self) -> tuple[Grant, ...]:
        return tuple(Grant(**values) for values in self.grant_values)


_USER_ATTRS = tuple(attr.key for attr in inspect(User).column_attrs)
_GRANT_ATTRS = tuple(attr.key for attr in inspect(Grant).column_attrs)


def _statement() -> Select[Any]:
    """The user and its unit's path, joined to its grants and their units' paths, one row per grant."""
    return (
        select(*(getattr(User, a).label(f"u_{a}") for a in _USER_ATTRS), _HOME.path.label("home_path"),
               *(getattr(Grant, a).label(f"g_{a}") for a in _GRANT_ATTRS), _HELD.path.label("held_path"))
        .join(_HOME, _HOME.id == User.unit_id)
        .outerjoin(Grant, Grant.user_id == User.id)
        .outerjoin(_HELD, _HELD.id == Grant.unit_id)
        .where(User.id == bindparam("user_id", 0))  # the caller's id is given at each execution
        # and its session, if its token has one: a logout or a replayed refresh token ends its access tokens at once
        .where(~exists().where(AuthSession.id == bindparam("session_id", None, type_=AuthSession.id.type), AuthSession.revoked_at.is_not(None)))
        .order_by(Grant.id)
    )


_STATEMENT = _statement()


@functools.cache
def _driver_text(dialect: Dialect) -> tuple[str, tuple[str, ...]]:
    """The statement as the driver takes it, rendered once per dialect, and its parameters' names in order."""
    compiled = _STATEMENT.compile(dialect=dialect)
    return driver_sql(_STATEMENT, dialect)[0], tuple(compiled.positiontup or ())


async def _rows(db: AsyncSession | AsyncConnection, user_id: int, session_id: str | None) -> list[Any]:
    """The statement's rows. On PostgreSQL as SQL text made once, run by asyncpg directly (the ORM and
    the statement cache cost more than the statement itself, on every request); elsewhere through
    SQLAlchemy, whose type processing SQLite's text dates need."""
    connection = db if isinstance(db, AsyncConnection) else await db.connection()
    if connection.dialect.name != "postgresql":
        return list((await connection.execute(_STATEMENT, {"user_id": user_id, "session_id": session_id})).all())
    text, names = _driver_text(connection.dialect)
    values = {"user_id": user_id, "session_id": session_id}
    return list((await connection.exec_driver_sql(text, tuple(values[name] for name in names))).all())


async def load_account(db: AsyncSession | AsyncConnection, claims: TokenClaims) -> Account | None:
    """The caller behind `claims`, or None if the account is gone, inactive, the token revoked or its session ended: one statement."""
    rows = await _rows(db, claims.user_id, claims.session_id)
    if not rows:
        return None
    first = rows[0]._mapping
    user = {a: first[f"u_{a}"] for a in _USER_ATTRS}
    if not user["active"]:
        return None
    if user["tokens_valid_after"] is not None:
        valid_after = user["tokens_valid_after"]
        if valid_after.tzinfo is None:
            valid_after = valid_after.replace(tzinfo=UTC)
        valid_after = valid_after.replace(microsecond=valid_after.microsecond // 1000 * 1000)  # tokens carry milliseconds
        if datetime.fromtimestamp(claims.issued_at, tz=UTC) < valid_after:
            return None
    grants = [({a: row._mapping[f"g_{a}"] for a in _GRANT_ATTRS}, row._mapping["held_path"]) for row in rows if row._mapping["g_id"] is not None]
    principal = Principal(
        user_id=user["id"],
        username=user["username"],
        unit_id=user["unit_id"],
        unit_path=first["home_path"],
        grants=tuple(GrantScope(id=g["id"], role=g["role"], unit_id=g["unit_id"], path=path) for g, path in grants),
    )
    return Account(principal=principal, user_values=user, grant_values=tuple(g for g, _ in grants))


async def load_principal(session: AsyncSession, claims: TokenClaims) -> Principal | None:
    """The principal behind `claims`, or None if the account is gone, inactive or the token revoked."""
    account = await load_account(session, claims)
    return account.principal if account is not None else None
