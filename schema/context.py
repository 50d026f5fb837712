"""The per-request context: settings, the request's session, the caller's scope, loaders."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import strawberry
from sqlalchemy import inspect, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info as _Info

from resolute.api.access.scope import ROW_FILTERS, Scope
from resolute.api.db import RequestDB
from resolute.api.errors import ErrorCode, FieldError, ServiceError
from resolute.api.idempotency.service import claim, complete, fingerprint
from resolute.api.org.models import UnitKind
from resolute.api.settings import Settings
from resolute.api.transaction import write_transaction
from resolute.schema.loaders import Loaders

__all__ = ["Context", "IdempotencyKeyArg", "Info", "run_mutation"]

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
IDEMPOTENCY_KEY_DESCRIPTION = (
    "A key of your choosing (8-128 characters, a UUID is ideal) that makes a retry safe: the same key with the "
    "same input takes effect once and answers like the first time; with another input it is refused."
)
IdempotencyKeyArg = Annotated[str | None, strawberry.argument(description=IDEMPOTENCY_KEY_DESCRIPTION)]
# Objects a mutation may answer with, so a replayed idempotency key can answer again.
_REPLAYABLE: dict[str, type] = {model.__name__: model for model in (*ROW_FILTERS, UnitKind)}


def _transient(exc: DBAPIError) -> bool:
    """A failure of the moment, after which the whole transaction was rolled back and may be retried."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in TRANSIENT_SQLSTATES or "database is locked" in str(exc.orig)


def _ref(result: object) -> str | None:
    """'Unit:42', or 'Assignment:7,8,9' for a mutation that answers with a list (a fan-out)."""
    rows = result if isinstance(result, list) else [result] if result is not None else []
    if not rows:
        return None
    states = [inspect(row) for row in rows]
    keys = ",".join(str(state.identity[0]) for state in states)
    return f"{states[0].mapper.class_.__name__}:{keys}" + ("" if not isinstance(result, list) else ":list")


async def _replayed(session: AsyncSession, scope: Scope, ref: str | None) -> Any:
    """The object a first answer named, as the caller may see it now (None if gone or unseen)."""
    if not ref:
        return None
    type_name, _, rest = ref.partition(":")
    keys, _, shape = rest.partition(":")
    model = _REPLAYABLE[type_name]
    pk = inspect(model).primary_key[0]
    values = [int(k) if k.isdigit() and type_name != "UnitKind" else k for k in keys.split(",")]
    query = select(model).where(pk.in_(values))
    if model in ROW_FILTERS:
        query = query.where(scope.visible(model))
    found = {getattr(row, pk.key): row for row in await session.scalars(query)}
    if shape == "list":
        return [found[v] for v in values if v in found]
    return found.get(values[0])


async def run_mutation(
    info: Info,
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    arguments: Any = None,
    idempotency_key: str | None = None,
) -> tuple[T | None, list[FieldError]]:
    """Run one service call in its own write transaction, audited, retry-safe; typed errors roll everything back.

    With an idempotency key, the key is claimed in the same transaction as the writes: a replay
    answers with the object of the first answer and changes nothing. A deadlock or serialization
    failure rolled back everything, so the call is retried a few times before a CONFLICT.
    """
    ctx = info.context
    try:
        return await _run(ctx, info.field_name, work, arguments, idempotency_key)
    finally:
        ctx.loaders = Loaders(ctx.db, ctx.scope)  # cached rows may predate (or be expired by) this mutation


async def _run(ctx: Context, operation: str, work: Callable[[AsyncSession], Awaitable[T]], arguments: Any, idempotency_key: str | None) -> tuple[T | None, list[FieldError]]:
    actor = ctx.scope.principal
    digest = fingerprint(ctx.settings.signing_key(), operation, dataclasses.asdict(arguments) if dataclasses.is_dataclass(arguments) else arguments)
    async with ctx.db.use() as session:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with write_transaction(session, actor=actor, request_id=ctx.request_id):
                    if idempotency_key is not None:
                        claimed = await claim(session, user_id=actor.user_id, key=idempotency_key, operation=operation, digest=digest)
                        if claimed.replay:
                            return await _replayed(session, ctx.scope, claimed.result_ref), []
                    result = await work(session)
                    if idempotency_key is not None:
                        await complete(session, user_id=actor.user_id, key=idempotency_key, result_ref=_ref(result))
                    return result, []
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
