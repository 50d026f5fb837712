"""The per-request context (settings, the request's session, the caller's scope, loaders) and the
one way a mutation resolver writes: `perform`.

A resolver parses its input (ids, caps) outside any transaction, calls ONE service operation
with the request's unit of work, and maps the outcome; the unit of work (api.transaction) owns
the transaction, the idempotency key, the audit chain, retries and after-commit hooks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Annotated, Any, TypeVar

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info as _Info

from resolute.api import clock
from resolute.api.access.scope import Scope
from resolute.api.auth.principal import Account
from resolute.api.db import RequestDB
from resolute.api.errors import ServiceError
from resolute.api.rate_limit import RateLimiter
from resolute.api.settings import Settings
from resolute.api.transaction import AfterCommit, Outcome, UnitOfWork
from resolute.schema.loaders import Loaders

__all__ = ["Context", "IdempotencyKeyArg", "Info", "perform", "reread"]

T = TypeVar("T")
R = TypeVar("R")
W = TypeVar("W")


@dataclass
class Context:
    settings: Settings
    db: RequestDB
    scope: Scope
    request_id: str
    after_commit: Sequence[AfterCommit] = ()
    today: date = field(default_factory=lambda: clock.today())
    language: str = "en"  # what words answer in (api.i18n: the warnings' reasons, input errors), from Accept-Language

    caller: Account | None = None  # the caller's rows as authentication read them, to seed the loaders
    live: Any = None  # a websocket connection's state (schema.live.Live); None over HTTP
    connection_params: dict[str, Any] | None = None  # a websocket's connection_init payload (strawberry sets it)
    limiter: RateLimiter | None = None  # the callers' allowances (schema.cost spends from them)
    response: Any = None  # the HTTP answer's status and headers, as the execution sets them (a 429's Retry-After)
    # the cost already spent for this request (schema.cost.Spent) by a compiled read answered again that failed
    # (schema/compiled/ready.py): the cost limit spends nothing more, and the executor answers, not the compiled path
    spent: Any = None

    def refresh(self) -> None:
        """A long-lived connection's context, made current for its next piece of work: today's date, empty
        loaders (nothing cached from an earlier event), no session held."""
        self.today = clock.today()
        self.__dict__.pop("loaders", None)

    @cached_property
    def loaders(self) -> Loaders:
        """Made on first use: a query the compiled read path answers never needs them."""
        loaders = Loaders(self.db, self.scope, today=self.today)
        if self.caller is not None:
            user = self.caller.user
            loaders.users_by_id.prime(user.id, user)
            loaders.grants_by_user_id.prime(user.id, list(self.caller.grants))
        return loaders

    @property
    def compiled_reads(self) -> bool:
        """Whether covered queries are answered by the compiled read path (schema.compiled; PostgreSQL only)."""
        return self.settings.compiled_reads and self.spent is None

    def unit_of_work(self, idempotency_key: str | None = None) -> UnitOfWork:
        """The caller's unit of work for one mutation, on the request's own session."""
        return UnitOfWork(
            sessions=self.db.use, settings=self.settings, scope=self.scope, request_id=self.request_id,
            idempotency_key=idempotency_key, after_commit=self.after_commit, today=self.today,
        )


Info = _Info[Context, None]

IDEMPOTENCY_KEY_DESCRIPTION = (
    "A key of your choosing (8-128 characters, a UUID is ideal) that makes a retry safe: the same key with the "
    "same input takes effect once and answers like the first time; with another input it is refused."
)
IdempotencyKeyArg = Annotated[str | None, strawberry.argument(description=IDEMPOTENCY_KEY_DESCRIPTION)]


async def perform(info: Info, idempotency_key: str | None, call: Callable[[UnitOfWork], Awaitable[Outcome[T]]]) -> Outcome[T]:
    """Run one service operation for a mutation resolver.

    `call` parses the input as it builds the service's arguments, before the service (and so the
    transaction) starts: an unparsable id is refused without touching the database. Afterwards the
    request's loaders are renewed, so that the payload reads the changed rows afresh, through the
    same scoped read path as any query.
    """
    ctx = info.context
    try:
        return await call(ctx.unit_of_work(idempotency_key))
    except ServiceError as exc:  # refused while parsing the input
        return Outcome(errors=exc.errors)
    finally:
        ctx.loaders = Loaders(ctx.db, ctx.scope, today=ctx.today)  # type: ignore[misc]  # replaces the cached one


async def reread(loader: DataLoader[int, R | None], pk: int | None, wrap: Callable[[R], W]) -> W | None:
    """A changed row as the caller reads it now, through the request's scoped loaders (so with its
    SQL-computed rules); None if there is none or the caller may not see it."""
    row = await loader.load(pk) if pk is not None else None
    return wrap(row) if row is not None else None
