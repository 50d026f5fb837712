"""Data approval: a period's figures of a resolution pass up the tree level by level, as DHIS2's data approval.

- approve (`dataApprove`): a unit's level approves its figures for the period once the period is over, the unit
  holds figures, each of its children that holds figures (archived ones aside) has approved, and its parent has not
  (which would be undone first); who may approve data (leaders, managers) where the unit lies in their scope.
- accept (`dataAccept`): the level above takes a child's approval, someone else than who made it; from then on only
  the level above undoes it.
- un-approve (`dataUnapprove`): from the unit's own level while not accepted, or from above at any time; never
  under an approval of the parent (which goes first). The unit's figures are open again.
- return one item (`dataItemReturn`): the level above sends one measurement or progress report back to its reporter
  with a reason, without reopening the period; the item is held back from approved figures until the reporter
  corrects it (api.approvals.locks) and the level above clears it (`dataReturnClear`). Its unit's officers and
  managers, and whoever reported it (if it still may correct it), get a notification saying why. A report is
  corrected by a new one dated in the period, not before the returned one.

Every refusal is a typed error and writes nothing; every step is audited.
"""

from __future__ import annotations

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import aliased

from resolute.api.accounts.models import Grant, User
from resolute.api.approvals.data import Approved, participates, taking_part
from resolute.api.approvals.models import OPEN_RETURN_STATES, DataApproval, DataReturn
from resolute.api.db import utcnow
from resolute.api.errors import ErrorCode, fail
from resolute.api.kpis.models import Kpi, Measurement
from resolute.api.kpis.periods import PERIOD_FORMS, is_period
from resolute.api.monitoring.rollups import resolution_family
from resolute.api.org.models import Unit
from resolute.api.org.tree import lies_under, path_ids
from resolute.api.reminders.models import Notification, OutboxMessage
from resolute.api.resolutions.models import Resolution
from resolute.api.tasks.models import Assignment, ProgressReport, Task
from resolute.api.transaction import Tx, operation

__all__ = ["accept", "approve", "clear", "return_item", "unapprove"]

OBJ, ACT = "data_approval", "decide"
MAX_REASON = 1000
MAX_NAMED = 10  # the waiting children an error names
CORRECTORS = ("officer", "manager")  # the roles that submit figures, told when one of their unit's comes back


async def _view(tx: Tx, resolution_id: int, period: str) -> tuple[Resolution, Approved]:
    """The resolution (one the caller reads) and what its approval for the period covers; INVALID for a bad period."""
    if not is_period(period):
        raise fail("period", ErrorCode.INVALID, PERIOD_FORMS)
    resolution = await tx.load(Resolution, resolution_id, field="resolutionId")
    family = await resolution_family(tx.session, tx.scope, resolution.id)
    return resolution, Approved.of(resolution.id, family, period)


async def _unit(tx: Tx, resolution: Resolution, unit_id: int, field: str = "unitId") -> Unit:
    """The unit (one the caller reads, else NOT_FOUND) at which the resolution's figures are approved: at or under
    the unit that issued it."""
    unit = await tx.load(Unit, unit_id, field=field)
    issuer = await tx.session.get_one(Unit, resolution.issuing_unit_id)
    if not lies_under(unit.path, issuer.path):
        raise fail(field, ErrorCode.INVALID, f"the figures of {resolution.code} are approved at {issuer.code} and below")
    return unit


def _decides_at(tx: Tx, unit: Unit | None) -> bool:
    return unit is not None and tx.scope.covers(unit.path, OBJ, ACT)


async def _approval(tx: Tx, view: Approved, unit_id: int) -> DataApproval | None:
    return await tx.session.scalar(select(DataApproval).where(
        DataApproval.resolution_id == view.resolution_id, DataApproval.period == view.period, DataApproval.unit_id == unit_id).with_for_update())


async def _hold(tx: Tx, unit_id: int) -> None:
    """Lock the unit's row: an approval at a unit and an un-approval of one of its children take it both, so that
    neither decides on what the other is changing (a parent approved over a child that just un-approved)."""
    await tx.session.execute(select(Unit.id).where(Unit.id == unit_id).with_for_update())


async def _parent(tx: Tx, unit: Unit) -> Unit | None:
    return await tx.session.get(Unit, unit.parent_id) if unit.parent_id is not None else None


def _audit(tx: Tx, action: str, unit: Unit, view: Approved, **after: object) -> None:
    tx.record(action=action, object_type="data_approval", object_key=f"{view.resolution_id}:{view.period}:{unit.id}", unit_id=unit.id,
              after={"resolution_id": view.resolution_id, "period": view.period, **after})  # fmt: skip


