"""Read queries over tasks and assignments: batched, scoped, one statement each.

Every read that hands tasks, milestones or assignments to GraphQL loads their derived facts
(overdue, timeliness, progress pace) from the one SQL definition in api.tasks.rules, for the
`today` it is given; filters use the same expressions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import with_expression

from resolute.api import clock
from resolute.api.access.scope import Scope
from resolute.api.keyset import after_key
from resolute.api.org.models import Unit
from resolute.api.org.reads import units_by_ids
from resolute.api.org.text import fold, like_escape
from resolute.api.org.tree import units_under
from resolute.api.tasks import rules
from resolute.api.tasks.models import Assignment, Evaluation, Extension, Milestone, ProgressReport, Task, TaskCoordinator

__all__ = [
    "ASSIGNMENT_ORDERS",
    "TASK_ORDERS",
    "AssignmentFilter",
    "MatrixPage",
    "TaskFilter",
    "assignment_conditions",
    "assignment_counts_by_task_ids",
    "assignment_id_of",
    "assignment_pages_by_task_ids",
    "assignments_by_ids",
    "assignments_by_task_ids",
    "coordinators_by_task_ids",
    "count_assignments",
    "count_tasks",
    "evaluations_by_assignment_ids",
    "extensions_by_assignment_ids",
    "extensions_by_ids",
    "latest_reports_by_assignment_ids",
    "list_assignments",
    "list_tasks",
    "milestones_by_ids",
    "milestones_by_task_ids",
    "report_counts_by_assignment_ids",
    "report_pages_by_assignment_ids",
    "reports_by_ids",
    "status_matrix",
    "subtasks_by_assignment_ids",
    "subtasks_by_task_ids",
    "task_by_code",
    "task_conditions",
    "tasks_by_ids",
]


def _tasks(today: date) -> Select[tuple[Task]]:
    """Tasks with their derived facts, refreshed even when the row already sits in the session."""
    return select(Task).options(with_expression(Task.overdue, rules.overdue(Task, today))).execution_options(populate_existing=True)


def _milestones(today: date) -> Select[tuple[Milestone]]:
    overdue = with_expression(Milestone.overdue, rules.milestone_overdue(today))
    return select(Milestone).options(overdue).execution_options(populate_existing=True)


def _assignments(today: date) -> Select[tuple[Assignment]]:
    return (
        select(Assignment)
        .options(
            with_expression(Assignment.overdue, rules.overdue(Assignment, today)),
            with_expression(Assignment.timeliness, rules.timeliness(Assignment)),
            with_expression(Assignment.expected_progress, rules.expected_progress(today)),
            with_expression(Assignment.behind_pace, rules.behind_pace(today)),
        )
        .execution_options(populate_existing=True)
    )


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


def task_conditions(scope: Scope, flt: TaskFilter, today: date) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [scope.visible(Task)] + ([false()] if flt.matches_nothing else [])
    if flt.resolution_id is not None:
        conds.append(Task.resolution_id == flt.resolution_id)
    if flt.status:
        conds.append(Task.status == flt.status)
    if flt.lead_under_path:
        conds.append(units_under(Task.lead_unit_id, flt.lead_under_path))
    if flt.due_from:
        conds.append(Task.due_on >= flt.due_from)
    if flt.due_to:
        conds.append(Task.due_on <= flt.due_to)
    if flt.overdue is not None:
        late = rules.overdue(Task, today)
        conds.append(late if flt.overdue else ~late)
    if flt.search and flt.search.strip():
        conds.append(Task.search_title.like(f"%{like_escape(fold(flt.search))}%", escape="\\"))
    if flt.updated_since is not None:
        conds.append(Task.updated_at >= flt.updated_since)
    return conds


# The orders a list of tasks may take: each a tuple of sort keys, unique (code is).
TASK_ORDERS: dict[str, Any] = {
    "code": lambda: (Task.code,),
    "due_on": lambda: (Task.due_on, Task.id),
}


async def list_tasks(
    session: AsyncSession, scope: Scope, flt: TaskFilter, *, first: int, after: Sequence[Any] | str | None, order: str = "code"
) -> list[Task]:
    """A page of tasks in one of TASK_ORDERS after the key `after` (a code alone for the code order); the filter's
    `today` (default: the real one) dates overdue."""
    today = flt.today or clock.today()
    keys = TASK_ORDERS[order]()
    query = _tasks(today).where(*task_conditions(scope, flt, today)).order_by(*keys).limit(first + 1)
    if after is not None:
        query = query.where(after_key(keys, (after,) if isinstance(after, str) else after))
    return list(await session.scalars(query))


async def count_tasks(session: AsyncSession, scope: Scope, flt: TaskFilter) -> int:
    conds = task_conditions(scope, flt, flt.today or clock.today())
    return int(await session.scalar(select(func.count()).select_from(Task).where(*conds)) or 0)


@dataclass(frozen=True)
class AssignmentFilter:
    task_id: int | None = None
    resolution_id: int | None = None
    assignee_under_path: str | None = None  # "to my unit" / "under a unit"
    assignee_unit_id: int | None = None
    assigner_unit_id: int | None = None  # "assigned by my unit"
    statuses: tuple[str, ...] | None = None  # any of these
    overdue: bool | None = None
    updated_since: datetime | None = None
    today: date | None = None
    matches_nothing: bool = False


def _assignee_code() -> ColumnElement[str]:
    return select(Unit.code).where(Unit.id == Assignment.assignee_unit_id).correlate(Assignment).scalar_subquery()


# The orders a list of assignments may take: each a tuple of sort keys ending with the primary key.
ASSIGNMENT_ORDERS: dict[str, Any] = {
    "id": lambda: (Assignment.id,),
    "due_on": lambda: (Assignment.due_on, Assignment.id),
    "progress": lambda: (Assignment.progress, Assignment.id),
    "assignee_code": lambda: (_assignee_code(), Assignment.id),
}


def assignment_conditions(scope: Scope, flt: AssignmentFilter, today: date) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [scope.visible(Assignment)] + ([false()] if flt.matches_nothing else [])
    if flt.task_id is not None:
        conds.append(Assignment.task_id == flt.task_id)
    if flt.resolution_id is not None:
        conds.append(Assignment.task_id.in_(select(Task.id).where(Task.resolution_id == flt.resolution_id)))
    if flt.assignee_under_path:
        conds.append(units_under(Assignment.assignee_unit_id, flt.assignee_under_path))
    if flt.assignee_unit_id is not None:
        conds.append(Assignment.assignee_unit_id == flt.assignee_unit_id)
    if flt.assigner_unit_id is not None:
        conds.append(Assignment.assigner_unit_id == flt.assigner_unit_id)
    if flt.statuses is not None:
        conds.append(Assignment.status.in_(flt.statuses) if flt.statuses else false())
    if flt.overdue is not None:
        late = rules.overdue(Assignment, today)
        conds.append(late if flt.overdue else ~late)
    if flt.updated_since is not None:
        conds.append(Assignment.updated_at >= flt.updated_since)
    return conds


async def list_assignments(
    session: AsyncSession, scope: Scope, flt: AssignmentFilter, *, first: int, after: Sequence[Any] | None, order: str = "id"
) -> list[tuple[Assignment, tuple[Any, ...]]]:
    """A page of assignments in one of ASSIGNMENT_ORDERS, each with its sort key (for its cursor);
    `after` is the key of the last row seen; the filter's `today` (default: the real one) dates overdue and pace."""
    today = flt.today or clock.today()
    keys = ASSIGNMENT_ORDERS[order]()
    query = _assignments(today).add_columns(*keys).where(*assignment_conditions(scope, flt, today)).order_by(*keys).limit(first + 1)
    if after is not None:
        query = query.where(after_key(keys, after))
    return [(row[0], tuple(row[1:])) for row in (await session.execute(query)).all()]


