"""Merging units (provinces were merged in 2025): open work, duties and people follow the target.

Each source's active sub-units move under the target; the source itself moves under the target
too and is archived, so its history (reports, measurements, evaluations, which stay attributed
to it) still rolls up under its new place. Open assignments, KPI duties, lead and coordinating
roles, users and grants pass to the target. One transaction, under the exclusive tree lock.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.accounts.models import Grant, User
from resolute.api.errors import ErrorCode, fail
from resolute.api.kpis.models import Kpi, KpiCoordinator, KpiUnitTarget
from resolute.api.org.models import Unit
from resolute.api.org.service import now, snapshot
from resolute.api.org.tree import lies_under, lock_tree, rewrite_subtree
from resolute.api.tasks.models import Assignment, Task, TaskCoordinator
from resolute.api.transaction import Tx, operation

__all__ = ["merge_units"]

OPEN = ("not_started", "in_progress")


async def _pass_pairs(session: AsyncSession, model: type, key: str, source_id: int, target_id: int) -> None:
    """Rows (key, unit) of the source become the target's, unless the target has that key already."""
    column, unit_column = getattr(model, key), model.unit_id  # type: ignore[attr-defined]
    taken = select(column).where(unit_column == target_id)
    await session.execute(update(model).where(unit_column == source_id, column.not_in(taken)).values(unit_id=target_id))
    await session.execute(delete(model).where(unit_column == source_id))


@operation("unitMerge")
async def merge_units(tx: Tx, *, source_ids: list[int], target_id: int) -> Unit:
    if not source_ids:
        raise fail("sourceIds", ErrorCode.REQUIRED, "name at least one unit to merge")
    if len(source_ids) > 100 or len(set(source_ids)) != len(source_ids):
        raise fail("sourceIds", ErrorCode.INVALID, "at most 100 distinct units")
    if target_id in source_ids:
        raise fail("targetId", ErrorCode.INVALID, "a unit is not merged into itself")
    session = tx.session
    await lock_tree(session, exclusive=True)
    target = await tx.load(Unit, target_id, act="merge", field="targetId", lock=True)
    if target.archived_at is not None:
        raise fail("targetId", ErrorCode.ARCHIVED, "the target is archived")
    sources = [await tx.load(Unit, pk, act="merge", field=f"sourceIds[{i}]", lock=True) for i, pk in enumerate(source_ids)]
    for i, source in enumerate(sources):
        field = f"sourceIds[{i}]"
        if source.parent_id is None:
            raise fail(field, ErrorCode.INVALID, "the root unit cannot be merged")
        if source.archived_at is not None:
            raise fail(field, ErrorCode.ARCHIVED, "the unit is already archived")
        if lies_under(target.path, source.path):
            raise fail("targetId", ErrorCode.CYCLE, "the target lies under a unit being merged")
        if tx.scope.grant_covering("unit", "merge", source.path, target.path) is None:
            raise fail(field, ErrorCode.FORBIDDEN, "one grant must cover both the unit and the target")
    stamp = now()
    for source in sources:
        before = snapshot(source)
        children = list(await session.scalars(select(Unit).where(Unit.parent_id == source.id, Unit.archived_at.is_(None))))
        for child in children:
            await rewrite_subtree(session, child, target, version=Unit.version + 1, updated_at=stamp)
        await session.refresh(target)
        await rewrite_subtree(session, source, target, version=Unit.version + 1, updated_at=stamp)
        # open work on either side, and who leads or coordinates it
        taken = select(Assignment.task_id).where(Assignment.assignee_unit_id == target.id)
        moved = await session.execute(update(Assignment).where(Assignment.assignee_unit_id == source.id, Assignment.status.in_(OPEN), Assignment.task_id.not_in(taken))
                                      .values(assignee_unit_id=target.id, version=Assignment.version + 1, updated_at=stamp))
        await session.execute(update(Assignment).where(Assignment.assigner_unit_id == source.id, Assignment.status.in_(OPEN))
                              .values(assigner_unit_id=target.id, version=Assignment.version + 1, updated_at=stamp))
        await session.execute(update(Task).where(Task.lead_unit_id == source.id, Task.status.in_(OPEN)).values(lead_unit_id=target.id, version=Task.version + 1, updated_at=stamp))
        await _pass_pairs(session, TaskCoordinator, "task_id", source.id, target.id)
        # KPI duties
        await session.execute(update(Kpi).where(Kpi.lead_unit_id == source.id).values(lead_unit_id=target.id, version=Kpi.version + 1, updated_at=stamp))
        await _pass_pairs(session, KpiCoordinator, "kpi_id", source.id, target.id)
        await _pass_pairs(session, KpiUnitTarget, "kpi_id", source.id, target.id)
        # people and their grants
        await session.execute(update(User).where(User.unit_id == source.id).values(unit_id=target.id, version=User.version + 1, updated_at=stamp))
        for grant in list(await session.scalars(select(Grant).where(Grant.unit_id == source.id))):
            exists = await session.scalar(select(Grant.id).where(Grant.user_id == grant.user_id, Grant.role == grant.role, Grant.unit_id == target.id))
            if exists is None:
                await session.execute(update(Grant).where(Grant.id == grant.id).values(unit_id=target.id))
            else:
                await session.execute(delete(Grant).where(Grant.id == grant.id))
        await session.execute(update(Unit).where(Unit.id == source.id).values(archived_at=stamp, updated_at=stamp, version=Unit.version + 1))
        await session.refresh(source)
        tx.record(action="unitMerge", object_type="unit", object_key=source.id, unit_id=source.id, before=before,
                  after=snapshot(source) | {"merged_into": target.id, "sub_units_moved": len(children), "open_assignments_moved": moved.rowcount})  # type: ignore[attr-defined]
    await session.refresh(target)
    return target