@operation("dataApprove")
async def approve(tx: Tx, *, resolution_id: int, period: str, unit_id: int) -> DataApproval:
    """Approve the unit's figures for the period at its own level: after the period, and after its children."""
    tx.require(OBJ, ACT, field="unitId")
    resolution, view = await _view(tx, resolution_id, period)
    unit = await _unit(tx, resolution, unit_id)
    if not _decides_at(tx, unit):
        raise fail("unitId", ErrorCode.FORBIDDEN, f"you may not approve data at {unit.code}")
    if view.end > tx.today:
        raise fail("period", ErrorCode.INVALID, f"{period} is not over: its figures are approved from {view.end.isoformat()}")
    await _hold(tx, unit.id)
    if await _approval(tx, view, unit.id) is not None:
        raise fail("unitId", ErrorCode.INVALID, f"the figures of {unit.code} for {period} are already approved")
    parent = await _parent(tx, unit)
    if parent is not None and await _approval(tx, view, parent.id) is not None:
        raise fail("unitId", ErrorCode.INVALID, f"the figures are approved above, at {parent.code}: un-approve there first")
    holder = aliased(Unit, name="holder_unit")
    if not await tx.session.scalar(select(participates(holder, view)).select_from(holder).where(holder.id == unit.id)):
        raise fail("unitId", ErrorCode.INVALID, f"{unit.code} holds no figure of {resolution.code} for {period}: there is nothing to approve")
    child = aliased(Unit, name="child")
    waiting = list(await tx.session.scalars(
        select(child.code).where(child.parent_id == unit.id, *taking_part(child, view)).order_by(child.code).limit(MAX_NAMED + 1)))
    if waiting:
        named = ", ".join(waiting[:MAX_NAMED]) + (" …" if len(waiting) > MAX_NAMED else "")
        raise fail("unitId", ErrorCode.INVALID, f"waiting for the sub-units to approve first: {named}")
    row = DataApproval(resolution_id=view.resolution_id, period=view.period, unit_id=unit.id, state="approved", approved_by_id=tx.user_id, approved_at=utcnow())
    tx.session.add(row)
    await tx.session.flush()
    _audit(tx, "dataApprove", unit, view, state="approved")
    return row


@operation("dataAccept")
async def accept(tx: Tx, *, resolution_id: int, period: str, unit_id: int) -> DataApproval:
    """The level above takes a child's approval: from then on only it may undo it."""
    tx.require(OBJ, ACT, field="unitId")
    resolution, view = await _view(tx, resolution_id, period)
    unit = await _unit(tx, resolution, unit_id)
    if not _decides_at(tx, await _parent(tx, unit)):
        raise fail("unitId", ErrorCode.FORBIDDEN, f"an approval of {unit.code} is accepted by who may approve data at the unit above it")
    row = await _approval(tx, view, unit.id)
    if row is None or row.state != "approved":
        raise fail("unitId", ErrorCode.INVALID, f"the figures of {unit.code} for {period} are {'not approved' if row is None else 'already accepted'}")
    if row.approved_by_id == tx.user_id:
        raise fail("unitId", ErrorCode.FORBIDDEN, "you approved these figures: someone else at the level above accepts them")
    row.state, row.accepted_by_id, row.accepted_at = "accepted", tx.user_id, utcnow()
    await tx.session.flush()
    _audit(tx, "dataAccept", unit, view, state="accepted")
    return row


@operation("dataUnapprove")
async def unapprove(tx: Tx, *, resolution_id: int, period: str, unit_id: int) -> Unit:
    """Open the unit's figures again: from its own level while not accepted, from above at any time; never under an
    approval of its parent."""
    tx.require(OBJ, ACT, field="unitId")
    resolution, view = await _view(tx, resolution_id, period)
    unit = await _unit(tx, resolution, unit_id)
    if not _decides_at(tx, unit):
        raise fail("unitId", ErrorCode.FORBIDDEN, f"you may not un-approve data at {unit.code}")
    parent = await _parent(tx, unit)
    if parent is not None:
        await _hold(tx, parent.id)
    row = await _approval(tx, view, unit.id)
    if row is None:
        raise fail("unitId", ErrorCode.INVALID, f"the figures of {unit.code} for {period} are not approved")
    if parent is not None and await _approval(tx, view, parent.id) is not None:
        raise fail("unitId", ErrorCode.INVALID, f"the figures are approved above, at {parent.code}: un-approve there first")
    if row.state == "accepted" and not _decides_at(tx, parent):
        raise fail("unitId", ErrorCode.FORBIDDEN, f"the level above accepted the figures of {unit.code}: only it may un-approve them")
    await tx.session.execute(delete(DataApproval).where(DataApproval.id == row.id))
    _audit(tx, "dataUnapprove", unit, view, state=None, was=row.state)
    return unit


