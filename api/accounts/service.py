"""Rules of accounts and grants: who may create users, grant roles and set passwords, and where.

An admin acts only inside its own scope, and never grants a role it does not hold there
(ACCESS.md "Grant a role"). Login answers the same for an unknown user, a wrong password, a
deactivated account and an imported account without a password.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.access.scope import Scope
from resolute.api.accounts.models import Grant, User
from resolute.api.audit.chain import record
from resolute.api.auth.passwords import hash_password, password_problem, verify_password
from resolute.api.errors import ErrorCode, FieldError, ServiceError, fail
from resolute.api.org.models import Unit
from resolute.api.org.service import validate_name
from resolute.api.org.text import user_search_name
from resolute.api.settings import Settings

__all__ = [
    "USERNAME_PATTERN",
    "authenticate",
    "change_password",
    "create_user",
    "deactivate_user",
    "grant_role",
    "revoke_role",
    "set_password",
]

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


def _now() -> datetime:
    return datetime.now(UTC)


def snapshot(user: User) -> dict[str, object]:
    """What an audit event keeps of an account: never its password or hash."""
    return {"username": user.username, "full_name": user.full_name, "unit_id": user.unit_id, "active": user.active, "has_password": user.password_hash is not None}


MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=5)


async def authenticate(*, session: AsyncSession, settings: Settings, username: str, password: str) -> User | None:
    """The active user with this username and password, or None (one answer for every failure).

    After MAX_FAILED_LOGINS wrong passwords in a row an account refuses logins for LOCKOUT, even
    with the right password; the count lives in the database, so every server process shares it.
    The caller commits (the count is a write).
    """
    user = await session.scalar(select(User).where(User.username == username.strip().lower()).with_for_update())
    now = _now()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        verify_password(settings, None, password)  # same cost as any other refusal
        return None
    ok = verify_password(settings, user.password_hash if user else None, password)
    if user is None:
        return None
    if not ok:
        failed = user.failed_logins + 1
        locked = now + LOCKOUT if failed >= MAX_FAILED_LOGINS else None
        await session.execute(update(User).where(User.id == user.id).values(failed_logins=0 if locked else failed, locked_until=locked))
        if locked:
            record(session, action="loginLockout", object_type="user", object_key=user.id, unit_id=user.unit_id, after={"locked_until": locked})
        return None
    if user.failed_logins or user.locked_until:
        await session.execute(update(User).where(User.id == user.id).values(failed_logins=0, locked_until=None))
    return user if user.active else None


async def _load_user(session: AsyncSession, scope: Scope, user_id: int, *, act: str, field: str) -> tuple[User, str]:
    """A user the caller can see, with its unit's path; NOT_FOUND / FORBIDDEN as for units."""
    row = (
        await session.execute(
            select(User, Unit.path).join(Unit, Unit.id == User.unit_id).where(User.id == user_id, scope.visible(User))
        )
    ).first()
    if row is None:
        raise fail(field, ErrorCode.NOT_FOUND, "no such user")
    user, path = row
    if act == "read":
        return user, path
    # Acting on an account acts on everything it holds: one grant of the caller must cover the
    # account's unit and every unit the account holds a grant over (no one gains more than it holds).
    held = list(await session.scalars(select(Unit.path).join(Grant, Grant.unit_id == Unit.id).where(Grant.user_id == user.id)))
    if scope.grant_covering("user", act, path, *held) is None:
        raise fail(field, ErrorCode.FORBIDDEN, f"your roles do not allow '{act}' on this user (it may hold grants beyond your scope)")
    return user, path


async def create_user(
    *,
    session: AsyncSession,
    settings: Settings,
    scope: Scope,
    username: str,
    full_name: str,
    unit_id: int,
    password: str | None,
) -> User:
    username = username.strip().lower()
    errors: list[FieldError] = []
    if not USERNAME_PATTERN.match(username):
        errors.append(FieldError("username", ErrorCode.INVALID, "a username has 2-64 lower-case ASCII letters, digits, '.', '_' or '-'"))
    errors += validate_name(full_name, "fullName")
    problem = password_problem(password) if password is not None else None
    if problem:
        errors.append(FieldError("password", ErrorCode.INVALID, f"the password {problem}"))
    if errors:
        raise ServiceError(errors)
    unit = await _unit_for_accounts(session, scope, unit_id, act="create", field="unitId")
    if await session.scalar(select(User.id).where(User.username == username)) is not None:
        raise fail("username", ErrorCode.DUPLICATE, f"username '{username}' is taken")
    user = User(
        username=username,
        full_name=full_name.strip(),
        search_name=user_search_name(username, full_name.strip()),
        unit_id=unit.id,
        password_hash=hash_password(settings, password) if password else None,
        active=True,
        version=1,
    )
    session.add(user)
    await session.flush()
    record(session, action="userCreate", object_type="user", object_key=user.id, unit_id=user.unit_id, after=snapshot(user))
    return user


async def _unit_for_accounts(session: AsyncSession, scope: Scope, unit_id: int, *, act: str, field: str) -> Unit:
    unit = await session.scalar(select(Unit).where(Unit.id == unit_id, scope.visible(Unit)))
    if unit is None:
        raise fail(field, ErrorCode.NOT_FOUND, "no such unit")
    if scope.grant_covering("user", act, unit.path) is None:
        raise fail(field, ErrorCode.FORBIDDEN, f"your roles do not allow '{act}' on users of this unit")
    if unit.archived_at is not None:
        raise fail(field, ErrorCode.ARCHIVED, "the unit is archived")
    return unit


