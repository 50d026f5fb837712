"""A unit and its direct children, each with aggregates over its subtree: the shape every dashboard shares.

`per_child` groups rows by the path of the child of the parent they lie under (an equality the
planner hashes, api.org.tree.child_on_the_way) and adds, under the parent's own path, the sums
over the whole subtree (its own rows and every child's, archived ones included).
`per_group` groups the same rows under each of a set of units that may lie anywhere (the units of
a kind) by a path range join. `unit_and_children` outer-joins the first to the parent and its
readable, unarchived children.

A source of rows is a `Rows`: the select choosing them, the path of the unit each lies under, and
the aggregates over them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from resolute.api.access.scope import Scope
from resolute.api.org.models import Unit
from resolute.api.org.tree import child_on_the_way, under

__all__ = ["Rows", "per_child", "per_group", "unit_and_children"]


@dataclass(frozen=True)
class Rows:
    select: Select[Any]  # its FROM and WHERE choose the rows
    path: Any  # the path of the unit each row lies under
    aggregates: Mapping[str, ColumnElement[Any]]


def per_child(parent: Unit, rows: Rows, name: str) -> Any:
    """The aggregates over `rows` (of the parent's subtree), per direct child and for the whole subtree, as a
    subquery keyed by `group_path`."""
    key = child_on_the_way(rows.path, parent.path)
    labelled = [c.label(n) for n, c in rows.aggregates.items()]
    per_key = rows.select.with_only_columns(key.label("group_path"), *labelled).group_by(key).cte(f"{name}_per_key")
    children = select(per_key).where(per_key.c.group_path != parent.path)
    whole = select(literal(parent.path).label("group_path"), *[func.sum(per_key.c[n]).label(n) for n in rows.aggregates])
    return union_all(children, whole).subquery(name)


def per_group(group_condition: Callable[[Any], ColumnElement[bool]], rows: Rows, name: str) -> Any:
    """The aggregates over `rows` under each unit chosen by `group_condition` (given the units' alias), wherever
    it lies: a path range join, as a subquery keyed by `group_id`."""
    groups = aliased(Unit, name=f"{name}_group")
    labelled = [c.label(n) for n, c in rows.aggregates.items()]
    joined = rows.select.with_only_columns(groups.id.label("group_id"), *labelled).join(groups, under(rows.path, groups.path))
    return joined.where(group_condition(groups)).group_by(groups.id).subquery(name)


async def unit_and_children(
    session: AsyncSession, scope: Scope, unit: Unit, grouped: Any, columns: Sequence[ColumnElement[Any]]
) -> tuple[Any, list[Any]]:
    """The row of `unit` and those of its direct children the caller may read (not archived, code order), each
    with `columns` (made from `grouped`, outer-joined by path, so a unit with no rows gets nulls): one statement."""
    chosen = or_(Unit.id == unit.id, and_(Unit.parent_id == unit.id, Unit.archived_at.is_(None)))
    query = select(Unit, *columns).outerjoin(grouped, grouped.c.group_path == Unit.path).where(chosen, scope.visible_under(Unit, unit.path)).order_by(Unit.depth, Unit.code)
    head, *rest = (await session.execute(query)).all()
    return head, rest
