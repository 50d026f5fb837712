"""Progress summaries: the assignment counts of the top of the tree, kept by the database as assignments change.

A national ranking of the 34 provinces by 57-NQ/TW reads 105,000 assignments of 740,000; summed per
(province, task, due date) they are 30,000 rows, read through one index range per province. A
province's dashboard reads 21,000 assignments of its subtree to keep the 3,100 of the resolution;
its 118 children's summary rows of that resolution are read directly (bench/README.md has the
figures). So every unit at depth SUMMARY_DEPTH or above (the root; provinces and ministries; their
communes and departments) keeps one row per (task, due date) of the assignments of its subtree, with
the counts that `api.monitoring.figures.counts` makes of them, and the task's resolution to find
them by. Overdue is not stored: it depends on the day asked, and is the open count of the rows due
before it.

Database triggers (migration 0007), not the services, keep the rows: every write path (the services,
a merge, the importer, a tree move, a task moved to another resolution) is covered by the same few
statements, inside the writing transaction, so a summary is never stale nor ahead of what commits.
A row that comes down to no assignment is deleted. On PostgreSQL a bulk import defers the triggers
for its transaction and rebuilds the rows once at the end (`deferred`, `rebuild`), which costs
seconds where 700,000 trigger calls would cost minutes. tests/test_progress_summaries.py checks
that the rows always equal a recomputation from the assignments.

Only a reader of every assignment under a unit may be given its summary: rollups and rankings use
these rows for the units they cover (api.monitoring.grouping) and count the assignments otherwise.

Totals (migration 0016): the same counts summed per (unit, resolution), kept by a trigger on the
summaries, for the filters that name no more than a resolution family (the usual one). The 34
provinces of 57-NQ/TW and its programmes are then 68 rows instead of 30,000. Their overdue count
is the open count less the open summary rows due from the day asked on, read through a partial
index of the open rows: the future side, because work not yet due is bounded by the work in hand,
while the past keeps every row a resolution ever had.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Date, Index, Integer, Text, case, cast, delete, func, insert, literal, select, text, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased, mapped_column

from resolute.api.bulk_load import indexes_after
from resolute.api.db import Base
from resolute.api.monitoring.figures import counts as figure_counts
from resolute.api.org.models import Unit
from resolute.api.tasks.models import Assignment, Task

__all__ = ["STORED", "SUMMARY_DEPTH", "ProgressSummary", "ProgressTotal", "deferred", "rebuild", "summed", "totalled"]

SUMMARY_DEPTH = 3  # units at this depth or above keep summaries (the root has depth 1)
# the stored counts, named as api.monitoring.figures.COUNTS names them (overdue is derived)
STORED = (
    "total", "not_started", "in_progress", "completed", "cancelled",
    "completed_on_time", "completed_within_extension", "completed_late", "progress_sum",
)
_OPEN = "total > completed + cancelled"  # a summary row with an open assignment
_SETTING = "resolute.summaries"  # 'deferred' for the rest of a transaction: the triggers do nothing


class _Counts:
    """The STORED counts, columns of both tables."""

    total: Mapped[int] = mapped_column(Integer)
    not_started: Mapped[int] = mapped_column(Integer)
    in_progress: Mapped[int] = mapped_column(Integer)
    completed: Mapped[int] = mapped_column(Integer)
    cancelled: Mapped[int] = mapped_column(Integer)
    completed_on_time: Mapped[int] = mapped_column(Integer)
    completed_within_extension: Mapped[int] = mapped_column(Integer)
    completed_late: Mapped[int] = mapped_column(Integer)
    progress_sum: Mapped[int] = mapped_column(Integer)


class ProgressSummary(_Counts, Base):
    """The assignments of one task, due on one date, whose assignee lies in the subtree of one unit."""

    __tablename__ = "progress_summaries"
    __table_args__ = (
        # a dashboard's read: the rows of a resolution family under each group unit, without touching the table
        Index("ix_progress_summaries_unit", "unit_id", "resolution_id", postgresql_include=["task_id", "due_on", *STORED]),
        # the open rows of a unit and resolution by due date: the overdue count of a total (`totalled`)
        Index("ix_progress_summaries_open", "unit_id", "resolution_id", "due_on", postgresql_include=["total", "completed", "cancelled"],
              postgresql_where=text(_OPEN), sqlite_where=text(_OPEN)),
    )

    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    due_on: Mapped[date] = mapped_column(Date, primary_key=True)
    resolution_id: Mapped[int] = mapped_column(Integer)  # the task's, kept by a trigger on tasks


class ProgressTotal(_Counts, Base):
    """The summaries of one unit and one resolution, summed (kept by a trigger on progress_summaries)."""

    __tablename__ = "progress_totals"

    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resolution_id: Mapped[int] = mapped_column(Integer, primary_key=True)


def totalled(today: date) -> dict[str, ColumnElement[Any]]:
    """The aggregates of `api.monitoring.figures.counts`, over progress totals: overdue is each total's open count
    less its open summary rows due today or later (one range of the partial index per total)."""
    t, s = ProgressTotal, ProgressSummary
    sums: dict[str, ColumnElement[Any]] = {name: func.coalesce(func.sum(getattr(t, name)), 0) for name in STORED}
    not_yet_due = (
        select(func.coalesce(func.sum(s.total - s.completed - s.cancelled), 0))
        .where(s.unit_id == t.unit_id, s.resolution_id == t.resolution_id, s.due_on >= today, s.total > s.completed + s.cancelled)  # _OPEN
        .scalar_subquery()
    )
    sums["overdue"] = func.coalesce(func.sum(t.total - t.completed - t.cancelled - not_yet_due), 0)
    return sums


def summed(today: date, model: Any = ProgressSummary) -> dict[str, ColumnElement[Any]]:
    """The aggregates of `api.monitoring.figures.counts`, over summary rows instead of assignments."""
    sums: dict[str, ColumnElement[Any]] = {name: func.coalesce(func.sum(getattr(model, name)), 0) for name in STORED}
    open_ = model.total - model.completed - model.cancelled
    sums["overdue"] = func.coalesce(func.sum(case((model.due_on < today, open_), else_=0)), 0)
    return sums


async def deferred(session: AsyncSession) -> bool:
    """Defer the summary triggers for the rest of this transaction (PostgreSQL; then `rebuild` before it
    commits). False where triggers cannot be deferred (SQLite): they keep running, row by row."""
    if session.bind.dialect.name != "postgresql":
        return False
    await session.execute(text("SELECT set_config(:name, 'deferred', true)"), {"name": _SETTING})
    return True


async def rebuild(session: AsyncSession) -> None:
    """Recompute every summary row from the assignments (after a deferred bulk load), and turn the triggers back
    on for the rest of the transaction: one statement, each assignment counted under the top units of its
    assignee's path (the ids a path lists, as the triggers read them)."""
    a, member = Assignment, aliased(Unit, name="member")
    dialect = session.bind.dialect.name
    # the counts every rollup makes of assignments (api.monitoring.figures), but overdue, which depends on the day asked
    counts = {name: c for name, c in figure_counts(date.today(), a).items() if name in STORED}
    if dialect == "postgresql":
        ids = func.string_to_array(func.btrim(member.path, "/"), "/", type_=ARRAY(Text))
        top = func.unnest(ids[1:SUMMARY_DEPTH]).table_valued("value").render_derived(name="top")
        top_id, top_where = cast(top.c.value, Integer), true()
    else:
        top = func.json_each(literal("[") + func.replace(func.trim(member.path, "/"), "/", ",") + literal("]")).table_valued("key", "value").alias("top")
        top_id, top_where = top.c.value, top.c.key < SUMMARY_DEPTH
    keys = (top_id, a.task_id, a.due_on, Task.resolution_id)
    rows = (
        select(*keys, *counts.values())
        .select_from(a)
        .join(member, member.id == a.assignee_unit_id)
        .join(Task, Task.id == a.task_id)
        .join(top, true())
        .where(top_where)
        .group_by(*keys)
        # in the primary key's order: 12 s instead of 25 at national scale, the b-trees filled from the left
        .order_by(*keys[:3])
    )
    async with indexes_after(session, ProgressSummary.__table__):  # built after the rows where there were none (a first import)
        await session.execute(delete(ProgressSummary))
        await session.execute(insert(ProgressSummary).from_select(["unit_id", "task_id", "due_on", "resolution_id", *counts], rows))
    s = ProgressSummary
    totals = select(s.unit_id, s.resolution_id, *[func.sum(getattr(s, name)) for name in STORED]).group_by(s.unit_id, s.resolution_id)
    await session.execute(delete(ProgressTotal))
    await session.execute(insert(ProgressTotal).from_select(["unit_id", "resolution_id", *STORED], totals))
    if dialect == "postgresql":
        await session.execute(text("SELECT set_config(:name, 'on', true)"), {"name": _SETTING})
