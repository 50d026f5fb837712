"""The tables of a report pack: a header and rows of plain values, made by the monitoring services.

Each table is what a dashboard of the API shows (the same functions compute it), flattened for a
spreadsheet: codes and names instead of ids, rates as fractions. Warnings and KPI statuses are
streamed from one statement each, so a national pack never holds them all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.access.scope import Scope
from resolute.api.monitoring import discipline, lights, rollups, warnings
from resolute.api.monitoring.discipline import DisciplineFigures
from resolute.api.monitoring.figures import Figures
from resolute.api.monitoring.lights import KpiFilter
from resolute.api.monitoring.rollups import ProgressFilter
from resolute.api.monitoring.warnings import WarningFilter
from resolute.api.org.models import Unit

__all__ = ["TABLES", "PackInputs", "Table"]

Row = Sequence[Any]


@dataclass(frozen=True)
class PackInputs:
    """What a pack is about: a unit the caller may read, a resolution's family (or every one), a period."""

    unit: Unit
    resolution_ids: tuple[int, ...] | None
    period: str
    today: date
    language: str = "en"  # of the warnings' reasons (api.i18n, from Accept-Language)


@dataclass(frozen=True)
class Table:
    name: str  # the file name's and the sheet's
    title: str
    header: tuple[str, ...]
    rows: Any  # (session, scope, inputs) -> AsyncIterator[Row]


PROGRESS_HEADER = (
    "unit code", "unit name", "level", "total", "not started", "in progress", "completed", "cancelled", "overdue",
    "completed on time", "completed within extension", "completed late", "completion rate", "on-time rate", "average progress",
)


def _progress_cells(unit: Unit, level: str, f: Figures) -> Row:
    return (
        unit.code, unit.name, level, f.total, f.not_started, f.in_progress, f.completed, f.cancelled, f.overdue,
        f.completed_on_time, f.completed_within_extension, f.completed_late, f.completion_rate, f.on_time_rate, f.average_progress,
    )


async def _progress(session: AsyncSession, scope: Scope, p: PackInputs) -> AsyncIterator[Row]:
    found = await rollups.rollup(session, scope, p.unit, ProgressFilter(resolution_ids=p.resolution_ids), today=p.today)
    if found is None:  # the pack's unit is one the caller reads: never, but nothing to show if so
        return
    yield _progress_cells(found.unit, "whole subtree", found.figures)
    for child, figures in found.children:
        yield _progress_cells(child, "child", figures)


DISCIPLINE_HEADER = (
    "unit code", "unit name", "level", "period", "expected", "received", "on time", "completeness", "timeliness",
    "assigned", "acknowledged", "acknowledged within 7 days", "average days to acknowledge", "discipline index",
)


def _discipline_cells(unit: Unit, level: str, period: str, f: DisciplineFigures) -> Row:
    return (
        unit.code, unit.name, level, period, f.expected, f.received, f.on_time, f.completeness, f.timeliness,
        f.assigned, f.acknowledged, f.acknowledged_in_time, f.average_ack_days, f.discipline_index,
    )


async def _discipline(session: AsyncSession, scope: Scope, p: PackInputs) -> AsyncIterator[Row]:
    found = await discipline.discipline(session, scope, p.unit, p.period, resolution_ids=p.resolution_ids)
    if found is None:
        return
    yield _discipline_cells(found.unit, "whole subtree", p.period, found.figures)
    for child, figures in found.children:
        yield _discipline_cells(child, "child", p.period, figures)


WARNINGS_HEADER = (
    "severity", "kind", "unit code", "unit name", "object", "task", "due on", "days", "progress", "expected progress",
    "projected finish", "period", "value", "reason",
)


async def _warnings(session: AsyncSession, scope: Scope, p: PackInputs) -> AsyncIterator[Row]:
    flt = WarningFilter(resolution_ids=p.resolution_ids)
    async for w, labels in warnings.stream_warnings(session, scope, p.unit, flt, today=p.today):
        yield (
            w.severity, w.kind, labels.unit_code, labels.unit_name, labels.object_label, labels.task_code, w.due_on, w.days, w.progress,
            w.expected_progress, w.projected_finish_on, w.period, w.value, warnings.reason(w, p.language),
        )


KPI_HEADER = (
    "KPI code", "KPI name", "unit code", "unit name", "period", "value", "light", "previous period", "previous value", "change",
    "target", "target share",
)


async def _kpi_statuses(session: AsyncSession, scope: Scope, p: PackInputs) -> AsyncIterator[Row]:
    async for s in lights.stream_kpi_statuses(session, scope, p.unit, KpiFilter(resolution_ids=p.resolution_ids)):
        yield (
            s.kpi.code, s.kpi.name, s.unit.code, s.unit.name, s.period, s.value, s.light, s.previous_period, s.previous_value, s.change,
            s.target, None if s.target_share is None else float(s.target_share),
        )


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table("progress", "Progress", PROGRESS_HEADER, _progress),
        Table("discipline", "Reporting discipline", DISCIPLINE_HEADER, _discipline),
        Table("warnings", "Warnings", WARNINGS_HEADER, _warnings),
        Table("kpi-lights", "KPI lights", KPI_HEADER, _kpi_statuses),
    )
}
