"""Read queries over the tree, each batched for many keys and filtered by the caller's scope.

Every function here is one SQL statement whatever the number of keys, so GraphQL loaders
built on them keep the statement count of a request tied to its shape, not to its rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from resolute.api.access.scope import Scope
from resolute.api.keyset import counts_by_parent, pages_by_code
from resolute.api.org.models import Unit, UnitKind
from resolute.api.org.text import fold, like_escape
from resolute.api.org.tree import in_subtree, path_ids, strictly_under

__all__ = [
    "UnitFilter",
    "ancestors_of",
    "children_pages",
    "count_children",
    "count_descendants",
    "count_units",
    "descendants_pages",
    "list_kinds",
    "list_units",
    "unit_by_code",
    "unit_conditions",
    "units_by_ids",
]


@dataclass(frozen=True)
class UnitFilter:
    kind: str | None = None
    under_path: str | None = None
    search: str | None = None
    include_archived: bool = False
    updated_since: datetime | None = None
    matches_nothing: bool = False  # e.g. `under` names a unit the caller cannot see


def unit_conditions(unit: type[Unit] | object, flt: UnitFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [false()] if flt.matches_nothing else []
    if not flt.include_archived:
        conds.append(unit.archived_at.is_(None))  # type: ignore[attr-defined]
    if flt.kind:
        conds.append(unit.kind == flt.kind)  # type: ignore[attr-defined]
    if flt.updated_since is not None:
        conds.append(unit.updated_at >= flt.updated_since)  # type: ignore[attr-defined]
    if flt.under_path:
        conds.append(in_subtree(unit.path, flt.under_path))  # type: ignore[attr-defined]
    if flt.search and flt.search.strip():
        pattern = f"%{like_escape(fold(flt.search))}%"
        conds.append(
            or_(unit.search_name.like(pattern, escape="\\"), func.lower(unit.code).like(pattern, escape="\\"))  # type: ignore[attr-defined]
        )
    return conds


async def units_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, Unit]:
    rows = await session.scalars(select(Unit).where(Unit.id.in_(set(ids)), scope.visible(Unit)))
    return {unit.id: unit for unit in rows}


async def nameable_units_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, Unit]:
    """Units a reference names (an issuer, a lead unit, an assigner): in scope, or on the caller's own ancestor
    chain, which it reads as code, name and kind (ACCESS.md "Up"), so that what was handed down says who sent it."""
    rows = await session.scalars(select(Unit).where(Unit.id.in_(set(ids)), scope.chain_or_visible()))
    return {unit.id: unit for unit in rows}


async def unit_by_code(session: AsyncSession, scope: Scope, code: str) -> Unit | None:
    return await session.scalar(select(Unit).where(Unit.code == code, scope.visible(Unit)))


def _children(scope: Scope, parent_ids: Sequence[int], *, include_archived: bool) -> Select[tuple[Unit]]:
    query = select(Unit).where(Unit.parent_id.in_(set(parent_ids)), scope.visible(Unit))
    return query if include_archived else query.where(Unit.archived_at.is_(None))


async def children_pages(
    session: AsyncSession, scope: Scope, parent_ids: Sequence[int], *, include_archived: bool, first: int, after: str | None
) -> dict[int, list[Unit]]:
    """For each parent, up to first+1 of the direct sub-units the caller may see, in code order after the cursor's code."""
    query = _children(scope, parent_ids, include_archived=include_archived)
    return await pages_by_code(session, query, code=Unit.code, parent=Unit.parent_id, first=first, after=after)


async def count_children(session: AsyncSession, scope: Scope, parent_ids: Sequence[int], *, include_archived: bool) -> dict[int, int]:
    return await counts_by_parent(session, _children(scope, parent_ids, include_archived=include_archived), parent=Unit.parent_id)


async def ancestors_of(session: AsyncSession, scope: Scope, paths: Sequence[str]) -> dict[str, list[Unit]]:
    """Each path's ancestors (root first) that the caller may name: in scope, or its own chain."""
    known = await nameable_units_by_ids(session, scope, [pk for path in paths for pk in path_ids(path)[:-1]])
    return {path: [known[pk] for pk in path_ids(path)[:-1] if pk in known] for path in paths}


def _listing(scope: Scope, flt: UnitFilter) -> Select[tuple[Unit]]:
    return select(Unit).where(scope.visible(Unit), *unit_conditions(Unit, flt))


async def list_units(session: AsyncSession, scope: Scope, flt: UnitFilter, *, first: int, after: str | None) -> list[Unit]:
    """Up to first+1 units in code order after the cursor's code."""
    query = _listing(scope, flt).order_by(Unit.code).limit(first + 1)
    if after is not None:
        query = query.where(Unit.code > after)
    return list(await session.scalars(query))


async def count_units(session: AsyncSession, scope: Scope, flt: UnitFilter) -> int:
    query = select(func.count()).select_from(Unit).where(scope.visible(Unit), *unit_conditions(Unit, flt))
    return int(await session.scalar(query) or 0)


async def descendants_pages(
    session: AsyncSession, scope: Scope, anchor_ids: Sequence[int], flt: UnitFilter, *, first: int, after: str | None
) -> dict[int, list[Unit]]:
    """For each anchor unit, up to first+1 of its visible strict descendants in code order: one statement."""
    anchor = aliased(Unit)
    ranked = (
        select(
            anchor.id.label("anchor_id"),
            Unit.id.label("unit_id"),
            func.row_number().over(partition_by=anchor.id, order_by=Unit.code).label("rank"),
        )
        .join(Unit, strictly_under(Unit.path, anchor.path))
        .where(anchor.id.in_(set(anchor_ids)), scope.visible(Unit), *unit_conditions(Unit, flt))
    )
    if after is not None:
        ranked = ranked.where(Unit.code > after)
    ranked_sq = ranked.subquery()
    query = (
        select(ranked_sq.c.anchor_id, Unit)
        .join(Unit, Unit.id == ranked_sq.c.unit_id)
        .where(ranked_sq.c.rank <= first + 1)
        .order_by(ranked_sq.c.anchor_id, ranked_sq.c.rank)
    )
    grouped: dict[int, list[Unit]] = defaultdict(list)
    for anchor_id, unit in (await session.execute(query)).all():
        grouped[anchor_id].append(unit)
    return grouped


async def count_descendants(session: AsyncSession, scope: Scope, anchor_ids: Sequence[int], flt: UnitFilter) -> dict[int, int]:
    anchor = aliased(Unit)
    query = (
        select(anchor.id, func.count(Unit.id))
        .join(Unit, strictly_under(Unit.path, anchor.path))
        .where(anchor.id.in_(set(anchor_ids)), scope.visible(Unit), *unit_conditions(Unit, flt))
        .group_by(anchor.id)
    )
    return {anchor_id: int(n) for anchor_id, n in (await session.execute(query)).all()}


async def list_kinds(session: AsyncSession) -> list[UnitKind]:
    return list(await session.scalars(select(UnitKind).order_by(UnitKind.code)))
