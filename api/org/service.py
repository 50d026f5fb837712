"""Rules of the organisation tree: create, update, move a subtree, archive.

Every operation runs in a unit of work (api.transaction): it loads what it acts on through the
scope's registry for its verb (casbin per role, the tree for where), validates, and writes.
Structural changes take the tree lock, so a move never races a create or another move into a
cycle or a stale path.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.errors import ErrorCode, FieldError, ServiceError, fail
from resolute.api.org.models import Unit, UnitKind
from resolute.api.org.text import fold
from resolute.api.org.tree import child_path, in_subtree, lies_under, lock_tree, rewrite_subtree
from resolute.api.transaction import Tx, operation

__all__ = [
    "CODE_PATTERN",
    "archive_unit",
    "create_kind",
    "create_unit",
    "move_unit",
    "update_unit",
    "validate_code",
    "validate_name",
]

CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def now() -> datetime:
    return datetime.now(UTC)


def snapshot(unit: Unit) -> dict[str, object]:
    """What an audit event keeps of a unit."""
    return {
        "code": unit.code, "name": unit.name, "kind": unit.kind, "parent_id": unit.parent_id, "depth": unit.depth,
        "archived": unit.archived_at is not None, "version": unit.version,
    }


def validate_code(code: str, field: str = "code") -> list[FieldError]:
    if not code:
        return [FieldError(field, ErrorCode.REQUIRED, "a code is required")]
    if not CODE_PATTERN.match(code):
        return [FieldError(field, ErrorCode.INVALID, "a code has 1-64 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit")]
    return []


def validate_name(name: str, field: str = "name") -> list[FieldError]:
    if not name or not name.strip():
        return [FieldError(field, ErrorCode.REQUIRED, "a name is required")]
    if len(name) > 255:
        return [FieldError(field, ErrorCode.TOO_LONG, "a name has at most 255 characters")]
    return []


async def _kind_exists(session: AsyncSession, kind: str) -> bool:
    return (await session.scalar(select(func.count()).select_from(UnitKind).where(UnitKind.code == kind))) == 1


@operation("unitCreate")
async def create_unit(tx: Tx, *, code: str, name: str, kind: str, parent_id: int) -> Unit:
    errors = validate_code(code) + validate_name(name)
    if errors:
        raise ServiceError(errors)
    session = tx.session
    await lock_tree(session, exclusive=False)
    parent = await tx.load(Unit, parent_id, act="create", field="parentId", lock=True)
    if parent.archived_at is not None:
        raise fail("parentId", ErrorCode.ARCHIVED, "cannot create a unit under an archived unit")
    if not await _kind_exists(session, kind):
        raise fail("kind", ErrorCode.INVALID, f"unknown unit kind '{kind}'")
    if await session.scalar(select(Unit.id).where(Unit.code == code)) is not None:
        raise fail("code", ErrorCode.DUPLICATE, f"a unit with code '{code}' already exists")
    unit = Unit(
        code=code,
        name=name.strip(),
        search_name=fold(name),
        kind=kind,
        parent_id=parent.id,
        path=child_path(parent.path, f"~{uuid.uuid4().hex}"),  # unique placeholder until the id is known
        depth=parent.depth + 1,
        version=1,
    )
    session.add(unit)
    await session.flush()
    unit.path = child_path(parent.path, unit.id)
    await session.flush()
    tx.record(action="unitCreate", object_type="unit", object_key=unit.id, unit_id=unit.id, after=snapshot(unit))
    return unit


@operation("unitUpdate")
async def update_unit(tx: Tx, *, unit_id: int, version: int | None, name: str | None = None, kind: str | None = None) -> Unit:
    """Rename or re-kind a unit; `version` (if given) must be the one the caller read."""
    errors = validate_name(name) if name is not None else []
    if errors:
        raise ServiceError(errors)
    session = tx.session
    unit = await tx.load(Unit, unit_id, act="update", field="id", lock=True)
    if kind is not None and not await _kind_exists(session, kind):
        raise fail("kind", ErrorCode.INVALID, f"unknown unit kind '{kind}'")
    _check_version(unit, version)
    before = snapshot(unit)
    values: dict[str, object] = {"version": Unit.version + 1, "updated_at": now()}
    if name is not None:
        values.update(name=name.strip(), search_name=fold(name))
    if kind is not None:
        values["kind"] = kind
    await session.execute(update(Unit).where(Unit.id == unit.id).values(**values))
    await session.refresh(unit)
    tx.record(action="unitUpdate", object_type="unit", object_key=unit.id, unit_id=unit.id, before=before, after=snapshot(unit))
    return unit


def _check_version(unit: Unit, version: int | None) -> None:
    if version is not None and version != unit.version:
        raise fail("version", ErrorCode.CONFLICT, f"the unit changed since you read it (version {version}, now {unit.version}); reload and retry")


@operation("unitMove")
async def move_unit(tx: Tx, *, unit_id: int, new_parent_id: int, version: int | None = None) -> Unit:
    """Move a unit and its whole subtree under a new parent, in one statement and one transaction."""
    await lock_tree(tx.session, exclusive=True)
    unit = await tx.load(Unit, unit_id, act="move", field="id", lock=True)
    parent = await tx.load(Unit, new_parent_id, act="move", field="parentId", lock=True)
    _check_version(unit, version)
    if unit.parent_id is None:
        raise fail("id", ErrorCode.INVALID, "the root unit cannot be moved")
    if lies_under(parent.path, unit.path):
        raise fail("parentId", ErrorCode.CYCLE, "a unit cannot be moved under itself or one of its descendants")
    if parent.archived_at is not None:
        raise fail("parentId", ErrorCode.ARCHIVED, "cannot move a unit under an archived unit")
    if tx.scope.grant_covering("unit", "move", unit.path, parent.path) is None:
        raise fail("parentId", ErrorCode.FORBIDDEN, "one grant must cover both the unit and its new parent")
    if parent.id == unit.parent_id:
        return unit
    before = snapshot(unit)
    moved = await rewrite_subtree(tx.session, unit, parent, version=Unit.version + 1, updated_at=now())
    tx.record(action="unitMove", object_type="unit", object_key=unit.id, unit_id=unit.id, before=before, after=snapshot(unit) | {"units_moved": moved})
    return unit


@operation("unitArchive")
async def archive_unit(tx: Tx, *, unit_id: int, cascade: bool = False, version: int | None = None) -> Unit:
    """Archive a unit (soft: its history stays visible); with `cascade`, its whole subtree too."""
    session = tx.session
    await lock_tree(session, exclusive=True)  # a concurrent create must not slip under an archived unit
    unit = await tx.load(Unit, unit_id, act="archive", field="id", lock=True)
    _check_version(unit, version)
    if unit.parent_id is None:
        raise fail("id", ErrorCode.INVALID, "the root unit cannot be archived")
    if unit.archived_at is not None:
        return unit
    stamp = now()
    subtree = in_subtree(Unit.path, unit.path) & Unit.archived_at.is_(None)
    if not cascade:
        active_children = await session.scalar(
            select(func.count()).select_from(Unit).where(Unit.parent_id == unit.id, Unit.archived_at.is_(None))
        )
        if active_children:
            raise fail("id", ErrorCode.HAS_CHILDREN, f"the unit has {active_children} active sub-units: move them, archive them, or pass cascade: true")
        subtree = Unit.id == unit.id
    before = snapshot(unit)
    archived = await session.execute(
        update(Unit)
        .where(subtree)
        .values(archived_at=stamp, updated_at=stamp, version=Unit.version + 1)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(unit)
    after = snapshot(unit) | {"units_archived": archived.rowcount}  # type: ignore[attr-defined]
    tx.record(action="unitArchive", object_type="unit", object_key=unit.id, unit_id=unit.id, before=before, after=after)
    return unit


@operation("unitKindCreate")
async def create_kind(tx: Tx, *, code: str, label: str) -> UnitKind:
    """Add a unit kind (an organisation's own, beyond the defaults); needs unit rights at the root."""
    errors = validate_code(code) + validate_name(label, "label")
    if errors:
        raise ServiceError(errors)
    session = tx.session
    root_id = await session.scalar(select(Unit.id).where(Unit.parent_id.is_(None)))
    if root_id is None or await session.scalar(select(Unit.id).where(Unit.id == root_id, tx.scope.visible(Unit, "create"))) is None:
        raise fail(None, ErrorCode.FORBIDDEN, "only an administrator of the whole tree adds unit kinds")
    if await _kind_exists(session, code):
        raise fail("code", ErrorCode.DUPLICATE, f"unit kind '{code}' already exists")
    kind = UnitKind(code=code, label=label.strip())
    session.add(kind)
    await session.flush()
    tx.record(action="unitKindCreate", object_type="unit_kind", object_key=code, unit_id=root_id, after={"code": code, "label": kind.label})
    return kind
