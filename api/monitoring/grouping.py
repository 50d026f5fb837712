"""A unit and its direct children, each with aggregates over its subtree: the shape every dashboard shares.

`per_child` groups rows by the path of the child of the parent they lie under (an equality the
planner hashes, api.org.tree.child_on_the_way) and adds, under the parent's own path, the sums
over the whole subtree (its own rows and every child's, archived ones included).
`unit_and_children` outer-joins that to the parent and its readable, unarchived children.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.access.scope import Scope
from resolute.api.org.models import Unit
from resolute.api.org.tree import child_on_the_way

__all__ = ["per_child", "unit_and_children"]


def per_child(parent: Unit, path: Any, aggregates: Mapping[str, ColumnElement[Any]], rows: Select[Any], name: str) -> Any:
    """`aggregates` over `rows` (a select whose FROM and WHERE choose the rows of the parent's subtree, each
    lying under the unit whose path is `path`), per direct child and for the whole subtree, as a subquery
    keyed by `group_path`."""
    key = child_on_the_way(path, parent.path)
    per_key = rows.with_only_columns(key.label("group_path"), *[c.label(n) for n, c in aggregates.items()]).group_by(key).cte(f"{name}_per_key")
    children = select(per_key).where(per_key.c.group_path != parent.path)
    whole = select(literal(parent.path).label("group_path"), *[func.sum(per_key.c[n]).label(n) for n in aggregates])
    return union_all(children, whole).subquery(name)


async def unit_and_children(
    session: AsyncSession, scope: Scope, unit: Unit, grouped: Any, columns: Sequence[ColumnElement[Any]]
) -> tuple[Any, list[Any]]:
    """The row of `unit` and those of its direct children the caller may read (not archived, code order), each
    with `columns` (made from `grouped`, outer-joined by path, so a unit with no rows gets nulls): one statement."""
    chosen = or_(Unit.id == unit.id, and_(Unit.parent_id == unit.id, Unit.archived_at.is_(None)))
    query = select(Unit, *columns).outerjoin(grouped, grouped.c.group_path == Unit.path).where(chosen, scope.visible(Unit)).order_by(Unit.depth, Unit.code)
    head, *rest = (await session.execute(query)).all()
    return head, rest
