"""The lock an approval puts on the figures it covers, checked by every service that writes a figure.

A measurement or a progress report falls under an approval when a unit at or above the figure's unit has approved,
for a resolution whose family holds the figure, a period holding the figure's period or day. Such a figure is
written only to correct an item the level above returned: the return is then marked corrected.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import false, select, update

from resolute.api.approvals.models import DataApproval, DataReturn
from resolute.api.db import utcnow
from resolute.api.errors import ErrorCode, fail
from resolute.api.kpis.periods import periods_containing
from resolute.api.org.models import Unit
from resolute.api.org.tree import path_ids
from resolute.api.resolutions.models import Resolution
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
    """INVALID when the figure (of `unit`, for a period or a day `when`) lies under an approval, unless it corrects
    an item returned for that period: a measurement (`measurement_id`), or a report of the assignment."""
    periods = periods_containing(when)
    chain = await chain_up(tx.session, resolution_id)
    found = (await tx.session.execute(
        select(DataApproval.period, DataApproval.resolution_id, Unit.code).join(Unit, Unit.id == DataApproval.unit_id)
        .where(DataApproval.resolution_id.in_(chain), DataApproval.period.in_(periods), DataApproval.unit_id.in_(path_ids(unit.path)))
        .order_by(Unit.depth.desc()).limit(1)
    )).first()  # fmt: skip
    if found is None:
        return
    returned = select(DataReturn.id).where(DataReturn.state == "returned", DataReturn.period.in_(periods), DataReturn.resolution_id.in_(chain))
    if measurement_id is not None:
        returned = returned.where(DataReturn.item_kind == "measurement", DataReturn.item_id == measurement_id)
    elif assignment_id is not None:
        returned = returned.where(DataReturn.item_kind == "progress_report", DataReturn.assignment_id == assignment_id)
    else:
        returned = returned.where(false())
    ids = list(await tx.session.scalars(returned))
    if not ids:
        raise fail(field, ErrorCode.INVALID,
                   f"the figures of {found.period} are approved (at {found.code}): the level above returns an item to have it corrected")
    await tx.session.execute(update(DataReturn).where(DataReturn.id.in_(ids)).values(state="corrected", corrected_by_id=tx.user_id, corrected_at=utcnow()))
    for return_id in ids:
        tx.record(action="dataReturnCorrect", object_type="data_return", object_key=return_id, unit_id=unit.id, after={"state": "corrected"})
