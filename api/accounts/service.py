"""Rules of accounts and grants: who may create users, grant roles and set passwords, and where.

An admin acts only inside its own scope, and never grants a role it does not hold there
(ACCESS.md "Grant a role"). Login answers the same for an unknown user, a wrong password, a
deactivated account and an imported account without a password.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from resolute.api.accounts.models import Grant, User
from resolute.api.auth.passwords import hash_password, password_problem, verify_password
from resolute.api.errors import ErrorCode, FieldError, ServiceError, fail
from resolute.api.org.models import Unit
from resolute.api.org.service import validate_name
from resolute.api.org.text import user_search_name
from resolute.api.transaction import Tx, operation

__all__ = [
    "USERNAME_PATTERN",
    "authenticate",
    "bootstrap_admin",
    "change_password",
    "create_user",
    "deactivate_user",
    "grant_role",
    "reset_password",
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


@operation("login")
async def authenticate(tx: Tx, *, username: str, password: str) -> User | None:
    """The active user with this username and password, or None (one answer for every failure).

    After MAX_FAILED_LOGINS wrong passwords in a row an account refuses logins for LOCKOUT, even
    with the right password; the count lives in the database, so every server process shares it
    (a refused login still commits its count).
    """
    session, settings = tx.session, tx.settings
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
            tx.record(action="loginLockout", object_type="user", object_key=user.id, unit_id=user.unit_id, after={"locked_until": locked})
        return None
    if user.failed_logins or user.locked_until:
        await session.execute(update(User).where(User.id == user.id).values(failed_logins=0, locked_until=None))
    return user if user.active else None


@operation("userCreate")
async def create_user(
    tx: Tx,
    *,
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
    session = tx.session
    unit = await tx.load(Unit, unit_id, act="create", obj="user", field="unitId")
    if unit.archived_at is not None:
        raise fail("unitId", ErrorCode.ARCHIVED, "the unit is archived")
    if await session.scalar(select(User.id).where(User.username == username)) is not None:
        raise fail("username", ErrorCode.DUPLICATE, f"username '{username}' is taken")
    user = User(
        username=username,
        full_name=full_name.strip(),
        search_name=user_search_name(username, full_name.strip()),
        unit_id=unit.id,
        password_hash=hash_password(tx.settings, password) if password else None,
        active=True,
        version=1,
    )
    session.add(user)
    await session.flush()
    tx.record(action="userCreate", object_type="user", object_key=user.id, unit_id=user.unit_id, after=snapshot(user))
    return user


@operation("userDeactivate")
async def deactivate_user(tx: Tx, *, user_id: int) -> User:
    """Deactivate an account: its tokens stop working on the next request."""
    session = tx.session
    user = await tx.load(User, user_id, act="deactivate", field="id")
    if user.id == tx.user_id:
        raise fail("id", ErrorCode.INVALID, "you cannot deactivate your own account")
    stamp = _now()
    before = snapshot(user)
    await session.execute(
        update(User).where(User.id == user.id).values(active=False, tokens_valid_after=stamp, updated_at=stamp, version=User.version + 1)
    )
    await session.refresh(user)
    tx.record(action="userDeactivate", object_type="user", object_key=user.id, unit_id=user.unit_id, before=before, after=snapshot(user))
    return user


@operation("userPasswordSet")
async def set_password(tx: Tx, *, user_id: int, password: str) -> User:
    """An admin sets a user's password (how an imported account becomes usable)."""
    problem = password_problem(password)
    if problem:
        raise fail("password", ErrorCode.INVALID, f"the password {problem}")
    user = await tx.load(User, user_id, act="set_password", field="id")
    await _store_password(tx, user, password)
    tx.record(action="userPasswordSet", object_type="user", object_key=user.id, unit_id=user.unit_id, after={"password": "set by an administrator"})
    return user


@operation("passwordChange")
async def change_password(tx: Tx, *, current_password: str, new_password: str) -> User:
    """The caller changes its own password; its older tokens stop working."""
    user = await tx.session.get_one(User, tx.user_id)
    if not verify_password(tx.settings, user.password_hash, current_password):
        raise fail("currentPassword", ErrorCode.WRONG_PASSWORD, "the current password is wrong")
    problem = password_problem(new_password)
    if problem:
        raise fail("newPassword", ErrorCode.INVALID, f"the password {problem}")
    await _store_password(tx, user, new_password)
    tx.record(action="passwordChange", object_type="user", object_key=user.id, unit_id=user.unit_id, after={"password": "changed by its owner"})
    return user


async def _store_password(tx: Tx, user: User, password: str) -> None:
    stamp = _now()
    await tx.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(password_hash=hash_password(tx.settings, password), tokens_valid_after=stamp, updated_at=stamp, version=User.version + 1)
    )
    await tx.session.refresh(user)


