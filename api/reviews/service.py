"""Recording a review check-in (step 7 of the cycle): an objective's key results or a KPI, reviewed at the unit that
owns it, with each one's confidence, a narrative and decisions; and the targets and due dates it adjusted.

An adjustment goes through the same service as any edit of that target or due date (its rules, its version, its own
audit event), inside the review's transaction, and is recorded with what it was, what it became, why, and who
approved it: someone else than the recorder, who may define that kind of object at the review's unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from resolute.api.access.scope import Scope
from resolute.api.auth.principal import load_principal
from resolute.api.auth.tokens import TokenClaims
from resolute.api.errors import ErrorCode, FieldError, ServiceError, fail
from resolute.api.kpis import service as kpis
from resolute.api.kpis.models import Kpi
from resolute.api.org.models import Unit
from resolute.api.resolutions.models import KeyResult, Objective, Resolution
from resolute.api.reviews.models import CADENCES, CONFIDENCES, Review, ReviewAdjustment, ReviewConfidence
from resolute.api.tasks import service as tasks
from resolute.api.tasks.models import Task
from resolute.api.transaction import Tx, operation

__all__ = ["MAX_ADJUSTMENTS", "Adjustment", "Confidence", "record_review"]

MAX_TEXT = 20_000
MAX_ADJUSTMENTS = 20


@dataclass(frozen=True)
class Confidence:
    key_result_id: int | None  # None: the KPI itself (a KPI's review)
    confidence: str
    note: str | None = None


@dataclass(frozen=True)
class Adjustment:
    kpi_id: int | None  # a KPI's target, or
    task_id: int | None  # a task's due date
    target: Decimal | None
    due_on: date | None
    reason: str


def _text(value: str | None, field: str, *, limit: int, required: bool) -> list[FieldError]:
    if value is None or not value.strip():
        return [FieldError(field, ErrorCode.REQUIRED, f"{field} is required")] if required else []
    return [FieldError(field, ErrorCode.TOO_LONG, f"at most {limit:,} characters")] if len(value) > limit else []


def _checked(tx: Tx, objective_id: int | None, kpi_id: int | None, cadence: str, held_on: date, narrative: str, decisions: str | None,
             confidences: list[Confidence], adjustments: list[Adjustment], approved_by_id: int | None) -> None:  # fmt: skip
    errors: list[FieldError] = []
    if (objective_id is None) == (kpi_id is None):
        errors.append(FieldError("objectiveId", ErrorCode.INVALID, "review exactly one of an objective and a KPI"))
    if cadence not in CADENCES:
        errors.append(FieldError("cadence", ErrorCode.INVALID, f"cadence is one of {', '.join(CADENCES)}"))
    if held_on > tx.today:
        errors.append(FieldError("heldOn", ErrorCode.IN_FUTURE, "a review is recorded once it is held"))
    errors += _text(narrative, "narrative", limit=MAX_TEXT, required=True) + _text(decisions, "decisions", limit=MAX_TEXT, required=False)
    seen: set[int | None] = set()
    for i, c in enumerate(confidences):
        if c.confidence not in CONFIDENCES:
            errors.append(FieldError(f"confidences[{i}].confidence", ErrorCode.INVALID, f"one of {', '.join(CONFIDENCES)}"))
        if c.key_result_id in seen:
            errors.append(FieldError(f"confidences[{i}].keyResultId", ErrorCode.DUPLICATE, "one confidence each"))
        seen.add(c.key_result_id)
        errors += _text(c.note, f"confidences[{i}].note", limit=1000, required=False)
    if len(adjustments) > MAX_ADJUSTMENTS:
        errors.append(FieldError("adjustments", ErrorCode.OUT_OF_RANGE, f"at most {MAX_ADJUSTMENTS}"))
    for i, a in enumerate(adjustments):
        if (a.kpi_id is None) == (a.task_id is None) or (a.kpi_id is not None) != (a.target is not None) or (a.task_id is not None) != (a.due_on is not None):
            errors.append(FieldError(f"adjustments[{i}]", ErrorCode.INVALID, "either a KPI and its new target, or a task and its new due date"))
        errors += _text(a.reason, f"adjustments[{i}].reason", limit=1000, required=True)
    if adjustments and approved_by_id is None:
        errors.append(FieldError("approvedById", ErrorCode.REQUIRED, "say who approved the adjustments"))
    if errors:
        raise ServiceError(errors)


async def _approver(tx: Tx, approved_by_id: int, unit: Unit, adjustments: list[Adjustment]) -> int:
    """The approver: someone else, who may define each adjusted kind of object at the review's unit."""
    if approved_by_id == tx.scope.principal.user_id:
        raise fail("approvedById", ErrorCode.INVALID, "an adjustment is approved by someone else than who records it")
    principal = await load_principal(tx.session, TokenClaims(user_id=approved_by_id, issued_at=9e9, expires_at=9e9))
    scope = Scope(principal, tx.scope.policy) if principal is not None else None
    for kind in {"kpi" if a.kpi_id is not None else "task" for a in adjustments}:
        if scope is None or not scope.covers(unit.path, kind, "define"):
            raise fail("approvedById", ErrorCode.INVALID, f"the approver may not define {kind}s at {unit.code}")
    return approved_by_id


