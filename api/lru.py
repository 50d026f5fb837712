"""A bounded map that forgets the least recently used entry: the one shape of every per-process cache here
(compiled statements, built statements, verified tokens, operation costs)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

__all__ = ["LRU"]


class LRU(OrderedDict[Hashable, Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_fresh(self, key: Hashable) -> Any:
        """The value under `key` (None if absent), now the most recently used."""
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value

    def put(self, key: Hashable, value: Any) -> None:
        """Keep `value` under `key`, forgetting the least recently used entry beyond `size`."""
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