@operation("roleGrant")
async def grant_role(tx: Tx, *, user_id: int, role: str, unit_id: int) -> Grant:
    """Grant `role` over `unit_id`'s subtree to a user, within one of the caller's admin grants."""
    scope, session = tx.scope, tx.session
    if not scope.policy.is_role(role):
        raise fail("role", ErrorCode.INVALID, f"unknown role '{role}'; roles are {', '.join(scope.policy.roles)}")
    user = await tx.load(User, user_id, act="create", obj="grant", field="userId")
    unit = await tx.load(Unit, unit_id, act="create", obj="grant", field="unitId")
    user_path = (await session.get_one(Unit, user.unit_id)).path
    if scope.grant_covering("grant", "create", user_path, unit.path) is None:
        raise fail("unitId", ErrorCode.FORBIDDEN, "one of your grants must allow granting and cover both the user and the unit")
    if not scope.holds_role_over(role, unit.path):
        raise fail("role", ErrorCode.FORBIDDEN, f"you do not hold '{role}' (or admin) over this unit, so you cannot grant it")
    if user.id == tx.user_id:
        raise fail("userId", ErrorCode.FORBIDDEN, "you cannot grant roles to yourself")
    if unit.archived_at is not None:
        raise fail("unitId", ErrorCode.ARCHIVED, "the unit is archived")
    existing = await session.scalar(select(Grant).where(Grant.user_id == user.id, Grant.role == role, Grant.unit_id == unit.id))
    if existing is not None:
        return existing  # granting twice is the same grant
    grant = Grant(user_id=user.id, role=role, unit_id=unit.id, granted_by_id=tx.user_id)
    session.add(grant)
    await session.flush()
    tx.record(action="roleGrant", object_type="grant", object_key=grant.id, unit_id=user.unit_id, after={"user_id": user.id, "role": role, "unit_id": unit.id})
    return grant


@operation("roleRevoke")
async def revoke_role(tx: Tx, *, grant_id: int) -> Grant:
    """Revoke a grant; the holder loses what it gave on its next request."""
    grant = await tx.load(Grant, grant_id, act="revoke", field="grantId")
    await tx.session.execute(delete(Grant).where(Grant.id == grant.id))
    holder_unit = await tx.session.scalar(select(User.unit_id).where(User.id == grant.user_id))
    tx.record(action="roleRevoke", object_type="grant", object_key=grant.id, unit_id=holder_unit, before={"user_id": grant.user_id, "role": grant.role, "unit_id": grant.unit_id})
    return grant


# -- operators at the console (no caller: the system unit of work) --------------------------------


@operation("adminBootstrap")
async def bootstrap_admin(tx: Tx, *, username: str, full_name: str | None, unit_code: str | None, password: str) -> tuple[User, Unit]:
    """Create (or re-enable, with a new password) an admin over a unit, the root by default: the way in on a new database."""
    if problem := password_problem(password):
        raise fail("password", ErrorCode.INVALID, f"the password {problem}")
    username = username.strip().lower()
    if not USERNAME_PATTERN.match(username):
        raise fail("username", ErrorCode.INVALID, "a username has 2-64 lower-case ASCII letters, digits, '.', '_' or '-'")
    session = tx.session
    query = select(Unit).where(Unit.code == unit_code) if unit_code else select(Unit).where(Unit.parent_id.is_(None))
    unit = await session.scalar(query)
    if unit is None:
        raise fail("unit", ErrorCode.NOT_FOUND, f"no unit {unit_code or '(root)'}: import units first (resolute import DIR)")
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        name = (full_name or username).strip()
        user = User(username=username, full_name=name, search_name=user_search_name(username, name), unit_id=unit.id, active=True, version=1)
        session.add(user)
        await session.flush()
    stamp = _now()
    await session.execute(update(User).where(User.id == user.id).values(
        password_hash=hash_password(tx.settings, password), active=True, tokens_valid_after=stamp, updated_at=stamp, version=User.version + 1))
    await session.refresh(user)
    if await session.scalar(select(Grant.id).where(Grant.user_id == user.id, Grant.role == "admin", Grant.unit_id == unit.id)) is None:
        session.add(Grant(user_id=user.id, role="admin", unit_id=unit.id, source="cli"))
    tx.record(action="adminBootstrap", object_type="user", object_key=user.id, unit_id=user.unit_id, after=snapshot(user) | {"admin_over": unit.id})
    return user, unit


@operation("userPasswordReset")
async def reset_password(tx: Tx, *, username: str, password: str) -> User:
    """An operator sets a user's password from the console (e.g. an imported account)."""
    if problem := password_problem(password):
        raise fail("password", ErrorCode.INVALID, f"the password {problem}")
    user = await tx.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise fail("username", ErrorCode.NOT_FOUND, f"no user '{username}'")
    await _store_password(tx, user, password)
    tx.record(action="userPasswordReset", object_type="user", object_key=user.id, unit_id=user.unit_id, after={"password": "set by an operator"})
    return user
