"""GraphQL types of monitoring: the figures of a set of assignments, a unit's rollup, a ranking."""

from __future__ import annotations

from datetime import date
from enum import Enum

import strawberry

from resolute.api.monitoring.figures import Figures
from resolute.api.monitoring.rollups import Ranking, RankingEntry, Rollup
from resolute.schema.org.types import UnitType

__all__ = ["ProgressFigures", "ProgressFilterInput", "ProgressRollup", "RankingMetric", "RankingType", "UnitProgress"]


@strawberry.input(description="Which assignments a rollup or a ranking counts. Every condition must hold.")
class ProgressFilterInput:
    resolution: strawberry.ID | None = strawberry.field(
        default=None, description="Only tasks of this resolution and of every programme implementing it, down the chain."
    )
    kpi_group: str | None = strawberry.field(default=None, description="Only tasks serving a KPI of this group.")
    due_from: date | None = strawberry.field(default=None, description="Only assignments due on or after this day.")
    due_to: date | None = strawberry.field(default=None, description="Only assignments due on or before this day.")


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
    children: list[UnitProgress]

    @classmethod
    def of(cls, r: Rollup) -> ProgressRollup:
        return cls(
            unit=UnitType.of(r.unit), figures=ProgressFigures.of(r.figures),
            children=[UnitProgress(unit=UnitType.of(u), figures=ProgressFigures.of(f)) for u, f in r.children],
        )


@strawberry.enum(description="What units are ranked by; all but OVERDUE rank the higher value first.")
class RankingMetric(Enum):
    COMPLETION_RATE = "completion_rate"
    ON_TIME_RATE = "on_time_rate"
    AVERAGE_PROGRESS = "average_progress"
    OVERDUE = strawberry.enum_value("overdue", description="The number of overdue assignments; the fewest first.")
    COMPLETED = "completed"


@strawberry.type(name="RankingEntry")
class RankingEntryType:
    rank: int | None = strawberry.field(description="1 for the best; tied values share a rank and the next one skips (1, 2, 2, 4). Null when the metric is undefined for the unit (nothing to divide by): listed last.")
    unit: UnitType
    value: float | None
    figures: ProgressFigures

    @classmethod
    def of(cls, e: RankingEntry) -> RankingEntryType:
        return cls(rank=e.rank, unit=UnitType.of(e.unit), value=e.value, figures=ProgressFigures.of(e.figures))


@strawberry.type(name="Ranking", description="Units ranked by a metric, with the spread of the ranked values (quartiles by linear interpolation, as percentile_cont).")
class RankingType:
    metric: RankingMetric
    then_by: RankingMetric | None
    entries: list[RankingEntryType]
    ranked_count: int = strawberry.field(description="How many entries have a value (and a rank).")
    lower_quartile: float | None
    median: float | None
    upper_quartile: float | None

    @classmethod
    def of(cls, r: Ranking, metric: RankingMetric, then_by: RankingMetric | None) -> RankingType:
        return cls(
            metric=metric, then_by=then_by, entries=[RankingEntryType.of(e) for e in r.entries], ranked_count=r.ranked,
            lower_quartile=r.lower_quartile, median=r.median, upper_quartile=r.upper_quartile,
        )
