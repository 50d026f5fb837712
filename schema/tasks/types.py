"""GraphQL types of the working cycle: Task, Milestone, Assignment, ProgressReport, Extension, Evaluation.

Derived facts (overdue, timeliness, pace) are computed in SQL by the reads (api.tasks.rules); these types only map them.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import Enum
from typing import Annotated

import strawberry

from resolute.api.tasks.models import Assignment as AssignmentRow
from resolute.api.tasks.models import Evaluation as EvaluationRow
from resolute.api.tasks.models import Extension as ExtensionRow
from resolute.api.tasks.models import Milestone as MilestoneRow
from resolute.api.tasks.models import ProgressReport as ReportRow
from resolute.api.tasks.models import Task as TaskRow
from resolute.api.tasks.rules import BEHIND_PACE_MARGIN
from resolute.schema.accounts.types import UserType
from resolute.schema.context import Info
from resolute.schema.ids import encode_id
from resolute.schema.kpis.types import KpiType
from resolute.schema.node import Node, register_node
from resolute.schema.org.types import UnitType
from resolute.schema.pagination import (
    AFTER_DESCRIPTION,
    BY_CODE,
    FIRST_DESCRIPTION,
    Connection,
    KeyOrdering,
    Ordering,
    build_connection,
    check_first,
)
from resolute.schema.resolutions.types import ResolutionType

__all__ = ["ASSIGNMENT_CURSORS", "REPORT_CURSORS", "TASK_CURSORS", "AssignmentOrder", "AssignmentType", "EvaluationType", "ExtensionType", "MilestoneType", "ProgressReportType", "TaskOrder", "TaskType"]


@strawberry.enum(description="How a list of assignments is ordered; ties go to the oldest assignment.")
class AssignmentOrder(Enum):
    ID = strawberry.enum_value("id", description="Oldest first.")
    DUE_ON = strawberry.enum_value("due_on", description="Earliest due date first.")
    PROGRESS = strawberry.enum_value("progress", description="Least progress first.")
    ASSIGNEE_CODE = strawberry.enum_value("assignee_code", description="By the assignee unit's code.")


@strawberry.enum(description="How a list of tasks is ordered.")
class TaskOrder(Enum):
    CODE = strawberry.enum_value("code", description="By code (the default).")
    DUE_ON = strawberry.enum_value("due_on", description="Earliest due date first, then oldest.")


TASK_CURSORS: dict[TaskOrder, Ordering | KeyOrdering] = {
    TaskOrder.CODE: BY_CODE,
    TaskOrder.DUE_ON: KeyOrdering("tasks-due-on", (date, int)),
}

REPORT_CURSORS = KeyOrdering("reports", (date, int))  # an assignment's reports, oldest first

# The cursor of each order: named after it, so that a cursor of one order is refused by another.
ASSIGNMENT_CURSORS = {
    AssignmentOrder.ID: KeyOrdering("assignments", (int,)),
    AssignmentOrder.DUE_ON: KeyOrdering("assignments-due-on", (date, int)),
    AssignmentOrder.PROGRESS: KeyOrdering("assignments-progress", (int, int)),
    AssignmentOrder.ASSIGNEE_CODE: KeyOrdering("assignments-assignee-code", (str, int)),
}


@strawberry.enum(description="How a completed assignment met its deadline.")
class Timeliness(Enum):
    ON_TIME = "on_time"
    WITHIN_EXTENSION = "within_extension"
    LATE = "late"


async def _unit(info: Info, unit_id: int | None, *, nameable: bool = False) -> UnitType | None:
    """The unit a reference names; `nameable`: also on the caller's ancestor chain (a lead unit, an assigner)."""
    if unit_id is None:
        return None
    loaders = info.context.loaders
    row = await (loaders.nameable_units_by_id if nameable else loaders.units_by_id).load(unit_id)
    return UnitType.of(row) if row else None


async def _user(info: Info, user_id: int | None) -> UserType | None:
    if user_id is None:
        return None
    row = await info.context.loaders.users_by_id.load(user_id)
    return UserType.of(row) if row else None


