"""The unit x task status matrix of a resolution (or of one task): rows are tasks, columns units.

The pivot is api.tasks.reads.status_matrix, scoped like every other read: a cell exists only
where the caller may see the assignment, so a commune sees its own column and nothing of its
siblings'. This module only maps it.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolute.api.tasks import reads
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
    ctx = info.context
    async with ctx.db.use() as session:
        found = await reads.status_matrix(
            session, ctx.scope, resolution_id=resolution_id, task_id=task_id, first=first, after=cursor, today=ctx.loaders.today
        )
    rows = [
        MatrixRow(task=TaskType(row=task), cells=[AssignmentType(row=cell) if cell else None for cell in cells])
        for task, cells in zip(found.tasks, found.cells)
    ]
    cursors = [BY_CODE.encode(t.code) for t in found.tasks]
    return StatusMatrix(
        units=[UnitType.of(u) for u in found.units],
        rows=rows,
        page_info=PageInfo(
            has_next_page=found.has_next_page,
            has_previous_page=after is not None,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        ),
        total_tasks=found.total_tasks,
    )


MatrixFirst = Annotated[int, strawberry.argument(description="How many task rows: 0 to 100, default 20.")]
MatrixAfter = Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)]
