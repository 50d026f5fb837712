"""Target decomposition (step 3 of the cycle): a KPI's target split over the units below its lead unit, per period.

A decomposition declares how the targets of a unit's children make its own (`aggregation`):
- sum: the children's targets add up to the parent's (a count, an amount);
- average, minimum, maximum: their mean (to the cent), their least, their greatest equals the parent's (a rate, a
  floor, a ceiling);
- share: the children's targets are shares of the parent's, in percent, and add up to 100.

The lead unit's own target is the KPI's. For every unit with targets below it, the consistency check tells its own
target, what its children's make, and the difference (children's minus its own; for shares, their total minus 100);
it reconciles when the difference is zero to the cent. A decomposition is saved as a draft whatever it says, and
activated only when every unit reconciles; an active one is locked (a new period is a new decomposition).
The aggregates are one SQL statement grouped by parent; who may define the KPI may decompose it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from resolute.api.access.scope import Scope
from resolute.api.db import utcnow
from resolute.api.errors import ErrorCode, FieldError, ServiceError, fail
from resolute.api.keyset import counts_by_parent, pages_by_code
from resolute.api.kpis.models import DecompositionTarget, Kpi, TargetDecomposition
from resolute.api.monitoring.discipline import period_bounds
from resolute.api.org.models import Unit
from resolute.api.org.tree import lies_under
from resolute.api.transaction import Tx, operation

__all__ = ["AGGREGATIONS", "MAX_TARGETS", "Consistency", "activate", "consistency", "count_targets", "decomposition_of", "decompositions_of", "save", "target_pages"]

AGGREGATIONS = ("sum", "average", "minimum", "maximum", "share")
MAX_TARGETS = 2000  # units in one decomposition (a province's communes, and more)
CENT = Decimal("0.01")
LIMIT = Decimal(10) ** 13


@dataclass(frozen=True)
class Consistency:
    """One unit with targets below it: what its children's targets make against its own."""

    unit: Unit
    target: Decimal | None  # its own (the KPI's for the lead unit); None: it has none in the decomposition
    children: int
    aggregate: Decimal
    difference: Decimal | None
    reconciles: bool


def _made(aggregation: str, total: Decimal, count: int, least: Decimal, most: Decimal) -> Decimal:
    if aggregation == "sum" or aggregation == "share":
        return total
    if aggregation == "average":
        return (total / count).quantize(CENT)
    return least if aggregation == "minimum" else most


async def consistency(session: AsyncSession, scope: Scope, decompositions: Sequence[tuple[TargetDecomposition, Kpi]]) -> dict[int, list[Consistency]]:
    """For each decomposition, every unit the caller may read that has targets below it, in code order: one statement."""
    if not decompositions:
        return {}
    child, member = aliased(DecompositionTarget), aliased(Unit)
    grouped = (
        select(
            child.decomposition_id.label("decomposition_id"), member.parent_id.label("unit_id"), func.count().label("n"),
            func.sum(child.target).label("total"), func.min(child.target).label("least"), func.max(child.target).label("most"),
        )
        .select_from(child)
        .join(member, member.id == child.unit_id)
        .where(child.decomposition_id.in_([d.id for d, _ in decompositions]))
        .group_by(child.decomposition_id, member.parent_id)
        .subquery()
    )
    own = aliased(DecompositionTarget)
    query = (
        select(grouped.c.decomposition_id, Unit, own.target, grouped.c.n, grouped.c.total, grouped.c.least, grouped.c.most)
        .join(grouped, grouped.c.unit_id == Unit.id)
        .outerjoin(own, and_(own.decomposition_id == grouped.c.decomposition_id, own.unit_id == Unit.id))
        .where(scope.visible(Unit))
        .order_by(grouped.c.decomposition_id, Unit.code)
    )
    of = {d.id: (d, kpi) for d, kpi in decompositions}
    found: dict[int, list[Consistency]] = {d.id: [] for d, _ in decompositions}
    for decomposition_id, unit, target, n, total, least, most in (await session.execute(query)).all():
        decomposition, kpi = of[decomposition_id]
        target = kpi.target if unit.id == kpi.lead_unit_id else target
        made = _made(decomposition.aggregation, Decimal(total), int(n), Decimal(least), Decimal(most)).quantize(CENT)
        if decomposition.aggregation == "share":
            difference: Decimal | None = made - Decimal(100)
        else:
            difference = None if target is None else made - Decimal(target)
        found[decomposition_id].append(Consistency(unit=unit, target=target, children=int(n), aggregate=made, difference=difference,
                                                   reconciles=difference is not None and difference == 0))  # fmt: skip
    return found


