"""Reading data approval: where a unit and each of its children stand for a resolution and a period, and the items
returned under it. Whoever reads the unit's whole subtree sees it (a leader its province, an officer its commune).

A unit's state: `approved` or `accepted` (its approval row); else `no_data` when its subtree holds no figure, `open`
while the period is not over, `waiting` while some of its children that take part (archived ones aside) have not
approved, and `ready` once they all have.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from resolute.api.access.scope import Scope
from resolute.api.approvals.data import Approved, approval_of, participates, pending_children
from resolute.api.approvals.models import DataReturn
from resolute.api.org.models import Unit
from resolute.api.org.tree import in_subtree

__all__ = ["UnitApproval", "count_returns", "readable", "returns_by_ids", "returns_under", "statuses"]


@dataclass(frozen=True)
class UnitApproval:
    unit: Unit
    state: str  # no_data, open, waiting, ready, approved or accepted
    waiting_for: int  # children that take part and have not approved
    approved_by_id: int | None
    approved_at: datetime | None
    accepted_by_id: int | None
    accepted_at: datetime | None


def readable(scope: Scope, unit: Unit) -> bool:
    """Approval is read by whoever reads the unit's whole subtree."""
    return scope.covers(unit.path, "unit")


def parent_path(unit: Unit) -> str | None:
    """The path of the unit above (None at the root)."""
    cut = unit.path.rstrip("/").rfind("/")
    return unit.path[: cut + 1] if cut > 0 else None


def _state(row: Any, over: bool) -> str:
    if row.state is not None:
        return str(row.state)
    if not row.takes_part:
        return "no_data"
    if not over:
        return "open"
    return "waiting" if row.waiting_for else "ready"


async def statuses(session: AsyncSession, view: Approved, unit: Unit, today: date) -> tuple[UnitApproval, bool, list[UnitApproval]]:
    """The unit's approval, whether its parent has approved, and each child's that takes part or has approved (not
    archived, code order): one statement."""
    over = view.end <= today
    approval, joined = approval_of(view, Unit.id)
    above = aliased(Unit, name="above")
    approved_above = select(above.id).where(above.id == Unit.parent_id, view.approval_at(above.id)).correlate(Unit).exists()
    takes_part = participates(Unit, view)
    query = (
        select(Unit, approval.state, approval.approved_by_id, approval.approved_at, approval.accepted_by_id, approval.accepted_at,
               takes_part.label("takes_part"), pending_children(Unit, view).label("waiting_for"), approved_above.label("approved_above"))
        .outerjoin(approval, joined)
        .where(or_(Unit.id == unit.id, and_(Unit.parent_id == unit.id, Unit.archived_at.is_(None), or_(approval.id.is_not(None), takes_part))))
        .order_by(Unit.depth, Unit.code)
    )  # fmt: skip
    head, *rest = (await session.execute(query)).all()
    return _of(head, over), bool(head.approved_above), [_of(row, over) for row in rest]


def _of(row: Any, over: bool) -> UnitApproval:
    return UnitApproval(unit=row[0], state=_state(row, over), waiting_for=int(row.waiting_for or 0), approved_by_id=row.approved_by_id,
                        approved_at=row.approved_at, accepted_by_id=row.accepted_by_id, accepted_at=row.accepted_at)  # fmt: skip


def _returns(view: Approved, unit: Unit, states: Sequence[str]) -> Any:
    member = aliased(Unit, name="member")
    return (
        select(DataReturn).join(member, member.id == DataReturn.unit_id)
        .where(in_subtree(member.path, unit.path), DataReturn.resolution_id == view.resolution_id, DataReturn.period == view.period,
               DataReturn.state.in_(states))
    )  # fmt: skip


async def returns_under(session: AsyncSession, view: Approved, unit: Unit, states: Sequence[str], *, first: int, offset: int) -> list[DataReturn]:
    """The returns of items of the unit's subtree in these states, the latest first: one statement."""
    query = _returns(view, unit, states).order_by(DataReturn.returned_at.desc(), DataReturn.id.desc()).limit(first).offset(offset)
    return list(await session.scalars(query))


async def count_returns(session: AsyncSession, view: Approved, unit: Unit, states: Sequence[str]) -> int:
    return int(await session.scalar(select(func.count()).select_from(_returns(view, unit, states).subquery())) or 0)


async def returns_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, DataReturn]:
    """The returns named, of items of units the caller reads."""
    rows = await session.scalars(select(DataReturn).join(Unit, Unit.id == DataReturn.unit_id).where(DataReturn.id.in_(set(ids)), scope.visible(Unit)))
    return {row.id: row for row in rows}
