"""From a verified token to a Principal, read fresh from the database on every request.

Reading the user and its grants per request (one indexed statement) is what makes a
deactivation, a revocation or a password change take effect on the very next request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from resolute.api.access.scope import GrantScope, Principal
from resolute.api.accounts.models import Grant, User
from resolute.api.auth.tokens import TokenClaims
from resolute.api.org.models import Unit

__all__ = ["Account", "load_account", "load_principal"]

# The caller's own unit and the units of its grants. Made once: an alias builds a copy of every
# column of the table when first used, which per request would cost more than the statement saved.
_HOME, _HELD = aliased(Unit, name="home_unit"), aliased(Unit, name="held_unit")


@dataclass(frozen=True)
class Account:
    """A caller as loaded: its principal, and the rows it was made of (the user, its grants in id
    order), which the request's loaders can start from instead of reading them again."""

    principal: Principal
    user: User
    grants: tuple[Grant, ...]


async def load_account(session: AsyncSession, claims: TokenClaims) -> Account | None:
    """The caller behind `claims`, or None if the account is gone, inactive or the token revoked.

    One statement: the user and its unit's path, joined to its grants and their units' paths, one
    row per grant (a single row with no grant for an account that holds none).
    """
    rows = (
        await session.execute(
            select(User, _HOME.path, Grant, _HELD.path)
            .join(_HOME, _HOME.id == User.unit_id)
            .outerjoin(Grant, Grant.user_id == User.id)
            .outerjoin(_HELD, _HELD.id == Grant.unit_id)
            .where(User.id == claims.user_id)
            .order_by(Grant.id)
        )
    ).all()
    if not rows:
        return None
    user, unit_path = rows[0][0], rows[0][1]
    if not user.active:
        return None
    if user.tokens_valid_after is not None:
        valid_after = user.tokens_valid_after
        if valid_after.tzinfo is None:
            valid_after = valid_after.replace(tzinfo=UTC)
        valid_after = valid_after.replace(microsecond=valid_after.microsecond // 1000 * 1000)  # tokens carry milliseconds
        if datetime.fromtimestamp(claims.issued_at, tz=UTC) < valid_after:
            return None
    held_grants = [(grant, path) for _, _, grant, path in rows if grant is not None]
    principal = Principal(
        user_id=user.id,
        username=user.username,
        unit_id=user.unit_id,
        unit_path=unit_path,
        grants=tuple(GrantScope(id=g.id, role=g.role, unit_id=g.unit_id, path=path) for g, path in held_grants),
    )
    return Account(principal=principal, user=user, grants=tuple(g for g, _ in held_grants))


async def load_principal(session: AsyncSession, claims: TokenClaims) -> Principal | None:
    """The principal behind `claims`, or None if the account is gone, inactive or the token revoked."""
    account = await load_account(session, claims)
    return account.principal if account is not None else None
