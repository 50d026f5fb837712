"""Relay connections with keyset pagination: `first` (at most 100), `after`, pageInfo, totalCount.

Pages are keyset ranges on a unique ordering column (a unit's code, a user's username), so a
page costs the same however deep it is, and totalCount is a separate COUNT run only when asked.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

import strawberry
from graphql import GraphQLError

from resolute.api.errors import ErrorCode

__all__ = [
    "BY_CODE",
    "BY_USERNAME",
    "FIRST_DESCRIPTION",
    "FULL_PAGE_DESCRIPTION",
    "MAX_PAGE",
    "MAX_WINDOW",
    "NEWEST_FIRST",
    "OFFSET_DESCRIPTION",
    "WINDOW_FIRST_DESCRIPTION",
    "Connection",
    "Edge",
    "KeyOrdering",
    "Ordering",
    "PageInfo",
    "build_connection",
    "check_first",
    "check_window",
    "window",
]

MAX_PAGE = 100
DEFAULT_PAGE = 20
FIRST_DESCRIPTION = f"How many items to return: 0 to {MAX_PAGE}, default {DEFAULT_PAGE}."
FULL_PAGE_DESCRIPTION = f"How many items to return: 0 to {MAX_PAGE}, default {MAX_PAGE} (most lists of this kind fit one page)."
AFTER_DESCRIPTION = "Return the items after this cursor (an endCursor or an edge's cursor)."
# The dashboards' computed lists (a rollup's per-child rows, a ranking's entries) are one SQL statement over every
# row; they are sliced, not paged: `first` (default and most MAX_WINDOW) and `offset`, with a count beside them.
MAX_WINDOW = 1000
WINDOW_FIRST_DESCRIPTION = f"How many items to return: 0 to {MAX_WINDOW}, default {MAX_WINDOW}."
OFFSET_DESCRIPTION = "How many items to skip first (with `first`, to read a long list in slices)."

T = TypeVar("T")


@dataclass(frozen=True)
class Ordering:
    """What a connection's cursors stand for: a name (so cursors of one list fit no other) and a type."""

    name: str
    type: type

    def encode(self, value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps([self.name, value], ensure_ascii=False).encode()).decode().rstrip("=")

    def decode(self, cursor: str | None) -> Any:
        """The ordering value a cursor stands for; a clean error for a cursor we did not make for this list."""
        if cursor is None:
            return None
        try:
            name, value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            if name == self.name and type(value) is self.type and _fits(value):
                return value
        except (ValueError, TypeError):
            pass
        raise _bad_cursor()


MAX_KEY = 2**31 - 1  # keys are 32-bit integers (ids, progress) or codes


def _fits(value: Any) -> bool:
    """Whether a decoded key can be compared with its column at all: a 32-bit integer, or a short
    text without NUL (PostgreSQL text cannot hold it). Anything else is a cursor we never wrote."""
    if isinstance(value, int):
        return 0 <= value <= MAX_KEY
    if isinstance(value, str):
        return len(value) <= 200 and "\x00" not in value
    return True


def _bad_cursor() -> GraphQLError:
    return GraphQLError("'after' is not a cursor of this list", extensions={"code": ErrorCode.INVALID.value, "field": "after"})


@dataclass(frozen=True)
class KeyOrdering:
    """Cursors of an order on several keys (the last one the primary key): a name and each key's kind."""

    name: str
    kinds: tuple[type, ...]

    def encode(self, key: Sequence[Any]) -> str:
        values = [value.isoformat() if isinstance(value, date) else value for value in key]
        return Ordering(self.name, list).encode(values)

    def decode(self, cursor: str | None) -> tuple[Any, ...] | None:
        """The sort key a cursor stands for; a clean error for a cursor we did not make for this order."""
        values = Ordering(self.name, list).decode(cursor)
        if values is None:
            return None
        if len(values) != len(self.kinds):
            raise _bad_cursor()
        key: list[Any] = []
        for kind, value in zip(self.kinds, values, strict=True):
            try:
                if kind is date and isinstance(value, str):
                    key.append(date.fromisoformat(value))
                    continue
            except ValueError:
                raise _bad_cursor() from None
            if type(value) is not kind or not _fits(value):
                raise _bad_cursor()
            key.append(value)
        return tuple(key)


BY_CODE = Ordering("code", str)
BY_USERNAME = Ordering("username", str)
NEWEST_FIRST = Ordering("id-desc", int)


def check_first(first: int) -> int:
    if first < 0 or first > MAX_PAGE:
        raise GraphQLError(
            f"'first' must be between 0 and {MAX_PAGE} (got {first})",
            extensions={"code": ErrorCode.OUT_OF_RANGE.value, "field": "first"},
        )
    return first


def check_window(first: int, offset: int) -> None:
    """OUT_OF_RANGE for a `first` outside 0..MAX_WINDOW or a negative `offset`."""
    for name, value, top in (("first", first, MAX_WINDOW), ("offset", offset, None)):
        if value < 0 or (top is not None and value > top):
            bounds = f"between 0 and {top}" if top is not None else "0 or more"
            raise GraphQLError(f"'{name}' must be {bounds} (got {value})", extensions={"code": ErrorCode.OUT_OF_RANGE.value, "field": name})


def window(items: Sequence[T], *, first: int, offset: int) -> list[T]:
    """The slice [offset, offset + first) of a computed list, its bounds checked."""
    check_window(first, offset)
    return list(items[offset : offset + first])


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    node: T
    cursor: str


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="All items that match, across pages (only those the caller may see).")
    async def total_count(self) -> int:
        return await self._count()

    @strawberry.field(description="The nodes of `edges`, for clients that need no cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def build_connection(
    rows: Sequence[Any],
    *,
    first: int,
    after: str | None,
    ordering: Ordering,
    key: Callable[[Any], Any],
    wrap: Callable[[Any], Any],
    count: Callable[[], Awaitable[int]],
) -> Connection[Any]:
    """A connection from up to first+1 rows fetched in key order (the extra row says "there is more")."""
    page = list(rows[:first])
    edges = [Edge(node=wrap(row), cursor=ordering.encode(key(row))) for row in page]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > first,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        _count=count,
    )
