"""Keyset pagination over a lexicographic order of several columns.

A page is "the rows strictly after this key", so it costs the same however deep it is. The
last column of every order is the primary key, which makes the order total and the cursor exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

__all__ = ["after_key"]


def after_key(columns: Sequence[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """(c1, c2, ...) > (v1, v2, ...) in lexicographic order, written so that every dialect and index can use it."""
    head, *rest = list(zip(columns, values, strict=True))
    column, value = head
    if not rest:
        return column > value
    return or_(column > value, and_(column == value, after_key([c for c, _ in rest], [v for _, v in rest])))
