"""Keyset pagination over a lexicographic order of several columns.

A page is "the rows strictly after this key", so it costs the same however deep it is. The
last column of every order is the primary key, which makes the order total and the cursor exact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

__all__ = ["after_key", "counts_by_parent", "pages_by_code", "pages_by_parent"]


def after_key(columns: Sequence[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """(c1, c2, ...) > (v1, v2, ...) in lexicographic order, written so that every dialect and index can use it."""
    head, *rest = list(zip(columns, values, strict=True))
    column, value = head
    if not rest:
        return column > value
    return or_(column > value, and_(column == value, after_key([c for c, _ in rest], [v for _, v in rest])))


async def pages_by_parent(
    session: AsyncSession, base: Select[Any], *, parent: ColumnElement[Any], order: Sequence[ColumnElement[Any]], first: int
) -> dict[Any, list[Any]]:
    """For each parent, up to first+1 of `base`'s rows in `order` (the extra row says "there is more"): one statement.

    `base` selects what a row is (an entity, or an entity and more columns) and already holds the
    conditions, the scope and the `after` bound; the rows of all parents are numbered per parent by a
    window function and cut at first+1, so a page of many parents costs one statement, not one each.
    """
    numbered = base.add_columns(parent.label("page_parent"), func.row_number().over(partition_by=parent, order_by=list(order)).label("page_rank"))
    listed = numbered.subquery()
    entities = [aliased(desc["entity"], listed) for desc in base.column_descriptions if desc.get("entity") is not None and desc["expr"] is desc["entity"]]
    query = select(listed.c.page_parent, *entities, *[listed.c[desc["name"]] for desc in base.column_descriptions if desc["expr"] is not desc.get("entity")])
    query = query.where(listed.c.page_rank <= first + 1).order_by(listed.c.page_parent, listed.c.page_rank)
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for parent_key, *row in (await session.execute(query)).all():
        grouped[parent_key].append(row[0] if len(row) == 1 else tuple(row))
    return grouped


async def counts_by_parent(session: AsyncSession, base: Select[Any], *, parent: ColumnElement[Any]) -> dict[Any, int]:
    """How many of `base`'s rows each parent has (the connection's totalCount): one statement."""
    query = base.with_only_columns(parent, func.count()).group_by(parent)
    return {key: int(n) for key, n in (await session.execute(query)).all()}


async def pages_by_code(
    session: AsyncSession, base: Select[Any], *, code: ColumnElement[Any], parent: ColumnElement[Any], first: int, after: str | None
) -> dict[Any, list[Any]]:
    """`pages_by_parent` in `code` order after the cursor's code: the paged lists keyed by a unit's or a resolution's code."""
    return await pages_by_parent(session, base if after is None else base.where(code > after), parent=parent, order=[code], first=first)
