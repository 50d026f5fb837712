"""The tree's path arithmetic, in one place: subtree ranges, "lies under", ancestor chains, path rewrites.

Every unit keeps a materialised path of ids ("/1/7/42/"), collated bytewise on PostgreSQL, so
"everything under X" is one index range scan: `path >= X.path AND path < upper(X.path)`, where
upper() replaces the final '/' by the next character ('0'). Every other module asks this one;
none spells the range, compares paths or rewrites them itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, and_, func, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from resolute.api.org.models import Unit

__all__ = [
    "ABOVE_ROOT",
    "child_on_the_way",
    "child_path",
    "in_subtree",
    "lies_under",
    "lock_tree",
    "minimal_paths",
    "path_ids",
    "rewrite_subtree",
    "strictly_under",
    "subtree_upper",
    "under",
    "unit_ids_under",
    "units_under",
]

_TREE_LOCK_KEY = 0x5E501_7E  # one advisory lock for the shape of the tree
ABOVE_ROOT = "/"  # the path the root unit is placed under: the root's own path is "/<id>/"


# -- in Python, on paths already loaded ------------------------------------------------------------


def lies_under(path: str, ancestor: str, *, strictly: bool = False) -> bool:
    """Whether the unit at `path` is in the subtree of the unit at `ancestor` (or strictly below it)."""
    return path.startswith(ancestor) and not (strictly and path == ancestor)


def subtree_upper(path: str) -> str:
    """The exclusive upper bound of the paths that start with `path` (which ends in '/')."""
    return path[:-1] + chr(ord("/") + 1)


def child_path(parent_path: str, unit_id: int | str) -> str:
    """The path of a unit placed under the unit at `parent_path`."""
    return f"{parent_path}{unit_id}/"


def path_ids(path: str) -> list[int]:
    """The unit ids along a materialised path, root first ("/1/7/42/" -> [1, 7, 42])."""
    return [int(part) for part in path.strip("/").split("/") if part]


def minimal_paths(paths: Iterable[str]) -> tuple[str, ...]:
    """The given subtrees without those that lie under another one: their ranges add nothing."""
    kept: list[str] = []
    for path in sorted(set(paths)):
        if not kept or not lies_under(path, kept[-1]):
            kept.append(path)
    return tuple(kept)


# -- in SQL ---------------------------------------------------------------------------------------


def in_subtree(path_column: Any, path: str, *, strictly: bool = False) -> ColumnElement[bool]:
    """`path_column` lies in the subtree of the unit at `path` (strictly: below it): one range scan."""
    low = path_column > path if strictly else path_column >= path
    return and_(low, path_column < subtree_upper(path))


def _upper_sql(path_column: Any) -> ColumnElement[str]:
    """subtree_upper() computed by the database, for a path that is itself a column."""
    return func.substr(path_column, 1, func.length(path_column) - 1).op("||")(literal("0"))


def strictly_under(path_column: Any, ancestor_path_column: Any) -> ColumnElement[bool]:
    """A join condition: `path_column` lies strictly below `ancestor_path_column` (both columns)."""
    return and_(path_column > ancestor_path_column, path_column < _upper_sql(ancestor_path_column))


def under(path_column: Any, ancestor_path_column: Any) -> ColumnElement[bool]:
    """A join condition: `path_column` lies in the subtree of `ancestor_path_column`, itself included."""
    return and_(path_column >= ancestor_path_column, path_column < _upper_sql(ancestor_path_column))


class _position(FunctionElement[int]):
    """The 1-based position of `needle` in `haystack`, 0 if absent: strpos on PostgreSQL, instr elsewhere."""

    type = Integer()
    name = "instr"
    inherit_cache = True


@compiles(_position)
def _instr(element: _position, compiler: SQLCompiler, **kw: Any) -> str:
    return f"instr({compiler.process(element.clauses, **kw)})"


@compiles(_position, "postgresql")
def _strpos(element: _position, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strpos({compiler.process(element.clauses, **kw)})"


def child_on_the_way(path_column: Any, ancestor_path: str) -> ColumnElement[str]:
    """For a path in the subtree of the unit at `ancestor_path`: the path of that unit's child on the way
    down to it (the ancestor's own path for the ancestor itself). Grouping by it rolls a subtree up per
    child with an equality, which the planner hashes, where a range join would compare every pair."""
    n = len(ancestor_path)
    return func.substr(path_column, 1, n + _position(func.substr(path_column, n + 1), literal("/")))


def unit_ids_under(path: str) -> Select[tuple[int]]:
    """The ids of the units of a subtree, as a subquery."""
    return select(Unit.id).where(in_subtree(Unit.path, path))


def units_under(unit_id_column: Any, path: str) -> ColumnElement[bool]:
    """`unit_id_column` names a unit of the subtree at `path`."""
    return unit_id_column.in_(unit_ids_under(path))  # type: ignore[no-any-return]


# -- changing the tree's shape ----------------------------------------------------------------------


async def lock_tree(session: AsyncSession, *, exclusive: bool) -> None:
    """Serialise changes to the tree's shape on PostgreSQL (SQLite's BEGIN IMMEDIATE already does)."""
    if session.bind.dialect.name == "postgresql":
        fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        await session.execute(text(f"SELECT {fn}(:key)"), {"key": _TREE_LOCK_KEY})


async def rewrite_subtree(session: AsyncSession, unit: Unit, parent: Unit, **values: Any) -> int:
    """Put `unit` and its whole subtree under `parent`: paths and depths in one statement.

    `values` (e.g. version, updated_at) are set on every moved row. Returns how many rows moved.
    """
    old_path, new_path = unit.path, child_path(parent.path, unit.id)
    moved = await session.execute(
        update(Unit)
        .where(in_subtree(Unit.path, old_path))
        .values(path=literal(new_path) + func.substr(Unit.path, len(old_path) + 1), depth=Unit.depth + (parent.depth + 1 - unit.depth), **values)
        .execution_options(synchronize_session=False)
    )
    await session.execute(update(Unit).where(Unit.id == unit.id).values(parent_id=parent.id))
    await session.refresh(unit)
    return int(moved.rowcount)  # type: ignore[attr-defined]
