"""GraphQL types of monitoring: the figures of a set of assignments, a unit's rollup, a ranking."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Annotated

import strawberry

from resolute.api.monitoring.discipline import Discipline, DisciplineFigures
from resolute.api.monitoring.figures import Figures
from resolute.api.monitoring.lights import KpiStatus, LightCounts, LightRollup
from resolute.api.monitoring.ranking import Ranking, RankingEntry
from resolute.api.monitoring.rollups import Rollup
from resolute.api.monitoring.series import KpiPoint, ProgressPoint
from resolute.schema.kpis.types import KpiType, TrafficLight
from resolute.schema.org.types import UnitType
from resolute.schema.pagination import MAX_WINDOW, OFFSET_DESCRIPTION, WINDOW_FIRST_DESCRIPTION, window

__all__ = ["DisciplineRollup", "Granularity", "KpiLightRollup", "KpiPointType", "KpiStatusFilterInput", "KpiStatusType", "LightCountsType", "ProgressFigures", "ProgressFilterInput", "ProgressPointType", "ProgressRollup", "RankingMetric", "RankingType", "UnitProgress"]


@strawberry.input(description="Which assignments a rollup or a ranking counts. Every condition must hold.")
class ProgressFilterInput:
    resolution: strawberry.ID | None = strawberry.field(
        default=None, description="Only tasks of this resolution and of every programme implementing it, down the chain."
    )
    kpi_group: str | None = strawberry.field(default=None, description="Only tasks serving a KPI of this group.")
    due_from: date | None = strawberry.field(default=None, description="Only assignments due on or after this day.")
    due_to: date | None = strawberry.field(default=None, description="Only assignments due on or before this day.")
    approved_for: str | None = strawberry.field(default=None, description=(
        "Only approved data of `resolution` for this period (a month, quarter or year): each assignment as its latest report "
        "before the period ended says, counted when its assignee approved the period and none of its reports is under a "
        "return not yet cleared; figures as they stood at the period's end. For rollups and rankings by a progress or KPI "
        "metric (a series or a ranking by reporting discipline refuses it)."
    ))


@strawberry.type(description=(
    "Progress of a set of assignments (those you may read, assigned to a unit of a subtree). Rates are fractions "
    "rounded to 4 places, null when there is nothing to divide by."
))
class ProgressFigures:
    total: int = strawberry.field(description="Every assignment counted, cancelled ones included.")
    not_started: int
    in_progress: int
    completed: int
    cancelled: int
    overdue: int = strawberry.field(description="Open (not started or in progress) and due before today.")
    completed_on_time: int = strawberry.field(description="Completed by the original due date.")
    completed_within_extension: int = strawberry.field(description="Completed after the original due date, by an approved extended one.")
    completed_late: int = strawberry.field(description="Completed after the due date in force.")
    completion_rate: float | None = strawberry.field(description="completed / (total - cancelled).")
    on_time_rate: float | None = strawberry.field(description="completedOnTime / completed.")
    average_progress: float | None = strawberry.field(description="Average reported progress of the assignments not cancelled, in percent (2 places).")

    @classmethod
    def of(cls, f: Figures) -> ProgressFigures:
        return cls(
            total=f.total, not_started=f.not_started, in_progress=f.in_progress, completed=f.completed, cancelled=f.cancelled,
            overdue=f.overdue, completed_on_time=f.completed_on_time, completed_within_extension=f.completed_within_extension,
            completed_late=f.completed_late, completion_rate=f.completion_rate, on_time_rate=f.on_time_rate, average_progress=f.average_progress,
        )


@strawberry.type(description="A unit and the figures of its whole subtree.")
class UnitProgress:
    unit: UnitType
    figures: ProgressFigures


@strawberry.type(description="A unit's figures over its whole subtree, and each direct sub-unit's (you may read; not archived), in code order.")
class ProgressRollup:
    unit: UnitType
    figures: ProgressFigures
    every_child: strawberry.Private[list[UnitProgress]]

    @strawberry.field(description="Each direct sub-unit's figures, in code order (a slice: see `childCount`).")
    def children(
        self,
        first: Annotated[int, strawberry.argument(description=WINDOW_FIRST_DESCRIPTION)] = MAX_WINDOW,
        offset: Annotated[int, strawberry.argument(description=OFFSET_DESCRIPTION)] = 0,
    ) -> list[UnitProgress]:
        return window(self.every_child, first=first, offset=offset)

    @strawberry.field(description="How many direct sub-units `children` has in all.")
    def child_count(self) -> int:
        return len(self.every_child)

    @classmethod
    def of(cls, r: Rollup) -> ProgressRollup:
        return cls(
            unit=UnitType.of(r.unit), figures=ProgressFigures.of(r.figures),
            every_child=[UnitProgress(unit=UnitType.of(u), figures=ProgressFigures.of(f)) for u, f in r.children],
        )


@strawberry.enum(description="What units are ranked by; all but OVERDUE rank the higher value first.")
class RankingMetric(Enum):
    COMPLETION_RATE = "completion_rate"
    ON_TIME_RATE = "on_time_rate"
    AVERAGE_PROGRESS = "average_progress"
    OVERDUE = strawberry.enum_value("overdue", description="The number of overdue assignments; the fewest first.")
    COMPLETED = "completed"
    GREEN_SHARE = strawberry.enum_value("green_share", description="The share of (KPI, unit) pairs standing green now.")
    REPORTING_COMPLETENESS = strawberry.enum_value("reporting_completeness", description="Reporting completeness in the period.")
    REPORTING_TIMELINESS = strawberry.enum_value("reporting_timeliness", description="Reporting timeliness in the period.")
    DISCIPLINE_INDEX = strawberry.enum_value("discipline_index", description="The reporting discipline index in the period.")


@strawberry.input(description="Which KPIs a KPI status counts. Every condition must hold.")
class KpiStatusFilterInput:
    resolution: strawberry.ID | None = strawberry.field(
        default=None, description="Only KPIs of this resolution and of every programme implementing it, down the chain."
    )
    group: str | None = strawberry.field(default=None, description="Only KPIs of this group.")
    kpi: strawberry.ID | None = strawberry.field(default=None, description="Only this KPI.")
    light: list[TrafficLight] | None = strawberry.field(default=None, description="Only statuses of these lights (kpiStatuses only).")
    approved_for: str | None = strawberry.field(default=None, description=(
        "Only approved data of `resolution` for this period: measurements of the period (or of a month or quarter within it) "
        "of units that approved it, none of them returned; each pair's latest among them."
    ))


@strawberry.type(name="LightCounts", description="How many (KPI, unit) pairs stand at each light now (their latest measurement).")
class LightCountsType:
    green: int
    yellow: int
    red: int
    measured: int = strawberry.field(description="green + yellow + red.")
    green_share: float | None = strawberry.field(description="green / measured, 4 places; null when nothing is measured.")

    @classmethod
    def of(cls, c: LightCounts) -> LightCountsType:
        return cls(green=c.green, yellow=c.yellow, red=c.red, measured=c.measured, green_share=c.green_share)


@strawberry.type(description="A unit and the lights of its whole subtree.")
class UnitLights:
    unit: UnitType
    counts: LightCountsType


@strawberry.type(description="The lights under a unit, and under each direct sub-unit (you may read; not archived), in code order.")
class KpiLightRollup:
    unit: UnitType
    counts: LightCountsType
    every_child: strawberry.Private[list[UnitLights]]

    @strawberry.field(description="Each direct sub-unit's lights, in code order (a slice: see `childCount`).")
    def children(
        self,
        first: Annotated[int, strawberry.argument(description=WINDOW_FIRST_DESCRIPTION)] = MAX_WINDOW,
        offset: Annotated[int, strawberry.argument(description=OFFSET_DESCRIPTION)] = 0,
    ) -> list[UnitLights]:
        return window(self.every_child, first=first, offset=offset)

    @strawberry.field(description="How many direct sub-units `children` has in all.")
    def child_count(self) -> int:
        return len(self.every_child)

    @classmethod
    def of(cls, r: LightRollup) -> KpiLightRollup:
        return cls(
            unit=UnitType.of(r.unit), counts=LightCountsType.of(r.counts),
            every_child=[UnitLights(unit=UnitType.of(u), counts=LightCountsType.of(c)) for u, c in r.children],
        )


@strawberry.type(name="KpiStatus", description="Where a unit stands on a KPI: its latest value, light, change and share of the target.")
class KpiStatusType:
    kpi: KpiType
    unit: UnitType
    period: str
    value: Decimal
    light: TrafficLight
    previous_period: str | None = strawberry.field(description="The period measured before the latest one.")
    previous_value: Decimal | None
    change: Decimal | None = strawberry.field(description="value - previousValue.")
    target: Decimal = strawberry.field(description="The unit's own target, else the KPI's.")
    target_share: float | None = strawberry.field(description="(value - baseline) / (target - baseline), 4 places: 1 is the target reached, also for a KPI that should fall; null when target = baseline.")

    @classmethod
    def of(cls, s: KpiStatus) -> KpiStatusType:
        return cls(
            kpi=KpiType(row=s.kpi), unit=UnitType.of(s.unit), period=s.period, value=s.value, light=TrafficLight(s.light),
            previous_period=s.previous_period, previous_value=s.previous_value, change=s.change, target=s.target,
            target_share=None if s.target_share is None else float(s.target_share),
        )


@strawberry.type(name="DisciplineFigures", description=(
    "How a set of assignments reported in a period (see the README for the formulas). Rates are fractions rounded "
    "to 4 places, null when there is nothing to count."
))
class DisciplineFiguresType:
    expected: int = strawberry.field(description="Assignments that had to report: assigned before the period ended, not cancelled, not completed before it began.")
    received: int = strawberry.field(description="Expected ones with a report dated in the period or within 5 days after.")
    on_time: int = strawberry.field(description="Expected ones with a report dated in the period.")
    assigned: int = strawberry.field(description="Assignments assigned in the period.")
    acknowledged: int = strawberry.field(description="Of those, how many were acknowledged.")
    acknowledged_in_time: int = strawberry.field(description="Of those, how many within 7 days.")
    completeness: float | None = strawberry.field(description="received / expected.")
    timeliness: float | None = strawberry.field(description="onTime / expected.")
    average_ack_days: float | None = strawberry.field(description="Average days from assignment to acknowledgement (2 places).")
    discipline_index: float | None = strawberry.field(description=(
        "0.4 completeness + 0.4 timeliness + 0.2 acknowledgedInTime / assigned; a part with nothing to count is left out "
        "and the other weights scaled up."))

    @classmethod
    def of(cls, f: DisciplineFigures) -> DisciplineFiguresType:
        return cls(
            expected=f.expected, received=f.received, on_time=f.on_time, assigned=f.assigned, acknowledged=f.acknowledged,
            acknowledged_in_time=f.acknowledged_in_time, completeness=f.completeness, timeliness=f.timeliness,
            average_ack_days=f.average_ack_days, discipline_index=f.discipline_index,
        )


@strawberry.type(description="A unit and its subtree's reporting discipline.")
class UnitDiscipline:
    unit: UnitType
    figures: DisciplineFiguresType


@strawberry.type(description="The reporting discipline of a unit's subtree in a period, and of each direct sub-unit (you may read; not archived), in code order.")
class DisciplineRollup:
    unit: UnitType
    period: str
    figures: DisciplineFiguresType
    every_child: strawberry.Private[list[UnitDiscipline]]

    @strawberry.field(description="Each direct sub-unit's discipline, in code order (a slice: see `childCount`).")
    def children(
        self,
        first: Annotated[int, strawberry.argument(description=WINDOW_FIRST_DESCRIPTION)] = MAX_WINDOW,
        offset: Annotated[int, strawberry.argument(description=OFFSET_DESCRIPTION)] = 0,
    ) -> list[UnitDiscipline]:
        return window(self.every_child, first=first, offset=offset)

    @strawberry.field(description="How many direct sub-units `children` has in all.")
    def child_count(self) -> int:
        return len(self.every_child)

    @classmethod
    def of(cls, d: Discipline) -> DisciplineRollup:
        return cls(
            unit=UnitType.of(d.unit), period=d.period, figures=DisciplineFiguresType.of(d.figures),
            every_child=[UnitDiscipline(unit=UnitType.of(u), figures=DisciplineFiguresType.of(f)) for u, f in d.children],
        )


@strawberry.type(name="RankingEntry")
class RankingEntryType:
    rank: int | None = strawberry.field(description="1 for the best; tied values share a rank and the next one skips (1, 2, 2, 4). Null when the metric is undefined for the unit (nothing to divide by): listed last.")
    unit: UnitType
    value: float | None
    figures: ProgressFigures
    lights: LightCountsType | None = strawberry.field(description="The unit's KPI lights, when a metric of the ranking counts them.")
    discipline: DisciplineFiguresType | None = strawberry.field(description="The unit's reporting discipline in the period, when a metric of the ranking counts it.")

    @classmethod
    def of(cls, e: RankingEntry) -> RankingEntryType:
        return cls(
            rank=e.rank, unit=UnitType.of(e.unit), value=e.value, figures=ProgressFigures.of(e.figures),
            lights=LightCountsType.of(e.lights) if e.lights else None,
            discipline=DisciplineFiguresType.of(e.discipline) if e.discipline else None,
        )


@strawberry.type(name="Ranking", description="Units ranked by a metric, with the spread of the ranked values (quartiles by linear interpolation, as percentile_cont).")
class RankingType:
    metric: RankingMetric
    then_by: RankingMetric | None
    every_entry: strawberry.Private[list[RankingEntry]]
    ranked_count: int = strawberry.field(description="How many entries have a value (and a rank).")
    lower_quartile: float | None
    median: float | None
    upper_quartile: float | None

    @strawberry.field(description="The ranked units, best first (a slice: see `entryCount`; all the units of a kind may be thousands).")
    def entries(
        self,
        first: Annotated[int, strawberry.argument(description=WINDOW_FIRST_DESCRIPTION)] = MAX_WINDOW,
        offset: Annotated[int, strawberry.argument(description=OFFSET_DESCRIPTION)] = 0,
    ) -> list[RankingEntryType]:
        return [RankingEntryType.of(e) for e in window(self.every_entry, first=first, offset=offset)]

    @strawberry.field(description="How many units `entries` has in all, ranked or not.")
    def entry_count(self) -> int:
        return len(self.every_entry)

    @classmethod
    def of(cls, r: Ranking, metric: RankingMetric, then_by: RankingMetric | None) -> RankingType:
        return cls(
            metric=metric, then_by=then_by, every_entry=r.entries, ranked_count=r.ranked,
            lower_quartile=r.lower_quartile, median=r.median, upper_quartile=r.upper_quartile,
        )



@strawberry.enum
class Granularity(Enum):
    MONTH = "month"
    QUARTER = "quarter"


@strawberry.type(name="ProgressPoint", description="A period's progress under a unit, for charts (assignments not cancelled).")
class ProgressPointType:
    period: str = strawberry.field(description="2025-07 or 2025-Q3.")
    assigned: int = strawberry.field(description="Assigned in the period.")
    due: int = strawberry.field(description="Due in the period.")
    completed: int = strawberry.field(description="Completed in the period.")
    completed_on_time: int = strawberry.field(description="Completed in the period, by the original due date.")
    cumulative_assigned: int = strawberry.field(description="Assigned up to the end of the period, since the beginning.")
    cumulative_completed: int
    cumulative_completion_rate: float | None = strawberry.field(description="cumulativeCompleted / cumulativeAssigned, 4 places.")

    @classmethod
    def of(cls, p: ProgressPoint) -> ProgressPointType:
        return cls(
            period=p.period, assigned=p.assigned, due=p.due, completed=p.completed, completed_on_time=p.completed_on_time,
            cumulative_assigned=p.cumulative_assigned, cumulative_completed=p.cumulative_completed,
            cumulative_completion_rate=p.cumulative_completion_rate,
        )


@strawberry.type(name="KpiPoint", description="A KPI's values in one period under a unit, for charts.")
class KpiPointType:
    period: str
    units: int = strawberry.field(description="Units of the subtree with a value (that you may read).")
    average: Decimal | None
    lowest: Decimal | None
    highest: Decimal | None
    green: int
    yellow: int
    red: int
    own_value: Decimal | None = strawberry.field(description="The unit's own value.")

    @classmethod
    def of(cls, p: KpiPoint) -> KpiPointType:
        return cls(
            period=p.period, units=p.units, average=p.average, lowest=p.lowest, highest=p.highest,
            green=p.green, yellow=p.yellow, red=p.red, own_value=p.own_value,
        )