@operation("dataReturn")
async def return_item(tx: Tx, *, resolution_id: int, period: str, kind: str, item_id: int, reason: str | None) -> DataReturn:
    """Send one approved measurement or progress report back to its reporter with a reason (the level above the
    unit whose figure it is); the rest of the period stays approved."""
    tx.require(OBJ, ACT, field="itemId")
    reason = (reason or "").strip()
    if not reason:
        raise fail("reason", ErrorCode.REQUIRED, "say why the item is returned")
    if len(reason) > MAX_REASON:
        raise fail("reason", ErrorCode.TOO_LONG, f"at most {MAX_REASON:,} characters")
    resolution, view = await _view(tx, resolution_id, period)
    assignment_id: int | None = None
    if kind == "measurement":
        measurement = await tx.load(Measurement, item_id, field="itemId")
        resolution_of = await tx.session.scalar(select(Kpi.resolution_id).where(Kpi.id == measurement.kpi_id))
        unit_id, inside, reporter_id = measurement.unit_id, measurement.period in view.within, measurement.reported_by_id
    else:
        report = await tx.load(ProgressReport, item_id, field="itemId")
        assignment = await tx.session.get_one(Assignment, report.assignment_id)
        resolution_of = await tx.session.scalar(select(Task.resolution_id).where(Task.id == assignment.task_id))
        unit_id, inside, assignment_id = assignment.assignee_unit_id, report.reported_on < view.end, assignment.id  # the figure: its latest by then
        reporter_id = report.reporter_id
    if resolution_of not in view.family or not inside:
        raise fail("itemId", ErrorCode.INVALID, f"this item is not a figure of {resolution.code} for {period}")
    unit = await tx.session.get_one(Unit, unit_id)
    if not _decides_at(tx, await _parent(tx, unit)):
        raise fail("itemId", ErrorCode.FORBIDDEN, f"an item of {unit.code} is returned by who may approve data at the unit above it")
    if await _approval(tx, view, unit.id) is None:
        raise fail("itemId", ErrorCode.INVALID, f"the figures of {unit.code} for {period} are not approved: its reporters correct them directly")
    if await tx.session.scalar(select(DataReturn.id).where(DataReturn.item_kind == kind, DataReturn.item_id == item_id, DataReturn.state.in_(OPEN_RETURN_STATES))):
        raise fail("itemId", ErrorCode.INVALID, "this item is already returned")
    row = DataReturn(resolution_id=view.resolution_id, period=view.period, unit_id=unit.id, item_kind=kind, item_id=item_id, assignment_id=assignment_id,
                     state="returned", reason=reason, returned_by_id=tx.user_id, returned_at=utcnow())  # fmt: skip
    tx.session.add(row)
    await tx.session.flush()
    tx.record(action="dataReturn", object_type="data_return", object_key=row.id, unit_id=unit.id,
              after={"resolution_id": view.resolution_id, "period": view.period, "item": f"{kind}:{item_id}", "reason": reason})  # fmt: skip
    await _notify(tx, row, unit, reporter_id, f"{'Measurement' if kind == 'measurement' else 'Progress report'} of {unit.code} for {period} "
                  f"returned by the level above: {reason}")  # fmt: skip
    return row


async def _notify(tx: Tx, row: DataReturn, unit: Unit, reporter_id: int | None, message: str) -> None:
    """Tell who corrects the item (the unit's officers and managers, and whoever reported it) why it came back: a
    notification each, with its outbox row, in this transaction (delivered by the reminders worker)."""
    granted = aliased(Unit, name="granted")
    correctors = (
        select(Grant.user_id).join(granted, granted.id == Grant.unit_id)
        .where(Grant.role.in_(CORRECTORS), or_(Grant.unit_id == unit.id, and_(Grant.user_id == reporter_id, granted.id.in_(path_ids(unit.path)))))
    )  # fmt: skip  (the unit's own officers and managers; whoever reported it while it still may)
    chosen = select(User.id).where(User.active.is_(True), User.id.in_(correctors)).order_by(User.id)
    now = utcnow()
    for user_id in await tx.session.scalars(chosen):
        note = Notification(user_id=user_id, assignment_id=row.assignment_id, data_return_id=row.id, kind="data_returned", step=1,
                            key=f"data_returned:{row.id}:{user_id}", message=message, created_at=now)  # fmt: skip
        tx.session.add(note)
        await tx.session.flush()
        tx.session.add(OutboxMessage(notification_id=note.id, created_at=now))
    await tx.session.flush()


async def load_return(tx: Tx, return_id: int, *, field: str = "id") -> tuple[DataReturn, Unit]:
    """The return and its unit if the caller reads the item's unit, else NOT_FOUND."""
    row = await tx.session.scalar(select(DataReturn).where(DataReturn.id == return_id).with_for_update())
    unit = await tx.session.get(Unit, row.unit_id) if row is not None else None
    if row is None or unit is None or not tx.scope.covers(unit.path, row.item_kind):
        raise fail(field, ErrorCode.NOT_FOUND, "no such data return")
    return row, unit


@operation("dataReturnClear")
async def clear(tx: Tx, *, return_id: int) -> DataReturn:
    """The level above takes the corrected item: it counts as approved data again."""
    tx.require(OBJ, ACT, field="id")
    row, unit = await load_return(tx, return_id)
    if not _decides_at(tx, await _parent(tx, unit)):
        raise fail("id", ErrorCode.FORBIDDEN, f"an item of {unit.code} is cleared by who may approve data at the unit above it")
    if row.state != "corrected":
        raise fail("id", ErrorCode.INVALID, "the item is not corrected yet" if row.state == "returned" else "the item is already cleared")
    row.state, row.cleared_by_id, row.cleared_at = "cleared", tx.user_id, utcnow()
    await tx.session.flush()
    tx.record(action="dataReturnClear", object_type="data_return", object_key=row.id, unit_id=unit.id, after={"state": "cleared"})
    return row

