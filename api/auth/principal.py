"""From a verified token to a Principal, read fresh from the database on every request.

Reading the user and its grants per request (two indexed statements) is what makes a
deactivation, a revocation or a password change take effect on the very next request.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.access.scope import GrantScope, Principal
from resolute.api.accounts.models import Grant, User
from resolute.api.auth.tokens import TokenClaims
from resolute.api.org.models import Unit

__all__ = ["load_principal"]


async def load_principal(session: AsyncSession, claims: TokenClaims) -> Principal | None:
    """The principal behind `claims`, or None if the account is gone, inactive or the token revoked."""
    row = (
        await session.execute(
            select(User, Unit.path).join(Unit, Unit.id == User.unit_id).where(User.id == claims.user_id)
        )
    ).first()
    if row is None:
        return None
    user, unit_path = row
    if not user.active:
        return None
    if user.tokens_valid_after is not None:
        valid_after = user.tokens_valid_after
        if valid_after.tzinfo is None:
            valid_after = valid_after.replace(tzinfo=UTC)
        valid_after = valid_after.replace(microsecond=valid_after.microsecond // 1000 * 1000)  # tokens carry milliseconds
        if datetime.fromtimestamp(claims.issued_at, tz=UTC) < valid_after:
            return None
    grants = (
        await session.execute(
            select(Grant.id, Grant.role, Grant.unit_id, Unit.path)
            .join(Unit, Unit.id == Grant.unit_id)
            .where(Grant.user_id == user.id)
            .order_by(Grant.id)
        )
    ).all()
    return Principal(
        user_id=user.id,
        username=user.username,
        unit_id=user.unit_id,
        unit_path=unit_path,
        grants=tuple(GrantScope(id=g.id, role=g.role, unit_id=g.unit_id, path=g.path) for g in grants),
    )
