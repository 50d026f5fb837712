"""Reading the audit trail: newest first, filtered by the caller's scope (auditors and admins)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.access.scope import Scope
from resolute.api.audit.models import AuditEvent
from resolute.api.org.tree import units_under

__all__ = ["AuditFilter", "count_events", "events_by_ids", "list_events"]


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    object_type: str | None = None
    under_path: str | None = None
    since: datetime | None = None
    matches_nothing: bool = False


def _conditions(scope: Scope, flt: AuditFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [scope.visible(AuditEvent)] + ([false()] if flt.matches_nothing else [])
    if flt.action:
        conds.append(AuditEvent.action == flt.action)
    if flt.object_type:
        conds.append(AuditEvent.object_type == flt.object_type)
    if flt.since:
        conds.append(AuditEvent.occurred_at >= flt.since)
    if flt.under_path:
        conds.append(units_under(AuditEvent.unit_id, flt.under_path))
    return conds


async def list_events(session: AsyncSession, scope: Scope, flt: AuditFilter, *, first: int, before_id: int | None) -> list[AuditEvent]:
    """Up to first+1 events, newest first, older than the cursor's id."""
    query = select(AuditEvent).where(*_conditions(scope, flt)).order_by(AuditEvent.id.desc()).limit(first + 1)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return list(await session.scalars(query))


async def count_events(session: AsyncSession, scope: Scope, flt: AuditFilter) -> int:
    return int(await session.scalar(select(func.count()).select_from(AuditEvent).where(*_conditions(scope, flt))) or 0)


async def events_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, AuditEvent]:
    rows = await session.scalars(select(AuditEvent).where(AuditEvent.id.in_(set(ids)), scope.visible(AuditEvent)))
    return {row.id: row for row in rows}
