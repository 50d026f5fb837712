"""The SDL of the API, as committed in schema/schema.graphql and checked by a test."""

from __future__ import annotations

from resolute.schema.root import schema

__all__ = ["export_sdl"]


def export_sdl() -> str:
    return schema.as_str().rstrip() + "\n"