async def count_assignments(session: AsyncSession, scope: Scope, flt: AssignmentFilter) -> int:
    conds = assignment_conditions(scope, flt, flt.today or clock.today())
    return int(await session.scalar(select(func.count()).select_from(Assignment).where(*conds)) or 0)


# What each kind of object of the cycle hangs from: the column naming its assignment.
_ASSIGNMENT_OF: dict[str, Any] = {
    "assignment": Assignment.id,
    "progress_report": ProgressReport.assignment_id,
    "extension": Extension.assignment_id,
    "evaluation": Evaluation.assignment_id,
}


async def assignment_id_of(session: AsyncSession, scope: Scope, object_type: str, object_id: int, *, under_path: str) -> int | None:
    """The assignment an object of the cycle (an assignment, report, extension or evaluation) belongs to, if the
    caller may read it and its assignee or assigner lies under `under_path`: one statement."""
    column = _ASSIGNMENT_OF.get(object_type)
    if column is None:
        return None
    model = column.class_
    query = select(Assignment.id).where(
        scope.visible(Assignment), or_(units_under(Assignment.assignee_unit_id, under_path), units_under(Assignment.assigner_unit_id, under_path))
    )
    query = query.where(Assignment.id == object_id) if model is Assignment else query.join(model, column == Assignment.id).where(model.id == object_id)
    return await session.scalar(query)


