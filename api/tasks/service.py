"""Rules of the working cycle: define tasks, hand them down, acknowledge, report, extend, evaluate.

Where each verb may be used (ACCESS.md): defining needs `define` on the task's lead unit;
assigning from A to B needs `assign` on A and B strictly below A (never sideways or upwards);
acknowledging, reporting and asking for more time happen on the assignee side; deciding
extensions and evaluating on the assigner side, so nobody evaluates its own work.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from resolute.api.approvals.locks import ensure_open
from resolute.api.errors import ErrorCode, FieldError, ServiceError, fail
from resolute.api.kpis.models import Kpi
from resolute.api.org.models import Unit
from resolute.api.org.text import fold
from resolute.api.org.tree import lies_under
from resolute.api.plans.locks import ensure_editable
from resolute.api.resolutions.models import Resolution
from resolute.api.resolutions.service import check_okr
from resolute.api.tasks.models import (
    ASSIGNMENT_STATUSES,
    RACI,
    RATINGS,
    TASK_STATUSES,
    Assignment,
    Evaluation,
    Extension,
    Milestone,
    ProgressReport,
    Task,
    TaskCoordinator,
)
from resolute.api.transaction import Tx, operation

__all__ = [
    "MAX_COORDINATORS",
    "MAX_FANOUT",
    "MAX_MILESTONES",
    "AssigneeSpec",
    "acknowledge",
    "assign",
    "create_milestone",
    "create_task",
    "decide_extension",
    "evaluate",
    "request_extension",
    "submit_report",
    "update_milestone",
    "update_task",
]

MAX_FANOUT = 500
MAX_EVIDENCE = 20
MAX_MILESTONES = 50
MAX_COORDINATORS = 50
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9./_-]{0,79}$")
URL = re.compile(r"^https?://\S{1,490}$")
TASK_FIELDS = ("code", "title", "resolution_id", "parent_task_id", "origin_assignment_id", "lead_unit_id", "start_on", "due_on", "status", "completed_on", "version")
ASSIGNMENT_FIELDS = ("task_id", "assigner_unit_id", "assignee_unit_id", "raci", "assigned_on", "original_due_on", "due_on", "status", "progress", "completed_on", "version")


def _now() -> datetime:
    return datetime.now(UTC)


def _snap(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in fields}


def _text(value: str | None, field: str, limit: int, *, required: bool = False) -> list[FieldError]:
    if value is None or not value.strip():
        return [FieldError(field, ErrorCode.REQUIRED, f"{field} is required")] if required else []
    return [FieldError(field, ErrorCode.TOO_LONG, f"{field} has at most {limit} characters")] if len(value) > limit else []


# -- tasks and milestones ----------------------------------------------------------------------


@operation("taskCreate")
async def create_task(
    tx: Tx,
    *,
    resolution_id: int,
    code: str,
    title: str,
    lead_unit_id: int,
    start_on: date,
    due_on: date,
    description: str | None = None,
    evaluation_criteria: str | None = None,
    coordinator_ids: list[int] | None = None,
    parent_task_id: int | None = None,
    from_assignment_id: int | None = None,
    milestones: list[tuple[str, date]] | None = None,
    objective_id: int | None = None,
    key_result_id: int | None = None,
    kpi_id: int | None = None,
) -> Task:
    """Define a task (optionally decomposing a parent task, or an assignment one received)."""
    errors = _text(title, "title", 500, required=True) + _text(description, "description", 20000) + _text(evaluation_criteria, "evaluationCriteria", 20000)
    if not CODE.match(code or ""):
        errors.append(FieldError("code", ErrorCode.INVALID, "a code has 1-80 ASCII letters, digits, '.', '/', '_' or '-'"))
    if due_on < start_on:
        errors.append(FieldError("dueOn", ErrorCode.INVALID, "the due date comes after the start date"))
    if len(milestones or []) > MAX_MILESTONES:
        errors.append(FieldError("milestones", ErrorCode.OUT_OF_RANGE, f"at most {MAX_MILESTONES} milestones"))
    for i, (m_title, m_due) in enumerate(milestones or []):
        errors += _text(m_title, f"milestones[{i}].title", 500, required=True)
        if not start_on <= m_due <= due_on:
            errors.append(FieldError(f"milestones[{i}].dueOn", ErrorCode.OUT_OF_RANGE, "a milestone falls between the task's start and due dates"))
    if errors:
        raise ServiceError(errors)
    session = tx.session
    tx.require("task", "define", field="leadUnitId")  # before any read: the same answer whatever the ids
    resolution = await tx.load(Resolution, resolution_id, field="resolutionId")
    await ensure_editable(tx, resolution.id, field="resolutionId")
    lead = await tx.load(Unit, lead_unit_id, act="define", obj="task", field="leadUnitId")
    issuer = await session.get_one(Unit, resolution.issuing_unit_id)
    if not lies_under(lead.path, issuer.path):
        raise fail("leadUnitId", ErrorCode.INVALID, "the lead unit lies at or under the resolution's issuer")
    origin = None
    if from_assignment_id is not None:
        origin = await tx.load(Assignment, from_assignment_id, act="define", obj="task", field="fromAssignmentId")
        assignee = await session.get_one(Unit, origin.assignee_unit_id)
        if not lies_under(lead.path, assignee.path):
            raise fail("leadUnitId", ErrorCode.INVALID, "a subtask of an assignment is led at or under the assignee")
        if parent_task_id is not None and parent_task_id != origin.task_id:
            raise fail("parentTaskId", ErrorCode.INVALID, "a subtask of an assignment has the assignment's task as parent")
        parent_task_id = origin.task_id
        if due_on > origin.due_on:
            raise fail("dueOn", ErrorCode.OUT_OF_RANGE, f"a subtask is due by its assignment's due date ({origin.due_on})")
    if parent_task_id is not None:
        parent = await tx.load(Task, parent_task_id, field="parentTaskId")
        if due_on > parent.due_on:
            raise fail("dueOn", ErrorCode.OUT_OF_RANGE, f"a subtask is due by its parent task's due date ({parent.due_on})")
    coordinators = await _coordinators(tx, coordinator_ids or [], lead.id)
    await check_okr(session, resolution.id, objective_id, key_result_id)
    if kpi_id is not None and await session.scalar(select(Kpi.resolution_id).where(Kpi.id == kpi_id)) != resolution.id:
        raise fail("kpiId", ErrorCode.NOT_FOUND, "no such KPI in this resolution")
    if await session.scalar(select(Task.id).where(Task.code == code)) is not None:
        raise fail("code", ErrorCode.DUPLICATE, f"a task with code '{code}' already exists")
    task = Task(
        code=code, title=title.strip(), search_title=fold(f"{code} {title}"), description=description, resolution_id=resolution.id,
        parent_task_id=parent_task_id, origin_assignment_id=origin.id if origin else None, lead_unit_id=lead.id,
        objective_id=objective_id, key_result_id=key_result_id, kpi_id=kpi_id,
        start_on=start_on, due_on=due_on, status="not_started", evaluation_criteria=evaluation_criteria, version=1,
    )
    session.add(task)
    await session.flush()
    if coordinators:
        await session.execute(insert(TaskCoordinator), [{"task_id": task.id, "unit_id": u.id} for u in coordinators])
    if milestones:
        await session.execute(insert(Milestone), [{"task_id": task.id, "title": t.strip(), "due_on": d, "version": 1} for t, d in milestones])
    tx.record(action="taskCreate", object_type="task", object_key=task.id, unit_id=lead.id,
              after=_snap(task, TASK_FIELDS) | {"coordinating_unit_ids": [u.id for u in coordinators], "milestones": len(milestones or [])})
    return task


async def _coordinators(tx: Tx, unit_ids: list[int], lead_id: int) -> list[Unit]:
    """Coordinating units: units the caller sees, never the lead unit itself."""
    if len(unit_ids) > MAX_COORDINATORS:
        raise fail("coordinatingUnitIds", ErrorCode.OUT_OF_RANGE, f"at most {MAX_COORDINATORS} units")
    if lead_id in unit_ids:
        raise fail("coordinatingUnitIds", ErrorCode.INVALID, "the lead unit is not also a coordinating unit")
    return await tx.load_many(Unit, list(dict.fromkeys(unit_ids)), field="coordinatingUnitIds")


@operation("taskUpdate")
async def update_task(tx: Tx, *, task_id: int, version: int | None, changes: dict[str, Any], coordinator_ids: list[int] | None) -> Task:
    """Edit a definition (dates, status, lead and coordinating units): define rights on the lead unit."""
    session = tx.session
    task = await tx.load(Task, task_id, act="define", field="id", lock=True)
    await ensure_editable(tx, task.resolution_id, field="id")
    if version is not None and version != task.version:
        raise fail("version", ErrorCode.CONFLICT, f"the task changed since you read it (version {version}, now {task.version}); reload and retry")
    errors = _text(changes.get("title"), "title", 500, required="title" in changes)
    if "status" in changes and changes["status"] not in TASK_STATUSES:
        errors.append(FieldError("status", ErrorCode.INVALID, f"status is one of {', '.join(TASK_STATUSES)}"))
    start, due = changes.get("start_on", task.start_on), changes.get("due_on", task.due_on)
    if due < start:
        errors.append(FieldError("dueOn", ErrorCode.INVALID, "the due date comes after the start date"))
    if errors:
        raise ServiceError(errors)
    if "due_on" in changes and task.parent_task_id is not None:
        parent_due = await session.scalar(select(Task.due_on).where(Task.id == task.parent_task_id))
        if parent_due is not None and due > parent_due:
            raise fail("dueOn", ErrorCode.OUT_OF_RANGE, f"a subtask is due by its parent task's due date ({parent_due})")
    if "lead_unit_id" in changes:
        await tx.load(Unit, changes["lead_unit_id"], act="define", obj="task", field="leadUnitId")
    before = _snap(task, TASK_FIELDS)
    values = dict(changes, version=Task.version + 1, updated_at=_now())
    if "title" in changes:
        values.update(title=changes["title"].strip(), search_title=fold(f"{task.code} {changes['title']}"))
    if changes.get("status") == "completed" and task.status != "completed":
        values["completed_on"] = tx.today
    elif "status" in changes and changes["status"] != "completed":
        values["completed_on"] = None
    await session.execute(update(Task).where(Task.id == task.id).values(**values))
    if coordinator_ids is not None:
        units = await _coordinators(tx, coordinator_ids, changes.get("lead_unit_id", task.lead_unit_id))
        await session.execute(delete(TaskCoordinator).where(TaskCoordinator.task_id == task.id))
        if units:
            await session.execute(insert(TaskCoordinator), [{"task_id": task.id, "unit_id": u.id} for u in units])
    await session.refresh(task)
    tx.record(action="taskUpdate", object_type="task", object_key=task.id, unit_id=task.lead_unit_id, before=before, after=_snap(task, TASK_FIELDS))
    return task


@operation("milestoneCreate")
async def create_milestone(tx: Tx, *, task_id: int, title: str, due_on: date) -> Milestone:
    if errors := _text(title, "title", 500, required=True):
        raise ServiceError(errors)
    task = await tx.load(Task, task_id, act="define", obj="milestone", field="taskId", lock=True)
    await ensure_editable(tx, task.resolution_id, field="taskId")
    if not task.start_on <= due_on <= task.due_on:
        raise fail("dueOn", ErrorCode.OUT_OF_RANGE, f"a milestone falls between the task's start ({task.start_on}) and due date ({task.due_on})")
    milestone = Milestone(task_id=task.id, title=title.strip(), due_on=due_on, version=1)
    tx.session.add(milestone)
    await tx.session.flush()
    tx.record(action="milestoneCreate", object_type="milestone", object_key=milestone.id, unit_id=task.lead_unit_id, after={"task_id": task.id, "title": milestone.title, "due_on": due_on})
    return milestone


@operation("milestoneUpdate")
async def update_milestone(tx: Tx, *, milestone_id: int, version: int | None, changes: dict[str, Any]) -> Milestone:
    """Re-plan a milestone (define), or mark it done (define, or report rights on the lead unit)."""
    session = tx.session
    only_progress = set(changes) <= {"done_on"}
    milestone = await tx.load(Milestone, milestone_id, act="define", field="id", lock=True, or_verb=("submit", "progress_report") if only_progress else None)
    task = await session.get_one(Task, milestone.task_id)
    if not only_progress:  # marking it done is doing the plan, not changing it
        await ensure_editable(tx, task.resolution_id, field="id")
    if version is not None and version != milestone.version:
        raise fail("version", ErrorCode.CONFLICT, f"the milestone changed since you read it (version {version}, now {milestone.version}); reload and retry")
    if errors := _text(changes.get("title"), "title", 500, required="title" in changes):
        raise ServiceError(errors)
    due = changes.get("due_on", milestone.due_on)
    if not task.start_on <= due <= task.due_on:
        raise fail("dueOn", ErrorCode.OUT_OF_RANGE, "a milestone falls between the task's start and due dates")
    if changes.get("done_on") and changes["done_on"] > tx.today:
        raise fail("doneOn", ErrorCode.IN_FUTURE, "a milestone cannot be done in the future")
    before = {"title": milestone.title, "due_on": milestone.due_on, "done_on": milestone.done_on, "version": milestone.version}
    await session.execute(update(Milestone).where(Milestone.id == milestone.id).values(**changes, version=Milestone.version + 1, updated_at=_now()))
    await session.refresh(milestone)
    tx.record(action="milestoneUpdate", object_type="milestone", object_key=milestone.id, unit_id=task.lead_unit_id, before=before,
              after={"title": milestone.title, "due_on": milestone.due_on, "done_on": milestone.done_on, "version": milestone.version})
    return milestone


# -- assignments -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssigneeSpec:
    unit_id: int
    raci: str = "R"
    due_on: date | None = None
    instructions: str | None = None


@operation("taskAssign")
async def assign(
    tx: Tx,
    *,
    task_id: int,
    assigner_unit_id: int,
    assignees: list[AssigneeSpec],
    allow_after_task_due: bool = False,
    assigned_on: date | None = None,
) -> list[Assignment]:
    """Hand a task to one or many units strictly below the assigner, in one call (a fan-out)."""
    if not assignees:
        raise fail("assignees", ErrorCode.REQUIRED, "name at least one assignee")
    if len(assignees) > MAX_FANOUT:
        raise fail("assignees", ErrorCode.OUT_OF_RANGE, f"at most {MAX_FANOUT} assignees in one call")
    if len({a.unit_id for a in assignees}) != len(assignees):
        raise fail("assignees", ErrorCode.DUPLICATE, "a unit is named twice")
    session = tx.session
    today = assigned_on or tx.today
    tx.require("assignment", "assign", field="assignerUnitId")  # before any read: the same answer whatever the ids
    task = await tx.load(Task, task_id, field="taskId", lock=True)
    assigner = await tx.load(Unit, assigner_unit_id, act="assign", obj="assignment", field="assignerUnitId")
    if not await _may_hand_down(tx, task, assigner):
        raise fail("assignerUnitId", ErrorCode.FORBIDDEN, "the assigner neither leads, issued nor received this task")
    errors: list[FieldError] = []
    units = {u.id: u for u in await session.scalars(select(Unit).where(Unit.id.in_([a.unit_id for a in assignees]), tx.scope.visible(Unit)))}
    taken = set(await session.scalars(select(Assignment.assignee_unit_id).where(Assignment.task_id == task.id, Assignment.assignee_unit_id.in_(list(units)))))
    for i, spec in enumerate(assignees):
        unit, field = units.get(spec.unit_id), f"assignees[{i}]"
        due = spec.due_on or task.due_on
        if unit is None:
            errors.append(FieldError(f"{field}.unitId", ErrorCode.NOT_FOUND, "no such unit"))
        elif not lies_under(unit.path, assigner.path, strictly=True):
            errors.append(FieldError(f"{field}.unitId", ErrorCode.INVALID, "tasks go down the tree: the assignee lies strictly below the assigner, never sideways or upwards"))
        elif unit.archived_at is not None:
            errors.append(FieldError(f"{field}.unitId", ErrorCode.ARCHIVED, "the unit is archived"))
        elif unit.id in taken:
            errors.append(FieldError(f"{field}.unitId", ErrorCode.DUPLICATE, "this unit already has this task"))
        if spec.raci not in RACI:
            errors.append(FieldError(f"{field}.raci", ErrorCode.INVALID, "raci is R, A, C or I"))
        if due > task.due_on and not allow_after_task_due:
            errors.append(FieldError(f"{field}.dueOn", ErrorCode.OUT_OF_RANGE, f"due after the task ({task.due_on}); say allowAfterTaskDue to mean it"))
        if due < today:
            errors.append(FieldError(f"{field}.dueOn", ErrorCode.OUT_OF_RANGE, "due before it is assigned"))
        errors += _text(spec.instructions, f"{field}.instructions", 20000)
    if errors:
        raise ServiceError(errors)
    created = []
    for spec in assignees:
        due = spec.due_on or task.due_on
        assignment = Assignment(
            task_id=task.id, assigner_unit_id=assigner.id, assignee_unit_id=spec.unit_id, raci=spec.raci, assigned_on=today,
            original_due_on=due, due_on=due, instructions=spec.instructions, status="not_started", progress=0, version=1,
        )
        session.add(assignment)
        created.append(assignment)
    await session.flush()
    for assignment in created:
        tx.record(action="taskAssign", object_type="assignment", object_key=assignment.id, unit_id=assignment.assignee_unit_id, after=_snap(assignment, ASSIGNMENT_FIELDS))
    return created


async def _may_hand_down(tx: Tx, task: Task, assigner: Unit) -> bool:
    """The lead unit, the resolution's issuer, or a unit that received the task may pass it down."""
    issuer = await tx.session.scalar(select(Resolution.issuing_unit_id).where(Resolution.id == task.resolution_id))
    if assigner.id in (task.lead_unit_id, issuer):
        return True
    received = await tx.session.scalar(select(Assignment.id).where(Assignment.task_id == task.id, Assignment.assignee_unit_id == assigner.id))
    return received is not None


