"""GraphQL of target decomposition: the decomposition of a KPI for a period, its targets, its consistency check, and
the mutations that save (a draft) and activate it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from resolute.api.kpis import decomposition as service
from resolute.api.kpis.models import Kpi as KpiRow
from resolute.api.kpis.models import TargetDecomposition as Row
from resolute.schema.context import IdempotencyKeyArg, Info, perform
from resolute.schema.errors import UserError, user_errors
from resolute.schema.ids import encode_id, input_id
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
    window,
)

__all__ = ["DecompositionMutation", "TargetDecompositionType"]


@strawberry.type(description="A unit's target in a decomposition.")
class DecomposedTarget:
    unit: UnitType
    target: Decimal


@strawberry.type(name="TargetConsistency", description="A unit with targets below it: what its children's targets make against its own.")
class TargetConsistencyType:
    unit: UnitType
    target: Decimal | None = strawberry.field(description="Its own target (the KPI's for the lead unit); null if it has none.")
    children: int = strawberry.field(description="How many of its direct sub-units have a target.")
    aggregate: Decimal = strawberry.field(description="What the children's targets make by the aggregation (for shares, their total).")
    difference: Decimal | None = strawberry.field(description="aggregate - target (for shares, aggregate - 100); null without a target.")
    reconciles: bool

    @classmethod
    def of(cls, c: service.Consistency) -> TargetConsistencyType:
        return cls(unit=UnitType.of(c.unit), target=c.target, children=c.children, aggregate=c.aggregate, difference=c.difference, reconciles=c.reconciles)


@strawberry.type(name="TargetDecomposition", description=(
    "A KPI's target split over the units below its lead unit for a period. `aggregation` says how children's targets make "
    "their parent's: SUM, AVERAGE (to the cent), MINIMUM, MAXIMUM, or SHARE (percent shares adding up to 100)."
))
class TargetDecompositionType:
    row: strawberry.Private[Row]
    kpi_row: strawberry.Private[KpiRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("TargetDecomposition", self.row.id))

    @strawberry.field
    def period(self) -> str:
        return self.row.period

    @strawberry.field
    def aggregation(self) -> str:
        return self.row.aggregation

    @strawberry.field(description="draft (saved whatever it says) or active (every unit reconciles; locked).")
    def status(self) -> str:
        return self.row.status

    @strawberry.field(description="Pass it back to save or activate: refused with CONFLICT if it changed since.")
    def version(self) -> int:
        return self.row.version

    @strawberry.field
    def activated_at(self) -> datetime | None:
        return self.row.activated_at

    @strawberry.field(description="The targets at units you may see, in unit code order, paged.")
    async def targets(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FULL_PAGE_DESCRIPTION)] = MAX_PAGE,
        after: Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
    ) -> Connection[DecomposedTarget]:
        check_first(first)
        loaders = info.context.loaders
        rows = await loaders.decomposition_target_pages.load((self.row.id, (("after", BY_CODE.decode(after)), ("first", first))))
        decomposition_id = self.row.id
        return build_connection(rows, first=first, after=after, ordering=BY_CODE, key=lambda pair: pair[0].code,
                                wrap=lambda pair: DecomposedTarget(unit=UnitType.of(pair[0]), target=pair[1]),
                                count=lambda: loaders.decomposition_target_count.load(decomposition_id))  # fmt: skip

    @strawberry.field(description="Each unit you may see with targets below it, in code order (a slice): reconciles or by how much not.")
    async def consistency(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=WINDOW_FIRST_DESCRIPTION)] = MAX_WINDOW,
        offset: Annotated[int, strawberry.argument(description=OFFSET_DESCRIPTION)] = 0,
    ) -> list[TargetConsistencyType]:
        found = await info.context.loaders.consistency_by_decomposition.load((self.row, self.kpi_row))
        return [TargetConsistencyType.of(c) for c in window(found, first=first, offset=offset)]

    @strawberry.field(description="Whether every unit you may see reconciles (the condition to activate it).")
    async def reconciles(self, info: Info) -> bool:
        found = await info.context.loaders.consistency_by_decomposition.load((self.row, self.kpi_row))
        return bool(found) and all(c.reconciles for c in found)


@strawberry.input
class DecomposedTargetInput:
    unit_id: strawberry.ID
    target: Decimal


@strawberry.input
class TargetDecompositionSaveInput:
    kpi_id: strawberry.ID
    period: str = strawberry.field(description="A month (2026-03), a quarter (2026-Q1) or a year (2026).")
    aggregation: str = strawberry.field(description="sum, average, minimum, maximum or share.")
    targets: list[DecomposedTargetInput] = strawberry.field(description=f"At most {service.MAX_TARGETS}, at units strictly below the KPI's lead unit.")
    version: int | None = strawberry.field(default=None, description="The version you read; none to create the period's first draft.")


@strawberry.input
class TargetDecompositionActivateInput:
    kpi_id: strawberry.ID
    period: str
    version: int


@strawberry.type
class TargetDecompositionPayload:
    decomposition: TargetDecompositionType | None
    errors: list[UserError]


@strawberry.type
class DecompositionMutation:
    @strawberry.mutation(description="Save a KPI's target decomposition for a period as a draft (who may define the KPI); whatever it says.")
    async def target_decomposition_save(
        self, info: Info, input: TargetDecompositionSaveInput, idempotency_key: IdempotencyKeyArg = None
    ) -> TargetDecompositionPayload:
        targets = [(input_id(t.unit_id, "Unit", f"targets[{i}].unitId"), t.target) for i, t in enumerate(input.targets)]
        kpi_id = input_id(input.kpi_id, "Kpi", "kpiId")
        outcome = await perform(info, idempotency_key, lambda uow: service.save(
            uow, kpi_id=kpi_id, period=input.period, aggregation=input.aggregation, targets=targets, version=input.version))
        return await _payload(info, outcome.value, outcome.errors)

    @strawberry.mutation(description="Activate a draft decomposition: only when every unit reconciles (else INVALID naming them); then locked.")
    async def target_decomposition_activate(
        self, info: Info, input: TargetDecompositionActivateInput, idempotency_key: IdempotencyKeyArg = None
    ) -> TargetDecompositionPayload:
        kpi_id = input_id(input.kpi_id, "Kpi", "kpiId")
        outcome = await perform(info, idempotency_key, lambda uow: service.activate(uow, kpi_id=kpi_id, period=input.period, version=input.version))
        return await _payload(info, outcome.value, outcome.errors)


async def _payload(info: Info, row: Row | None, errors: list) -> TargetDecompositionPayload:  # type: ignore[type-arg]
    if row is None:
        return TargetDecompositionPayload(decomposition=None, errors=user_errors(errors))
    kpi = await info.context.loaders.kpis_by_id.load(row.kpi_id)
    return TargetDecompositionPayload(decomposition=TargetDecompositionType(row=row, kpi_row=kpi) if kpi else None, errors=user_errors(errors))
