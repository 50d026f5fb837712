"""GraphQL types: Kpi, Measurement (with its traffic light and corrections), UnitTarget.

The traffic light is computed in SQL by the measurement reads (api.kpis.rules); the type only maps it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from resolute.api.kpis.models import Kpi as KpiRow
from resolute.api.kpis.models import Measurement as MeasurementRow
from resolute.api.kpis.models import MeasurementRevision as RevisionRow
from resolute.schema.accounts.types import UserType
from resolute.schema.context import Info
from resolute.schema.ids import decode_id, encode_id
from resolute.schema.node import Node, register_node
from resolute.schema.org.types import UnitType
from resolute.schema.pagination import (
    AFTER_DESCRIPTION,
    BY_CODE,
    FULL_PAGE_DESCRIPTION,
    MAX_PAGE,
    MAX_WINDOW,
    OFFSET_DESCRIPTION,
    WINDOW_FIRST_DESCRIPTION,
    Connection,
    build_connection,
    check_first,
    check_window,
    window,
)
from resolute.schema.reviews.types import REVIEWS_AFTER, REVIEWS_FIRST, ReviewType, reviews_of

if TYPE_CHECKING:
    from resolute.schema.kpis.decomposition import TargetDecompositionType
    from resolute.schema.resolutions.types import ResolutionType

__all__ = ["KpiType", "MeasurementType", "TrafficLight"]


@strawberry.enum(description="Where a value stands against the KPI's thresholds.")
class TrafficLight(Enum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


@strawberry.type(description="A unit's own target for a KPI; the unit reports on the KPI.")
class UnitTarget:
    unit: UnitType
    target: Decimal | None


@strawberry.type(description="An earlier value of a measurement, kept when it was corrected.")
class MeasurementRevisionType:
    row: strawberry.Private[RevisionRow]

    @strawberry.field
    def value(self) -> Decimal:
        return self.row.value

    @strawberry.field
    def note(self) -> str | None:
        return self.row.note

    @strawberry.field(description="Why it was replaced.")
    def reason(self) -> str:
        return self.row.reason

    @strawberry.field
    def replaced_at(self) -> datetime:
        return self.row.replaced_at

    @strawberry.field(description="Who replaced it, if in your scope.")
    async def replaced_by(self, info: Info) -> UserType | None:
        if self.row.replaced_by_id is None:
            return None
        row = await info.context.loaders.users_by_id.load(self.row.replaced_by_id)
        return UserType.of(row) if row else None


@strawberry.type(name="Measurement", description="One value of a KPI for one unit and one period.")
class MeasurementType(Node):
    row: strawberry.Private[MeasurementRow]

    @classmethod
    def of(cls, row: MeasurementRow) -> MeasurementType:
        return cls(row=row)  # type: ignore[call-arg]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Measurement", self.row.id))

    @strawberry.field(description="2025-07, 2025-Q3 or 2025, as the KPI's frequency says.")
    def period(self) -> str:
        return self.row.period

    @strawberry.field
    def value(self) -> Decimal:
        return self.row.value

    @strawberry.field
    def note(self) -> str | None:
        return self.row.note

    @strawberry.field
    def version(self) -> int:
        return self.row.version

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @strawberry.field
    async def unit(self, info: Info) -> UnitType | None:
        row = await info.context.loaders.units_by_id.load(self.row.unit_id)
        return UnitType.of(row) if row else None

    @strawberry.field
    async def kpi(self, info: Info) -> KpiType | None:
        row = await info.context.loaders.kpis_by_id.load(self.row.kpi_id)
        return KpiType.of(row) if row else None

    @strawberry.field(description="Green, yellow or red against the KPI's thresholds (null if you cannot see the KPI).")
    def light(self) -> TrafficLight | None:
        return TrafficLight(self.row.light) if self.row.light else None

    @strawberry.field(description="Earlier values, oldest first: nothing entered is lost.")
    async def history(self, info: Info) -> list[MeasurementRevisionType]:
        return [MeasurementRevisionType(row=row) for row in await info.context.loaders.revisions_by_measurement_id.load(self.row.id)]


@strawberry.type(name="Kpi", description="A measured indicator with its formula, thresholds, lead unit and frequency.")
class KpiType(Node):
    row: strawberry.Private[KpiRow]

    @classmethod
    def of(cls, row: KpiRow) -> KpiType:
        return cls(row=row)  # type: ignore[call-arg]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Kpi", self.row.id))

    @strawberry.field
    def code(self) -> str:
        return self.row.code

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def unit_of_measure(self) -> str:
        return self.row.unit_of_measure

    @strawberry.field
    def formula(self) -> str | None:
        return self.row.formula

    @strawberry.field
    def data_source(self) -> str | None:
        return self.row.data_source

    @strawberry.field(description="increase (higher is better) or decrease.")
    def direction(self) -> str:
        return self.row.direction

    @strawberry.field
    def baseline(self) -> Decimal:
        return self.row.baseline

    @strawberry.field
    def target(self) -> Decimal:
        return self.row.target

    @strawberry.field
    def yellow_threshold(self) -> Decimal:
        return self.row.yellow_threshold

    @strawberry.field
    def red_threshold(self) -> Decimal:
        return self.row.red_threshold

    @strawberry.field(description="development, public_service, party_building or anti_corruption.")
    def group(self) -> str:
        return self.row.kpi_group

    @strawberry.field(description="monthly, quarterly or yearly.")
    def frequency(self) -> str:
        return self.row.frequency

    @strawberry.field
    def version(self) -> int:
        return self.row.version

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @strawberry.field
    async def lead_unit(self, info: Info) -> UnitType | None:
        row = await info.context.loaders.nameable_units_by_id.load(self.row.lead_unit_id)
        return UnitType.of(row) if row else None

    @strawberry.field(description="The coordinating units you may see.")
    async def coordinating_units(self, info: Info) -> list[UnitType]:
        return [UnitType.of(row) for row in await info.context.loaders.coordinators_by_kpi_id.load(self.row.id)]

    @strawberry.field(
        description="The latest value (latest period) of each direct sub-unit of `unit` (default: your own unit) that has one, in unit code order, with its light."
    )
    async def latest_by_child(
        self,
        info: Info,
        unit: strawberry.ID | None = None,
        first: Annotated[int, strawberry.argument(description=WINDOW_FIRST_DESCRIPTION)] = MAX_WINDOW,
        offset: Annotated[int, strawberry.argument(description=OFFSET_DESCRIPTION)] = 0,
    ) -> list[MeasurementType]:
        check_window(first, offset)
        if unit is None:
            parent_id = info.context.scope.principal.unit_id
        else:
            parent = await info.context.loaders.units_by_id.load(decode_id(unit, "Unit", "unit"))
            if parent is None:  # unknown or out of scope: nothing below it to show
                return []
            parent_id = parent.id
        rows = await info.context.loaders.latest_by_child_by_kpi_id.load((self.row.id, parent_id))
        return [MeasurementType.of(row) for row in window(rows, first=first, offset=offset)]

    @strawberry.field(description="Per-unit targets, for the units you may see, in unit code order, paged (a national KPI may have one per commune).")
    async def unit_targets(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FULL_PAGE_DESCRIPTION)] = MAX_PAGE,
        after: Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
    ) -> Connection[UnitTarget]:
        check_first(first)
        loaders = info.context.loaders
        rows = await loaders.unit_target_pages_by_kpi_id.load((self.row.id, (("after", BY_CODE.decode(after)), ("first", first))))
        kpi_id = self.row.id
        return build_connection(
            rows, first=first, after=after, ordering=BY_CODE, key=lambda pair: pair[0].code,
            wrap=lambda pair: UnitTarget(unit=UnitType.of(pair[0]), target=pair[1]), count=lambda: loaders.unit_target_count_by_kpi_id.load(kpi_id),
        )

    @strawberry.field(description="Its review check-ins, newest first.")
    async def reviews(self, info: Info, first: REVIEWS_FIRST = 20, after: REVIEWS_AFTER = None) -> Connection[ReviewType]:
        return await reviews_of(info, "kpi", self.row.id, first, after)

    @strawberry.field(description="Its target decomposition for a period (a month, a quarter or a year), if there is one.")
    async def decomposition(
        self, info: Info, period: str
    ) -> Annotated[TargetDecompositionType, strawberry.lazy("resolute.schema.kpis.decomposition")] | None:
        from resolute.schema.kpis.decomposition import TargetDecompositionType

        if len(period) > 7:
            return None
        row = await info.context.loaders.decomposition_by_kpi_id.load((self.row.id, (("period", period),)))
        return TargetDecompositionType(row=row, kpi_row=self.row) if row else None

    @strawberry.field
    async def resolution(self, info: Info) -> Annotated[ResolutionType, strawberry.lazy("resolute.schema.resolutions.types")] | None:
        from resolute.schema.resolutions.types import ResolutionType

        row = await info.context.loaders.resolutions_by_id.load(self.row.resolution_id)
        return ResolutionType.of(row) if row else None


async def _kpi_node(info: Info, pk: int) -> KpiType | None:
    row = await info.context.loaders.kpis_by_id.load(pk)
    return KpiType.of(row) if row else None


async def _measurement_node(info: Info, pk: int) -> MeasurementType | None:
    row = await info.context.loaders.measurements_by_id.load(pk)
    return MeasurementType.of(row) if row else None


register_node("Kpi", _kpi_node)
register_node("Measurement", _measurement_node)
