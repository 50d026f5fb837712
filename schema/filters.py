"""Shared pieces of list filters."""

from __future__ import annotations

import strawberry

from resolute.api.org.models import Unit
from resolute.schema.context import Info
from resolute.schema.ids import decode_id

__all__ = ["unit_or_own", "unit_path"]


async def unit_path(info: Info, global_id: strawberry.ID | None, field: str) -> tuple[str | None, bool]:
    """The path of a unit named in a filter, and whether the filter matches nothing.

    A unit the caller may name is in its scope or on its own ancestor chain (a resolution's issuer
    above it, say): filtering under it narrows what the scope already lets through. Any other unit
    matches nothing, exactly as a unit that does not exist: filtering "under" it never reveals what
    lies below.
    """
    if global_id is None:
        return None, False
    unit = await info.context.loaders.nameable_units_by_id.load(decode_id(global_id, "Unit", field))
    return (unit.path, False) if unit else (None, True)


async def unit_or_own(info: Info, unit: strawberry.ID | None) -> Unit | None:
    """The unit a dashboard is asked about (default: the caller's own), if the caller may read it."""
    ctx = info.context
    unit_id = decode_id(unit, "Unit", "unit") if unit is not None else ctx.scope.principal.unit_id
    return await ctx.loaders.units_by_id.load(unit_id)