@operation("assignmentAcknowledge")
async def acknowledge(tx: Tx, *, assignment_id: int) -> Assignment:
    """The assignee confirms receipt (once; acknowledging again changes nothing)."""
    assignment = await tx.load(Assignment, assignment_id, act="acknowledge", field="id", lock=True)
    if assignment.acknowledged_at is not None:
        return assignment
    stamp = _now()
    await tx.session.execute(update(Assignment).where(Assignment.id == assignment.id).values(
        acknowledged_at=stamp, acknowledged_by_id=tx.user_id, version=Assignment.version + 1, updated_at=stamp))
    await tx.session.refresh(assignment)
    tx.record(action="assignmentAcknowledge", object_type="assignment", object_key=assignment.id, unit_id=assignment.assignee_unit_id, after={"acknowledged_at": stamp})
    return assignment


@operation("progressReportSubmit")
async def submit_report(
    tx: Tx,
    *,
    assignment_id: int,
    progress: int,
    status: str,
    note: str | None = None,
    evidence: list[str] | None = None,
    reported_on: date | None = None,
) -> ProgressReport:
    """A dated update by the assignee's officers; the assignment then shows its latest report."""
    session = tx.session
    day = reported_on or tx.today
    errors = _text(note, "note", 5000)
    if not 0 <= progress <= 100:
        errors.append(FieldError("progress", ErrorCode.OUT_OF_RANGE, "progress is a percentage, 0 to 100"))
    if status not in ASSIGNMENT_STATUSES:
        errors.append(FieldError("status", ErrorCode.INVALID, f"status is one of {', '.join(ASSIGNMENT_STATUSES)}"))
    elif (status == "completed") != (progress == 100) and status != "cancelled":
        errors.append(FieldError("status", ErrorCode.INVALID, "completed goes with 100 % progress, and 100 % with completed"))
    elif status == "not_started" and progress != 0:
        errors.append(FieldError("status", ErrorCode.INVALID, "not_started goes with 0 % progress"))
    if len(evidence or []) > MAX_EVIDENCE:
        errors.append(FieldError("evidence", ErrorCode.OUT_OF_RANGE, f"at most {MAX_EVIDENCE} links"))
    errors += [FieldError(f"evidence[{i}]", ErrorCode.INVALID, "evidence is an http(s) link") for i, link in enumerate(evidence or []) if not URL.match(link)]
    if day > tx.today:
        errors.append(FieldError("reportedOn", ErrorCode.IN_FUTURE, "a report is not dated in the future"))
    if errors:
        raise ServiceError(errors)
    assignment = await tx.load(Assignment, assignment_id, act="submit", obj="progress_report", field="assignmentId", lock=True)
    if day < assignment.assigned_on:
        raise fail("reportedOn", ErrorCode.OUT_OF_RANGE, f"a report is dated on or after the assignment ({assignment.assigned_on})")
    if await session.scalar(select(Evaluation.id).where(Evaluation.assignment_id == assignment.id)) is not None:
        raise fail("assignmentId", ErrorCode.INVALID, "the assignment was evaluated and is closed")
    task_resolution = await session.scalar(select(Task.resolution_id).where(Task.id == assignment.task_id))
    assignee = await session.get_one(Unit, assignment.assignee_unit_id)
    await ensure_open(tx, unit=assignee, resolution_id=task_resolution, when=day, field="reportedOn", assignment_id=assignment.id)  # type: ignore[arg-type]
    report = ProgressReport(
        assignment_id=assignment.id, reported_on=day, progress=progress, status=status, note=note,
        evidence=json.dumps(evidence) if evidence else None, reporter_id=tx.user_id,
    )
    session.add(report)
    await session.flush()
    await _settle(tx, assignment)
    tx.record(action="progressReportSubmit", object_type="progress_report", object_key=report.id, unit_id=assignment.assignee_unit_id,
              after={"assignment_id": assignment.id, "reported_on": day, "progress": progress, "status": status})
    return report


