"""Queries of accounts: me, users(filter)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from resolute.api.accounts import reads
from resolute.api.accounts.reads import UserFilter
from resolute.schema.accounts.types import MeType, UserType
from resolute.schema.context import Info
from resolute.schema.filters import unit_path
from resolute.schema.pagination import AFTER_DESCRIPTION, BY_USERNAME, FIRST_DESCRIPTION, Connection, build_connection, check_first

__all__ = ["AccountsQuery"]


@strawberry.input(description="Narrow a list of users.")
class UserFilterInput:
    under: strawberry.ID | None = strawberry.field(default=None, description="Only users of this unit and the units below it.")
    search: str | None = strawberry.field(default=None, description="Part of the username or full name. At most 100 characters.")
    include_inactive: bool = False
    updated_since: datetime | None = strawberry.field(default=None, description="Only accounts changed at or after this instant (incremental sync).")


@strawberry.type
class AccountsQuery:
    @strawberry.field(description="The caller: account, unit, ancestors, grants and permissions.")
    def me(self, info: Info) -> MeType:
        principal = info.context.scope.principal
        return MeType(user_id=principal.user_id, unit_path=principal.unit_path)

    @strawberry.field(description="The users you may see, in username order.")
    async def users(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_DESCRIPTION)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
        filter: UserFilterInput | None = None,
    ) -> Connection[UserType]:
        check_first(first)
        cursor = BY_USERNAME.decode(after)
        given = filter or UserFilterInput()
        under_path, nothing = await unit_path(info, given.under, "filter.under")
        search = given.search[:100] if given.search else None
        flt = UserFilter(under_path=under_path, search=search, include_inactive=given.include_inactive, updated_since=given.updated_since, matches_nothing=nothing)
        ctx = info.context
        async with ctx.db.use() as session:
            rows = await reads.list_users(session, ctx.scope, flt, first=first, after=cursor)

        async def count() -> int:
            async with ctx.db.use() as session:
                return await reads.count_users(session, ctx.scope, flt)

        return build_connection(rows, first=first, after=after, ordering=BY_USERNAME, key=lambda row: row.username, wrap=UserType.of, count=count)
