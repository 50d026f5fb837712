"""Typed errors that services raise and the GraphQL layer returns as (field, code, message)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["ErrorCode", "FieldError", "ServiceError", "fail"]


class ErrorCode(str, Enum):
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    DUPLICATE = "DUPLICATE"
    CYCLE = "CYCLE"
    CONFLICT = "CONFLICT"
    ARCHIVED = "ARCHIVED"
    HAS_CHILDREN = "HAS_CHILDREN"
    WRONG_PASSWORD = "WRONG_PASSWORD"
    INVALID_ID = "INVALID_ID"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    LIMIT_REACHED = "LIMIT_REACHED"
    IN_FUTURE = "IN_FUTURE"


@dataclass(frozen=True)
class FieldError:
    field: str | None
    code: ErrorCode
    message: str


class ServiceError(Exception):
    """Raised by a service; the transaction is rolled back and nothing is written."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


def fail(field: str | None, code: ErrorCode, message: str) -> ServiceError:
    """Shorthand for a ServiceError with one error: `raise fail("name", ErrorCode.REQUIRED, "...")`."""
    return ServiceError([FieldError(field, code, message)])
