"""The unit of work: every write of every entry point runs through it, one service call at a time.

`UnitOfWork.run` begins a write transaction, claims the idempotency key (or answers a replay),
runs the service call, completes the key, chains the audit events, commits, and then hands the
transaction's events to the after-commit hooks (subscriptions, rollup maintenance). A typed
refusal, an integrity conflict or any exception rolls everything back, audit events and key
included; a deadlock or serialization failure is retried a few times first. GraphQL mutations,
the CLI, the import and `/auth/token` all come through here, so none of them can forget a step.

On SQLite the transaction starts with BEGIN IMMEDIATE, so concurrent writers queue for the write
lock instead of reading stale rows; on PostgreSQL services take row locks (and the tree and audit
chain advisory locks) where they need them.

Services are written as `@operation("taskCreate") async def create_task(tx, *, ...)` and called
as `await create_task(uow, ...)`, which answers an `Outcome`: the value, or the typed errors.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from sqlalchemy import inspect, or_, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api import clock
from resolute.api.access.scope import OBJECT_TYPES, Scope
from resolute.api.audit.chain import Event, append_pending, discard_pending, record
from resolute.api.errors import ErrorCode, FieldError, ServiceError, fail
from resolute.api.idempotency.service import claim, complete, fingerprint, reference, replayed
from resolute.api.settings import Settings

__all__ = ["AfterCommit", "Outcome", "Tx", "UnitOfWork", "operation"]

log = logging.getLogger("resolute.transaction")

T = TypeVar("T")
M = TypeVar("M")
P = ParamSpec("P")

SessionSource = Callable[[], AbstractAsyncContextManager[AsyncSession]]
AfterCommit = Callable[[Sequence[Event]], Awaitable[None]]

TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available
ATTEMPTS = 3


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What a service call answered: its value, or why it was refused (then nothing changed)."""

    value: T | None = None
    errors: list[FieldError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class Tx:
    """What a service sees of its transaction: the session, the caller's scope, today, the audit."""

    def __init__(self, session: AsyncSession, scope: Scope | None, settings: Settings, today: date) -> None:
        self.session = session
        self._scope = scope
        self.settings = settings
        self.today = today

    @property
    def scope(self) -> Scope:
        """The caller's scope; an operation run by the system (CLI, import) has none to ask."""
        if self._scope is None:
            raise RuntimeError("this operation needs a caller, and the unit of work has none")
        return self._scope

    @property
    def user_id(self) -> int | None:
        return self._scope.principal.user_id if self._scope else None

    def record(
        self, *, action: str, object_type: str, object_key: str | int, unit_id: int | None,
        before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
    ) -> None:
        """Note an audit event (chained at commit, handed to the after-commit hooks)."""
        record(self.session, action=action, object_type=object_type, object_key=object_key, unit_id=unit_id, before=before, after=after)

    async def load(
        self, model: type[M], pk: int, *, field: str, act: str = "read", obj: str | None = None, lock: bool = False, or_verb: tuple[str, str] | None = None,
    ) -> M:
        """The row `pk` of `model` if the caller may `act` on it there (or do `or_verb`, an (act, obj)
        pair); else NOT_FOUND, exactly as for an id that does not exist. The one way a service
        fetches what it writes."""
        verbs = [(act, obj)] + ([or_verb] if or_verb else [])
        if not any(self._allows(o or OBJECT_TYPES[model], a) for a, o in verbs):
            self.require(obj or OBJECT_TYPES[model], act, field=field)
        condition = or_(*(self.scope.visible(model, a, obj=o) for a, o in verbs))
        query = select(model).where(_pk(model) == pk, condition)
        if lock:
            query = query.with_for_update()
        row = await self.session.scalar(query)
        if row is None:
            raise fail(field, ErrorCode.NOT_FOUND, f"no such {_noun(model)}")
        return row  # type: ignore[no-any-return]

    async def load_many(self, model: type[M], pks: Sequence[int], *, field: str, act: str = "read", obj: str | None = None) -> list[M]:
        """The rows `pks` (in that order) if the caller may `act` on every one; else NOT_FOUND."""
        self.require(obj or OBJECT_TYPES[model], act, field=field)
        if not pks:
            return []
        found = {_pk_of(row): row for row in await self.session.scalars(select(model).where(_pk(model).in_(set(pks)), self.scope.visible(model, act, obj=obj)))}
        if len(found) != len(set(pks)):
            raise fail(field, ErrorCode.NOT_FOUND, f"no such {_noun(model)}")
        return [found[pk] for pk in pks]

    def _allows(self, kind: str, act: str) -> bool:
        return act == "read" or self.scope.allows(kind, act)

    def require(self, kind: str, act: str, *, field: str | None) -> None:
        """FORBIDDEN when no role of the caller may `act` on `kind` anywhere: casbin alone decides
        it, before any row is read, so the answer is the same whatever the ids; where it may, the
        tree decides (NOT_FOUND). Services whose first read is not their verb's call it first."""
        if not self._allows(kind, act):
            raise fail(field, ErrorCode.FORBIDDEN, f"your roles do not allow '{act}' on {kind.replace('_', ' ')}s")


def _pk(model: type) -> Any:
    return inspect(model).primary_key[0]


def _pk_of(row: Any) -> Any:
    return inspect(row).identity[0]


def _noun(model: type) -> str:
    return {"Kpi": "KPI", "Extension": "extension request"}.get(model.__name__) or OBJECT_TYPES.get(model, model.__name__).replace("_", " ")


def _transient(exc: DBAPIError) -> bool:
    """A failure of the moment, after which the whole transaction was rolled back and may be retried."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in TRANSIENT_SQLSTATES or "database is locked" in str(exc.orig)


class UnitOfWork:
    """One caller's way to write: one `run` is one transaction (see the module docstring).

    `scope` is the caller's (None for the system: CLI commands, the import, logins); `actor_label`
    names a system caller in the audit trail (e.g. "cli"); `idempotency_key` makes a retry safe.
    """

    def __init__(
        self,
        *,
        sessions: SessionSource,
        settings: Settings,
        scope: Scope | None = None,
        request_id: str | None = None,
        idempotency_key: str | None = None,
        after_commit: Sequence[AfterCommit] = (),
        actor_label: str | None = None,
        today: date | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.scope = scope
        self.request_id = request_id
        self.idempotency_key = idempotency_key
        self._after_commit = tuple(after_commit)
        self._actor_label = actor_label
        self._today = today

    @property
    def today(self) -> date:
        return self._today or clock.today()

    def acting_as(self, scope: Scope) -> UnitOfWork:
        """The same sessions and settings, acting as another caller (the demo plays its users)."""
        return UnitOfWork(sessions=self.sessions, settings=self.settings, scope=scope, request_id=self.request_id,
                          after_commit=self._after_commit, today=self._today)

    async def run(self, operation: str, work: Callable[[Tx], Awaitable[T]], *, arguments: Mapping[str, Any] | None = None) -> Outcome[T]:
        key = self.idempotency_key
        if key is not None and self.scope is None:
            raise RuntimeError("idempotency keys belong to a user; this unit of work has no caller")
        digest = fingerprint(self.settings.signing_key(), operation, dict(arguments or {})) if key is not None else ""
        async with self.sessions() as session:
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    outcome, events = await self._attempt(session, operation, work, key, digest)
                except ServiceError as exc:
                    return Outcome(errors=exc.errors)
                except IntegrityError:
                    return Outcome(errors=[FieldError(None, ErrorCode.CONFLICT, "a concurrent change conflicts with this one; reload and retry")])
                except DBAPIError as exc:
                    if not _transient(exc):
                        raise
                    if attempt == ATTEMPTS:
                        return Outcome(errors=[FieldError(None, ErrorCode.CONFLICT, "the database is busy with concurrent changes; retry")])
                    await asyncio.sleep(0.02 * attempt)
                    continue
                await self._hand_over(events)
                return outcome
        raise AssertionError("unreachable")

    async def _attempt(self, session: AsyncSession, operation: str, work: Callable[[Tx], Awaitable[T]], key: str | None, digest: str) -> tuple[Outcome[T], list[Event]]:
        """One try: everything or nothing (a raised error has rolled the transaction back)."""
        if session.in_transaction():
            await session.rollback()  # ends a read-only transaction and expires what it loaded: reread fresh
        discard_pending(session)
        await session.connection(execution_options={"resolute_write": True})  # BEGIN IMMEDIATE on SQLite
        tx = Tx(session, self.scope, self.settings, self.today)
        try:
            if key is not None:
                user_id = self.scope.principal.user_id  # type: ignore[union-attr]
                claimed = await claim(session, user_id=user_id, key=key, operation=operation, digest=digest)
                if claimed.replay:
                    value = await replayed(session, self.scope, claimed.result_ref)  # type: ignore[arg-type]
                    await session.commit()  # nothing was written; ends the transaction, keeps what was read
                    return Outcome(value=value), []
            value = await work(tx)
            if key is not None:
                await complete(session, user_id=user_id, key=key, result_ref=reference(value))
            principal = self.scope.principal if self.scope else None
            events = await append_pending(
                session,
                actor_id=principal.user_id if principal else None,
                actor_username=principal.username if principal else self._actor_label,
                request_id=self.request_id,
            )
            await session.commit()
            return Outcome(value=value), events
        except BaseException:
            discard_pending(session)
            await session.rollback()
            raise

    async def _hand_over(self, events: list[Event]) -> None:
        """After-commit hooks see what was committed; their failure cannot undo it, so it is logged."""
        if not events:
            return
        for hook in self._after_commit:
            try:
                await hook(events)
            except Exception:  # noqa: BLE001 - a subscriber's failure must not fail a committed write
                log.exception("after-commit hook %r failed", hook)


def operation(name: str) -> Callable[[Callable[Concatenate[Tx, P], Awaitable[T]]], Callable[Concatenate[UnitOfWork, P], Awaitable[Outcome[T]]]]:
    """Make a service function `fn(tx, **kwargs)` callable as `fn(uow, **kwargs) -> Outcome`.

    `name` is the operation's name in the audit trail and for idempotency keys; the keyword
    arguments are the input a replayed key must match.
    """

    def wrap(fn: Callable[Concatenate[Tx, P], Awaitable[T]]) -> Callable[Concatenate[UnitOfWork, P], Awaitable[Outcome[T]]]:
        @functools.wraps(fn)
        async def call(uow: UnitOfWork, /, *args: P.args, **kwargs: P.kwargs) -> Outcome[T]:
            if args:
                raise TypeError(f"{name}: service arguments are keyword-only")
            return await uow.run(name, lambda tx: fn(tx, **kwargs), arguments=kwargs)

        call.operation = name  # type: ignore[attr-defined]
        return call

    return wrap
