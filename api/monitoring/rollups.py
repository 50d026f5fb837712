"""Progress rollups over subtrees: one SQL statement each (rankings by them: api.monitoring.ranking).

A unit's figures are those of the assignments the caller may read whose assignee lies in the
unit's subtree (itself included), narrowed by a ProgressFilter. A unit's children are rolled up
by grouping its subtree's assignments on the path of the child they lie under (an equality the
planner hashes); the units of a kind (rankings), which may lie anywhere, by joining each to the
units of its subtree by path range. Either way the number of groups (a province's 18 departments and 100
communes, or the 34 provinces) never changes the number of statements. Nobody sees a count of
what it may not list: the assignments go through `Scope.visible_assignments` (the read filter of
every assignment list, on the joined assignee), and the group units through `Scope.visible(Unit)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import Any

from sqlalchemy import ColumnElement, case, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from resolute.api.access.scope import Scope
from resolute.api.approvals.data import Approved
from resolute.api.db import built, plan_with_parameters
from resolute.api.kpis.models import Kpi
from resolute.api.monitoring.figures import COUNTS, Figures, counts, rates
from resolute.api.monitoring.grouping import Rows, Summary, per_child, unit_and_children
from resolute.api.monitoring.summaries import SUMMARY_DEPTH, ProgressSummary, ProgressTotal, summed, totalled
from resolute.api.org.models import Unit
from resolute.api.org.tree import in_subtree
from resolute.api.resolutions.models import Resolution
from resolute.api.tasks.models import Assignment, ProgressReport, Task

__all__ = ["ProgressFilter", "Rollup", "UnitAt", "counted", "figures_columns", "progress_rows", "resolution_family", "rollup"]


@dataclass(frozen=True)
class ProgressFilter:
    """Which assignments count. Every condition must hold."""

    resolution_ids: tuple[int, ...] | None = None  # tasks of these resolutions (a family: see `resolution_family`)
    kpi_group: str | None = None  # tasks that serve a KPI of this group
    due_from: date | None = None  # assignments due in [due_from, due_to]
    due_to: date | None = None
    approved: Approved | None = None  # only approved figures of a resolution for a period (api.approvals.data)


async def resolution_family(session: AsyncSession, scope: Scope, resolution_id: int) -> tuple[int, ...]:
    """The resolution and every programme implementing it, directly or down the chain; () if the caller
    may not read the resolution. Resolved before aggregating, so the planner sees the ids themselves."""
    def build() -> Any:
        chain = select(Resolution.id.label("id")).where(Resolution.id == resolution_id, scope.visible(Resolution, probe=True)).cte("family", recursive=True)
        chain = chain.union(select(Resolution.id).join(chain, Resolution.implements_id == chain.c.id))  # UNION: a cycle ends
        return select(chain.c.id)

    return tuple(sorted(await session.scalars(built(("family", scope.principal, scope.policy, resolution_id), build))))


def counted(scope: Scope, flt: ProgressFilter, assignee: Any, under_path: str | None) -> list[ColumnElement[bool]]:
    """The assignments that count: readable by the caller and matching the filter (`assignee`: the joined assignee
    unit, restricted to the subtree at `under_path` if given)."""
    conds: list[ColumnElement[bool]] = [scope.visible_assignments(assignee.path, under=under_path)]
    tasks: list[ColumnElement[bool]] = []
    if flt.resolution_ids is not None:
        tasks.append(Task.resolution_id.in_(flt.resolution_ids) if flt.resolution_ids else false())
    if flt.kpi_group is not None:
        tasks.append(Task.kpi_id.in_(select(Kpi.id).where(Kpi.kpi_group == flt.kpi_group)))
    if tasks:
        conds.append(Assignment.task_id.in_(select(Task.id).where(*tasks)))
    if flt.due_from is not None:
        conds.append(Assignment.due_on >= flt.due_from)
    if flt.due_to is not None:
        conds.append(Assignment.due_on <= flt.due_to)
    return conds


def progress_rows(scope: Scope, flt: ProgressFilter, today: date, under_path: str | None) -> Rows:
    """The assignments that count with their assignee's path, and the counts over them. `under_path`: only the
    subtree of that unit, said as a literal range so that the planner knows how few units it holds; else the
    units the caller may read (groups are readable units, and a scope is whole subtrees). A caller who reads
    every assignment there also gets the progress summaries of the top units."""
    member = aliased(Unit, name="member")
    if flt.approved is not None:
        return _approved_rows(scope, flt, flt.approved, today, member, under_path)
    reads_all = scope.covers(under_path, "assignment", "read") if under_path is not None else scope.covers_whole_tree("assignment", "read")
    summary = _summary(flt, today) if reads_all else None
    if under_path is None and scope.covers_whole_tree("unit", "read") and reads_all:
        # every assignment counts wherever it lies: no unit to join before summing per assignee (the grouping reads
        # the paths of the few units summed), which spares a national ranking a join of 100,000 rows
        everywhere = select(Assignment.assignee_unit_id).where(*counted(scope, flt, member, None))
        return Rows(everywhere, None, counts(today), per_unit=Assignment.assignee_unit_id, summary=summary)
    within = in_subtree(member.path, under_path) if under_path is not None else scope.within(member.path, "unit", "read")
    rows = select(member.id).select_from(member).join(Assignment, Assignment.assignee_unit_id == member.id).where(within, *counted(scope, flt, member, under_path))
    return Rows(rows, member.path, counts(today), per_unit=member.id, summary=summary)


def _approved_rows(scope: Scope, flt: ProgressFilter, view: Approved, today: date, member: Any, under_path: str | None) -> Rows:
    """The assignments that count, as their approved figures say: each as its latest report dated before the
    period ended, when its assignee approved the period and none of its reports is under a return not yet
    cleared; the figures as they stood when the period closed (overdue: due before its end)."""
    report = aliased(ProgressReport, name="approved_report")
    latest = (
        select(ProgressReport.id).where(ProgressReport.assignment_id == Assignment.id, ProgressReport.reported_on < view.end)
        .order_by(ProgressReport.reported_on.desc(), ProgressReport.id.desc()).limit(1).correlate(Assignment).scalar_subquery()
    )  # fmt: skip
    as_approved = SimpleNamespace(
        id=Assignment.id, status=func.coalesce(report.status, "not_started"), progress=func.coalesce(report.progress, 0),
        completed_on=case((report.status == "completed", report.reported_on)), original_due_on=Assignment.original_due_on, due_on=Assignment.due_on,
    )  # fmt: skip
    within = in_subtree(member.path, under_path) if under_path is not None else scope.within(member.path, "unit", "read")
    rows = (
        select(member.id).select_from(member).join(Assignment, Assignment.assignee_unit_id == member.id).outerjoin(report, report.id == latest)
        .where(within, *counted(scope, flt, member, under_path), Assignment.assigned_on < view.end, view.approval_at(member.id),
               ~view.report_held(Assignment.id))
    )  # fmt: skip
    return Rows(rows, member.path, counts(min(today, view.end), as_approved), per_unit=member.id)


def _summary(flt: ProgressFilter, today: date) -> Summary:
    """The filter said on the summary rows: a resolution by the task's resolution each row keeps, a KPI group
    by its task, a due window by its due date; a filter by no more than a resolution family, on the totals
    per (unit, resolution) instead, far fewer rows."""
    if flt.kpi_group is None and flt.due_from is None and flt.due_to is None:
        t = ProgressTotal
        family = [] if flt.resolution_ids is None else [t.resolution_id.in_(flt.resolution_ids) if flt.resolution_ids else false()]
        return Summary(t, family, totalled(today), SUMMARY_DEPTH)
    s = ProgressSummary
    conds: list[ColumnElement[bool]] = []
    if flt.resolution_ids is not None:
        conds.append(s.resolution_id.in_(flt.resolution_ids) if flt.resolution_ids else false())
    if flt.kpi_group is not None:
        conds.append(s.task_id.in_(select(Task.id).where(Task.kpi_id.in_(select(Kpi.id).where(Kpi.kpi_group == flt.kpi_group)))))
    if flt.due_from is not None:
        conds.append(s.due_on >= flt.due_from)
    if flt.due_to is not None:
        conds.append(s.due_on <= flt.due_to)
    return Summary(s, conds, summed(today), SUMMARY_DEPTH)


def figures_columns(grouped: Any) -> list[ColumnElement[Any]]:
    """The figures of a grouped subquery outer-joined to its group units: zeros where no assignment counts."""
    filled = {name: func.coalesce(grouped.c[name], 0) for name in COUNTS}
    return [c.label(name) for name, c in filled.items()] + [c.label(name) for name, c in rates(filled).items()]


@dataclass(frozen=True)
class UnitAt:
    """Where a unit lies, all a rollup needs to be asked about it (its row comes back with the figures)."""

    id: int
    path: str
    depth: int


@dataclass(frozen=True)
class Rollup:
    unit: Unit  # (a row with a Unit's columns: api.monitoring.grouping.unit_and_children)
    figures: Figures  # over the unit's whole subtree
    children: list[tuple[Unit, Figures]]  # each direct sub-unit the caller may read (not archived), in code order


async def rollup(session: AsyncSession, scope: Scope, unit: Unit | UnitAt, flt: ProgressFilter, *, today: date) -> Rollup | None:
    """A unit's figures and each direct child's, in one statement; None if the caller may not read the unit."""
    await plan_with_parameters(session)
    head, rest = await unit_and_children(
        session, scope, unit, ("rollup", flt, today), lambda: per_child(unit, progress_rows(scope, flt, today, unit.path), "grouped"), figures_columns
    )
    if head is None:
        return None
    return Rollup(unit=head, figures=Figures.of(head._mapping), children=[(row, Figures.of(row._mapping)) for row in rest])
