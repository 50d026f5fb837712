"""The per-request context: settings, the request's session, the caller's scope, loaders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info as _Info

from api.access.scope import Scope
from api.db import RequestDB, write_transaction
from api.errors import ErrorCode, FieldError, ServiceError
from api.settings import Settings
from schema.loaders import Loaders

__all__ = ["Context", "Info", "run_mutation"]

T = TypeVar("T")


@dataclass
class Context:
    settings: Settings
    db: RequestDB
    scope: Scope
    request_id: str
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.db, self.scope)


Info = _Info[Context, None]


TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available
ATTEMPTS = 3


def _transient(exc: DBAPIError) -> bool:
    """A failure of the moment, after which the whole transaction was rolled back and may be retried."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in TRANSIENT_SQLSTATES or "database is locked" in str(exc.orig)


async def run_mutation(info: Info, work: Callable[[AsyncSession], Awaitable[T]]) -> tuple[T | None, list[FieldError]]:
    """Run one service call in its own write transaction; typed errors roll everything back.

    A deadlock or serialization failure rolls back everything, so the call is retried a few
    times before the caller gets a CONFLICT; a lost uniqueness race is a CONFLICT at once.
    """
    ctx = info.context
    async with ctx.db.use() as session:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with write_transaction(session):
                    return await work(session), []
            except ServiceError as exc:
                return None, exc.errors
            except IntegrityError:
                return None, [FieldError(None, ErrorCode.CONFLICT, "a concurrent change conflicts with this one; reload and retry")]
            except DBAPIError as exc:
                if not _transient(exc):
                    raise
                if attempt == ATTEMPTS:
                    return None, [FieldError(None, ErrorCode.CONFLICT, "the database is busy with concurrent changes; retry")]
                await asyncio.sleep(0.02 * attempt)
    raise AssertionError("unreachable")
