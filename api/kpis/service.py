"""Rules of KPIs and measurements.

Definitions (targets, thresholds, lead and coordinating units) need `define` where the owning
resolution was issued, and nowhere else (the lead unit reads a KPI, it does not redefine it);
values need `submit` on the measured unit: two separate rights in policies/.
Thresholds must agree with the direction; a period must fit the frequency and not lie in the
future; a correction keeps the earlier value with who and why.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from resolute.api.approvals.locks import ensure_open
from resolute.api.errors import ErrorCode, FieldError, ServiceError, fail
from resolute.api.kpis.models import (
    DIRECTIONS,
    FREQUENCIES,
    GROUPS,
    Kpi,
    KpiCoordinator,
    KpiUnitTarget,
    Measurement,
    MeasurementRevision,
    TargetDecomposition,
)
from resolute.api.kpis.periods import period_problem
from resolute.api.org.models import Unit
from resolute.api.org.text import fold
from resolute.api.org.tree import lies_under
from resolute.api.plans.locks import ensure_editable
from resolute.api.resolutions.models import Resolution
from resolute.api.resolutions.service import check_okr
from resolute.api.transaction import Tx, operation

__all__ = ["CENT", "LIMIT", "MAX_COORDINATORS", "correct_measurement", "create_kpi", "set_unit_target", "submit_measurement", "threshold_problems", "update_kpi"]

# Amounts stay below 10^13 (two decimals): 15 significant digits, exact even where SQLite keeps
# numbers as doubles; far above any indicator's range.
LIMIT = Decimal("1e13")  # every amount (value, target, threshold) stays below this in magnitude
CENT = Decimal("0.01")  # and is kept to the cent
MAX_COORDINATORS = 50
KPI_FIELDS = (
    "code", "name", "unit_of_measure", "formula", "data_source", "direction", "baseline", "target", "yellow_threshold",
    "red_threshold", "kpi_group", "frequency", "lead_unit_id", "objective_id", "key_result_id", "version",
)


def _now() -> datetime:
    return datetime.now(UTC)


def threshold_problems(direction: str, baseline: Decimal, target: Decimal, yellow: Decimal, red: Decimal) -> list[FieldError]:
    """Thresholds consistent with the direction: red, then yellow, then the target, in the direction of progress."""
    if direction == "increase":
        if not target > baseline:
            return [FieldError("target", ErrorCode.INVALID, "an increasing KPI has a target above its baseline")]
        if not red <= yellow <= target:
            return [FieldError("yellowThreshold", ErrorCode.INVALID, "an increasing KPI needs redThreshold <= yellowThreshold <= target")]
    else:
        if not target < baseline:
            return [FieldError("target", ErrorCode.INVALID, "a decreasing KPI has a target below its baseline")]
        if not red >= yellow >= target:
            return [FieldError("yellowThreshold", ErrorCode.INVALID, "a decreasing KPI needs redThreshold >= yellowThreshold >= target")]
    return []


def _amount(value: Any, field: str) -> tuple[Decimal | None, list[FieldError]]:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None, [FieldError(field, ErrorCode.INVALID, "not a number")]
    if not amount.is_finite() or abs(amount) >= LIMIT:
        return None, [FieldError(field, ErrorCode.OUT_OF_RANGE, "a number below 10^13 in size")]
    return amount.quantize(CENT), []


def _required_text(value: str | None, field: str, limit: int) -> list[FieldError]:
    if value is None or not value.strip():
        return [FieldError(field, ErrorCode.REQUIRED, f"{field} is required")]
    if len(value) > limit:
        return [FieldError(field, ErrorCode.TOO_LONG, f"{field} has at most {limit} characters")]
    return []


async def _issuer_path(tx: Tx, resolution: Resolution) -> str:
    return (await tx.session.get_one(Unit, resolution.issuing_unit_id)).path


async def _units_under(tx: Tx, unit_ids: list[int], root_path: str, field: str) -> list[Unit]:
    """Units the caller sees that lie at or under `root_path`; NOT_FOUND for any other."""
    if len(unit_ids) > MAX_COORDINATORS:
        raise fail(field, ErrorCode.OUT_OF_RANGE, f"at most {MAX_COORDINATORS} units")
    units = await tx.load_many(Unit, list(dict.fromkeys(unit_ids)), field=field)
    if any(not lies_under(u.path, root_path) for u in units):
        raise fail(field, ErrorCode.NOT_FOUND, "no such unit under the resolution's issuer")
    return units


@operation("kpiCreate")
async def create_kpi(tx: Tx, *, resolution_id: int, values: dict[str, Any], coordinator_ids: list[int]) -> Kpi:
    errors = _required_text(values.get("code"), "code", 80) + _required_text(values.get("name"), "name", 300) + _required_text(values.get("unit_of_measure"), "unitOfMeasure", 40)
    for field, allowed, label in (("direction", DIRECTIONS, "direction"), ("kpi_group", GROUPS, "group"), ("frequency", FREQUENCIES, "frequency")):
        if values.get(field) not in allowed:
            errors.append(FieldError(label, ErrorCode.INVALID, f"{label} is one of {', '.join(allowed)}"))
    amounts: dict[str, Decimal] = {}
    for field, label in (("baseline", "baseline"), ("target", "target"), ("yellow_threshold", "yellowThreshold"), ("red_threshold", "redThreshold")):
        amount, problems = _amount(values.get(field), label)
        errors += problems
        if amount is not None:
            amounts[field] = amount
    if not errors:
        errors += threshold_problems(values["direction"], amounts["baseline"], amounts["target"], amounts["yellow_threshold"], amounts["red_threshold"])
    if errors:
        raise ServiceError(errors)
    session = tx.session
    resolution = await tx.load(Resolution, resolution_id, act="define", obj="kpi", field="resolutionId")
    await ensure_editable(tx, resolution.id, field="resolutionId")
    issuer_path = await _issuer_path(tx, resolution)
    lead = (await _units_under(tx, [values["lead_unit_id"]], issuer_path, "leadUnitId"))[0]
    coordinators = await _units_under(tx, coordinator_ids, issuer_path, "coordinatingUnitIds") if coordinator_ids else []
    if lead.id in coordinator_ids:
        raise fail("coordinatingUnitIds", ErrorCode.INVALID, "the lead unit is not also a coordinating unit")
    await check_okr(session, resolution.id, values.get("objective_id"), values.get("key_result_id"))
    if await session.scalar(select(Kpi.id).where(Kpi.code == values["code"])) is not None:
        raise fail("code", ErrorCode.DUPLICATE, f"a KPI with code '{values['code']}' already exists")
    kpi = Kpi(
        resolution_id=resolution.id, search_name=fold(f"{values['code']} {values['name']}"), version=1,
        **{k: v for k, v in values.items() if k not in amounts}, **amounts,
    )
    kpi.name = kpi.name.strip()
    session.add(kpi)
    await session.flush()
    if coordinators:
        await session.execute(insert(KpiCoordinator), [{"kpi_id": kpi.id, "unit_id": u.id} for u in coordinators])
    tx.record(action="kpiCreate", object_type="kpi", object_key=kpi.id, unit_id=resolution.issuing_unit_id,
              after={**{f: getattr(kpi, f) for f in KPI_FIELDS}, "coordinating_unit_ids": sorted(coordinator_ids)})
    return kpi


@operation("kpiUpdate")
async def update_kpi(tx: Tx, *, kpi_id: int, version: int | None, changes: dict[str, Any], coordinator_ids: list[int] | None) -> Kpi:
    """Edit a definition; thresholds are re-checked against the values they end up with."""
    session = tx.session
    kpi = await tx.load(Kpi, kpi_id, act="define", field="id", lock=True)
    await ensure_editable(tx, kpi.resolution_id, field="id")
    resolution = await session.get_one(Resolution, kpi.resolution_id)
    if version is not None and version != kpi.version:
        raise fail("version", ErrorCode.CONFLICT, f"the KPI changed since you read it (version {version}, now {kpi.version}); reload and retry")
    if "target" in changes:
        active = await session.scalar(select(TargetDecomposition.period).where(TargetDecomposition.kpi_id == kpi.id, TargetDecomposition.status == "active"))
        if active is not None:  # its decomposition was checked against this target, and is locked
            raise fail("target", ErrorCode.INVALID, f"an active decomposition for {active} divides this target: decompose a new period instead")
    errors: list[FieldError] = []
    for field, label, limit in (("name", "name", 300), ("unit_of_measure", "unitOfMeasure", 40)):
        if field in changes:
            errors += _required_text(changes[field], label, limit)
    for field, allowed, label in (("direction", DIRECTIONS, "direction"), ("kpi_group", GROUPS, "group"), ("frequency", FREQUENCIES, "frequency")):
        if field in changes and changes[field] not in allowed:
            errors.append(FieldError(label, ErrorCode.INVALID, f"{label} is one of {', '.join(allowed)}"))
    for field, label in (("baseline", "baseline"), ("target", "target"), ("yellow_threshold", "yellowThreshold"), ("red_threshold", "redThreshold")):
        if field in changes:
            amount, problems = _amount(changes[field], label)
            errors += problems
            changes[field] = amount
    if errors:
        raise ServiceError(errors)
    merged = {f: changes.get(f, getattr(kpi, f)) for f in ("direction", "baseline", "target", "yellow_threshold", "red_threshold")}
    if problems := threshold_problems(merged["direction"], merged["baseline"], merged["target"], merged["yellow_threshold"], merged["red_threshold"]):
        raise ServiceError(problems)
    if "frequency" in changes and changes["frequency"] != kpi.frequency:
        if await session.scalar(select(func.count()).select_from(Measurement).where(Measurement.kpi_id == kpi.id)):
            raise fail("frequency", ErrorCode.INVALID, "the KPI already has measurements for its current periods")
    issuer_path = await _issuer_path(tx, resolution)
    if "lead_unit_id" in changes:
        await _units_under(tx, [changes["lead_unit_id"]], issuer_path, "leadUnitId")
        coordinating = coordinator_ids if coordinator_ids is not None else list(await session.scalars(select(KpiCoordinator.unit_id).where(KpiCoordinator.kpi_id == kpi.id)))
        if changes["lead_unit_id"] in coordinating:
            raise fail("leadUnitId", ErrorCode.INVALID, "the lead unit is not also a coordinating unit")
    await check_okr(session, resolution.id, changes.get("objective_id"), changes.get("key_result_id"))
    before = {f: getattr(kpi, f) for f in KPI_FIELDS}
    values = dict(changes, version=Kpi.version + 1, updated_at=_now())
    if "name" in changes:
        values["name"] = changes["name"].strip()
        values["search_name"] = fold(f"{kpi.code} {changes['name']}")
    await session.execute(update(Kpi).where(Kpi.id == kpi.id).values(**values))
    if coordinator_ids is not None:
        lead_id = changes.get("lead_unit_id", kpi.lead_unit_id)
        if lead_id in coordinator_ids:
            raise fail("coordinatingUnitIds", ErrorCode.INVALID, "the lead unit is not also a coordinating unit")
        units = await _units_under(tx, coordinator_ids, issuer_path, "coordinatingUnitIds") if coordinator_ids else []
        await session.execute(delete(KpiCoordinator).where(KpiCoordinator.kpi_id == kpi.id))
        if units:
            await session.execute(insert(KpiCoordinator), [{"kpi_id": kpi.id, "unit_id": u.id} for u in units])
    await session.refresh(kpi)
    after = {f: getattr(kpi, f) for f in KPI_FIELDS} | ({"coordinating_unit_ids": sorted(coordinator_ids)} if coordinator_ids is not None else {})
    tx.record(action="kpiUpdate", object_type="kpi", object_key=kpi.id, unit_id=resolution.issuing_unit_id, before=before, after=after)
    return kpi


@operation("kpiUnitTargetSet")
async def set_unit_target(tx: Tx, *, kpi_id: int, unit_id: int, target: Decimal | None, remove: bool = False) -> Kpi:
    """Give a unit its own target for a KPI (it then reports on it), or take it away."""
    session = tx.session
    kpi = await tx.load(Kpi, kpi_id, act="define", field="kpiId", lock=True)
    await ensure_editable(tx, kpi.resolution_id, field="kpiId")
    resolution = await session.get_one(Resolution, kpi.resolution_id)
    issuer_path = await _issuer_path(tx, resolution)
    unit = (await _units_under(tx, [unit_id], issuer_path, "unitId"))[0]
    amount = None
    if target is not None:
        amount, problems = _amount(target, "target")
        if problems:
            raise ServiceError(problems)
    before = await session.scalar(select(KpiUnitTarget.target).where(KpiUnitTarget.kpi_id == kpi.id, KpiUnitTarget.unit_id == unit.id))
    await session.execute(delete(KpiUnitTarget).where(KpiUnitTarget.kpi_id == kpi.id, KpiUnitTarget.unit_id == unit.id))
    if not remove:
        await session.execute(insert(KpiUnitTarget).values(kpi_id=kpi.id, unit_id=unit.id, target=amount))
    await session.execute(update(Kpi).where(Kpi.id == kpi.id).values(version=Kpi.version + 1, updated_at=_now()))
    await session.refresh(kpi)
    tx.record(action="kpiUnitTargetSet", object_type="kpi", object_key=kpi.id, unit_id=resolution.issuing_unit_id,
              before={"unit_id": unit.id, "target": before}, after=None if remove else {"unit_id": unit.id, "target": amount})
    return kpi


@operation("measurementSubmit")
async def submit_measurement(tx: Tx, *, kpi_id: int, unit_id: int, period: str, value: Any, note: str | None, today: date | None = None) -> Measurement:
    """One value of a KPI for a unit and a period; a second value for the same period is a correction."""
    session = tx.session
    tx.require("measurement", "submit", field="unitId")  # before any read: the same answer whatever the ids
    kpi = await tx.load(Kpi, kpi_id, field="kpiId")
    resolution = await session.get_one(Resolution, kpi.resolution_id)
    unit = await tx.load(Unit, unit_id, act="submit", obj="measurement", field="unitId")
    if not lies_under(unit.path, await _issuer_path(tx, resolution)):
        raise fail("unitId", ErrorCode.INVALID, "this unit does not lie under the KPI's issuer, so it does not report on it")
    errors = _value_problems(kpi, value)
    problem = period_problem(kpi.frequency, period, today or tx.today)
    if problem:
        errors.append(FieldError("period", ErrorCode(problem[0]), problem[1]))
    if note is not None and len(note) > 1000:
        errors.append(FieldError("note", ErrorCode.TOO_LONG, "a note has at most 1000 characters"))
    if errors:
        raise ServiceError(errors)
    await ensure_open(tx, unit=unit, resolution_id=kpi.resolution_id, when=period, field="period")
    existing = await session.scalar(select(Measurement.id).where(Measurement.kpi_id == kpi.id, Measurement.unit_id == unit.id, Measurement.period == period))
    if existing is not None:
        raise fail("period", ErrorCode.DUPLICATE, "this unit already has a value for this period: correct it with measurementCorrect (the earlier value is kept)")
    amount, _ = _amount(value, "value")
    measurement = Measurement(kpi_id=kpi.id, unit_id=unit.id, period=period, value=amount, note=note, reported_by_id=tx.user_id, version=1)
    session.add(measurement)
    await session.flush()
    tx.record(action="measurementSubmit", object_type="measurement", object_key=measurement.id, unit_id=unit.id,
           after={"kpi_id": kpi.id, "period": period, "value": amount, "note": note})
    return measurement


def _value_problems(kpi: Kpi, value: Any) -> list[FieldError]:
    amount, problems = _amount(value, "value")
    if problems:
        return problems
    if kpi.unit_of_measure.strip() == "%" and not Decimal(0) <= amount <= Decimal(100):  # type: ignore[operator]
        return [FieldError("value", ErrorCode.OUT_OF_RANGE, "a percentage lies between 0 and 100")]
    return []


@operation("measurementCorrect")
async def correct_measurement(tx: Tx, *, measurement_id: int, version: int | None, value: Any, reason: str, note: str | None) -> Measurement:
    """Replace a value; the earlier one stays in the history with who replaced it and why."""
    if not reason or not reason.strip():
        raise fail("reason", ErrorCode.REQUIRED, "say why the value is corrected")
    session = tx.session
    measurement = await tx.load(Measurement, measurement_id, act="submit", field="id", lock=True)
    if version is not None and version != measurement.version:
        raise fail("version", ErrorCode.CONFLICT, f"the measurement changed since you read it (version {version}, now {measurement.version}); reload and retry")
    kpi = await session.get_one(Kpi, measurement.kpi_id)
    if errors := _value_problems(kpi, value):
        raise ServiceError(errors)
    unit = await session.get_one(Unit, measurement.unit_id)
    await ensure_open(tx, unit=unit, resolution_id=kpi.resolution_id, when=measurement.period, field="id", measurement_id=measurement.id)
    amount, _ = _amount(value, "value")
    before = {"value": measurement.value, "note": measurement.note, "version": measurement.version}
    await session.execute(insert(MeasurementRevision).values(
        measurement_id=measurement.id, value=measurement.value, note=measurement.note, replaced_by_id=tx.user_id, replaced_at=_now(), reason=reason.strip(),
    ))
    await session.execute(update(Measurement).where(Measurement.id == measurement.id).values(
        value=amount, note=note if note is not None else measurement.note, version=Measurement.version + 1, updated_at=_now(), reported_by_id=tx.user_id,
    ))
    await session.refresh(measurement)
    tx.record(action="measurementCorrect", object_type="measurement", object_key=measurement.id, unit_id=measurement.unit_id,
              before=before, after={"value": amount, "note": measurement.note, "version": measurement.version, "reason": reason.strip()})
    return measurement