async def _by_ids(session: AsyncSession, scope: Scope, query: Select[Any], model: Any, ids: Sequence[int]) -> dict[int, Any]:
    return {row.id: row for row in await session.scalars(query.where(model.id.in_(set(ids)), scope.visible(model)))}


async def tasks_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int], *, today: date) -> dict[int, Task]:
    return await _by_ids(session, scope, _tasks(today), Task, ids)


async def task_by_code(session: AsyncSession, scope: Scope, code: str, *, today: date | None = None) -> Task | None:
    return await session.scalar(_tasks(today or clock.today()).where(Task.code == code, scope.visible(Task)))


async def milestones_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int], *, today: date) -> dict[int, Milestone]:
    return await _by_ids(session, scope, _milestones(today), Milestone, ids)


async def assignments_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int], *, today: date) -> dict[int, Assignment]:
    return await _by_ids(session, scope, _assignments(today), Assignment, ids)


async def reports_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, ProgressReport]:
    return await _by_ids(session, scope, select(ProgressReport), ProgressReport, ids)


async def extensions_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, Extension]:
    return await _by_ids(session, scope, select(Extension), Extension, ids)


async def _grouped(
    session: AsyncSession, scope: Scope, query: Select[Any], model: Any, key: Any, ids: Sequence[int], *order: Any
) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in await session.scalars(query.where(key.in_(set(ids)), scope.visible(model)).order_by(*order)):
        grouped[getattr(row, key.key)].append(row)
    return grouped


async def milestones_by_task_ids(session: AsyncSession, scope: Scope, ids: Sequence[int], *, today: date) -> dict[int, list[Milestone]]:
    return await _grouped(session, scope, _milestones(today), Milestone, Milestone.task_id, ids, Milestone.due_on, Milestone.id)


async def assignments_by_task_ids(session: AsyncSession, scope: Scope, ids: Sequence[int], *, today: date) -> dict[int, list[Assignment]]:
    return await _grouped(session, scope, _assignments(today), Assignment, Assignment.task_id, ids, Assignment.id)


async def assignment_pages_by_task_ids(
    session: AsyncSession, scope: Scope, ids: Sequence[int], *, first: int, after: Sequence[Any] | None, order: str, today: date
) -> dict[int, list[tuple[Assignment, tuple[Any, ...]]]]:
    """For each task, up to first+1 of its visible assignments in `order` after `after`: one statement."""
    keys = ASSIGNMENT_ORDERS[order]()
    ranked = select(
        Assignment.id, *[key.label(f"k{i}") for i, key in enumerate(keys)], func.row_number().over(partition_by=Assignment.task_id, order_by=keys).label("rank")
    ).where(Assignment.task_id.in_(set(ids)), scope.visible(Assignment), *([after_key(keys, after)] if after is not None else [])).subquery()
    sort = [ranked.c[f"k{i}"] for i in range(len(keys))]
    query = _assignments(today).add_columns(*sort).join(ranked, ranked.c.id == Assignment.id).where(ranked.c.rank <= first + 1)
    grouped: dict[int, list[tuple[Assignment, tuple[Any, ...]]]] = defaultdict(list)
    for row in (await session.execute(query.order_by(Assignment.task_id, ranked.c.rank))).all():
        grouped[row[0].task_id].append((row[0], tuple(row[1:])))
    return grouped


async def assignment_counts_by_task_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, int]:
    """How many assignments of each task the caller may see."""
    query = select(Assignment.task_id, func.count()).where(Assignment.task_id.in_(set(ids)), scope.visible(Assignment)).group_by(Assignment.task_id)
    return {task_id: int(n) for task_id, n in (await session.execute(query)).all()}


async def latest_reports_by_assignment_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, ProgressReport]:
    """Each visible assignment's latest report (latest date, then latest entered): one statement."""
    ranked = select(
        ProgressReport.id,
        func.row_number().over(partition_by=ProgressReport.assignment_id, order_by=(ProgressReport.reported_on.desc(), ProgressReport.id.desc())).label("rank"),
    ).where(ProgressReport.assignment_id.in_(set(ids)), scope.visible(ProgressReport)).subquery()
    rows = await session.scalars(select(ProgressReport).join(ranked, ranked.c.id == ProgressReport.id).where(ranked.c.rank == 1))
    return {row.assignment_id: row for row in rows}


