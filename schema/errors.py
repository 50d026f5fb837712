"""The typed error every mutation payload carries: field, code, message (and detail)."""

from __future__ import annotations

import strawberry

from resolute.api.errors import ErrorCode as ServiceErrorCode
from resolute.api.errors import FieldError
from resolute.api.i18n import error_meaning
from resolute.schema.context import Info

__all__ = ["ErrorCode", "UserError", "user_errors"]

ErrorCode = strawberry.enum(ServiceErrorCode, name="ErrorCode", description="Why an input was refused.")


@strawberry.type(description="One reason a mutation was refused; a refused mutation changes nothing.")
class UserError:
    field: str | None = strawberry.field(description="The input field at fault (camelCase), or null for the whole input.")
    code: ErrorCode  # type: ignore[valid-type]
    detail: str = strawberry.field(description="What is wrong, specifically (English).")

    @strawberry.field(description="What is wrong: in English the same as `detail`; in Vietnamese (Accept-Language) the code's meaning.")
    def message(self, info: Info) -> str:
        return error_meaning(self.code, self.detail, getattr(info.context, "language", "en"))

    @classmethod
    def of(cls, error: FieldError) -> "UserError":
        return cls(field=error.field, code=error.code, detail=error.message)


def user_errors(errors: list[FieldError]) -> list[UserError]:
    return [UserError.of(e) for e in errors]