async def decompositions_of(session: AsyncSession, scope: Scope, kpi_ids: Sequence[int], *, period: str) -> dict[int, TargetDecomposition]:
    """Each KPI's decomposition for the period (the KPIs are ones the caller reads): one statement."""
    rows = await session.scalars(select(TargetDecomposition).where(TargetDecomposition.kpi_id.in_(set(kpi_ids)), TargetDecomposition.period == period))
    return {row.kpi_id: row for row in rows}


async def decomposition_of(session: AsyncSession, kpi_id: int, period: str) -> TargetDecomposition | None:
    return await session.scalar(select(TargetDecomposition).where(TargetDecomposition.kpi_id == kpi_id, TargetDecomposition.period == period))


def _targets(scope: Scope, ids: Sequence[int]) -> Select[tuple[Unit, Decimal]]:
    query = select(Unit, DecompositionTarget.target).join(DecompositionTarget, DecompositionTarget.unit_id == Unit.id)
    return query.where(DecompositionTarget.decomposition_id.in_(set(ids)), scope.visible(Unit))


async def target_pages(session: AsyncSession, scope: Scope, ids: Sequence[int], *, first: int, after: str | None) -> dict[int, list[tuple[Unit, Decimal]]]:
    """For each decomposition, up to first+1 of its targets at units the caller may read, in unit code order after the cursor's code."""
    return await pages_by_code(session, _targets(scope, ids), code=Unit.code, parent=DecompositionTarget.decomposition_id, first=first, after=after)


async def count_targets(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, int]:
    return await counts_by_parent(session, _targets(scope, ids), parent=DecompositionTarget.decomposition_id)


def _checked(period: str, aggregation: str, targets: list[tuple[int, Any]]) -> list[tuple[int, Decimal]]:
    errors: list[FieldError] = []
    if len(period) > 7 or period_bounds(period) is None:
        errors.append(FieldError("period", ErrorCode.INVALID, "a month (2025-09), a quarter (2025-Q3) or a year (2025)"))
    if aggregation not in AGGREGATIONS:
        errors.append(FieldError("aggregation", ErrorCode.INVALID, f"aggregation is one of {', '.join(AGGREGATIONS)}"))
    if len(targets) > MAX_TARGETS:
        errors.append(FieldError("targets", ErrorCode.OUT_OF_RANGE, f"at most {MAX_TARGETS} units"))
    amounts: list[tuple[int, Decimal]] = []
    seen: set[int] = set()
    for i, (unit_id, value) in enumerate(targets[:MAX_TARGETS]):
        try:
            amount = Decimal(str(value))
        except ArithmeticError:
            amount = Decimal("NaN")
        if not amount.is_finite() or abs(amount) >= LIMIT:
            errors.append(FieldError(f"targets[{i}].target", ErrorCode.OUT_OF_RANGE, "a number below 10^13 in size"))
            continue
        if unit_id in seen:
            errors.append(FieldError(f"targets[{i}].unitId", ErrorCode.DUPLICATE, "a unit has one target in a decomposition"))
        seen.add(unit_id)
        amounts.append((unit_id, amount.quantize(CENT)))
    if errors:
        raise ServiceError(errors)
    return amounts


