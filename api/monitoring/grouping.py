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

A source may also come with a `Summary`: the same aggregates over rows the database keeps per unit
for the top of the tree (api.monitoring.summaries). It is given only when the caller reads every
row of the source under the units it covers; then the groups at that depth or above read their own
summary rows instead of summing their subtree, and deeper groups are counted as before.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from resolute.api.access.scope import Scope
from resolute.api.db import built
from resolute.api.org.models import Unit
from resolute.api.org.tree import child_on_the_way, under

__all__ = ["Rows", "Summary", "per_child", "per_group", "unit_and_children"]


@dataclass(frozen=True)
class Summary:
    """The aggregates of a source read from summary rows kept per unit at depth `depth` or above: `table`'s
    rows that `conditions` choose (its `unit_id`: the unit whose subtree a row sums)."""

    table: Any
    conditions: Sequence[ColumnElement[bool]]
    aggregates: Mapping[str, ColumnElement[Any]]
    depth: int


@dataclass(frozen=True)
class Rows:
    select: Select[Any]  # its FROM and WHERE choose the rows
    path: Any  # the path of the unit each row lies under (None: not joined, for `per_group` only; then `per_unit` is set)
    aggregates: Mapping[str, ColumnElement[Any]]
    per_unit: Any = None  # the id of the unit each row lies under, when every aggregate is a count or a sum
    summary: Summary | None = None  # the same aggregates kept per top unit, for a caller who reads every row


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
    if rows.summary is not None and parent.depth + 1 <= rows.summary.depth:
        return _summarised(rows, or_, name, parent=parent).subquery(name)
    key = child_on_the_way(rows.path, parent.path)  # an equality the planner hashes: summing per unit first would not pay
    labelled = [c.label(n) for n, c in rows.aggregates.items()]
    per_key = rows.select.with_only_columns(key.label("group_path"), *labelled).group_by(key).cte(f"{name}_per_key")
    children = select(per_key).where(per_key.c.group_path != parent.path)
    whole = select(literal(parent.path).label("group_path"), *[func.sum(per_key.c[n]).label(n) for n in rows.aggregates])
    return union_all(children, whole).subquery(name)


def per_group(group_condition: Callable[[Any], ColumnElement[bool]], rows: Rows, name: str) -> Any:
    """The aggregates over `rows` under each unit chosen by `group_condition` (given the units' alias), wherever
    it lies: a path range join, as a subquery keyed by `group_id`. With a summary, the groups at its depth or
    above read their summary rows, and the deeper ones are counted only if there are any (a condition
    PostgreSQL checks once, before scanning anything for them)."""
    if rows.summary is None:
        return _counted_per_group(group_condition, rows, name).subquery(name)
    depth = rows.summary.depth
    deeper = aliased(Unit, name=f"{name}_deeper")
    counted = _counted_per_group(lambda g: and_(group_condition(g), g.depth > depth), rows, name)
    counted = counted.where(exists(select(deeper.id).where(group_condition(deeper), deeper.depth > depth)))
    return union_all(_summarised(rows, group_condition, name), counted).subquery(name)


def _counted_per_group(group_condition: Callable[[Any], ColumnElement[bool]], rows: Rows, name: str) -> Select[Any]:
    rows = _summed_per_unit(rows, name)
    groups = aliased(Unit, name=f"{name}_group")
    labelled = [c.label(n) for n, c in rows.aggregates.items()]
    joined = rows.select.with_only_columns(groups.id.label("group_id"), *labelled).join(groups, under(rows.path, groups.path))
    return joined.where(group_condition(groups)).group_by(groups.id)


def _summarised(rows: Rows, choose: Callable[..., ColumnElement[bool]], name: str, *, parent: Unit | None = None) -> Select[Any]:
    """The summary rows of the top units chosen, summed per unit: keyed by `group_path` under `parent` (the parent
    and its direct children, `choose` being or_), else by `group_id` (the units `choose` picks of the alias)."""
    summary = rows.summary
    assert summary is not None
    top = aliased(Unit, name=f"{name}_top")
    labelled = [summary.aggregates[n].label(n) for n in rows.aggregates]  # in the order of the counted branch
    if parent is not None:
        key, chosen = top.path, choose(top.id == parent.id, top.parent_id == parent.id)
    else:
        key, chosen = top.id, and_(choose(top), top.depth <= summary.depth)
    joined = select(key.label("group_path" if parent is not None else "group_id"), *labelled).select_from(summary.table)
    return joined.join(top, top.id == summary.table.unit_id).where(chosen, *summary.conditions).group_by(key)


async def unit_and_children(
    session: AsyncSession, scope: Scope, unit: Any, key: Hashable, grouped: Callable[[], Any], columns: Callable[[Any], Sequence[ColumnElement[Any]]]
) -> tuple[Any, list[Any]]:
    """The row of `unit` (a Unit, or where one lies) and those of its direct children the caller may read (not
    archived, code order; (None, []) if the caller may not read the unit itself), each with the unit's columns
    (read by name as a Unit's attributes: `row.code`) and the `columns` made from the subquery `grouped` makes
    (outer-joined by path, so a unit with no rows gets nulls): one statement, built once per `key` (what
    `grouped` depends on beyond the caller and the unit) by api.db.built. Plain rows, not Unit objects: the
    ORM's identity map and instances cost more Python than the statement's 119 rows of a province did in SQL."""
    def build() -> Select[Any]:
        rows = grouped()
        chosen = or_(Unit.id == unit.id, and_(Unit.parent_id == unit.id, Unit.archived_at.is_(None)))
        return (
            select(*Unit.__table__.c, *columns(rows)).outerjoin(rows, rows.c.group_path == Unit.path).where(chosen, scope.visible_under(Unit, unit.path))
            .order_by(Unit.depth, Unit.code)
        )  # fmt: skip

    query = built((key, scope.principal, scope.policy, unit.id, unit.path, unit.depth), build)
    rows = (await session.execute(query)).all()
    if not rows or rows[0].id != unit.id:  # the unit itself is not readable
        return None, []
    return rows[0], rows[1:]
