"""Plan approval: a lower unit's action programme (its objectives, KPIs and tasks) is submitted to the unit above,
which approves it or returns it with a reason. While a revision is submitted or approved, the plan is locked: its
definitions cannot be edited (`ensure_editable`, called by every service that edits one) except by opening a new
revision, which keeps the approved one and its frozen snapshot. Doing the plan (assigning, reporting, marking a
milestone done) is never locked.

Who: whoever may define the programme submits it and opens a new revision; whoever may define resolutions at the
unit above the issuing unit (its parent) decides, and not at the issuing unit itself (nobody approves their own).
"""

from __future__ import annotations

import json

from sqlalchemy import func, select

from resolute.api.db import utcnow
from resolute.api.errors import ErrorCode, fail
from resolute.api.kpis.models import Kpi
from resolute.api.org.models import Unit
from resolute.api.plans.locks import LOCKED, current
from resolute.api.plans.models import PlanRevision
from resolute.api.resolutions.models import Objective, Resolution
from resolute.api.tasks.models import Task
from resolute.api.transaction import Tx, operation

__all__ = ["decide", "reopen", "submit"]

async def _programme(tx: Tx, resolution_id: int) -> Resolution:
    resolution = await tx.load(Resolution, resolution_id, act="define", field="resolutionId", lock=True)
    if resolution.kind != "action_programme":
        raise fail("resolutionId", ErrorCode.INVALID, "only an action programme is submitted to the unit above")
    return resolution


async def _snapshot(tx: Tx, resolution: Resolution) -> str:
    """The plan as it stands: its objectives, KPIs (targets) and tasks (dates, lead units), canonical JSON."""
    session = tx.session
    objectives = [{"code": c, "title": t} for c, t in (await session.execute(select(Objective.code, Objective.title).where(Objective.resolution_id == resolution.id).order_by(Objective.code))).all()]
    kpis = [{"code": c, "target": str(t)} for c, t in (await session.execute(select(Kpi.code, Kpi.target).where(Kpi.resolution_id == resolution.id).order_by(Kpi.code))).all()]
    tasks = [{"code": c, "title": t, "startOn": s.isoformat(), "dueOn": d.isoformat(), "lead": lead}
             for c, t, s, d, lead in (await session.execute(
                 select(Task.code, Task.title, Task.start_on, Task.due_on, Unit.code).join(Unit, Unit.id == Task.lead_unit_id)
                 .where(Task.resolution_id == resolution.id).order_by(Task.code))).all()]  # fmt: skip
    return json.dumps({"resolution": resolution.code, "objectives": objectives, "kpis": kpis, "tasks": tasks}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@operation("planSubmit")
async def submit(tx: Tx, *, resolution_id: int) -> PlanRevision:
    """Submit the programme's current revision (the first, if none) to the unit above; locked from then on."""
    resolution = await _programme(tx, resolution_id)
    found = await current(tx.session, resolution.id)
    if found is not None and found.state in LOCKED:
        raise fail("resolutionId", ErrorCode.INVALID, f"revision {found.revision} is already {found.state}")
    if found is None or found.state == "returned":
        found = PlanRevision(resolution_id=resolution.id, revision=(found.revision + 1) if found else 1, state="draft")
        tx.session.add(found)
    found.state, found.submitted_by_id, found.submitted_at, found.updated_at = "submitted", tx.scope.principal.user_id, utcnow(), utcnow()  # type: ignore[union-attr]
    found.reason = None
    await tx.session.flush()
    tx.record(action="planSubmit", object_type="resolution", object_key=resolution.id, unit_id=resolution.issuing_unit_id, after={"revision": found.revision})
    return found


@operation("planDecide")
async def decide(tx: Tx, *, resolution_id: int, approve: bool, reason: str | None) -> PlanRevision:
    """The unit above approves the submitted revision (its snapshot frozen) or returns it with a reason."""
    session = tx.session
    tx.require("resolution", "define", field="resolutionId")
    resolution = await tx.load(Resolution, resolution_id, field="resolutionId", lock=True)
    issuer = await session.get_one(Unit, resolution.issuing_unit_id)
    above = await session.get(Unit, issuer.parent_id) if issuer.parent_id is not None else None
    if above is None or not tx.scope.covers(above.path, "resolution", "define"):  # a grant at the issuer itself never covers its parent
        raise fail("resolutionId", ErrorCode.FORBIDDEN, "the plan is decided by who may define resolutions at the unit above the one that issued it")
    found = await current(session, resolution.id)
    if found is None or found.state != "submitted":
        raise fail("resolutionId", ErrorCode.INVALID, "there is no submitted revision to decide")
    reason = reason.strip() if reason else None
    if not approve and not reason:
        raise fail("reason", ErrorCode.REQUIRED, "say why the plan is returned")
    if reason is not None and len(reason) > 1000:
        raise fail("reason", ErrorCode.TOO_LONG, "at most 1,000 characters")
    found.state = "approved" if approve else "returned"
    found.decided_by_id, found.decided_at, found.updated_at, found.reason = tx.scope.principal.user_id, utcnow(), utcnow(), reason  # type: ignore[union-attr]
    if approve:
        found.snapshot = await _snapshot(tx, resolution)
    await session.flush()
    tx.record(action="planDecide", object_type="resolution", object_key=resolution.id, unit_id=resolution.issuing_unit_id,
              after={"revision": found.revision, "state": found.state, "reason": reason})  # fmt: skip
    return found


@operation("planRevise")
async def reopen(tx: Tx, *, resolution_id: int, reason: str) -> PlanRevision:
    """Open a new draft revision of an approved plan, to change it; the approved revision and its snapshot stay."""
    resolution = await _programme(tx, resolution_id)
    if not reason or not reason.strip():
        raise fail("reason", ErrorCode.REQUIRED, "say why the approved plan changes")
    if len(reason) > 1000:
        raise fail("reason", ErrorCode.TOO_LONG, "at most 1,000 characters")
    found = await current(tx.session, resolution.id)
    if found is None or found.state != "approved":
        raise fail("resolutionId", ErrorCode.INVALID, "only an approved plan is revised (a draft or a returned one is simply edited)")
    latest = await tx.session.scalar(select(func.max(PlanRevision.revision)).where(PlanRevision.resolution_id == resolution.id))
    revision = PlanRevision(resolution_id=resolution.id, revision=(latest or 0) + 1, state="draft", reason=reason.strip())
    tx.session.add(revision)
    await tx.session.flush()
    tx.record(action="planRevise", object_type="resolution", object_key=resolution.id, unit_id=resolution.issuing_unit_id,
              after={"revision": revision.revision, "reason": revision.reason})  # fmt: skip
    return revision
