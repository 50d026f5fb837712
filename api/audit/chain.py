"""Recording audit events and keeping them in one hash chain, also under concurrent writers.

Services call `record(...)` while they work; `append_pending(...)` runs just before the
mutation's commit, takes the chain lock (a PostgreSQL advisory lock held until commit; SQLite's
BEGIN IMMEDIATE already serialises writers), reads the last hash and appends. So events are
chained in commit order, and a rolled-back mutation leaves no event behind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.audit.models import AuditEvent

__all__ = ["GENESIS", "Broken", "Event", "append_pending", "canonical", "discard_pending", "record", "verify_chain"]

GENESIS = "0" * 64
_CHAIN_LOCK_KEY = 0x5E501_A0D17
_PENDING = "resolute.audit.pending"


@dataclass(frozen=True)
class _Pending:
    action: str
    object_type: str
    object_key: str
    unit_id: int | None
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Event:
    """A committed audit event, as the after-commit hooks receive it (it carries its unit)."""

    id: int
    occurred_at: datetime
    actor_id: int | None
    action: str
    object_type: str
    object_key: str
    unit_id: int | None
    request_id: str | None


@dataclass(frozen=True)
class Broken:
    event_id: int
    reason: str


def canonical(value: Any) -> str | None:
    """Stable JSON (sorted keys, no spaces, UTF-8 kept) so that hashes can be recomputed anywhere."""
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


def event_hash(
    *,
    prev_hash: str,
    occurred_at: datetime,
    actor_id: int | None,
    actor_username: str | None,
    action: str,
    object_type: str,
    object_key: str,
    unit_id: int | None,
    before: str | None,
    after: str | None,
    request_id: str | None,
) -> str:
    content = [prev_hash, _iso(occurred_at), actor_id, actor_username, action, object_type, object_key, unit_id, before, after, request_id]
    return hashlib.sha256(json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def record(
    session: AsyncSession,
    *,
    action: str,
    object_type: str,
    object_key: str | int,
    unit_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Note an event of the current write transaction; it is chained just before the commit."""
    session.info.setdefault(_PENDING, []).append(
        _Pending(action=action, object_type=object_type, object_key=str(object_key), unit_id=unit_id, before=canonical(before), after=canonical(after))
    )


def discard_pending(session: AsyncSession) -> None:
    session.info.pop(_PENDING, None)


async def append_pending(session: AsyncSession, *, actor_id: int | None, actor_username: str | None, request_id: str | None) -> list[Event]:
    """Chain and insert the events recorded in this transaction; returns them."""
    pending: list[_Pending] = session.info.pop(_PENDING, [])
    if not pending:
        return []
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})
    prev = await session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or GENESIS
    now = datetime.now(timezone.utc)
    appended: list[Event] = []
    for event in pending:
        values = {
            "occurred_at": now,
            "actor_id": actor_id,
            "actor_username": actor_username,
            "action": event.action,
            "object_type": event.object_type,
            "object_key": event.object_key,
            "unit_id": event.unit_id,
            "before": event.before,
            "after": event.after,
            "request_id": request_id,
        }
        digest = event_hash(prev_hash=prev, **values)
        event_id = await session.scalar(insert(AuditEvent).values(prev_hash=prev, hash=digest, **values).returning(AuditEvent.id))
        appended.append(Event(int(event_id), now, actor_id, event.action, event.object_type, event.object_key, event.unit_id, request_id))  # type: ignore[arg-type]
        prev = digest
    return appended


async def _events(session: AsyncSession, batch: int = 5000) -> AsyncIterator[AuditEvent]:
    last = 0
    while True:
        rows = list(await session.scalars(select(AuditEvent).where(AuditEvent.id > last).order_by(AuditEvent.id).limit(batch)))
        if not rows:
            return
        for row in rows:
            yield row
        last = rows[-1].id
        session.expunge_all()


async def verify_chain(session: AsyncSession) -> tuple[int, Broken | None]:
    """Recompute the chain in id order: (events checked, the first broken link or None)."""
    prev, count = GENESIS, 0
    async for event in _events(session):
        count += 1
        if event.prev_hash != prev:
            return count, Broken(event.id, "its prev_hash does not match the previous event's hash (an event before it was changed, removed or inserted)")
        expected = event_hash(
            prev_hash=event.prev_hash,
            occurred_at=event.occurred_at,
            actor_id=event.actor_id,
            actor_username=event.actor_username,
            action=event.action,
            object_type=event.object_type,
            object_key=event.object_key,
            unit_id=event.unit_id,
            before=event.before,
            after=event.after,
            request_id=event.request_id,
        )
        if event.hash != expected:
            return count, Broken(event.id, "its content does not match its hash (the event was changed)")
        prev = event.hash
    return count, None
