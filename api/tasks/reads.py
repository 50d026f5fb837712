"""Read queries over tasks and assignments: batched, scoped, one statement each.

Overdue is computed from dates in SQL at read time (open and due before today), never stored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.access.scope import Scope
from resolute.api.org.models import Unit, subtree_upper
from resolute.api.org.text import fold, like_escape
from resolute.api.tasks.models import Assignment, Evaluation, Extension, Milestone, ProgressReport, Task, TaskCoordinator

__all__ = [
    "AssignmentFilter",
    "TaskFilter",
    "assignments_by_ids",
    "assignments_by_task_ids",
    "coordinators_by_task_ids",
    "count_assignments",
    "count_tasks",
    "evaluations_by_assignment_ids",
    "extensions_by_assignment_ids",
    "extensions_by_ids",
    "list_assignments",
    "list_tasks",
    "milestones_by_ids",
    "milestones_by_task_ids",
    "reports_by_assignment_ids",
    "subtasks_by_assignment_ids",
    "subtasks_by_task_ids",
    "task_by_code",
    "tasks_by_ids",
]


def _under(column: Any, path: str) -> ColumnElement[bool]:
    return column.in_(select(Unit.id).where(Unit.path >= path, Unit.path < subtree_upper(path)))  # type: ignore[no-any-return]


def overdue(model: Any, today: date) -> ColumnElement[bool]:
    return and_(model.status.not_in(("completed", "cancelled")), model.due_on < today)


@dataclass(frozen=True)
class TaskFilter:
    resolution_id: int | None = None
    status: str | None = None
    lead_under_path: str | None = None
    due_from: date | None = None
    due_to: date | None = None
    overdue: bool | None = None
    search: str | None = None
    updated_since: datetime | None = None
    today: date | None = None
    matches_nothing: bool = False


def _task_conditions(scope: Scope, flt: TaskFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [scope.visible(Task)] + ([false()] if flt.matches_nothing else [])
    if flt.resolution_id is not None:
        conds.append(Task.resolution_id == flt.resolution_id)
    if flt.status:
        conds.append(Task.status == flt.status)
    if flt.lead_under_path:
        conds.append(_under(Task.lead_unit_id, flt.lead_under_path))
    if flt.due_from:
        conds.append(Task.due_on >= flt.due_from)
    if flt.due_to:
        conds.append(Task.due_on <= flt.due_to)
    if flt.overdue is not None:
        late = overdue(Task, flt.today or date.today())
        conds.append(late if flt.overdue else ~late)
    if flt.search and flt.search.strip():
        conds.append(Task.search_title.like(f"%{like_escape(fold(flt.search))}%", escape="\\"))
    if flt.updated_since is not None:
        conds.append(Task.updated_at >= flt.updated_since)
    return conds


async def list_tasks(session: AsyncSession, scope: Scope, flt: TaskFilter, *, first: int, after: str | None) -> list[Task]:
    query = select(Task).where(*_task_conditions(scope, flt)).order_by(Task.code).limit(first + 1)
    if after is not None:
        query = query.where(Task.code > after)
    return list(await session.scalars(query))


async def count_tasks(session: AsyncSession, scope: Scope, flt: TaskFilter) -> int:
    return int(await session.scalar(select(func.count()).select_from(Task).where(*_task_conditions(scope, flt))) or 0)


@dataclass(frozen=True)
class AssignmentFilter:
    task_id: int | None = None
    resolution_id: int | None = None
    assignee_under_path: str | None = None  # "to my unit" / "under a unit"
    assignee_unit_id: int | None = None
    assigner_unit_id: int | None = None  # "assigned by my unit"
    status: str | None = None
    overdue: bool | None = None
    updated_since: datetime | None = None
    today: date | None = None
    matches_nothing: bool = False


def _assignment_conditions(scope: Scope, flt: AssignmentFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [scope.visible(Assignment)] + ([false()] if flt.matches_nothing else [])
    if flt.task_id is not None:
        conds.append(Assignment.task_id == flt.task_id)
    if flt.resolution_id is not None:
        conds.append(Assignment.task_id.in_(select(Task.id).where(Task.resolution_id == flt.resolution_id)))
    if flt.assignee_under_path:
        conds.append(_under(Assignment.assignee_unit_id, flt.assignee_under_path))
    if flt.assignee_unit_id is not None:
        conds.append(Assignment.assignee_unit_id == flt.assignee_unit_id)
    if flt.assigner_unit_id is not None:
        conds.append(Assignment.assigner_unit_id == flt.assigner_unit_id)
    if flt.status:
        conds.append(Assignment.status == flt.status)
    if flt.overdue is not None:
        late = overdue(Assignment, flt.today or date.today())
        conds.append(late if flt.overdue else ~late)
    if flt.updated_since is not None:
        conds.append(Assignment.updated_at >= flt.updated_since)
    return conds


async def list_assignments(session: AsyncSession, scope: Scope, flt: AssignmentFilter, *, first: int, after: int | None) -> list[Assignment]:
    query = select(Assignment).where(*_assignment_conditions(scope, flt)).order_by(Assignment.id).limit(first + 1)
    if after is not None:
        query = query.where(Assignment.id > after)
    return list(await session.scalars(query))


async def count_assignments(session: AsyncSession, scope: Scope, flt: AssignmentFilter) -> int:
    return int(await session.scalar(select(func.count()).select_from(Assignment).where(*_assignment_conditions(scope, flt))) or 0)


async def _by_ids(session: AsyncSession, scope: Scope, model: Any, ids: Sequence[int]) -> dict[int, Any]:
    return {row.id: row for row in await session.scalars(select(model).where(model.id.in_(set(ids)), scope.visible(model)))}


async def tasks_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, Task]:
    return await _by_ids(session, scope, Task, ids)


async def task_by_code(session: AsyncSession, scope: Scope, code: str) -> Task | None:
    return await session.scalar(select(Task).where(Task.code == code, scope.visible(Task)))


async def milestones_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, Milestone]:
    return await _by_ids(session, scope, Milestone, ids)


async def assignments_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, Assignment]:
    return await _by_ids(session, scope, Assignment, ids)


async def reports_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, ProgressReport]:
    return await _by_ids(session, scope, ProgressReport, ids)


async def extensions_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, Extension]:
    return await _by_ids(session, scope, Extension, ids)


async def _grouped(session: AsyncSession, scope: Scope, model: Any, key: Any, ids: Sequence[int], *order: Any) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in await session.scalars(select(model).where(key.in_(set(ids)), scope.visible(model)).order_by(*order)):
        grouped[getattr(row, key.key)].append(row)
    return grouped


async def milestones_by_task_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, list[Milestone]]:
    return await _grouped(session, scope, Milestone, Milestone.task_id, ids, Milestone.due_on, Milestone.id)


async def assignments_by_task_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, list[Assignment]]:
    return await _grouped(session, scope, Assignment, Assignment.task_id, ids, Assignment.id)


async def reports_by_assignment_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, list[ProgressReport]]:
    return await _grouped(session, scope, ProgressReport, ProgressReport.assignment_id, ids, ProgressReport.reported_on, ProgressReport.id)


async def extensions_by_assignment_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, list[Extension]]:
    return await _grouped(session, scope, Extension, Extension.assignment_id, ids, Extension.id)


async def evaluations_by_assignment_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, list[Evaluation]]:
    return await _grouped(session, scope, Evaluation, Evaluation.assignment_id, ids, Evaluation.id)


async def subtasks_by_assignment_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, list[Task]]:
    return await _grouped(session, scope, Task, Task.origin_assignment_id, ids, Task.code)


async def subtasks_by_task_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, list[Task]]:
    return await _grouped(session, scope, Task, Task.parent_task_id, ids, Task.code)


async def coordinators_by_task_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, list[Unit]]:
    rows = await session.execute(
        select(TaskCoordinator.task_id, Unit).join(Unit, Unit.id == TaskCoordinator.unit_id).where(TaskCoordinator.task_id.in_(set(ids)), scope.visible(Unit)).order_by(Unit.code)
    )
    grouped: dict[int, list[Unit]] = defaultdict(list)
    for task_id, unit in rows.all():
        grouped[task_id].append(unit)
    return grouped
