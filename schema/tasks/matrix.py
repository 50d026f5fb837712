"""The unit x task status matrix of a resolution (or of one task): rows are tasks, columns units.

Built from the same scoped loaders as everything else: a cell exists only where the caller may
see the assignment, so a commune sees its own column and nothing of its siblings'.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolute.api.tasks.models import Assignment as AssignmentRow
from resolute.api.tasks.reads import TaskFilter, count_tasks, list_tasks
from resolute.schema.context import Info
from resolute.schema.org.types import UnitType
from resolute.schema.pagination import AFTER_DESCRIPTION, BY_CODE, PageInfo, check_first
from resolute.schema.tasks.types import AssignmentType, TaskType

__all__ = ["StatusMatrix", "status_matrix"]


@strawberry.type(description="One task's row: a cell per column unit, null where it has no assignment you may see.")
class MatrixRow:
    task: TaskType
    cells: list[AssignmentType | None]


@strawberry.type(description="Tasks x units: status, progress and overdue of each assignment you may see.")
class StatusMatrix:
    units: list[UnitType]
    rows: list[MatrixRow]
    page_info: PageInfo
    total_tasks: int


async def status_matrix(info: Info, *, resolution_id: int | None, task_id: int | None, first: int, after: str | None) -> StatusMatrix:
    check_first(first)
    cursor = BY_CODE.decode(after)
    loaders = info.context.loaders
    if task_id is not None:
        task = await loaders.tasks_by_id.load(task_id)
        tasks, more, total = ([task] if task else []), False, (1 if task else 0)
    else:
        flt = TaskFilter(resolution_id=resolution_id)
        async with info.context.db.use() as session:
            page = await list_tasks(session, info.context.scope, flt, first=first, after=cursor)
            total = await count_tasks(session, info.context.scope, flt)
        tasks, more = page[:first], len(page) > first
    per_task: list[list[AssignmentRow]] = await loaders.assignments_by_task_id.load_many([t.id for t in tasks]) if tasks else []
    unit_ids = sorted({a.assignee_unit_id for rows in per_task for a in rows})
    units = [u for u in await loaders.units_by_id.load_many(unit_ids) if u is not None]
    units.sort(key=lambda u: u.code)
    rows = []
    for task, assignments in zip(tasks, per_task):
        by_unit = {a.assignee_unit_id: a for a in assignments}
        rows.append(MatrixRow(task=TaskType(row=task), cells=[AssignmentType(row=by_unit[u.id]) if u.id in by_unit else None for u in units]))
    cursors = [BY_CODE.encode(t.code) for t in tasks]
    return StatusMatrix(
        units=[UnitType.of(u) for u in units],
        rows=rows,
        page_info=PageInfo(has_next_page=more, has_previous_page=after is not None, start_cursor=cursors[0] if cursors else None, end_cursor=cursors[-1] if cursors else None),
        total_tasks=total,
    )


MatrixFirst = Annotated[int, strawberry.argument(description="How many task rows: 0 to 100, default 20.")]
MatrixAfter = Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)]
