"""Mutations: kpiCreate, kpiUpdate, kpiUnitTargetSet (definitions); measurementSubmit, measurementCorrect (values)."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from resolute.api.kpis import service
from resolute.schema.context import IdempotencyKeyArg, Info, perform, reread
from resolute.schema.errors import UserError, user_errors
from resolute.schema.ids import input_id, input_ids
from resolute.schema.kpis.types import KpiType, MeasurementType

__all__ = ["KpisMutation"]

UNSET = strawberry.UNSET


@strawberry.input
class KpiCreateInput:
    resolution_id: strawberry.ID
    code: str = strawberry.field(description="Unique, e.g. 57-NQ/TW-K01 (at most 80 characters).")
    name: str
    unit_of_measure: str = strawberry.field(description="e.g. %, doanh nghiệp, MW.")
    direction: str = strawberry.field(description="increase or decrease.")
    baseline: Decimal
    target: Decimal
    yellow_threshold: Decimal = strawberry.field(description="Increase: red <= yellow <= target; decrease: red >= yellow >= target.")
    red_threshold: Decimal
    group: str = strawberry.field(description="development, public_service, party_building or anti_corruption.")
    frequency: str = strawberry.field(description="monthly, quarterly or yearly.")
    lead_unit_id: strawberry.ID = strawberry.field(description="A unit at or under the resolution's issuer.")
    coordinating_unit_ids: list[strawberry.ID] = strawberry.field(default_factory=list, description="At most 50.")
    formula: str | None = None
    data_source: str | None = None
    objective_id: strawberry.ID | None = None
    key_result_id: strawberry.ID | None = None


@strawberry.input(description="Only the fields you give change.")
class KpiUpdateInput:
    id: strawberry.ID
    version: int = strawberry.field(description="The version you read (required): refused with CONFLICT, naming the current version, if it changed since.")
    name: str | None = UNSET
    unit_of_measure: str | None = UNSET
    formula: str | None = UNSET
    data_source: str | None = UNSET
    direction: str | None = UNSET
    baseline: Decimal | None = UNSET
    target: Decimal | None = UNSET
    yellow_threshold: Decimal | None = UNSET
    red_threshold: Decimal | None = UNSET
    group: str | None = UNSET
    frequency: str | None = UNSET
    lead_unit_id: strawberry.ID | None = UNSET
    coordinating_unit_ids: list[strawberry.ID] | None = UNSET


@strawberry.input
class KpiUnitTargetSetInput:
    kpi_id: strawberry.ID
    unit_id: strawberry.ID
    target: Decimal | None = None
    remove: bool = strawberry.field(default=False, description="Take the unit's target (and reporting duty) away.")


@strawberry.input
class MeasurementSubmitInput:
    kpi_id: strawberry.ID
    unit_id: strawberry.ID = strawberry.field(description="The unit measured; it lies under the KPI's issuer and in your scope.")
    period: str = strawberry.field(description="2025-07 (monthly), 2025-Q3 (quarterly) or 2025 (yearly); not in the future.")
    value: Decimal
    note: str | None = strawberry.field(default=None, description="At most 1000 characters.")


@strawberry.input
class MeasurementCorrectInput:
    id: strawberry.ID
    value: Decimal
    reason: str = strawberry.field(description="Why the value changes; kept with the earlier value.")
    version: int = strawberry.field(description="The version you read (required): refused with CONFLICT, naming the current version, if it changed since.")
    note: str | None = None


@strawberry.type
class KpiCreatePayload:
    kpi: KpiType | None
    errors: list[UserError]


@strawberry.type
class KpiUpdatePayload:
    kpi: KpiType | None
    errors: list[UserError]


@strawberry.type
class KpiUnitTargetSetPayload:
    kpi: KpiType | None
    errors: list[UserError]


@strawberry.type
class MeasurementSubmitPayload:
    measurement: MeasurementType | None
    errors: list[UserError]


@strawberry.type
class MeasurementCorrectPayload:
    measurement: MeasurementType | None
    errors: list[UserError]


KPI_FIELDS = {"name": "name", "unit_of_measure": "unit_of_measure", "formula": "formula", "data_source": "data_source", "direction": "direction",
              "baseline": "baseline", "target": "target", "yellow_threshold": "yellow_threshold", "red_threshold": "red_threshold",
              "group": "kpi_group", "frequency": "frequency"}


@strawberry.type
class KpisMutation:
    @strawberry.mutation(description="Define a KPI of a resolution (manager, admin at the issuer).")
    async def kpi_create(self, info: Info, input: KpiCreateInput, idempotency_key: IdempotencyKeyArg = None) -> KpiCreatePayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.create_kpi(
            uow, resolution_id=input_id(input.resolution_id, "Resolution", "resolutionId"),
            values={
                "code": input.code, "name": input.name, "unit_of_measure": input.unit_of_measure, "direction": input.direction,
                "baseline": input.baseline, "target": input.target, "yellow_threshold": input.yellow_threshold, "red_threshold": input.red_threshold,
                "kpi_group": input.group, "frequency": input.frequency, "lead_unit_id": input_id(input.lead_unit_id, "Unit", "leadUnitId"),
                "formula": input.formula, "data_source": input.data_source,
                "objective_id": input_id(input.objective_id, "Objective", "objectiveId") if input.objective_id else None,
                "key_result_id": input_id(input.key_result_id, "KeyResult", "keyResultId") if input.key_result_id else None,
            },
            coordinator_ids=input_ids(input.coordinating_unit_ids, "Unit", "coordinatingUnitIds", limit=service.MAX_COORDINATORS),
        ))
        return KpiCreatePayload(kpi=KpiType.of(outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Edit a KPI's definition: targets, thresholds, lead and coordinating units (manager, admin where its resolution was issued).")
    async def kpi_update(self, info: Info, input: KpiUpdateInput, idempotency_key: IdempotencyKeyArg = None) -> KpiUpdatePayload:
        def call(uow):  # type: ignore[no-untyped-def]
            changes = {column: getattr(input, name) for name, column in KPI_FIELDS.items() if getattr(input, name) is not UNSET}
            if input.lead_unit_id is not UNSET and input.lead_unit_id is not None:
                changes["lead_unit_id"] = input_id(input.lead_unit_id, "Unit", "leadUnitId")
            coordinators = input.coordinating_unit_ids
            return service.update_kpi(
                uow, kpi_id=input_id(input.id, "Kpi", "id"), version=input.version, changes=changes,
                coordinator_ids=None if coordinators is UNSET or coordinators is None else input_ids(coordinators, "Unit", "coordinatingUnitIds", limit=service.MAX_COORDINATORS),
            )

        outcome = await perform(info, idempotency_key, call)
        return KpiUpdatePayload(kpi=KpiType.of(outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Set (or remove) a unit's own target for a KPI; the unit then reports on it (manager, admin).")
    async def kpi_unit_target_set(self, info: Info, input: KpiUnitTargetSetInput, idempotency_key: IdempotencyKeyArg = None) -> KpiUnitTargetSetPayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.set_unit_target(
            uow, kpi_id=input_id(input.kpi_id, "Kpi", "kpiId"), unit_id=input_id(input.unit_id, "Unit", "unitId"), target=input.target, remove=input.remove,
        ))
        return KpiUnitTargetSetPayload(kpi=KpiType.of(outcome.value) if outcome.value else None, errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Submit a KPI value for a unit and period (manager, officer of the unit).")
    async def measurement_submit(self, info: Info, input: MeasurementSubmitInput, idempotency_key: IdempotencyKeyArg = None) -> MeasurementSubmitPayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.submit_measurement(
            uow, kpi_id=input_id(input.kpi_id, "Kpi", "kpiId"), unit_id=input_id(input.unit_id, "Unit", "unitId"),
            period=input.period, value=input.value, note=input.note,
        ))
        return MeasurementSubmitPayload(measurement=await reread(info.context.loaders.measurements_by_id, outcome.value.id if outcome.value else None, MeasurementType.of), errors=user_errors(outcome.errors))

    @strawberry.mutation(description="Correct a value; the earlier one is kept with who and why (manager, officer of the unit).")
    async def measurement_correct(self, info: Info, input: MeasurementCorrectInput, idempotency_key: IdempotencyKeyArg = None) -> MeasurementCorrectPayload:
        outcome = await perform(info, idempotency_key, lambda uow: service.correct_measurement(
            uow, measurement_id=input_id(input.id, "Measurement", "id"), version=input.version, value=input.value, reason=input.reason, note=input.note,
        ))
        return MeasurementCorrectPayload(measurement=await reread(info.context.loaders.measurements_by_id, outcome.value.id if outcome.value else None, MeasurementType.of), errors=user_errors(outcome.errors))
