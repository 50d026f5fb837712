"""Read queries over resolutions, objectives and key results: batched, scoped, one statement each.

Coverage answers "which units under the issuer were expected to issue an implementing programme
by a date, and which have not", for many resolutions in one statement, within the caller's scope.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from resolute.api.access.scope import Scope
from resolute.api.keyset import counts_by_parent, pages_by_code
from resolute.api.org.models import Unit
from resolute.api.org.text import fold, like_escape
from resolute.api.org.tree import strictly_under, units_under
from resolute.api.resolutions.models import KeyResult, Objective, Resolution, expects_kind

__all__ = [
    "COVERAGE_STATES",
    "CoverageRow",
    "ResolutionFilter",
    "count_programmes",
    "count_resolutions",
    "coverage_pages",
    "coverage_summaries",
    "key_results_by_ids",
    "key_results_by_objective_ids",
    "list_resolutions",
    "objectives_by_ids",
    "objectives_by_resolution_ids",
    "programme_pages",
    "resolution_by_code",
    "resolutions_by_ids",
]

COVERAGE_STATES = ("on_time", "late", "missing", "pending")


@dataclass(frozen=True)
class ResolutionFilter:
    kind: str | None = None
    status: str | None = None
    issued_under_path: str | None = None
    implements_id: int | None = None
    search: str | None = None
    updated_since: datetime | None = None
    matches_nothing: bool = False


def _conditions(scope: Scope, flt: ResolutionFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [scope.visible(Resolution)] + ([false()] if flt.matches_nothing else [])
    if flt.kind:
        conds.append(Resolution.kind == flt.kind)
    if flt.status:
        conds.append(Resolution.status == flt.status)
    if flt.implements_id is not None:
        conds.append(Resolution.implements_id == flt.implements_id)
    if flt.issued_under_path:
        conds.append(units_under(Resolution.issuing_unit_id, flt.issued_under_path))
    if flt.search and flt.search.strip():
        conds.append(Resolution.search_title.like(f"%{like_escape(fold(flt.search))}%", escape="\\"))
    if flt.updated_since is not None:
        conds.append(Resolution.updated_at >= flt.updated_since)
    return conds


async def resolutions_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, Resolution]:
    rows = await session.scalars(select(Resolution).where(Resolution.id.in_(set(ids)), scope.visible(Resolution)))
    return {row.id: row for row in rows}


async def resolution_by_code(session: AsyncSession, scope: Scope, code: str) -> Resolution | None:
    return await session.scalar(select(Resolution).where(Resolution.code == code, scope.visible(Resolution)))


async def list_resolutions(session: AsyncSession, scope: Scope, flt: ResolutionFilter, *, first: int, after: str | None) -> list[Resolution]:
    query = select(Resolution).where(*_conditions(scope, flt)).order_by(Resolution.code).limit(first + 1)
    if after is not None:
        query = query.where(Resolution.code > after)
    return list(await session.scalars(query))


async def count_resolutions(session: AsyncSession, scope: Scope, flt: ResolutionFilter) -> int:
    return int(await session.scalar(select(func.count()).select_from(Resolution).where(*_conditions(scope, flt))) or 0)


def _programmes(scope: Scope, ids: Sequence[int]) -> Select[tuple[Resolution]]:
    return select(Resolution).where(Resolution.implements_id.in_(set(ids)), scope.visible(Resolution))


async def programme_pages(session: AsyncSession, scope: Scope, ids: Sequence[int], *, first: int, after: str | None) -> dict[int, list[Resolution]]:
    """For each resolution, up to first+1 of the programmes implementing it that the caller may see, in code order after the cursor's code."""
    return await pages_by_code(session, _programmes(scope, ids), code=Resolution.code, parent=Resolution.implements_id, first=first, after=after)


async def count_programmes(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, int]:
    return await counts_by_parent(session, _programmes(scope, ids), parent=Resolution.implements_id)


async def objectives_by_resolution_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, list[Objective]]:
    rows = await session.scalars(select(Objective).where(Objective.resolution_id.in_(set(ids)), scope.visible(Objective)).order_by(Objective.code))
    grouped: dict[int, list[Objective]] = defaultdict(list)
    for row in rows:
        grouped[row.resolution_id].append(row)
    return grouped


