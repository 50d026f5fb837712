"""A unit and its direct children, each with aggregates over its subtree: the shape every dashboard shares.

`per_child` groups rows by the path of the child of the parent they lie under (an equality the
planner hashes, api.org.tree.child_on_the_way) and adds, under the parent's own path, the sums
over the whole subtree (its own rows and every child's, archived ones included).
`per_group` groups the same rows under each of a set of units that may lie anywhere (the units of
a kind) by a path range join. `unit_and_children` outer-joins the first to the parent and its
readable, unarchived children.

A source of rows is a `Rows`: the select choosing them, the path of the unit each lies under, and
the aggregates over them. When every aggregate is a count or a sum (`per_unit` set), `per_group`
first sums the rows per unit, and the groups sum those partial sums: a national ranking then joins
the 3,400 units that hold a resolution's work to the 34 provinces by path range, not its 105,000
assignments (bench/README.md has the figures).
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
    path: Any  # the path of the unit each row lies under (None: not joined, for `per_group` only; then `per_unit` is set)
    aggregates: Mapping[str, ColumnElement[Any]]
    per_unit: Any = None  # the id of the unit each row lies under, when every aggregate is a count or a sum


def _summed_per_unit(rows: Rows, name: str) -> Rows:
    """`rows` summed per unit first (when they may be): the same aggregates over far fewer rows."""
    if rows.per_unit is None:
        return rows
    labelled = [c.label(n) for n, c in rows.aggregates.items()]
    summed = rows.select.with_only_columns(rows.per_unit.label("unit_id"), *labelled).group_by(rows.per_unit).subquery(f"{name}_per_unit")
    unit = aliased(Unit, name=f"{name}_unit")  # its path, read for the few units summed (grouping by a text is costly)
    chosen = select(unit.id).select_from(summed).join(unit, unit.id == summed.c.unit_id)
    return Rows(chosen, unit.path, {n: func.sum(summed.c[n]) for n in rows.aggregates})


def per_child(parent: Unit, rows: Rows, name: str) -> Any:
    """The aggregates over `rows` (of the parent's subtree), per direct child and for the whole subtree, as a
    subquery keyed by `group_path`."""
    key = child_on_the_way(rows.path, parent.path)  # an equality the planner hashes: summing per unit first would not pay
    labelled = [c.label(n) for n, c in rows.aggregates.items()]
    per_key = rows.select.with_only_columns(key.label("group_path"), *labelled).group_by(key).cte(f"{name}_per_key")
    children = select(per_key).where(per_key.c.group_path != parent.path)
    whole = select(literal(parent.path).label("group_path"), *[func.sum(per_key.c[n]).label(n) for n in rows.aggregates])
    return union_all(children, whole).subquery(name)


def per_group(group_condition: Callable[[Any], ColumnElement[bool]], rows: Rows, name: str) -> Any:
    """The aggregates over `rows` under each unit chosen by `group_condition` (given the units' alias), wherever
    it lies: a path range join, as a subquery keyed by `group_id`."""
    rows = _summed_per_unit(rows, name)
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