async def _adjust(tx: Tx, i: int, a: Adjustment, kpi_ids: set[int], resolution_id: int, reviewed_kpi: int | None) -> tuple[str, int, str, str]:
    """Apply one adjustment through the object's own service; (object type, id, before, after)."""
    session = tx.session
    try:
        if a.kpi_id is not None:
            kpi = await tx.load(Kpi, a.kpi_id, act="define", field=f"adjustments[{i}].kpiId")
            if kpi.id not in kpi_ids:
                raise fail(f"adjustments[{i}].kpiId", ErrorCode.INVALID, "a review adjusts the KPI it reviews, or the KPIs of the objective it reviews")
            before = str(kpi.target)
            changed = await kpis.update_kpi.__wrapped__(tx, kpi_id=kpi.id, version=None, changes={"target": a.target}, coordinator_ids=None)  # type: ignore[attr-defined]
            return "kpi", kpi.id, before, str(changed.target)
        task = await tx.load(Task, a.task_id, act="define", field=f"adjustments[{i}].taskId")  # type: ignore[arg-type]
        serves = task.kpi_id == reviewed_kpi if reviewed_kpi is not None else task.resolution_id == resolution_id
        if not serves:
            raise fail(f"adjustments[{i}].taskId", ErrorCode.INVALID, "a review adjusts the tasks of what it reviews")
        before = task.due_on.isoformat()
        changed = await tasks.update_task.__wrapped__(tx, task_id=task.id, version=None, changes={"due_on": a.due_on}, coordinator_ids=None)  # type: ignore[attr-defined]
        await session.refresh(changed)
        return "task", task.id, before, changed.due_on.isoformat()
    except ServiceError as refused:  # the object's own rules, named by where the adjustment is
        raise ServiceError([FieldError(f"adjustments[{i}].{e.field}" if e.field and not e.field.startswith("adjustments") else e.field, e.code, e.message)
                            for e in refused.errors]) from None  # fmt: skip


@operation("reviewRecord")
async def record_review(
    tx: Tx, *, objective_id: int | None, kpi_id: int | None, cadence: str, held_on: date, narrative: str, decisions: str | None,
    confidences: list[Confidence], adjustments: list[Adjustment], approved_by_id: int | None,
) -> Review:  # fmt: skip
    """Record a held review (who may define what it reviews), its confidences, and the adjustments it made."""
    _checked(tx, objective_id, kpi_id, cadence, held_on, narrative, decisions, confidences, adjustments, approved_by_id)
    session = tx.session
    if objective_id is not None:
        objective = await tx.load(Objective, objective_id, act="define", field="objectiveId")
        resolution = await session.get_one(Resolution, objective.resolution_id)
        own = set(await session.scalars(select(KeyResult.id).where(KeyResult.objective_id == objective.id)))
        for i, c in enumerate(confidences):
            if c.key_result_id not in own:
                raise fail(f"confidences[{i}].keyResultId", ErrorCode.INVALID, "a key result of the objective reviewed")
        kpi_ids = set(await session.scalars(select(Kpi.id).where(Kpi.objective_id == objective.id)))
    else:
        kpi = await tx.load(Kpi, kpi_id, act="define", field="kpiId")  # type: ignore[arg-type]
        resolution = await session.get_one(Resolution, kpi.resolution_id)
        for i, c in enumerate(confidences):
            if c.key_result_id is not None:
                raise fail(f"confidences[{i}].keyResultId", ErrorCode.INVALID, "a KPI's review gives the KPI's own confidence: no key result")
        kpi_ids = {kpi.id}
    unit = await session.get_one(Unit, resolution.issuing_unit_id)
    approver = await _approver(tx, approved_by_id, unit, adjustments) if adjustments else None  # type: ignore[arg-type]
    review = Review(objective_id=objective_id, kpi_id=kpi_id, unit_id=unit.id, cadence=cadence, held_on=held_on, narrative=narrative.strip(),
                    decisions=decisions.strip() if decisions else None, recorded_by_id=tx.scope.principal.user_id)  # fmt: skip
    session.add(review)
    await session.flush()
    session.add_all([ReviewConfidence(review_id=review.id, key_result_id=c.key_result_id, confidence=c.confidence, note=c.note) for c in confidences])
    made: list[dict[str, Any]] = []
    for i, a in enumerate(adjustments):
        object_type, object_id, before, after = await _adjust(tx, i, a, kpi_ids, resolution.id, kpi_id)
        session.add(ReviewAdjustment(review_id=review.id, object_type=object_type, object_id=object_id, before=before, after=after,
                                     reason=a.reason.strip(), approved_by_id=approver))  # fmt: skip
        made.append({"object": f"{object_type}:{object_id}", "before": before, "after": after})
    await session.flush()
    tx.record(action="reviewRecord", object_type="objective" if objective_id is not None else "kpi", object_key=objective_id or kpi_id or 0,
              unit_id=unit.id, after={"review": review.id, "cadence": cadence, "heldOn": held_on.isoformat(), "approvedBy": approver,
                                      "confidences": {str(c.key_result_id): c.confidence for c in confidences}, "adjustments": made})  # fmt: skip
    return review
