"""Mutations of the working cycle.

Definitions: taskCreate, taskUpdate, milestoneCreate, milestoneUpdate. Handing down: taskAssign
(a fan-out). Assignee side: assignmentAcknowledge, progressReportSubmit, extensionRequest.
Assigner side: extensionDecide, assignmentEvaluate.
"""

from __future__ import annotations

from datetime import date

import strawberry

from resolute.api.tasks import service
from resolute.api.tasks.models import Assignment as AssignmentRow
from resolute.api.tasks.models import Milestone as MilestoneRow
from resolute.api.tasks.models import Task as TaskRow
from resolute.api.tasks.service import MAX_COORDINATORS, MAX_FANOUT, MAX_MILESTONES, AssigneeSpec
from resolute.schema.context import IdempotencyKeyArg, Info, perform, reread
from resolute.schema.errors import UserError, user_errors
from resolute.schema.ids import input_id, input_ids
from resolute.schema.tasks.types import AssignmentType, EvaluationType, ExtensionType, MilestoneType, ProgressReportType, TaskType

__all__ = ["TasksMutation"]

UNSET = strawberry.UNSET


@strawberry.input
class MilestoneInput:
    title: str
    due_on: date


@strawberry.input
class TaskCreateInput:
    resolution_id: strawberry.ID
    code: str = strawberry.field(description="Unique, e.g. 57-NQ/TW-T001 (at most 80 characters).")
    title: str
    lead_unit_id: strawberry.ID = strawberry.field(description="At or under the resolution's issuer, in your define scope.")
    start_on: date
    due_on: date
    description: str | None = None
    evaluation_criteria: str | None = None
    coordinating_unit_ids: list[strawberry.ID] = strawberry.field(default_factory=list, description="At most 50.")
    parent_task_id: strawberry.ID | None = strawberry.field(default=None, description="Decomposes this task; due by its due date.")
    from_assignment_id: strawberry.ID | None = strawberry.field(default=None, description="Decomposes an assignment your unit received.")
    milestones: list[MilestoneInput] = strawberry.field(default_factory=list, description="At most 50, between start and due dates.")
    objective_id: strawberry.ID | None = strawberry.field(default=None, description="An objective of the same resolution.")
    key_result_id: strawberry.ID | None = strawberry.field(default=None, description="A key result of the same resolution.")
    kpi_id: strawberry.ID | None = strawberry.field(default=None, description="The KPI of the same resolution this task contributes to.")


@strawberry.input(description="Only the fields you give change.")
class TaskUpdateInput:
    id: strawberry.ID
    version: int = strawberry.field(description="The version you read (required): refused with CONFLICT, naming the current version, if it changed since.")
    title: str | None = UNSET
    description: str | None = UNSET
    status: str | None = UNSET
    start_on: date | None = UNSET
    due_on: date | None = UNSET
    evaluation_criteria: str | None = UNSET
    lead_unit_id: strawberry.ID | None = UNSET
    coordinating_unit_ids: list[strawberry.ID] | None = UNSET


@strawberry.input
class MilestoneCreateInput:
    task_id: strawberry.ID
    title: str
    due_on: date


@strawberry.input(description="Only the fields you give change. Marking doneOn alone needs report rights on the lead unit.")
class MilestoneUpdateInput:
    id: strawberry.ID
    version: int = strawberry.field(description="The version you read (required): refused with CONFLICT, naming the current version, if it changed since.")
    title: str | None = UNSET
    due_on: date | None = UNSET
    done_on: date | None = UNSET


@strawberry.input
class AssigneeInput:
    unit_id: strawberry.ID = strawberry.field(description="Strictly below the assigner.")
    raci: str = strawberry.field(default="R", description="R, A, C or I.")
    due_on: date | None = strawberry.field(default=None, description="Default: the task's due date; not after it unless allowAfterTaskDue.")
    instructions: str | None = None


@strawberry.input
class TaskAssignInput:
    task_id: strawberry.ID
    assigner_unit_id: strawberry.ID = strawberry.field(description="The unit handing the task down: its lead, its issuer, or a unit that received it.")
    assignees: list[AssigneeInput] = strawberry.field(description=f"One call fans out to up to {MAX_FANOUT} units.")
    allow_after_task_due: bool = False


@strawberry.input
class AssignmentAcknowledgeInput:
    id: strawberry.ID


@strawberry.input
class ProgressReportSubmitInput:
    assignment_id: strawberry.ID
    progress: int = strawberry.field(description="0 to 100.")
    status: str = strawberry.field(description="not_started, in_progress, completed (with 100) or cancelled.")
    note: str | None = None
    evidence: list[str] = strawberry.field(default_factory=list, description="Up to 20 http(s) links.")
    reported_on: date | None = strawberry.field(default=None, description="Default today; not in the future.")


@strawberry.input
class ExtensionRequestInput:
    assignment_id: strawberry.ID
    requested_due_on: date
    reason: str


