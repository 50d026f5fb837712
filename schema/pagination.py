"""Relay connections with keyset pagination: `first` (at most 100), `after`, pageInfo, totalCount.

Pages are keyset ranges on a unique ordering column (a unit's code, a user's username), so a
page costs the same however deep it is, and totalCount is a separate COUNT run only when asked.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry
from graphql import GraphQLError

from api.errors import ErrorCode

__all__ = [
    "MAX_PAGE",
    "Connection",
    "Edge",
    "PageInfo",
    "build_connection",
    "check_first",
    "decode_cursor",
    "encode_cursor",
    "FIRST_DESCRIPTION",
]

MAX_PAGE = 100
DEFAULT_PAGE = 20
FIRST_DESCRIPTION = f"How many items to return: 0 to {MAX_PAGE}, default {DEFAULT_PAGE}."
AFTER_DESCRIPTION = "Return the items after this cursor (an endCursor or an edge's cursor)."

T = TypeVar("T")


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(["k", value]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Any:
    """The ordering value a cursor stands for; a clean error for a cursor we did not make."""
    if cursor is None:
        return None
    try:
        tag, value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if tag == "k" and isinstance(value, (str, int)):
            return value
    except (ValueError, TypeError):
        pass
    raise GraphQLError("'after' is not a valid cursor", extensions={"code": ErrorCode.INVALID.value, "field": "after"})


def check_first(first: int) -> int:
    if first < 0 or first > MAX_PAGE:
        raise GraphQLError(
            f"'first' must be between 0 and {MAX_PAGE} (got {first})",
            extensions={"code": ErrorCode.OUT_OF_RANGE.value, "field": "first"},
        )
    return first


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
    key: Callable[[Any], Any],
    wrap: Callable[[Any], Any],
    count: Callable[[], Awaitable[int]],
) -> Connection[Any]:
    """A connection from up to first+1 rows fetched in key order (the extra row says "there is more")."""
    page = list(rows[:first])
    edges = [Edge(node=wrap(row), cursor=encode_cursor(key(row))) for row in page]
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