@strawberry.type(name="Milestone", description="A dated checkpoint of a task.")
class MilestoneType(Node):
    row: strawberry.Private[MilestoneRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Milestone", self.row.id))

    @strawberry.field
    def title(self) -> str:
        return self.row.title

    @strawberry.field
    def due_on(self) -> date:
        return self.row.due_on

    @strawberry.field
    def done_on(self) -> date | None:
        return self.row.done_on

    @strawberry.field(description="Not done and due before today (derived).")
    def overdue(self) -> bool:
        return self.row.overdue

    @strawberry.field
    def version(self) -> int:
        return self.row.version

    @strawberry.field
    async def task(self, info: Info) -> TaskType | None:
        row = await info.context.loaders.tasks_by_id.load(self.row.task_id)
        return TaskType(row=row) if row else None


@strawberry.type(name="ProgressReport", description="A dated update of an assignment by the assignee.")
class ProgressReportType(Node):
    row: strawberry.Private[ReportRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("ProgressReport", self.row.id))

    @strawberry.field
    def reported_on(self) -> date:
        return self.row.reported_on

    @strawberry.field
    def progress(self) -> int:
        return self.row.progress

    @strawberry.field
    def status(self) -> str:
        return self.row.status

    @strawberry.field
    def note(self) -> str | None:
        return self.row.note

    @strawberry.field(description="Links to the evidence.")
    def evidence(self) -> list[str]:
        return json.loads(self.row.evidence) if self.row.evidence else []

    @strawberry.field
    async def reporter(self, info: Info) -> UserType | None:
        return await _user(info, self.row.reporter_id)


@strawberry.type(name="Extension", description="An assignee's request for a later due date, and the assigner's decision.")
class ExtensionType(Node):
    row: strawberry.Private[ExtensionRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Extension", self.row.id))

    @strawberry.field
    def requested_due_on(self) -> date:
        return self.row.requested_due_on

    @strawberry.field
    def reason(self) -> str:
        return self.row.reason

    @strawberry.field(description="pending, approved or refused.")
    def status(self) -> str:
        return self.row.status

    @strawberry.field
    def decision_reason(self) -> str | None:
        return self.row.decision_reason

    @strawberry.field
    def requested_at(self) -> datetime:
        return self.row.requested_at

    @strawberry.field
    def decided_at(self) -> datetime | None:
        return self.row.decided_at

    @strawberry.field
    async def requested_by(self, info: Info) -> UserType | None:
        return await _user(info, self.row.requested_by_id)

    @strawberry.field
    async def decided_by(self, info: Info) -> UserType | None:
        return await _user(info, self.row.decided_by_id)

    @strawberry.field
    async def assignment(self, info: Info) -> AssignmentType | None:
        row = await info.context.loaders.assignments_by_id.load(self.row.assignment_id)
        return AssignmentType(row=row) if row else None


@strawberry.type(name="Evaluation", description="The assigner side's judgement of a completed assignment.")
class EvaluationType:
    row: strawberry.Private[EvaluationRow]

    @strawberry.field(description="excellent, good, satisfactory or unsatisfactory.")
    def rating(self) -> str:
        return self.row.rating

    @strawberry.field
    def comment(self) -> str | None:
        return self.row.comment

    @strawberry.field
    def evaluated_at(self) -> datetime:
        return self.row.evaluated_at

    @strawberry.field
    async def evaluator(self, info: Info) -> UserType | None:
        return await _user(info, self.row.evaluator_id)

    @strawberry.field
    async def evaluator_unit(self, info: Info) -> UnitType | None:
        return await _unit(info, self.row.evaluator_unit_id)


@strawberry.type(name="Assignment", description="A task handed by an assigner unit to an assignee unit below it.")
class AssignmentType(Node):
    row: strawberry.Private[AssignmentRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Assignment", self.row.id))

    @strawberry.field
    def code(self) -> str | None:
        return self.row.code

    @strawberry.field(description="R, A, C or I.")
    def raci(self) -> str:
        return self.row.raci

    @strawberry.field
    def assigned_on(self) -> date:
        return self.row.assigned_on

    @strawberry.field(description="The due date as first assigned; kept when an extension moves dueOn.")
    def original_due_on(self) -> date:
        return self.row.original_due_on

    @strawberry.field
    def due_on(self) -> date:
        return self.row.due_on

    @strawberry.field
    def instructions(self) -> str | None:
        return self.row.instructions

    @strawberry.field(description="That of the latest report: not_started, in_progress, completed or cancelled.")
    def status(self) -> str:
        return self.row.status

    @strawberry.field
    def progress(self) -> int:
        return self.row.progress

    @strawberry.field
    def completed_on(self) -> date | None:
        return self.row.completed_on

    @strawberry.field(description="Open and due before today (derived at read time).")
    def overdue(self) -> bool:
        return self.row.overdue

    @strawberry.field(description="For a completed assignment: on time, within an approved extension, or late.")
    def timeliness(self) -> Timeliness | None:
        return Timeliness(self.row.timeliness) if self.row.timeliness else None

    @strawberry.field(
        description="What a straight line from the assignment date to the due date says progress should be today, in percent."
    )
    def expected_progress(self) -> int:
        return self.row.expected_progress

    @strawberry.field(description=f"Open, with progress more than {BEHIND_PACE_MARGIN} points below expectedProgress.")
    def behind_pace(self) -> bool:
        return self.row.behind_pace

    @strawberry.field
    def acknowledged_at(self) -> datetime | None:
        return self.row.acknowledged_at

    @strawberry.field
    def version(self) -> int:
        return self.row.version

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @strawberry.field
    async def acknowledged_by(self, info: Info) -> UserType | None:
        return await _user(info, self.row.acknowledged_by_id)

    @strawberry.field
    async def task(self, info: Info) -> TaskType | None:
        row = await info.context.loaders.tasks_by_id.load(self.row.task_id)
        return TaskType(row=row) if row else None

    @strawberry.field(description="The assignee unit.")
    async def unit(self, info: Info) -> UnitType | None:
        return await _unit(info, self.row.assignee_unit_id)

    @strawberry.field
    async def assigner_unit(self, info: Info) -> UnitType | None:
        return await _unit(info, self.row.assigner_unit_id, nameable=True)

    @strawberry.field(description="The latest report (latest date, then latest entered); null before the first.")
    async def latest_report(self, info: Info) -> ProgressReportType | None:
        row = await info.context.loaders.latest_report_by_assignment_id.load(self.row.id)
        return ProgressReportType(row=row) if row else None

    @strawberry.field(description="Oldest first; the assignment shows the latest.")
    async def reports(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_DESCRIPTION)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
    ) -> Connection[ProgressReportType]:
        check_first(first)
        loaders = info.context.loaders
        rows = await loaders.report_pages_by_assignment_id.load((self.row.id, (first, REPORT_CURSORS.decode(after))))

        async def count() -> int:
            return await loaders.report_count_by_assignment_id.load(self.row.id)

        return build_connection(
            rows, first=first, after=after, ordering=REPORT_CURSORS, key=lambda row: (row.reported_on, row.id), wrap=lambda row: ProgressReportType(row=row),
            count=count,
        )

    @strawberry.field
    async def extensions(self, info: Info) -> list[ExtensionType]:
        return [ExtensionType(row=row) for row in await info.context.loaders.extensions_by_assignment_id.load(self.row.id)]

    @strawberry.field
    async def evaluation(self, info: Info) -> EvaluationType | None:
        rows = await info.context.loaders.evaluations_by_assignment_id.load(self.row.id)
        return EvaluationType(row=rows[0]) if rows else None

    @strawberry.field(description="The tasks the assignee made to carry this assignment out (downward chain).")
    async def subtasks(self, info: Info) -> list[TaskType]:
        return [TaskType(row=row) for row in await info.context.loaders.subtasks_by_assignment_id.load(self.row.id)]


@strawberry.type(name="Task", description="A piece of work decomposed from a resolution, with a lead unit, dates and milestones.")
class TaskType(Node):
    row: strawberry.Private[TaskRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Task", self.row.id))

    @strawberry.field
    def code(self) -> str:
        return self.row.code

    @strawberry.field
    def title(self) -> str:
        return self.row.title

    @strawberry.field
    def description(self) -> str | None:
        return self.row.description

    @strawberry.field(description="not_started, in_progress, completed or cancelled.")
    def status(self) -> str:
        return self.row.status

    @strawberry.field(description="Open and due before today (derived at read time, never stored).")
    def overdue(self) -> bool:
        return self.row.overdue

    @strawberry.field
    def start_on(self) -> date:
        return self.row.start_on

    @strawberry.field
    def due_on(self) -> date:
        return self.row.due_on

    @strawberry.field
    def completed_on(self) -> date | None:
        return self.row.completed_on

    @strawberry.field
    def evaluation_criteria(self) -> str | None:
        return self.row.evaluation_criteria

    @strawberry.field
    def version(self) -> int:
        return self.row.version

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @strawberry.field
    async def resolution(self, info: Info) -> ResolutionType | None:
        row = await info.context.loaders.resolutions_by_id.load(self.row.resolution_id)
        return ResolutionType.of(row) if row else None

    @strawberry.field
    async def lead_unit(self, info: Info) -> UnitType | None:
        return await _unit(info, self.row.lead_unit_id, nameable=True)

    @strawberry.field(description="The coordinating units you may see.")
    async def coordinating_units(self, info: Info) -> list[UnitType]:
        return [UnitType.of(row) for row in await info.context.loaders.coordinators_by_task_id.load(self.row.id)]

    @strawberry.field
    async def milestones(self, info: Info) -> list[MilestoneType]:
        return [MilestoneType(row=row) for row in await info.context.loaders.milestones_by_task_id.load(self.row.id)]

    @strawberry.field(description="The assignments of this task you may see (never a sibling assignee's).")
    async def assignments(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_DESCRIPTION)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
        order_by: AssignmentOrder = AssignmentOrder.ID,
    ) -> Connection[AssignmentType]:
        check_first(first)
        cursors = ASSIGNMENT_CURSORS[order_by]
        loaders = info.context.loaders
        rows = await loaders.assignment_pages_by_task_id.load((self.row.id, (first, cursors.decode(after), order_by.value)))

        async def count() -> int:
            return await loaders.assignment_count_by_task_id.load(self.row.id)

        return build_connection(rows, first=first, after=after, ordering=cursors, key=lambda pair: pair[1], wrap=lambda pair: AssignmentType(row=pair[0]), count=count)

    @strawberry.field(description="The KPI this task contributes to, if any (and if you may see it).")
    async def kpis(self, info: Info) -> list[KpiType]:
        if self.row.kpi_id is None:
            return []
        row = await info.context.loaders.kpis_by_id.load(self.row.kpi_id)
        return [KpiType.of(row)] if row else []

    @strawberry.field
    async def parent_task(self, info: Info) -> TaskType | None:
        if self.row.parent_task_id is None:
            return None
        row = await info.context.loaders.tasks_by_id.load(self.row.parent_task_id)
        return TaskType(row=row) if row else None

    @strawberry.field(description="The assignment this task decomposes (upward chain).")
    async def origin_assignment(self, info: Info) -> AssignmentType | None:
        if self.row.origin_assignment_id is None:
            return None
        row = await info.context.loaders.assignments_by_id.load(self.row.origin_assignment_id)
        return AssignmentType(row=row) if row else None

    @strawberry.field
    async def subtasks(self, info: Info) -> list[TaskType]:
        return [TaskType(row=row) for row in await info.context.loaders.subtasks_by_task_id.load(self.row.id)]


def _node(loader: str, wrap: type) -> object:
    async def resolve(info: Info, pk: int) -> object:
        row = await getattr(info.context.loaders, loader).load(pk)
        return wrap(row=row) if row else None

    return resolve


register_node("Task", _node("tasks_by_id", TaskType))  # type: ignore[arg-type]
register_node("Milestone", _node("milestones_by_id", MilestoneType))  # type: ignore[arg-type]
register_node("Assignment", _node("assignments_by_id", AssignmentType))  # type: ignore[arg-type]
register_node("Extension", _node("extensions_by_id", ExtensionType))  # type: ignore[arg-type]
register_node("ProgressReport", _node("reports_by_id", ProgressReportType))  # type: ignore[arg-type]