@operation("targetDecompositionSave")
async def save(tx: Tx, *, kpi_id: int, period: str, aggregation: str, targets: list[tuple[int, Any]], version: int | None) -> TargetDecomposition:
    """Create or replace the draft decomposition of a KPI for a period (who may define the KPI); an active one is locked."""
    amounts = _checked(period, aggregation, targets)
    session = tx.session
    kpi = await tx.load(Kpi, kpi_id, act="define", field="kpiId", lock=True)
    lead = await session.get_one(Unit, kpi.lead_unit_id)
    units = await tx.load_many(Unit, [u for u, _ in amounts], field="targets")
    if any(not lies_under(u.path, lead.path, strictly=True) for u in units):
        raise fail("targets", ErrorCode.INVALID, "a decomposition splits the target over units below the KPI's lead unit")
    found = await decomposition_of(session, kpi.id, period)
    before = None
    if found is None:
        if version is not None:
            raise fail("version", ErrorCode.CONFLICT, "this KPI has no decomposition for the period yet: save it without a version")
        found = TargetDecomposition(kpi_id=kpi.id, period=period, aggregation=aggregation, status="draft", version=1)
        session.add(found)
        await session.flush()
    else:
        if found.status == "active":
            raise fail("period", ErrorCode.INVALID, f"the decomposition for {period} is active, so it is locked")
        if version != found.version:
            raise fail("version", ErrorCode.CONFLICT, f"changed since you read it: its version is now {found.version}")
        before = {"aggregation": found.aggregation, "version": found.version}
        await session.execute(delete(DecompositionTarget).where(DecompositionTarget.decomposition_id == found.id))
        await session.execute(update(TargetDecomposition).where(TargetDecomposition.id == found.id).values(
            aggregation=aggregation, version=TargetDecomposition.version + 1, updated_at=utcnow()))  # fmt: skip
        await session.refresh(found)
    if amounts:
        await session.execute(insert(DecompositionTarget), [{"decomposition_id": found.id, "unit_id": u, "target": t} for u, t in amounts])
    tx.record(action="targetDecompositionSave", object_type="kpi", object_key=kpi.id, unit_id=lead.id, before=before,
              after={"period": period, "aggregation": aggregation, "targets": len(amounts), "version": found.version})  # fmt: skip
    return found


@operation("targetDecompositionActivate")
async def activate(tx: Tx, *, kpi_id: int, period: str, version: int) -> TargetDecomposition:
    """Activate a draft that reconciles at every unit; else INVALID naming the first units that do not, nothing written."""
    session = tx.session
    kpi = await tx.load(Kpi, kpi_id, act="define", field="kpiId", lock=True)
    found = await decomposition_of(session, kpi.id, period)
    if found is None:
        raise fail("period", ErrorCode.NOT_FOUND, f"no decomposition of this KPI for {period}")
    if found.status == "active":
        raise fail("period", ErrorCode.INVALID, "already active")
    if version != found.version:
        raise fail("version", ErrorCode.CONFLICT, f"changed since you read it: its version is now {found.version}")
    checked = (await consistency(session, tx.scope, [(found, kpi)]))[found.id]  # the caller defines at the lead unit: it reads the whole subtree
    if not checked:
        raise fail("targets", ErrorCode.REQUIRED, "nothing to activate: no unit has targets below it")
    wrong = [c for c in checked if not c.reconciles]
    if wrong:
        said = "; ".join(f"{c.unit.code}: {'no target of its own' if c.difference is None else f'off by {c.difference}'}" for c in wrong[:5])
        raise fail("targets", ErrorCode.INVALID, f"{len(wrong)} unit(s) do not reconcile ({found.aggregation}): {said}")
    await session.execute(update(TargetDecomposition).where(TargetDecomposition.id == found.id).values(
        status="active", version=TargetDecomposition.version + 1, activated_at=utcnow(), updated_at=utcnow()))  # fmt: skip
    await session.refresh(found)
    tx.record(action="targetDecompositionActivate", object_type="kpi", object_key=kpi.id, unit_id=kpi.lead_unit_id,
              after={"period": period, "version": found.version})  # fmt: skip
    return found
