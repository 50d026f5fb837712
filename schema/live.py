"""Subscriptions over graphql-transport-ws: assignments, measurements and warnings as they change.

A subscription follows one unit's subtree (default: the caller's own unit). The broker
(api.events.broker) tells every subscription what committed, in any server process; each change
is read back through the subscriber's own scope, with a fresh context, and only what it may read
is sent. While it runs, a subscription reads its caller again every RESOLUTE_LIVE_RECHECK_SECONDS
(and when its token expires): an expired or revoked token or a deactivated account ends it with
UNAUTHENTICATED, a unit it may no longer read with NOT_FOUND, a client too slow for its inbox with
OVERFLOW (it then reads the current state and subscribes again). No database session is held
while it waits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import strawberry
from graphql import ExecutionResult, GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from resolute.api.access.policy import Policy
from resolute.api.access.scope import Scope
from resolute.api.auth.principal import load_account
from resolute.api.auth.tokens import TokenClaims
from resolute.api.db import RequestDB
from resolute.api.events.broker import Broker, Change
from resolute.api.monitoring import warnings
from resolute.api.monitoring.warnings import ASSIGNMENT_KINDS, WarningFilter
from resolute.api.org.models import Unit
from resolute.api.org.tree import lies_under
from resolute.api.settings import Settings
from resolute.api.tasks import reads as task_reads
from resolute.schema.context import Context, Info
from resolute.schema.ids import decode_id
from resolute.schema.kpis.types import MeasurementType
from resolute.schema.monitoring.warnings import WarningType
from resolute.schema.tasks.types import AssignmentType

__all__ = ["ConnectionContext", "HttpSubscriptions", "Live", "LiveSubscription"]

ASSIGNMENT_OBJECTS = frozenset({"assignment", "progress_report", "extension", "evaluation"})


@dataclass
class Live:
    """A websocket connection's own state: where changes come from, how to read its caller again."""

    broker: Broker
    sessions: async_sessionmaker[AsyncSession]
    policy: Policy
    settings: Settings
    claims: TokenClaims | None
    tokens: Any = None  # the app's api.auth.backend.TokenBackend: how connection_init's token is checked


# The context of the subscription running in this task: a connection's subscriptions run side by side,
# each with its own session, loaders and scope (one shared session would be closed under another's read).
_operation: ContextVar[Context | None] = ContextVar("live_operation", default=None)


class ConnectionContext:
    """What strawberry holds as a websocket connection's context: the connection's own Context (its caller,
    its live state), except inside a subscription, whose task reads and writes its own copy."""

    def __init__(self, base: Context) -> None:
        object.__setattr__(self, "_base", base)

    def _current(self) -> Context:
        return _operation.get() or object.__getattribute__(self, "_base")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._current(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._current(), name, value)


class HttpSubscriptions(SchemaExtension):
    """A subscription sent over HTTP is refused with a clear error: it is served over the websocket only."""

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        if execution.operation_type == OperationType.SUBSCRIPTION and getattr(execution.context, "live", None) is None:
            execution.result = ExecutionResult(data=None, errors=[_error(
                "BAD_REQUEST", "subscriptions are served over a websocket at /graphql (graphql-transport-ws protocol)")])
        yield