async def _settle(tx: Tx, assignment: Assignment) -> None:
    """Make the assignment show its latest report (by date, then by entry)."""
    latest = await tx.session.scalar(
        select(ProgressReport).where(ProgressReport.assignment_id == assignment.id).order_by(ProgressReport.reported_on.desc(), ProgressReport.id.desc()).limit(1)
    )
    if latest is None:
        return
    await tx.session.execute(update(Assignment).where(Assignment.id == assignment.id).values(
        status=latest.status, progress=latest.progress, completed_on=latest.reported_on if latest.status == "completed" else None,
        version=Assignment.version + 1, updated_at=_now(),
    ))
    await tx.session.refresh(assignment)


@operation("extensionRequest")
async def request_extension(tx: Tx, *, assignment_id: int, requested_due_on: date, reason: str) -> Extension:
    if errors := _text(reason, "reason", 5000, required=True):
        raise ServiceError(errors)
    session = tx.session
    assignment = await tx.load(Assignment, assignment_id, act="request", obj="extension", field="assignmentId", lock=True)
    if assignment.status in ("completed", "cancelled"):
        raise fail("assignmentId", ErrorCode.INVALID, f"the assignment is {assignment.status}")
    if requested_due_on <= assignment.due_on:
        raise fail("requestedDueOn", ErrorCode.OUT_OF_RANGE, f"an extension moves the due date ({assignment.due_on}) later")
    if await session.scalar(select(Extension.id).where(Extension.assignment_id == assignment.id, Extension.status == "pending")) is not None:
        raise fail("assignmentId", ErrorCode.DUPLICATE, "a request is already waiting for the assigner's decision")
    extension = Extension(assignment_id=assignment.id, requested_due_on=requested_due_on, reason=reason.strip(), status="pending",
                          requested_by_id=tx.user_id, requested_at=_now(), version=1)
    session.add(extension)
    await session.flush()
    tx.record(action="extensionRequest", object_type="extension", object_key=extension.id, unit_id=assignment.assignee_unit_id,
              after={"assignment_id": assignment.id, "requested_due_on": requested_due_on, "reason": extension.reason})
    return extension


