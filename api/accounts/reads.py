"""Read queries over users and grants, batched and filtered by the caller's scope."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.access.scope import Scope
from resolute.api.accounts.models import Grant, User
from resolute.api.org.text import fold, like_escape
from resolute.api.org.tree import units_under

__all__ = ["UserFilter", "count_users", "grants_by_ids", "grants_by_user_ids", "list_users", "users_by_ids"]


@dataclass(frozen=True)
class UserFilter:
    under_path: str | None = None
    search: str | None = None
    include_inactive: bool = False
    updated_since: datetime | None = None
    matches_nothing: bool = False  # e.g. `under` names a unit the caller cannot see


def _conditions(scope: Scope, flt: UserFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [scope.visible(User)] + ([false()] if flt.matches_nothing else [])
    if not flt.include_inactive:
        conds.append(User.active.is_(True))
    if flt.updated_since is not None:
        conds.append(User.updated_at >= flt.updated_since)
    if flt.under_path:
        conds.append(units_under(User.unit_id, flt.under_path))
    if flt.search and flt.search.strip():
        conds.append(User.search_name.like(f"%{like_escape(fold(flt.search))}%", escape="\\"))
    return conds


async def users_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, User]:
    rows = await session.scalars(select(User).where(User.id.in_(set(ids)), scope.visible(User)))
    return {user.id: user for user in rows}


async def list_users(session: AsyncSession, scope: Scope, flt: UserFilter, *, first: int, after: str | None) -> list[User]:
    query = select(User).where(*_conditions(scope, flt)).order_by(User.username).limit(first + 1)
    if after is not None:
        query = query.where(User.username > after)
    return list(await session.scalars(query))


async def count_users(session: AsyncSession, scope: Scope, flt: UserFilter) -> int:
    return int(await session.scalar(select(func.count()).select_from(User).where(*_conditions(scope, flt))) or 0)


async def grants_by_user_ids(session: AsyncSession, scope: Scope, user_ids: Sequence[int]) -> dict[int, list[Grant]]:
    rows = await session.scalars(
        select(Grant).where(Grant.user_id.in_(set(user_ids)), scope.visible(Grant)).order_by(Grant.id)
    )
    grouped: dict[int, list[Grant]] = defaultdict(list)
    for grant in rows:
        grouped[grant.user_id].append(grant)
    return grouped


async def grants_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, Grant]:
    rows = await session.scalars(select(Grant).where(Grant.id.in_(set(ids)), scope.visible(Grant)))
    return {grant.id: grant for grant in rows}
