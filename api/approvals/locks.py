"""The lock an approval puts on the figures it covers, checked by every service that writes a figure.

A measurement or a progress report falls under an approval when its own unit has approved, for a resolution whose
family holds the figure, a period holding the figure's period or day (the figures an approved view counts are
exactly those). Such a figure is written only to correct an item the level above returned: the return is then
marked corrected. The unit's row is share-locked first, so that an approval at that unit (which locks the row for
update) waits for a figure being written there, and the figure sees an approval committed before it.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update

from resolute.api.approvals.models import DataApproval, DataReturn
from resolute.api.db import utcnow
from resolute.api.errors import ErrorCode, fail
from resolute.api.kpis.periods import periods_containing
from resolute.api.org.models import Unit
from resolute.api.resolutions.models import Resolution
from resolute.api.tasks.models import ProgressReport
from resolute.api.transaction import Tx

__all__ = ["chain_up", "ensure_open"]

MAX_CHAIN = 16  # an implementation chain is a few levels deep; a longer one is a cycle


async def chain_up(session: object, resolution_id: int) -> list[int]:
    """The resolution and those it implements, up the chain: the families that hold its figures."""
    chain: list[int] = []
    current: int | None = resolution_id
    while current is not None and current not in chain and len(chain) < MAX_CHAIN:
        chain.append(current)
        current = await session.scalar(select(Resolution.implements_id).where(Resolution.id == current))  # type: ignore[attr-defined]
    return chain


async def ensure_open(
    tx: Tx, *, unit: Unit, resolution_id: int, when: str | date, field: str, measurement_id: int | None = None, assignment_id: int | None = None,
) -> None:
    """INVALID when the figure (of `unit`, for a period or a day `when`) lies under an approval of that unit, unless it
    corrects an item returned for that period: that measurement (`measurement_id`), or, for a report of the
    assignment, a returned report dated on or before it."""
    periods = periods_containing(when)
    session = tx.session
    await session.execute(select(Unit.id).where(Unit.id == unit.id).with_for_update(read=True))
    found = list((await session.execute(
        select(DataApproval.resolution_id, DataApproval.period).where(DataApproval.unit_id == unit.id, DataApproval.period.in_(periods))
    )).all())  # fmt: skip
    if not found:  # the usual case: one indexed probe, no chain to walk
        return
    chain = await chain_up(session, resolution_id)
    locking = [period for resolution, period in found if resolution in chain]
    if not locking:
        return
    returned = select(DataReturn.id).where(DataReturn.state == "returned", DataReturn.period.in_(periods), DataReturn.resolution_id.in_(chain))
    if measurement_id is not None:
        returned = returned.where(DataReturn.item_kind == "measurement", DataReturn.item_id == measurement_id)
    elif assignment_id is not None and isinstance(when, date):
        dated = select(ProgressReport.id).where(ProgressReport.assignment_id == assignment_id, ProgressReport.reported_on <= when)
        returned = returned.where(DataReturn.item_kind == "progress_report", DataReturn.assignment_id == assignment_id, DataReturn.item_id.in_(dated))
    else:
        raise fail(field, ErrorCode.INVALID, f"the figures of {unit.code} for {locking[0]} are approved: no new figure goes into them")
    ids = list(await session.scalars(returned))
    if not ids:
        raise fail(field, ErrorCode.INVALID,
                   f"the figures of {unit.code} for {locking[0]} are approved: the level above returns an item to have it corrected")
    await session.execute(update(DataReturn).where(DataReturn.id.in_(ids)).values(state="corrected", corrected_by_id=tx.user_id, corrected_at=utcnow()))
    for return_id in ids:
        tx.record(action="dataReturnCorrect", object_type="data_return", object_key=return_id, unit_id=unit.id, after={"state": "corrected"})