@strawberry.input
class ExtensionDecideInput:
    id: strawberry.ID
    approve: bool
    reason: str | None = strawberry.field(default=None, description="Required to refuse.")


@strawberry.input
class AssignmentEvaluateInput:
    assignment_id: strawberry.ID
    rating: str = strawberry.field(description="excellent, good, satisfactory or unsatisfactory.")
    comment: str | None = None


@strawberry.type
class TaskCreatePayload:
    task: TaskType | None
    errors: list[UserError]


@strawberry.type
class TaskUpdatePayload:
    task: TaskType | None
    errors: list[UserError]


@strawberry.type
class MilestoneCreatePayload:
    milestone: MilestoneType | None
    errors: list[UserError]


@strawberry.type
class MilestoneUpdatePayload:
    milestone: MilestoneType | None
    errors: list[UserError]


@strawberry.type
class TaskAssignPayload:
    assignments: list[AssignmentType]
    errors: list[UserError]


@strawberry.type
class AssignmentAcknowledgePayload:
    assignment: AssignmentType | None
    errors: list[UserError]


@strawberry.type
class ProgressReportSubmitPayload:
    report: ProgressReportType | None
    errors: list[UserError]

    @strawberry.field(description="The assignment, now showing this report if it is the latest.")
    async def assignment(self, info: Info) -> AssignmentType | None:
        return await reread(info.context.loaders.assignments_by_id, self.report.row.assignment_id if self.report else None, _assignment_type)


@strawberry.type
class ExtensionRequestPayload:
    extension: ExtensionType | None
    errors: list[UserError]


@strawberry.type
class ExtensionDecidePayload:
    extension: ExtensionType | None
    errors: list[UserError]


@strawberry.type
class AssignmentEvaluatePayload:
    evaluation: EvaluationType | None
    errors: list[UserError]

    @strawberry.field
    async def assignment(self, info: Info) -> AssignmentType | None:
        return await reread(info.context.loaders.assignments_by_id, self.evaluation.row.assignment_id if self.evaluation else None, _assignment_type)


def _pk(row: object) -> int | None:
    return row.id if row is not None else None  # type: ignore[attr-defined]


def _task_type(row: TaskRow) -> TaskType:
    return TaskType(row=row)


def _milestone_type(row: MilestoneRow) -> MilestoneType:
    return MilestoneType(row=row)


def _assignment_type(row: AssignmentRow) -> AssignmentType:
    return AssignmentType(row=row)


def _optional_id(value: strawberry.ID | None, type_name: str, field: str) -> int | None:
    return input_id(value, type_name, field) if value else None