REPORT_ORDER = (ProgressReport.reported_on, ProgressReport.id)  # oldest first


async def report_pages_by_assignment_ids(
    session: AsyncSession, scope: Scope, ids: Sequence[int], *, first: int, after: Sequence[Any] | None
) -> dict[int, list[ProgressReport]]:
    """For each assignment, up to first+1 of its visible reports, oldest first, after `after`: one statement."""
    ranked = select(
        ProgressReport.id, func.row_number().over(partition_by=ProgressReport.assignment_id, order_by=REPORT_ORDER).label("rank")
    ).where(
        ProgressReport.assignment_id.in_(set(ids)), scope.visible(ProgressReport), *([after_key(REPORT_ORDER, after)] if after is not None else [])
    ).subquery()
    query = select(ProgressReport).join(ranked, ranked.c.id == ProgressReport.id).where(ranked.c.rank <= first + 1)
    grouped: dict[int, list[ProgressReport]] = defaultdict(list)
    for row in await session.scalars(query.order_by(ProgressReport.assignment_id, ranked.c.rank)):
        grouped[row.assignment_id].append(row)
    return grouped


async def report_counts_by_assignment_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, int]:
    """How many reports of each assignment the caller may see."""
    query = select(ProgressReport.assignment_id, func.count()).where(
        ProgressReport.assignment_id.in_(set(ids)), scope.visible(ProgressReport)
    ).group_by(ProgressReport.assignment_id)
    return {assignment_id: int(n) for assignment_id, n in (await session.execute(query)).all()}


async def extensions_by_assignment_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, list[Extension]]:
    return await _grouped(session, scope, select(Extension), Extension, Extension.assignment_id, ids, Extension.id)


async def evaluations_by_assignment_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, list[Evaluation]]:
    return await _grouped(session, scope, select(Evaluation), Evaluation, Evaluation.assignment_id, ids, Evaluation.id)


async def subtasks_by_assignment_ids(session: AsyncSession, scope: Scope, ids: Sequence[int], *, today: date) -> dict[int, list[Task]]:
    return await _grouped(session, scope, _tasks(today), Task, Task.origin_assignment_id, ids, Task.code)


async def subtasks_by_task_ids(session: AsyncSession, scope: Scope, ids: Sequence[int], *, today: date) -> dict[int, list[Task]]:
    return await _grouped(session, scope, _tasks(today), Task, Task.parent_task_id, ids, Task.code)


async def coordinators_by_task_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, list[Unit]]:
    rows = await session.execute(
        select(TaskCoordinator.task_id, Unit).join(Unit, Unit.id == TaskCoordinator.unit_id).where(TaskCoordinator.task_id.in_(set(ids)), scope.visible(Unit)).order_by(Unit.code)
    )
    grouped: dict[int, list[Unit]] = defaultdict(list)
    for task_id, unit in rows.all():
        grouped[task_id].append(unit)
    return grouped


@dataclass(frozen=True)
class MatrixPage:
    """A page of tasks against the units they are assigned to: cells[i][j] is task i's assignment to units[j], or None."""

    tasks: list[Task]
    units: list[Unit]  # in code order
    cells: list[list[Assignment | None]]
    has_next_page: bool
    total_tasks: int


async def status_matrix(
    session: AsyncSession, scope: Scope, *, resolution_id: int | None, task_id: int | None, first: int, after: str | None, today: date
) -> MatrixPage:
    """One task, or a page of a resolution's tasks, pivoted by assignee unit; only what the caller may see has a cell."""
    if task_id is not None:
        found = await tasks_by_ids(session, scope, [task_id], today=today)
        tasks, more = [found[task_id]] if task_id in found else [], False
        total = len(tasks)
    else:
        flt = TaskFilter(resolution_id=resolution_id, today=today)
        page = await list_tasks(session, scope, flt, first=first, after=after)
        tasks, more = page[:first], len(page) > first
        total = await count_tasks(session, scope, flt)
    per_task = await assignments_by_task_ids(session, scope, [t.id for t in tasks], today=today) if tasks else {}
    unit_ids = {a.assignee_unit_id for rows in per_task.values() for a in rows}
    units = sorted((await units_by_ids(session, scope, list(unit_ids))).values() if unit_ids else [], key=lambda u: u.code)
    cells = []
    for task in tasks:
        by_unit = {a.assignee_unit_id: a for a in per_task.get(task.id, [])}
        cells.append([by_unit.get(u.id) for u in units])
    return MatrixPage(tasks=tasks, units=units, cells=cells, has_next_page=more, total_tasks=total)