@operation("extensionDecide")
async def decide_extension(tx: Tx, *, extension_id: int, approve: bool, reason: str | None) -> Extension:
    """The assigner side approves (the due date moves; the original is kept) or refuses with a reason."""
    session = tx.session
    extension = await tx.load(Extension, extension_id, act="decide", field="id", lock=True)
    assignment = await tx.load(Assignment, extension.assignment_id, act="decide", obj="extension", field="id", lock=True)
    if extension.status != "pending":
        raise fail("id", ErrorCode.INVALID, f"the request was already {extension.status}")
    if not approve and not (reason and reason.strip()):
        raise fail("reason", ErrorCode.REQUIRED, "a refusal says why")
    stamp = _now()
    await session.execute(update(Extension).where(Extension.id == extension.id).values(
        status="approved" if approve else "refused", decided_by_id=tx.user_id, decided_at=stamp,
        decision_reason=reason.strip() if reason else None, version=Extension.version + 1, updated_at=stamp))
    if approve:
        await session.execute(update(Assignment).where(Assignment.id == assignment.id).values(due_on=extension.requested_due_on, version=Assignment.version + 1, updated_at=stamp))
    await session.refresh(extension)
    tx.record(action="extensionDecide", object_type="extension", object_key=extension.id, unit_id=assignment.assignee_unit_id,
              after={"status": extension.status, "reason": extension.decision_reason, "due_on": extension.requested_due_on if approve else assignment.due_on})
    return extension


