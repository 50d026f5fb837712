"""Reading plan revisions: through the programme they belong to (seen by whoever reads it), newest first."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.access.scope import Scope
from resolute.api.plans.models import PlanRevision

__all__ = ["MAX_REVISIONS", "revisions_by_resolution_ids"]

MAX_REVISIONS = 50  # the revisions listed per plan, newest first


async def revisions_by_resolution_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, list[PlanRevision]]:
    grouped: dict[int, list[PlanRevision]] = defaultdict(list)
    rows = await session.scalars(select(PlanRevision).where(PlanRevision.resolution_id.in_(set(ids))).order_by(PlanRevision.resolution_id, PlanRevision.revision.desc()))
    for row in rows:
        if len(grouped[row.resolution_id]) < MAX_REVISIONS:
            grouped[row.resolution_id].append(row)
    return grouped