def _error(code: str, message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


async def _recheck(ctx: Context, unit_id: int) -> Unit:
    """Read the caller again (its token, account and grants) and the unit it follows; end the subscription if either is gone."""
    live: Live = ctx.live
    claims = live.claims
    if claims is None or claims.expires_at <= time.time():
        raise _error("UNAUTHENTICATED", "the token has expired: log in again and subscribe again")
    async with live.sessions() as session:
        account = await load_account(session, claims)
    if account is None:
        raise _error("UNAUTHENTICATED", "the token was revoked or the account deactivated")
    ctx.scope = Scope(account.principal, live.policy)
    ctx.refresh()
    unit = await ctx.loaders.units_by_id.load(unit_id)
    await ctx.db.close()
    if unit is None:
        raise _error("NOT_FOUND", "the unit followed is no longer in your scope")
    return unit


def _next_check(live: Live) -> float:
    """When (monotonic) to read the caller again: after the interval, or when its token expires if sooner."""
    expires_in = live.claims.expires_at - time.time() if live.claims is not None else 0.0
    return time.monotonic() + max(0.0, min(live.settings.live_recheck_seconds, expires_in))


Resolve = Callable[[Context, Change, Unit], Awaitable[list[Any]]]


async def _follow(info: Info, unit: strawberry.ID | None, wanted: frozenset[str], resolve: Resolve) -> AsyncIterator[Any]:
    """What `resolve` makes of each change of the `wanted` object types under the unit followed, read as the caller."""
    live: Live | None = info.context.live
    if live is None:
        raise _error("BAD_REQUEST", "subscriptions are served over a websocket (graphql-transport-ws) at /graphql")
    ctx = dataclasses.replace(info.context._current(), db=RequestDB(live.sessions))  # this subscription's own
    _operation.set(ctx)
    unit_id = decode_id(unit, "Unit", "unit") if unit is not None else ctx.scope.principal.unit_id
    followed = await _recheck(ctx, unit_id)
    next_check = _next_check(live)
    with live.broker.subscribe() as inbox:
        while True:
            await ctx.db.close()  # hold no connection while waiting
            try:
                change: Change | None = await asyncio.wait_for(inbox.queue.get(), timeout=max(0.05, next_check - time.monotonic()))
            except TimeoutError:
                change = None
            if inbox.overflowed:
                raise _error("OVERFLOW", "changes came faster than this client read them: read the current state, then subscribe again")
            if time.monotonic() >= next_check:
                followed = await _recheck(ctx, unit_id)
                next_check = _next_check(live)
            if change is None or change.object_type not in wanted:
                continue
            ctx.refresh()
            for item in await resolve(ctx, change, followed):
                yield item


async def _assignment_id(ctx: Context, change: Change, unit: Unit) -> int | None:
    async with ctx.db.use() as session:
        return await task_reads.assignment_id_of(session, ctx.scope, change.object_type, int(change.object_key), under_path=unit.path)


@strawberry.type(description="An assignment changed: itself, or one of its reports, extensions or evaluations.")
class AssignmentChange:
    action: str = strawberry.field(description="The mutation that changed it, e.g. progressReportSubmit.")
    occurred_at: datetime
    assignment: AssignmentType


@strawberry.type(description="A measurement was submitted or corrected.")
class MeasurementChange:
    action: str
    occurred_at: datetime
    measurement: MeasurementType


async def _assignment_changes(ctx: Context, change: Change, unit: Unit) -> list[AssignmentChange]:
    assignment_id = await _assignment_id(ctx, change, unit)
    row = await ctx.loaders.assignments_by_id.load(assignment_id) if assignment_id is not None else None
    if row is None:
        return []
    return [AssignmentChange(action=change.action, occurred_at=datetime.fromisoformat(change.occurred_at), assignment=AssignmentType(row=row))]


async def _measurement_changes(ctx: Context, change: Change, unit: Unit) -> list[MeasurementChange]:
    row = await ctx.loaders.measurements_by_id.load(int(change.object_key))
    if row is None:
        return []
    measured = await ctx.loaders.units_by_id.load(row.unit_id)
    if measured is None or not lies_under(measured.path, unit.path):
        return []
    return [MeasurementChange(action=change.action, occurred_at=datetime.fromisoformat(change.occurred_at), measurement=MeasurementType(row=row))]


async def _raised_warnings(ctx: Context, change: Change, unit: Unit) -> list[WarningType]:
    """The warnings the changed object stands under now, as the caller may read them."""
    if change.object_type in ASSIGNMENT_OBJECTS:
        object_id = await _assignment_id(ctx, change, unit)
        kinds: tuple[str, ...] = ASSIGNMENT_KINDS
    else:
        object_id = int(change.object_key)
        kinds = ("kpi_light",) if change.object_type == "measurement" else ("milestone_missed",)
    if object_id is None:
        return []
    flt = WarningFilter(kinds=kinds, object_ids=(object_id,))
    async with ctx.db.use() as session:
        found = await warnings.list_warnings(session, ctx.scope, unit, flt, today=ctx.today, first=20, after=None)
    return [WarningType(data=w) for w in found]


@strawberry.type
class LiveSubscription:
    @strawberry.subscription(description=(
        "Each change of an assignment (or of its reports, extensions, evaluations) under a unit (default: your own) "
        "that you may read, as it commits on any server."
    ))
    async def assignment_changed(self, info: Info, unit: strawberry.ID | None = None) -> AsyncGenerator[AssignmentChange, None]:
        async for item in _follow(info, unit, ASSIGNMENT_OBJECTS, _assignment_changes):
            yield item

    @strawberry.subscription(description="Each measurement submitted or corrected under a unit (default: your own) that you may read.")
    async def measurement_changed(self, info: Info, unit: strawberry.ID | None = None) -> AsyncGenerator[MeasurementChange, None]:
        async for item in _follow(info, unit, frozenset({"measurement"}), _measurement_changes):
            yield item

    @strawberry.subscription(description=(
        "The warnings an object stands under right after it changed (an assignment, a milestone, a KPI's latest value), "
        "under a unit (default: your own), as you may read them."
    ))
    async def warning_raised(self, info: Info, unit: strawberry.ID | None = None) -> AsyncGenerator[WarningType, None]:
        async for item in _follow(info, unit, ASSIGNMENT_OBJECTS | {"measurement", "milestone"}, _raised_warnings):
            yield item
