"""Reading published results: by whoever may read their resolution; a snapshot's hash checked against its content
and against the audit chain's record of it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.access.scope import Scope
from resolute.api.audit.models import AuditEvent
from resolute.api.org.models import Unit
from resolute.api.resolutions.models import Resolution
from resolute.api.results.models import PublishedResult
from resolute.api.results.service import content_hash

__all__ = ["count_published", "hashes_on_record", "list_published", "published_by_ids", "readable", "verified"]


def readable(scope: Scope) -> Any:
    """A snapshot holds every sub-unit's figures of the unit it covers: it is read by whoever reads that unit's whole
    subtree (ACCESS.md: no figure of a unit one may not list), and the resolution."""
    return and_(
        select(Unit.id).where(Unit.id == PublishedResult.unit_id, scope.visible(Unit)).exists(),
        select(Resolution.id).where(Resolution.id == PublishedResult.resolution_id, scope.visible(Resolution)).exists(),
    )


async def list_published(
    session: AsyncSession, scope: Scope, *, resolution_id: int, period: str | None, first: int, after: int | None
) -> list[PublishedResult]:
    """Up to first+1 snapshots of a resolution the caller may read, newest first (period, then version)."""
    query = select(PublishedResult).where(PublishedResult.resolution_id == resolution_id, readable(scope))
    if period is not None:
        query = query.where(PublishedResult.period == period)
    if after is not None:
        query = query.where(PublishedResult.id < after)
    return list(await session.scalars(query.order_by(PublishedResult.id.desc()).limit(first + 1)))


async def count_published(session: AsyncSession, scope: Scope, *, resolution_id: int, period: str | None) -> int:
    query = select(func.count()).select_from(PublishedResult).where(PublishedResult.resolution_id == resolution_id, readable(scope))
    if period is not None:
        query = query.where(PublishedResult.period == period)
    return int(await session.scalar(query) or 0)


async def published_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, PublishedResult]:
    rows = await session.scalars(select(PublishedResult).where(PublishedResult.id.in_(set(ids)), readable(scope)))
    return {row.id: row for row in rows}


async def hashes_on_record(session: AsyncSession, ids: Sequence[int]) -> dict[int, str]:
    """The content hash the audit chain recorded when each snapshot was published (by the snapshot's id)."""
    events = await session.execute(
        select(AuditEvent.object_key, AuditEvent.after).where(
            AuditEvent.action == "resultsPublish", AuditEvent.object_type == "published_result", AuditEvent.object_key.in_([str(pk) for pk in ids])
        )
    )
    return {int(key): json.loads(after or "{}").get("contentHash", "") for key, after in events.all()}


def verified(row: PublishedResult, on_record: str | None) -> bool:
    """Its content hashes to its hash, and that hash is the one the audit chain recorded."""
    return content_hash(row.content) == row.content_hash == on_record
