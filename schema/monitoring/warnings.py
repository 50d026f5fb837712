"""GraphQL of early warnings: the list (paged, red first), the counts per kind and severity."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Annotated

import strawberry
from graphql import GraphQLError

from resolute.api.errors import ErrorCode
from resolute.api.monitoring import warnings
from resolute.api.monitoring.warnings import KINDS, SEVERITIES, Thresholds, Warning, WarningFilter
from resolute.schema.context import Info
from resolute.schema.filters import unit_or_own
from resolute.schema.ids import decode_id
from resolute.schema.kpis.types import KpiType, MeasurementType
from resolute.schema.org.types import UnitType
from resolute.schema.pagination import AFTER_DESCRIPTION, FIRST_DESCRIPTION, Connection, KeyOrdering, build_connection, check_first
from resolute.schema.reviews.types import ReviewType
from resolute.schema.tasks.types import AssignmentType, MilestoneType, TaskType

__all__ = ["WarningKind", "WarningsQuery"]

CURSORS = KeyOrdering("warnings", (int, str, int))
MAX_DAYS = 3650


@strawberry.enum(description="What a warning is about (see the README for each rule).")
class WarningKind(Enum):
    OVERDUE = strawberry.enum_value("overdue", description="An open assignment past its due date (red).")
    BEHIND_PACE = strawberry.enum_value("behind_pace", description=(
        "An open assignment reporting less progress than a steady pace from its assignment date to its due date expects today, "
        "by more than the margin; red when at its pace so far it would finish after its due date."))
    MILESTONE_MISSED = strawberry.enum_value("milestone_missed", description="A milestone not done by its due date (yellow).")
    REPORT_MISSING = strawberry.enum_value("report_missing", description="No progress report in the last complete month (yellow).")
    KPI_LIGHT = strawberry.enum_value("kpi_light", description="A KPI whose latest value for a unit is yellow or red.")
    STALE = strawberry.enum_value("stale", description="No progress report for more than staleDays days (yellow).")
    UNACKNOWLEDGED = strawberry.enum_value("unacknowledged", description="Not acknowledged unacknowledgedDays days after it was assigned (yellow).")
    CONFIDENCE_DIVERGENCE = strawberry.enum_value("confidence_divergence", description=(
        "A KPI's latest review reads otherwise than its latest values under the reviewing unit: on track while some are red (red) "
        "or yellow (yellow), or off track while all are green (yellow). `period` is the review's confidence, `value` how many values."))


@strawberry.enum
class Severity(Enum):
    RED = "red"
    YELLOW = "yellow"


@strawberry.input(description="Which warnings to list. Every condition must hold.")
class WarningFilterInput:
    kinds: list[WarningKind] | None = strawberry.field(default=None, description="Any of these kinds (default: all).")
    severities: list[Severity] | None = strawberry.field(default=None, description="Any of these severities (default: both).")
    resolution: strawberry.ID | None = strawberry.field(default=None, description="Only about this resolution and every programme implementing it, down the chain.")


@strawberry.input(description="The limits the warnings are computed with.")
class WarningThresholdsInput:
    pace_margin: int = strawberry.field(default=Thresholds.pace_margin, description="Percentage points of progress behind a steady pace before BEHIND_PACE.")
    stale_days: int = strawberry.field(default=Thresholds.stale_days, description="Days without a progress report before STALE.")
    unacknowledged_days: int = strawberry.field(default=Thresholds.unacknowledged_days, description="Days after assignment without acknowledgement before UNACKNOWLEDGED.")


@strawberry.type(name="Warning", description="Something that needs attention, computed from current data when asked.")
class WarningType:
    data: strawberry.Private[Warning]

    @strawberry.field
    def kind(self) -> WarningKind:
        return WarningKind(self.data.kind)

    @strawberry.field
    def severity(self) -> Severity:
        return Severity(self.data.severity)

    @strawberry.field(description="Why, in words: English, or Vietnamese when the request's Accept-Language prefers it.")
    def reason(self, info: Info) -> str:
        return warnings.reason(self.data, info.context.language)

    @strawberry.field(description="The unit that answers for it: the assignee, the task's lead unit (milestone), the measured unit (KPI).")
    async def unit(self, info: Info) -> UnitType | None:
        row = await info.context.loaders.units_by_id.load(self.data.unit_id)
        return UnitType.of(row) if row else None

    @strawberry.field(description="The assignment it is about (all kinds but MILESTONE_MISSED, KPI_LIGHT and CONFIDENCE_DIVERGENCE).")
    async def assignment(self, info: Info) -> AssignmentType | None:
        if self.data.kind in ("milestone_missed", "kpi_light", "confidence_divergence"):
            return None
        row = await info.context.loaders.assignments_by_id.load(self.data.object_id)
        return AssignmentType(row=row) if row else None

    @strawberry.field(description="The milestone it is about (MILESTONE_MISSED).")
    async def milestone(self, info: Info) -> MilestoneType | None:
        if self.data.kind != "milestone_missed":
            return None
        row = await info.context.loaders.milestones_by_id.load(self.data.object_id)
        return MilestoneType(row=row) if row else None

    @strawberry.field(description="The task of the assignment or milestone.")
    async def task(self, info: Info) -> TaskType | None:
        if self.data.task_id is None:
            return None
        row = await info.context.loaders.tasks_by_id.load(self.data.task_id)
        return TaskType(row=row) if row else None

    @strawberry.field(description="The KPI (KPI_LIGHT).")
    async def kpi(self, info: Info) -> KpiType | None:
        if self.data.kpi_id is None:
            return None
        row = await info.context.loaders.kpis_by_id.load(self.data.kpi_id)
        return KpiType(row=row) if row else None

    @strawberry.field(description="The review (CONFIDENCE_DIVERGENCE).")
    async def review(self, info: Info) -> ReviewType | None:
        if self.data.kind != "confidence_divergence":
            return None
        row = await info.context.loaders.reviews_by_id.load(self.data.object_id)
        return ReviewType(row=row) if row else None

    @strawberry.field(description="The latest measurement (KPI_LIGHT).")
    async def measurement(self, info: Info) -> MeasurementType | None:
        if self.data.kind != "kpi_light":
            return None
        row = await info.context.loaders.measurements_by_id.load(self.data.object_id)
        return MeasurementType(row=row) if row else None

    @strawberry.field
    def due_on(self) -> date | None:
        return self.data.due_on

    @strawberry.field(description="Days late (OVERDUE, MILESTONE_MISSED), since the last report (STALE), since assigned (UNACKNOWLEDGED).")
    def days(self) -> int | None:
        return self.data.days

    @strawberry.field
    def progress(self) -> int | None:
        return self.data.progress

    @strawberry.field(description="BEHIND_PACE: what a steady pace would reach today, in percent.")
    def expected_progress(self) -> int | None:
        return self.data.expected_progress

    @strawberry.field(description="BEHIND_PACE: when it would finish at its pace so far (null when nothing is done yet).")
    def projected_finish_on(self) -> date | None:
        return self.data.projected_finish_on

    @strawberry.field(description="KPI_LIGHT: the latest measured period; REPORT_MISSING: the month without a report.")
    def period(self) -> str | None:
        return self.data.period

    @strawberry.field(description="KPI_LIGHT: the latest value.")
    def value(self) -> Decimal | None:
        return self.data.value


@strawberry.type(name="WarningCount")
class WarningCountType:
    kind: WarningKind
    severity: Severity
    count: int


def _bounded(value: int, field: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise GraphQLError(f"must be between {low} and {high}", extensions={"code": ErrorCode.OUT_OF_RANGE.value, "field": field})
    return value


async def _filter(info: Info, given: WarningFilterInput | None, limits: WarningThresholdsInput | None) -> WarningFilter:
    given = given or WarningFilterInput()
    limits = limits or WarningThresholdsInput()
    thresholds = Thresholds(
        pace_margin=_bounded(limits.pace_margin, "thresholds.paceMargin", 0, 100),
        stale_days=_bounded(limits.stale_days, "thresholds.staleDays", 0, MAX_DAYS),
        unacknowledged_days=_bounded(limits.unacknowledged_days, "thresholds.unacknowledgedDays", 0, MAX_DAYS),
    )
    family = None
    if given.resolution is not None:
        family = await info.context.loaders.family_by_resolution_id.load(decode_id(given.resolution, "Resolution", "filter.resolution"))
    return WarningFilter(
        kinds=tuple(k.value for k in given.kinds) if given.kinds is not None else KINDS,
        severities=tuple(s.value for s in given.severities) if given.severities is not None else SEVERITIES,
        resolution_ids=family, thresholds=thresholds,
    )


@strawberry.type
class WarningsQuery:
    @strawberry.field(description=(
        "Early warnings under a unit (default: your own) about what you may read, computed now: red first, then by kind. "
        "Empty if the unit is out of your scope."
    ))
    async def warnings(
        self,
        info: Info,
        unit: strawberry.ID | None = None,
        filter: WarningFilterInput | None = None,
        thresholds: WarningThresholdsInput | None = None,
        first: Annotated[int, strawberry.argument(description=FIRST_DESCRIPTION)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
    ) -> Connection[WarningType]:
        check_first(first)
        cursor = CURSORS.decode(after)
        ctx = info.context
        flt = await _filter(info, filter, thresholds)
        row = await unit_or_own(info, unit)
        found: list[Warning] = []
        if row is not None:
            async with ctx.db.use() as session:
                found = await warnings.list_warnings(session, ctx.scope, row, flt, today=ctx.today, first=first, after=cursor)

        async def count() -> int:
            if row is None:
                return 0
            async with ctx.db.use() as session:
                return await warnings.count_warnings(session, ctx.scope, row, flt, today=ctx.today)

        return build_connection(found, first=first, after=after, ordering=CURSORS, key=lambda w: w.key, wrap=lambda w: WarningType(data=w), count=count)

    @strawberry.field(description="How many warnings of each kind and severity there are under a unit (default: your own); only those with some.")
    async def warning_counts(
        self, info: Info, unit: strawberry.ID | None = None, filter: WarningFilterInput | None = None, thresholds: WarningThresholdsInput | None = None
    ) -> list[WarningCountType]:
        ctx = info.context
        flt = await _filter(info, filter, thresholds)  # a bad filter is refused whatever the unit
        row = await unit_or_own(info, unit)
        if row is None:
            return []
        async with ctx.db.use() as session:
            found = await warnings.warning_counts(session, ctx.scope, row, flt, today=ctx.today)
        return [WarningCountType(kind=WarningKind(k), severity=Severity(s), count=n) for k, s, n in found]
