"""The lock an approval puts on a programme's plan, checked by every service that edits a definition of it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from resolute.api.errors import ErrorCode, fail
from resolute.api.plans.models import PlanRevision
from resolute.api.transaction import Tx

__all__ = ["LOCKED", "current", "ensure_editable"]

LOCKED = ("submitted", "approved")


async def current(session: Any, resolution_id: int) -> PlanRevision | None:
    """The plan's latest revision (None: never submitted)."""
    return await session.scalar(select(PlanRevision).where(PlanRevision.resolution_id == resolution_id).order_by(PlanRevision.revision.desc()).limit(1))


async def ensure_editable(tx: Tx, resolution_id: int, *, field: str) -> None:
    """INVALID when the resolution's plan is submitted or approved: it is then changed through a new revision only."""
    found = await current(tx.session, resolution_id)
    if found is not None and found.state in LOCKED:
        raise fail(field, ErrorCode.INVALID, f"the plan is {found.state} (revision {found.revision}): open a new revision (planRevise) to change it")
