"""The per-request context: settings, the request's session, the caller's scope, loaders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
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


async def run_mutation(info: Info, work: Callable[[AsyncSession], Awaitable[T]]) -> tuple[T | None, list[FieldError]]:
    """Run one service call in its own write transaction; typed errors roll everything back."""
    ctx = info.context
    async with ctx.db.use() as session:
        try:
            async with write_transaction(session):
                return await work(session), []
        except ServiceError as exc:
            return None, exc.errors
        except IntegrityError:
            # A concurrent writer won a uniqueness race that our checks could not see yet.
            return None, [FieldError(None, ErrorCode.CONFLICT, "a concurrent change conflicts with this one; reload and retry")]