@operation("assignmentEvaluate")
async def evaluate(tx: Tx, *, assignment_id: int, rating: str, comment: str | None) -> Evaluation:
    """The assigner side rates a completed assignment, once; never the assignee for itself."""
    errors = _text(comment, "comment", 5000)
    if rating not in RATINGS:
        errors.append(FieldError("rating", ErrorCode.INVALID, f"rating is one of {', '.join(RATINGS)}"))
    if errors:
        raise ServiceError(errors)
    session = tx.session
    assignment = await tx.load(Assignment, assignment_id, act="submit", obj="evaluation", field="assignmentId", lock=True)
    if assignment.status != "completed":
        raise fail("assignmentId", ErrorCode.INVALID, "only a completed assignment is evaluated")
    if await session.scalar(select(Evaluation.id).where(Evaluation.assignment_id == assignment.id)) is not None:
        raise fail("assignmentId", ErrorCode.DUPLICATE, "this assignment was already evaluated")
    evaluation = Evaluation(assignment_id=assignment.id, rating=rating, comment=comment, evaluator_id=tx.user_id,
                            evaluator_unit_id=assignment.assigner_unit_id, evaluated_at=_now())
    session.add(evaluation)
    await session.flush()
    tx.record(action="assignmentEvaluate", object_type="evaluation", object_key=evaluation.id, unit_id=assignment.assignee_unit_id,
              after={"assignment_id": assignment.id, "rating": rating, "comment": comment})
    return evaluation
