"""Queries: task(id | code), tasks(filter), assignments(filter)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import strawberry
from graphql import GraphQLError

from resolute.api.access.scope import Scope
from resolute.api.errors import ErrorCode
from resolute.api.tasks import reads
from resolute.api.tasks.reads import AssignmentFilter, TaskFilter
from resolute.schema.context import Info
from resolute.schema.filters import unit_path
from resolute.schema.ids import decode_id
from resolute.schema.pagination import AFTER_DESCRIPTION, FIRST_DESCRIPTION, Connection, build_connection, check_first
from resolute.schema.tasks.matrix import MatrixAfter, MatrixFirst, StatusMatrix, status_matrix
from resolute.schema.tasks.types import ASSIGNMENT_CURSORS, TASK_CURSORS, AssignmentOrder, AssignmentType, TaskOrder, TaskType

__all__ = ["AssignmentFilterInput", "TaskFilterInput", "TasksQuery", "assignment_filter", "task_filter"]

MAX_STATUSES = 10


@strawberry.input(description="Narrow a list of tasks. Every condition must hold.")
class TaskFilterInput:
    resolution: strawberry.ID | None = None
    status: str | None = None
    lead_under: strawberry.ID | None = strawberry.field(default=None, description="Only tasks led by this unit or a unit below it.")
    due_from: date | None = None
    due_to: date | None = None
    overdue: bool | None = strawberry.field(default=None, description="Open and due before today (true), or not (false).")
    search: str | None = strawberry.field(default=None, description="Part of the code or title; case and diacritics ignored. At most 100 characters.")
    updated_since: datetime | None = None


@strawberry.input(description="Narrow a list of assignments. Every condition must hold.")
class AssignmentFilterInput:
    task: strawberry.ID | None = None
    resolution: strawberry.ID | None = None
    to_my_unit: bool = strawberry.field(default=False, description="Only those assigned to your own unit.")
    assigned_by_my_unit: bool = strawberry.field(default=False, description="Only those your own unit assigned.")
    assignee_under: strawberry.ID | None = strawberry.field(default=None, description="Only those assigned to this unit or a unit below it.")
    assigned_by: strawberry.ID | None = strawberry.field(default=None, description="Only those this unit assigned.")
    status: list[str] | None = strawberry.field(default=None, description="Any of these statuses (one status alone is accepted too).")
    overdue: bool | None = None
    updated_since: datetime | None = None


def task_filter(given: TaskFilterInput, today: date, *, lead_path: str | None, matches_nothing: bool) -> TaskFilter:
    """The read-side filter of a `tasks` list (shared with the compiled read path); a bad id raises a typed error."""
    return TaskFilter(
        resolution_id=decode_id(given.resolution, "Resolution", "filter.resolution") if given.resolution else None,
        status=given.status, lead_under_path=lead_path, due_from=given.due_from, due_to=given.due_to, overdue=given.overdue,
        search=given.search[:100] if given.search else None, updated_since=given.updated_since, matches_nothing=matches_nothing, today=today,
    )


def assignment_filter(given: AssignmentFilterInput, scope: Scope, today: date, *, under_path: str | None, matches_nothing: bool) -> AssignmentFilter:
    """The read-side filter of an `assignments` list (shared with the compiled read path); bad ids raise typed errors."""
    if given.status is not None and len(given.status) > MAX_STATUSES:
        raise GraphQLError(f"at most {MAX_STATUSES} statuses", extensions={"code": ErrorCode.OUT_OF_RANGE.value, "field": "filter.status"})
    own_unit = scope.principal.unit_id
    assigner_id = decode_id(given.assigned_by, "Unit", "filter.assignedBy") if given.assigned_by else None
    return AssignmentFilter(
        task_id=decode_id(given.task, "Task", "filter.task") if given.task else None,
        resolution_id=decode_id(given.resolution, "Resolution", "filter.resolution") if given.resolution else None,
        assignee_under_path=under_path, assignee_unit_id=own_unit if given.to_my_unit else None,
        assigner_unit_id=own_unit if given.assigned_by_my_unit else assigner_id,
        statuses=tuple(given.status) if given.status is not None else None, overdue=given.overdue, updated_since=given.updated_since,
        matches_nothing=matches_nothing, today=today,
    )


@strawberry.type
class TasksQuery:
    @strawberry.field(description="One task by global id or code (exactly one); null if it does not exist or you may not see it.")
    async def task(self, info: Info, id: strawberry.ID | None = None, code: str | None = None) -> TaskType | None:
        if (id is None) == (code is None):
            raise GraphQLError("give exactly one of 'id' and 'code'", extensions={"code": ErrorCode.INVALID.value, "field": "id"})
        if id is not None:
            row = await info.context.loaders.tasks_by_id.load(decode_id(id, "Task"))
        else:
            async with info.context.db.use() as session:
                row = await reads.task_by_code(session, info.context.scope, code or "", today=info.context.today)
        return TaskType(row=row) if row else None

    @strawberry.field(description="The tasks you may see (led, handed down or coordinated in your scope), in code order.")
    async def tasks(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_DESCRIPTION)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
        filter: TaskFilterInput | None = None,
        order_by: TaskOrder = TaskOrder.CODE,
    ) -> Connection[TaskType]:
        check_first(first)
        ordering = TASK_CURSORS[order_by]
        cursor = ordering.decode(after)
        given = filter or TaskFilterInput()
        lead_path, nothing = await unit_path(info, given.lead_under, "filter.leadUnder")
        flt = task_filter(given, info.context.today, lead_path=lead_path, matches_nothing=nothing)
        ctx = info.context
        async with ctx.db.use() as session:
            rows = await reads.list_tasks(session, ctx.scope, flt, first=first, after=cursor, order=order_by.value)

        async def count() -> int:
            async with ctx.db.use() as session:
                return await reads.count_tasks(session, ctx.scope, flt)

        key = (lambda row: row.code) if order_by is TaskOrder.CODE else (lambda row: (row.due_on, row.id))
        return build_connection(rows, first=first, after=after, ordering=ordering, key=key, wrap=lambda row: TaskType(row=row), count=count)

    @strawberry.field(description="The unit x task status matrix of a resolution's tasks, or of one task (give exactly one).")
    async def status_matrix(
        self, info: Info, resolution: strawberry.ID | None = None, task: strawberry.ID | None = None, first: MatrixFirst = 20, after: MatrixAfter = None
    ) -> StatusMatrix:
        if (resolution is None) == (task is None):
            raise GraphQLError("give exactly one of 'resolution' and 'task'", extensions={"code": ErrorCode.INVALID.value, "field": "resolution"})
        return await status_matrix(
            info,
            resolution_id=decode_id(resolution, "Resolution", "resolution") if resolution else None,
            task_id=decode_id(task, "Task", "task") if task else None,
            first=first,
            after=after,
        )

    @strawberry.field(description="The assignments you may see (assignee or assigner side), oldest first unless `orderBy` says otherwise.")
    async def assignments(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_DESCRIPTION)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
        filter: AssignmentFilterInput | None = None,
        order_by: AssignmentOrder = AssignmentOrder.ID,
    ) -> Connection[AssignmentType]:
        check_first(first)
        cursors = ASSIGNMENT_CURSORS[order_by]
        cursor = cursors.decode(after)
        given = filter or AssignmentFilterInput()
        under_path, nothing = await unit_path(info, given.assignee_under, "filter.assigneeUnder")
        flt = assignment_filter(given, info.context.scope, info.context.today, under_path=under_path, matches_nothing=nothing)
        ctx = info.context
        async with ctx.db.use() as session:
            rows = await reads.list_assignments(session, ctx.scope, flt, first=first, after=cursor, order=order_by.value)

        async def count() -> int:
            async with ctx.db.use() as session:
                return await reads.count_assignments(session, ctx.scope, flt)

        return build_connection(rows, first=first, after=after, ordering=cursors, key=lambda pair: pair[1], wrap=lambda pair: AssignmentType(row=pair[0]), count=count)