async def deactivate_user(*, session: AsyncSession, scope: Scope, user_id: int) -> User:
    """Deactivate an account: its tokens stop working on the next request."""
    user, _ = await _load_user(session, scope, user_id, act="deactivate", field="id")
    if user.id == scope.principal.user_id:
        raise fail("id", ErrorCode.INVALID, "you cannot deactivate your own account")
    stamp = _now()
    before = snapshot(user)
    await session.execute(
        update(User).where(User.id == user.id).values(active=False, tokens_valid_after=stamp, updated_at=stamp, version=User.version + 1)
    )
    await session.refresh(user)
    record(session, action="userDeactivate", object_type="user", object_key=user.id, unit_id=user.unit_id, before=before, after=snapshot(user))
    return user


async def set_password(*, session: AsyncSession, settings: Settings, scope: Scope, user_id: int, password: str) -> User:
    """An admin sets a user's password (how an imported account becomes usable)."""
    problem = password_problem(password)
    if problem:
        raise fail("password", ErrorCode.INVALID, f"the password {problem}")
    user, _ = await _load_user(session, scope, user_id, act="set_password", field="id")
    await _store_password(session, settings, user, password)
    record(session, action="userPasswordSet", object_type="user", object_key=user.id, unit_id=user.unit_id, after={"password": "set by an administrator"})
    return user


async def change_password(
    *, session: AsyncSession, settings: Settings, scope: Scope, current_password: str, new_password: str
) -> User:
    """The caller changes its own password; its older tokens stop working."""
    user = await session.get_one(User, scope.principal.user_id)
    if not verify_password(settings, user.password_hash, current_password):
        raise fail("currentPassword", ErrorCode.WRONG_PASSWORD, "the current password is wrong")
    problem = password_problem(new_password)
    if problem:
        raise fail("newPassword", ErrorCode.INVALID, f"the password {problem}")
    await _store_password(session, settings, user, new_password)
    record(session, action="passwordChange", object_type="user", object_key=user.id, unit_id=user.unit_id, after={"password": "changed by its owner"})
    return user


async def _store_password(session: AsyncSession, settings: Settings, user: User, password: str) -> None:
    stamp = _now()
    await session.execute(
        update(User)
        .where(User.id == user.id)
        .values(password_hash=hash_password(settings, password), tokens_valid_after=stamp, updated_at=stamp, version=User.version + 1)
    )
    await session.refresh(user)


async def grant_role(*, session: AsyncSession, scope: Scope, user_id: int, role: str, unit_id: int) -> Grant:
    """Grant `role` over `unit_id`'s subtree to a user, within one of the caller's admin grants."""
    if not scope.policy.is_role(role):
        raise fail("role", ErrorCode.INVALID, f"unknown role '{role}'; roles are {', '.join(scope.policy.roles)}")
    user, user_path = await _load_user(session, scope, user_id, act="read", field="userId")
    unit = await session.scalar(select(Unit).where(Unit.id == unit_id, scope.visible(Unit)))
    if unit is None:
        raise fail("unitId", ErrorCode.NOT_FOUND, "no such unit")
    if scope.grant_covering("grant", "create", user_path, unit.path) is None:
        raise fail("unitId", ErrorCode.FORBIDDEN, "one of your grants must allow granting and cover both the user and the unit")
    if not scope.holds_role_over(role, unit.path):
        raise fail("role", ErrorCode.FORBIDDEN, f"you do not hold '{role}' (or admin) over this unit, so you cannot grant it")
    if user.id == scope.principal.user_id:
        raise fail("userId", ErrorCode.FORBIDDEN, "you cannot grant roles to yourself")
    if unit.archived_at is not None:
        raise fail("unitId", ErrorCode.ARCHIVED, "the unit is archived")
    existing = await session.scalar(select(Grant).where(Grant.user_id == user.id, Grant.role == role, Grant.unit_id == unit.id))
    if existing is not None:
        return existing  # granting twice is the same grant
    grant = Grant(user_id=user.id, role=role, unit_id=unit.id, granted_by_id=scope.principal.user_id)
    session.add(grant)
    await session.flush()
    record(session, action="roleGrant", object_type="grant", object_key=grant.id, unit_id=user.unit_id, after={"user_id": user.id, "role": role, "unit_id": unit.id})
    return grant


async def revoke_role(*, session: AsyncSession, scope: Scope, grant_id: int) -> Grant:
    """Revoke a grant; the holder loses what it gave on its next request."""
    row = (
        await session.execute(
            select(Grant, Unit.path).join(Unit, Unit.id == Grant.unit_id).where(Grant.id == grant_id, scope.visible(Grant))
        )
    ).first()
    if row is None:
        raise fail("grantId", ErrorCode.NOT_FOUND, "no such grant")
    grant, grant_path = row
    user_path = await session.scalar(select(Unit.path).join(User, User.unit_id == Unit.id).where(User.id == grant.user_id))
    if scope.grant_covering("grant", "revoke", user_path or "", grant_path) is None:
        raise fail("grantId", ErrorCode.FORBIDDEN, "one of your grants must allow revoking and cover both the user and the grant's unit")
    if not scope.holds_role_over(grant.role, grant_path):
        raise fail("grantId", ErrorCode.FORBIDDEN, f"you do not hold '{grant.role}' (or admin) over this unit, so you cannot revoke it")
    await session.execute(delete(Grant).where(Grant.id == grant.id))
    holder_unit = await session.scalar(select(User.unit_id).where(User.id == grant.user_id))
    record(session, action="roleRevoke", object_type="grant", object_key=grant.id, unit_id=holder_unit, before={"user_id": grant.user_id, "role": grant.role, "unit_id": grant.unit_id})
    return grant

