"""The Relay `Node` interface and the resolver of `node(id)`, which each domain registers into."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry

from resolute.schema.ids import decode_any

__all__ = ["Node", "register_node", "resolve_node"]

_RESOLVERS: dict[str, Callable[[Any, int], Awaitable[Any]]] = {}


@strawberry.interface(description="An object with an opaque, globally unique id; fetch any of them with `node(id)`.")
class Node:
    id: strawberry.ID


def register_node(type_name: str, resolver: Callable[[Any, int], Awaitable[Any]]) -> None:
    """Declare how `node(id)` loads an object of `type_name` (through the scoped loaders)."""
    _RESOLVERS[type_name] = resolver


async def resolve_node(info: Any, global_id: str) -> Any:
    """The object behind a global id, or None: malformed, unknown and out-of-scope all look alike."""
    decoded = decode_any(global_id)
    if decoded is None or decoded[0] not in _RESOLVERS:
        return None
    type_name, pk = decoded
    return await _RESOLVERS[type_name](info, pk)
