"""Progress rollups over subtrees, and rankings of units by them: one SQL statement each.

A unit's figures are those of the assignments the caller may read whose assignee lies in the
unit's subtree (itself included), narrowed by a ProgressFilter. A unit's children are rolled up
by grouping its subtree's assignments on the path of the child they lie under (an equality the
planner hashes); the units of a kind, which may lie anywhere, by joining each to the units of its
subtree by path range. Either way the number of groups (a province's 18 departments and 100
communes, or the 34 provinces) never changes the number of statements. Nobody sees a count of
what it may not list: the assignments go through `Scope.visible_assignments` (the read filter of
every assignment list, on the joined assignee), and the group units through `Scope.visible(Unit)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, case, false, func, literal_column, null, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from resolute.api.access.scope import Scope
from resolute.api.kpis.models import Kpi
from resolute.api.monitoring.figures import COUNTS, Figures, counts, rates
from resolute.api.monitoring.grouping import per_child, unit_and_children
from resolute.api.org.models import Unit
from resolute.api.org.tree import in_subtree, under
from resolute.api.resolutions.models import Resolution
from resolute.api.tasks.models import Assignment, Task

__all__ = ["METRICS", "ProgressFilter", "Ranking", "RankingEntry", "Rollup", "ranking", "resolution_family", "rollup"]


@dataclass(frozen=True)
class ProgressFilter:
    """Which assignments count. Every condition must hold."""

    resolution_ids: tuple[int, ...] | None = None  # tasks of these resolutions (a family: see `resolution_family`)
    kpi_group: str | None = None  # tasks that serve a KPI of this group
    due_from: date | None = None  # assignments due in [due_from, due_to]
    due_to: date | None = None


async def resolution_family(session: AsyncSession, scope: Scope, resolution_id: int) -> tuple[int, ...]:
    """The resolution and every programme implementing it, directly or down the chain; () if the caller
    may not read the resolution. Resolved before aggregating, so the planner sees the ids themselves."""
    chain = select(Resolution.id.label("id")).where(Resolution.id == resolution_id, scope.visible(Resolution, probe=True)).cte("family", recursive=True)
    chain = chain.union(select(Resolution.id).join(chain, Resolution.implements_id == chain.c.id))  # UNION: a cycle ends
    return tuple(sorted(await session.scalars(select(chain.c.id))))


def _counted(scope: Scope, flt: ProgressFilter, assignee: Any) -> list[ColumnElement[bool]]:
    """The assignments that count: readable by the caller and matching the filter (`assignee`: the joined assignee unit)."""
    conds: list[ColumnElement[bool]] = [scope.visible_assignments(assignee.path)]
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


def _grouped(scope: Scope, flt: ProgressFilter, today: date, groups: Any, group_condition: ColumnElement[bool]) -> Any:
    """Per group unit (the alias `groups`, chosen by `group_condition`): the counts of its subtree's assignments.

    The groups are units the caller may read, and so are the units below them (a scope is whole
    subtrees): saying so as a range on the member units tells the planner how few they are."""
    member = aliased(Unit, name="member")
    members = scope.within(member.path, "unit", "read")
    return (
        select(groups.id.label("group_id"), *[c.label(name) for name, c in counts(today).items()])
        .select_from(groups)
        .join(member, under(member.path, groups.path))
        .join(Assignment, Assignment.assignee_unit_id == member.id)
        .where(group_condition, members, *_counted(scope, flt, member))
        .group_by(groups.id)
        .subquery("grouped")
    )


def _figures_columns(grouped: Any) -> list[ColumnElement[Any]]:
    """The figures of a grouped subquery outer-joined to its group units: zeros where no assignment counts."""
    filled = {name: func.coalesce(grouped.c[name], 0) for name in COUNTS}
    return [c.label(name) for name, c in filled.items()] + [c.label(name) for name, c in rates(filled).items()]


def _per_child(scope: Scope, flt: ProgressFilter, today: date, parent: Unit) -> Any:
    """Per direct child of `parent` (by the child's path), and for the parent's whole subtree: the counts."""
    member = aliased(Unit, name="member")
    rows = (
        select(member.id)
        .select_from(member)
        .join(Assignment, Assignment.assignee_unit_id == member.id)
        .where(in_subtree(member.path, parent.path), *_counted(scope, flt, member))
    )
    return per_child(parent, member.path, counts(today), rows, "grouped")


@dataclass(frozen=True)
class Rollup:
    unit: Unit
    figures: Figures  # over the unit's whole subtree
    children: list[tuple[Unit, Figures]]  # each direct sub-unit the caller may read (not archived), in code order


async def rollup(session: AsyncSession, scope: Scope, unit: Unit, flt: ProgressFilter, *, today: date) -> Rollup:
    """A unit's figures and each direct child's, in one statement (`unit`: one the caller may read)."""
    grouped = _per_child(scope, flt, today, unit)
    head, rest = await unit_and_children(session, scope, unit, grouped, _figures_columns(grouped))
    return Rollup(unit=head[0], figures=Figures.of(head._mapping), children=[(row[0], Figures.of(row._mapping)) for row in rest])


# metric -> whether a higher value ranks first
METRICS: dict[str, bool] = {
    "completion_rate": True,
    "on_time_rate": True,
    "average_progress": True,
    "overdue": False,
    "completed": True,
}


@dataclass(frozen=True)
class RankingEntry:
    rank: int | None  # None: the metric is undefined for this unit (nothing counted), listed last
    unit: Unit
    value: float | None
    figures: Figures


@dataclass(frozen=True)
class Ranking:
    entries: list[RankingEntry]
    ranked: int  # how many entries have a value
    lower_quartile: float | None
    median: float | None
    upper_quartile: float | None


def _order(column: Any, higher_first: bool) -> Any:
    return (column.desc() if higher_first else column.asc()).nulls_last()


def _quartile(k: int, value: Any, position: Any, n: Any) -> ColumnElement[Any]:
    """The k-th quartile of the ranked values by linear interpolation (PostgreSQL's percentile_cont, Python's
    statistics.quantiles(method='inclusive')): position p = 1 + k(n-1)/4 lies between two ranks, weighted."""
    step = k * (n - 1)  # p - 1 in quarters
    low, quarters = step // 4 + 1, step % 4
    weight = case((position == low, 4 - quarters), (position == low + 1, quarters), else_=0)
    return func.round(func.sum(value * weight * literal_column("0.25")), literal_column("4"))


async def ranking(
    session: AsyncSession,
    scope: Scope,
    *,
    metric: str,
    then_by: str | None,
    parent: Unit | None,
    kind: str | None,
    flt: ProgressFilter,
    today: date,
) -> Ranking:
    """The children of `parent` (one the caller may read), or every unit of a kind, that the caller may read, ranked by `metric`.

    Ties share a rank and the next rank skips (1, 2, 2, 4), ordered by `then_by` and then by code;
    units with no value (nothing counted) have no rank and come last. The quartiles and the median
    are those of the ranked values. One statement.
    """
    if parent is not None:
        grouped, outer_condition = _per_child(scope, flt, today, parent), Unit.parent_id == parent.id
        joined = grouped.c.group_path == Unit.path
    else:
        groups = aliased(Unit, name="grp")
        grouped, outer_condition = _grouped(scope, flt, today, groups, groups.kind == kind), Unit.kind == kind
        joined = grouped.c.group_id == Unit.id
    base = (
        select(Unit.id.label("unit_id"), Unit.code.label("code"), *_figures_columns(grouped))
        .outerjoin(grouped, joined)
        .where(outer_condition, Unit.archived_at.is_(None), scope.visible(Unit))
        .cte("base")
    )
    value = base.c[metric]
    keys = [_order(value, METRICS[metric])] + ([_order(base.c[then_by], METRICS[then_by])] if then_by else [])
    ranked = select(
        base,
        value.label("value"),
        case((value.is_(None), null()), else_=func.rank().over(order_by=keys)).label("rank"),
        func.row_number().over(order_by=[_order(value, False), base.c.code]).label("position"),
        func.count(value).over().label("n"),
    ).cte("ranked")
    stats = select(*[_quartile(k, ranked.c.value, ranked.c.position, ranked.c.n).label(f"q{k}") for k in (1, 2, 3)]).subquery("stats")
    ranked_keys = [_order(ranked.c.value, METRICS[metric])] + ([_order(ranked.c[then_by], METRICS[then_by])] if then_by else [])
    query = (
        select(Unit, ranked, stats)
        .select_from(ranked)
        .join(Unit, Unit.id == ranked.c.unit_id)
        .join(stats, true())
        .order_by(*ranked_keys, ranked.c.code)
    )
    rows = (await session.execute(query)).all()
    entries = [
        RankingEntry(rank=row.rank, unit=row[0], value=None if row.value is None else float(row.value), figures=Figures.of(row._mapping))
        for row in rows
    ]
    first = rows[0] if rows else None

    def stat(name: str) -> float | None:
        return None if first is None or first._mapping[name] is None else float(first._mapping[name])

    return Ranking(entries=entries, ranked=sum(1 for e in entries if e.rank is not None), lower_quartile=stat("q1"), median=stat("q2"), upper_quartile=stat("q3"))