async def objectives_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, Objective]:
    rows = await session.scalars(select(Objective).where(Objective.id.in_(set(ids)), scope.visible(Objective)))
    return {row.id: row for row in rows}


async def key_results_by_objective_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, list[KeyResult]]:
    rows = await session.scalars(select(KeyResult).where(KeyResult.objective_id.in_(set(ids)), scope.visible(KeyResult)).order_by(KeyResult.position))
    grouped: dict[int, list[KeyResult]] = defaultdict(list)
    for row in rows:
        grouped[row.objective_id].append(row)
    return grouped


async def key_results_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, KeyResult]:
    rows = await session.scalars(select(KeyResult).where(KeyResult.id.in_(set(ids)), scope.visible(KeyResult)))
    return {row.id: row for row in rows}


# -- coverage ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverageRow:
    unit: Unit
    programme_id: int | None
    state: str


def _coverage_base(scope: Scope, ids: Sequence[int], today: date) -> tuple[Any, Any]:
    """(select of resolution id, expected unit, programme id, state) and the state column."""
    issuer = aliased(Unit)
    programme = (
        select(Resolution.implements_id.label("rid"), Resolution.issuing_unit_id.label("unit_id"), func.min(Resolution.issued_on).label("issued_on"), func.min(Resolution.id).label("pid"))
        .where(Resolution.implements_id.in_(set(ids)), scope.visible(Resolution))
        .group_by(Resolution.implements_id, Resolution.issuing_unit_id)
        .subquery()
    )
    state = case(
        (programme.c.pid.is_not(None), case((and_(Resolution.programme_due_on.is_not(None), programme.c.issued_on > Resolution.programme_due_on), "late"), else_="on_time")),
        (and_(Resolution.programme_due_on.is_not(None), Resolution.programme_due_on < today), "missing"),
        else_="pending",
    )
    query = (
        select(Resolution.id.label("rid"), Unit, programme.c.pid, state.label("state"))
        .select_from(Resolution)
        .join(issuer, issuer.id == Resolution.issuing_unit_id)
        .join(Unit, and_(strictly_under(Unit.path, issuer.path), expects_kind(Resolution.implementer_kinds, Unit.kind)))
        .outerjoin(programme, and_(programme.c.rid == Resolution.id, programme.c.unit_id == Unit.id))
        .where(Resolution.id.in_(set(ids)), Resolution.implementer_kinds.is_not(None), Unit.archived_at.is_(None), scope.visible(Unit))
    )
    return query, state


async def coverage_pages(
    session: AsyncSession, scope: Scope, ids: Sequence[int], *, state: str | None, first: int, after: str | None, today: date
) -> dict[int, list[CoverageRow]]:
    """For each resolution, up to first+1 expected units in code order, with programme and state."""
    base, state_col = _coverage_base(scope, ids, today)
    if state is not None:
        base = base.where(state_col == state)
    if after is not None:
        base = base.where(Unit.code > after)
    ranked = base.add_columns(func.row_number().over(partition_by=Resolution.id, order_by=Unit.code).label("rank")).subquery()
    unit = aliased(Unit, ranked)
    query = select(ranked.c.rid, unit, ranked.c.pid, ranked.c.state).where(ranked.c.rank <= first + 1).order_by(ranked.c.rid, ranked.c.rank)
    grouped: dict[int, list[CoverageRow]] = defaultdict(list)
    for rid, row_unit, pid, row_state in (await session.execute(query)).all():
        grouped[rid].append(CoverageRow(unit=row_unit, programme_id=pid, state=row_state))
    return grouped


async def coverage_summaries(session: AsyncSession, scope: Scope, ids: Sequence[int], *, today: date) -> dict[int, dict[str, int]]:
    """For each resolution: how many units were expected, and how many are in each state."""
    base, _ = _coverage_base(scope, ids, today)
    counted = base.subquery()
    query = select(counted.c.rid, counted.c.state, func.count()).group_by(counted.c.rid, counted.c.state)
    result: dict[int, dict[str, int]] = {rid: dict.fromkeys(COVERAGE_STATES, 0) for rid in ids}
    for rid, row_state, n in (await session.execute(query)).all():
        result[rid][row_state] = int(n)
    return result
