"""Opaque global ids ("Unit:42" in URL-safe base64), checked by type wherever they come in."""

from __future__ import annotations

import base64
import binascii

from graphql import GraphQLError

from resolute.api.errors import ErrorCode, fail

__all__ = ["MAX_ID", "decode_any", "decode_id", "encode_id", "input_id", "input_ids"]

MAX_ID = 2**31 - 1  # primary keys are 32-bit integers


def encode_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode_any(value: str) -> tuple[str, int] | None:
    """(type name, primary key), or None for anything that is not one of our ids."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        type_name, _, pk = raw.partition(":")
        if not type_name.isalpha() or not pk.isdecimal() or not 1 <= int(pk) <= MAX_ID:
            return None
        return type_name, int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def decode_id(value: str, type_name: str, field: str = "id") -> int:
    """The primary key in a query argument; a clean GraphQL error for a malformed or wrong-type id."""
    decoded = decode_any(value)
    if decoded is None or decoded[0] != type_name:
        raise GraphQLError(
            f"'{field}' is not a valid {type_name} id",
            extensions={"code": ErrorCode.INVALID_ID.value, "field": field},
        )
    return decoded[1]


def input_id(value: str, type_name: str, field: str) -> int:
    """The primary key in a mutation input; a typed payload error for a malformed or wrong-type id."""
    decoded = decode_any(value)
    if decoded is None or decoded[0] != type_name:
        raise fail(field, ErrorCode.INVALID_ID, f"not a valid {type_name} id")
    return decoded[1]


def input_ids(values: list[str], type_name: str, field: str, *, limit: int) -> list[int]:
    """The ids of a list input; past `limit` only one more is parsed, so that the service (which
    owns the cap) refuses the list without this layer decoding thousands of ids."""
    return [input_id(value, type_name, field) for value in values[: limit + 1]]
