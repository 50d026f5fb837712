"""Rankings: the children of a unit, or every unit of a kind, ordered by a metric, with its spread: one statement.

A metric comes from one source of figures: progress (api.monitoring.rollups), KPI lights
(api.monitoring.lights) or reporting discipline (api.monitoring.discipline), each counted over
every ranked unit's subtree with the same definitions its dashboard shows. Ties share a rank and
the next rank skips (1, 2, 2, 4), ordered by a second metric and then by code; a unit with no
value (nothing to divide by) has no rank and comes last. The quartiles and the median are those
of the ranked values, by linear interpolation (PostgreSQL's percentile_cont).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal_column, null, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.access.scope import Scope
from resolute.api.db import built, plan_with_parameters
from resolute.api.monitoring import discipline, lights, rollups
from resolute.api.monitoring.discipline import DisciplineFigures
from resolute.api.monitoring.figures import Figures
from resolute.api.monitoring.grouping import Rows, per_child, per_group
from resolute.api.monitoring.lights import KpiFilter, LightCounts
from resolute.api.monitoring.rollups import ProgressFilter
from resolute.api.org.models import Unit

__all__ = ["METRICS", "Metric", "Ranking", "RankingEntry", "RankingInputs", "ranking"]


@dataclass(frozen=True)
class Metric:
    source: str  # progress, lights or discipline
    column: str
    higher_first: bool


METRICS: dict[str, Metric] = {
    "completion_rate": Metric("progress", "completion_rate", True),
    "on_time_rate": Metric("progress", "on_time_rate", True),
    "average_progress": Metric("progress", "average_progress", True),
    "completed": Metric("progress", "completed", True),
    "overdue": Metric("progress", "overdue", False),
    "green_share": Metric("lights", "green_share", True),
    "reporting_completeness": Metric("discipline", "completeness", True),
    "reporting_timeliness": Metric("discipline", "timeliness", True),
    "discipline_index": Metric("discipline", "discipline_index", True),
}


@dataclass(frozen=True)
class RankingInputs:
    """What each source counts."""

    progress: ProgressFilter
    kpis: KpiFilter
    period: tuple[date, date]  # the reporting period discipline is counted in, [start, end)
    today: date


@dataclass(frozen=True)
class RankingEntry:
    rank: int | None  # None: the metric is undefined for this unit, listed last
    unit: Unit
    value: float | None
    figures: Figures
    lights: LightCounts | None  # counted when a metric needs them
    discipline: DisciplineFigures | None


@dataclass(frozen=True)
class Ranking:
    entries: list[RankingEntry]
    ranked: int  # how many entries have a value
    lower_quartile: float | None
    median: float | None
    upper_quartile: float | None


def _source(name: str, scope: Scope, inputs: RankingInputs, under_path: str | None) -> tuple[Rows, Any]:
    """A source's rows (of the subtree at `under_path`, or anywhere readable) and the columns made from its grouping;
    built only when a metric needs it (a source's statement takes milliseconds of Python to build)."""
    if name == "progress":
        return rollups.progress_rows(scope, inputs.progress, inputs.today, under_path), rollups.figures_columns
    if name == "lights":
        return lights.light_rows(scope, inputs.kpis, under_path), lights.light_columns
    return discipline.discipline_rows(scope, *inputs.period, inputs.progress, under_path), discipline.figures_columns


def _order(column: Any, higher_first: bool) -> Any:
    return (column.desc() if higher_first else column.asc()).nulls_last()


def _quartile(k: int, value: Any, position: Any, n: Any) -> ColumnElement[Any]:
    """The k-th quartile of the ranked values by linear interpolation (PostgreSQL's percentile_cont, Python's
    statistics.quantiles(method='inclusive')): position p = 1 + k(n-1)/4 lies between two ranks, weighted."""
    step = k * (n - 1)  # p - 1 in quarters
    low, quarters = step // 4 + 1, step % 4
    weight = case((position == low, 4 - quarters), (position == low + 1, quarters), else_=0)
    return func.round(func.sum(value * weight * literal_column("0.25")), literal_column("4"))


def _statement(scope: Scope, metric: str, then_by: str | None, parent: Unit | None, kind: str | None, inputs: RankingInputs, wanted: set[str]) -> Any:
    """The ranking's one statement (see `ranking`), over the sources `wanted`."""
    columns: list[ColumnElement[Any]] = []
    query = select(Unit.id.label("unit_id"), Unit.code.label("code"))
    for name in ("progress", "lights", "discipline"):
        if name not in wanted:
            continue
        rows, made = _source(name, scope, inputs, parent.path if parent is not None else None)
        if parent is not None:
            grouped = per_child(parent, rows, name)
            query = query.outerjoin(grouped, grouped.c.group_path == Unit.path)
        else:
            grouped = per_group(lambda groups: groups.kind == kind, rows, name)
            query = query.outerjoin(grouped, grouped.c.group_id == Unit.id)
        columns += made(grouped)
    chosen = Unit.parent_id == parent.id if parent is not None else Unit.kind == kind
    readable = scope.visible_under(Unit, parent.path) if parent is not None else scope.visible(Unit)
    base = query.add_columns(*columns).where(chosen, Unit.archived_at.is_(None), readable).cte("base")

    def keys(of: Any) -> list[Any]:
        first = _order(of.c[METRICS[metric].column], METRICS[metric].higher_first)
        return [first] + ([_order(of.c[METRICS[then_by].column], METRICS[then_by].higher_first)] if then_by else [])

    value = base.c[METRICS[metric].column]
    ranked = select(
        base,
        value.label("value"),
        case((value.is_(None), null()), else_=func.rank().over(order_by=keys(base))).label("rank"),
        func.row_number().over(order_by=[_order(value, False), base.c.code]).label("position"),
        func.count(value).over().label("n"),
    ).cte("ranked")
    stats = select(*[_quartile(k, ranked.c.value, ranked.c.position, ranked.c.n).label(f"q{k}") for k in (1, 2, 3)]).subquery("stats")
    return select(Unit, ranked, stats).select_from(ranked).join(Unit, Unit.id == ranked.c.unit_id).join(stats, true()).order_by(*keys(ranked), ranked.c.code)


def _wanted(metric: str, then_by: str | None) -> set[str]:
    return {"progress", METRICS[metric].source} | ({METRICS[then_by].source} if then_by else set())


async def ranking(
    session: AsyncSession, scope: Scope, *, metric: str, then_by: str | None, parent: Unit | None, kind: str | None, inputs: RankingInputs
) -> Ranking:
    """The children of `parent` (one the caller may read), or every unit of `kind`, that the caller may read
    (not archived), ranked by `metric` then `then_by`."""
    wanted = _wanted(metric, then_by)
    where = None if parent is None else (parent.id, parent.path, parent.depth)
    key = ("ranking", scope.principal, scope.policy, metric, then_by, where, kind, inputs)
    query = built(key, lambda: _statement(scope, metric, then_by, parent, kind, inputs, wanted))
    await plan_with_parameters(session)
    rows = (await session.execute(query)).all()
    entries = [
        RankingEntry(
            rank=row.rank, unit=row[0], value=None if row.value is None else float(row.value), figures=Figures.of(row._mapping),
            lights=LightCounts.of(row._mapping) if "lights" in wanted else None,
            discipline=DisciplineFigures.of(row._mapping) if "discipline" in wanted else None,
        )
        for row in rows
    ]
    first = rows[0]._mapping if rows else None

    def stat(name: str) -> float | None:
        return None if first is None or first[name] is None else float(first[name])

    return Ranking(entries=entries, ranked=sum(1 for e in entries if e.rank is not None), lower_quartile=stat("q1"), median=stat("q2"), upper_quartile=stat("q3"))
