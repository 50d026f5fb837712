"""Shared pieces of list filters."""

from __future__ import annotations

import strawberry

from resolute.schema.context import Info
from resolute.schema.ids import decode_id

__all__ = ["unit_path"]


async def unit_path(info: Info, global_id: strawberry.ID | None, field: str) -> tuple[str | None, bool]:
    """The path of a unit named in a filter, and whether the filter matches nothing.

    A unit the caller cannot see matches nothing, exactly as a unit that does not exist:
    filtering "under" it never reveals what lies below.
    """
    if global_id is None:
        return None, False
    unit = await info.context.loaders.units_by_id.load(decode_id(global_id, "Unit", field))
    return (unit.path, False) if unit else (None, True)