@strawberry.type
class TasksMutation:
    @strawberry.mutation(description="Define a task, with milestones and coordinating units (manager, admin on the lead unit).")
    async def task_create(self, info: Info, input: TaskCreateInput, idempotency_key: IdempotencyKeyArg = None) -> TaskCreatePayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.create_task(
            uow, resolution_id=input_id(input.resolution_id, "Resolution", "resolutionId"), code=input.code,
            title=input.title, lead_unit_id=input_id(input.lead_unit_id, "Unit", "leadUnitId"), start_on=input.start_on, due_on=input.due_on,
            description=input.description, evaluation_criteria=input.evaluation_criteria,
            coordinator_ids=input_ids(input.coordinating_unit_ids, "Unit", "coordinatingUnitIds", limit=MAX_COORDINATORS),
            parent_task_id=_optional_id(input.parent_task_id, "Task", "parentTaskId"),
            from_assignment_id=_optional_id(input.from_assignment_id, "Assignment", "fromAssignmentId"),
            milestones=[(m.title, m.due_on) for m in input.milestones[: MAX_MILESTONES + 1]],
            objective_id=_optional_id(input.objective_id, "Objective", "objectiveId"),
            key_result_id=_optional_id(input.key_result_id, "KeyResult", "keyResultId"),
            kpi_id=_optional_id(input.kpi_id, "Kpi", "kpiId"),
        ))
        return TaskCreatePayload(task=await reread(info.context.loaders.tasks_by_id, _pk(outcome.value), _task_type), errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Edit a task's definition: dates, status, lead and coordinating units (manager, admin).")
    async def task_update(self, info: Info, input: TaskUpdateInput, idempotency_key: IdempotencyKeyArg = None) -> TaskUpdatePayload:
        def call(uow):  # type: ignore[no-untyped-def]
            changes = {k: getattr(input, k) for k in ("title", "description", "status", "start_on", "due_on", "evaluation_criteria") if getattr(input, k) is not UNSET}
            if input.lead_unit_id is not UNSET and input.lead_unit_id is not None:
                changes["lead_unit_id"] = input_id(input.lead_unit_id, "Unit", "leadUnitId")
            coordinators = None if input.coordinating_unit_ids in (UNSET, None) else input_ids(input.coordinating_unit_ids, "Unit", "coordinatingUnitIds", limit=MAX_COORDINATORS)  # type: ignore[arg-type]
            return service.update_task(uow, task_id=input_id(input.id, "Task", "id"), version=input.version, changes=changes, coordinator_ids=coordinators)

        outcome = await perform(info, idempotency_key, call)
        return TaskUpdatePayload(task=await reread(info.context.loaders.tasks_by_id, _pk(outcome.value), _task_type), errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Add a milestone to a task (manager, admin).")
    async def milestone_create(self, info: Info, input: MilestoneCreateInput, idempotency_key: IdempotencyKeyArg = None) -> MilestoneCreatePayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.create_milestone(
            uow, task_id=input_id(input.task_id, "Task", "taskId"), title=input.title, due_on=input.due_on,
        ))
        return MilestoneCreatePayload(milestone=await reread(info.context.loaders.milestones_by_id, _pk(outcome.value), _milestone_type), errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Re-plan a milestone, or mark it done.")
    async def milestone_update(self, info: Info, input: MilestoneUpdateInput, idempotency_key: IdempotencyKeyArg = None) -> MilestoneUpdatePayload:
        changes = {k: getattr(input, k) for k in ("title", "due_on", "done_on") if getattr(input, k) is not UNSET}
        outcome = await perform(info, idempotency_key, lambda uow: service.update_milestone(
            uow, milestone_id=input_id(input.id, "Milestone", "id"), version=input.version, changes=changes,
        ))
        return MilestoneUpdatePayload(milestone=await reread(info.context.loaders.milestones_by_id, _pk(outcome.value), _milestone_type), errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Hand a task down to one or many units below the assigner, in one call (leader, manager, admin).")
    async def task_assign(self, info: Info, input: TaskAssignInput, idempotency_key: IdempotencyKeyArg = None) -> TaskAssignPayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.assign(
            uow, task_id=input_id(input.task_id, "Task", "taskId"),
            assigner_unit_id=input_id(input.assigner_unit_id, "Unit", "assignerUnitId"),
            assignees=[
                AssigneeSpec(unit_id=input_id(a.unit_id, "Unit", f"assignees[{i}].unitId"), raci=a.raci, due_on=a.due_on, instructions=a.instructions)
                for i, a in enumerate(input.assignees[: MAX_FANOUT + 1])
            ],
            allow_after_task_due=input.allow_after_task_due,
        ))
        rows = await info.context.loaders.assignments_by_id.load_many([row.id for row in outcome.value or []])
        return TaskAssignPayload(assignments=[AssignmentType(row=row) for row in rows if row], errors=user_errors(outcome.errors))

    @strawberry.mutation(description="The assignee acknowledges receipt (officer, manager, leader, admin of the assignee).")
    async def assignment_acknowledge(self, info: Info, input: AssignmentAcknowledgeInput, idempotency_key: IdempotencyKeyArg = None) -> AssignmentAcknowledgePayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.acknowledge(uow, assignment_id=input_id(input.id, "Assignment", "id")))
        return AssignmentAcknowledgePayload(assignment=await reread(info.context.loaders.assignments_by_id, _pk(outcome.value), _assignment_type), errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Report progress on an assignment (officer, manager of the assignee).")
    async def progress_report_submit(self, info: Info, input: ProgressReportSubmitInput, idempotency_key: IdempotencyKeyArg = None) -> ProgressReportSubmitPayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.submit_report(
            uow, assignment_id=input_id(input.assignment_id, "Assignment", "assignmentId"), progress=input.progress,
            status=input.status, note=input.note, evidence=input.evidence[: service.MAX_EVIDENCE + 1], reported_on=input.reported_on,
        ))
        return ProgressReportSubmitPayload(report=ProgressReportType(row=outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Ask the assigner for a later due date (assignee side).")
    async def extension_request(self, info: Info, input: ExtensionRequestInput, idempotency_key: IdempotencyKeyArg = None) -> ExtensionRequestPayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.request_extension(
            uow, assignment_id=input_id(input.assignment_id, "Assignment", "assignmentId"), requested_due_on=input.requested_due_on, reason=input.reason,
        ))
        return ExtensionRequestPayload(extension=ExtensionType(row=outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Approve or refuse an extension request (assigner side: leader, manager, admin).")
    async def extension_decide(self, info: Info, input: ExtensionDecideInput, idempotency_key: IdempotencyKeyArg = None) -> ExtensionDecidePayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.decide_extension(
            uow, extension_id=input_id(input.id, "Extension", "id"), approve=input.approve, reason=input.reason,
        ))
        return ExtensionDecidePayload(extension=ExtensionType(row=outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Rate a completed assignment (assigner side; never the assignee for itself).")
    async def assignment_evaluate(self, info: Info, input: AssignmentEvaluateInput, idempotency_key: IdempotencyKeyArg = None) -> AssignmentEvaluatePayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.evaluate(
            uow, assignment_id=input_id(input.assignment_id, "Assignment", "assignmentId"), rating=input.rating, comment=input.comment,
        ))
        return AssignmentEvaluatePayload(evaluation=EvaluationType(row=outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))


