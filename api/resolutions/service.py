"""Rules of resolutions, objectives and key results: who defines them, where, and what is valid.

Defining and editing needs `define` on the issuing unit (ACCESS.md: managers and admins, in
their scope). An action programme implements a resolution the caller can read and whose issuer
is a strict ancestor of the programme's issuer. Updates name the version they read.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.errors import ErrorCode, FieldError, ServiceError, fail
from resolute.api.org.models import Unit, UnitKind
from resolute.api.org.text import fold
from resolute.api.org.tree import lies_under
from resolute.api.plans.locks import ensure_editable
from resolute.api.resolutions.models import MAX_KEY_RESULTS, RESOLUTION_KINDS, RESOLUTION_STATUSES, KeyResult, Objective, Resolution
from resolute.api.transaction import Tx, operation

__all__ = [
    "check_okr",
    "create_key_result",
    "create_objective",
    "create_resolution",
    "update_key_result",
    "update_objective",
    "update_resolution",
]

DOC_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9./_-]{0,79}$")  # e.g. 57-NQ/TW, CTr-57/P07-O1
URL = re.compile(r"^https?://\S{1,490}$")


def _now() -> datetime:
    return datetime.now(UTC)


def _text(value: str | None, field: str, *, limit: int, required: bool) -> list[FieldError]:
    if value is None or not value.strip():
        return [FieldError(field, ErrorCode.REQUIRED, f"{field} is required")] if required else []
    if len(value) > limit:
        return [FieldError(field, ErrorCode.TOO_LONG, f"{field} has at most {limit} characters")]
    return []


def _code(value: str, field: str = "code") -> list[FieldError]:
    if not value:
        return [FieldError(field, ErrorCode.REQUIRED, "a code is required")]
    if not DOC_CODE.match(value):
        return [FieldError(field, ErrorCode.INVALID, "a code has 1-80 ASCII letters, digits, '.', '/', '_' or '-', e.g. 57-NQ/TW")]
    return []


def _choice(value: str | None, field: str, allowed: tuple[str, ...]) -> list[FieldError]:
    if value is not None and value not in allowed:
        return [FieldError(field, ErrorCode.INVALID, f"{field} is one of {', '.join(allowed)}")]
    return []


def snapshot(row: Any, *fields: str) -> dict[str, Any]:
    return {name: getattr(row, name) for name in fields}


RESOLUTION_FIELDS = ("code", "title", "kind", "status", "issuing_unit_id", "issued_on", "implements_id", "implementer_kinds", "programme_due_on", "document_url", "version")


async def _check_kinds(session: AsyncSession, kinds: list[str] | None) -> list[FieldError]:
    if not kinds:
        return []
    known = set(await session.scalars(select(UnitKind.code).where(UnitKind.code.in_(kinds))))
    unknown = [k for k in kinds if k not in known]
    return [FieldError("implementerKinds", ErrorCode.INVALID, f"unknown unit kind(s): {', '.join(unknown)}")] if unknown else []


def _check_version(row: Any, version: int | None, what: str) -> None:
    if version is not None and version != row.version:
        raise fail("version", ErrorCode.CONFLICT, f"the {what} changed since you read it (version {version}, now {row.version}); reload and retry")


@operation("resolutionCreate")
async def create_resolution(
    tx: Tx,
    *,
    code: str,
    title: str,
    kind: str,
    issuing_unit_id: int,
    issued_on: date,
    status: str = "in_effect",
    summary: str | None = None,
    document_url: str | None = None,
    implements_id: int | None = None,
    implementer_kinds: list[str] | None = None,
    programme_due_on: date | None = None,
) -> Resolution:
    errors = _code(code) + _text(title, "title", limit=500, required=True) + _choice(kind, "kind", RESOLUTION_KINDS) + _choice(status, "status", RESOLUTION_STATUSES)
    errors += _text(summary, "summary", limit=20000, required=False)
    if document_url and not URL.match(document_url):
        errors.append(FieldError("documentUrl", ErrorCode.INVALID, "a document link is an http(s) URL"))
    if issued_on > tx.today and status != "draft":
        errors.append(FieldError("issuedOn", ErrorCode.IN_FUTURE, "only a draft may have an issue date in the future"))
    if kind == "action_programme" and implements_id is None:
        errors.append(FieldError("implementsId", ErrorCode.REQUIRED, "an action programme names the resolution it implements"))
    if programme_due_on is not None and not implementer_kinds:
        errors.append(FieldError("implementerKinds", ErrorCode.REQUIRED, "say which kinds of units must issue a programme by programmeDueOn"))
    session = tx.session
    errors += await _check_kinds(session, implementer_kinds)
    if errors:
        raise ServiceError(errors)
    issuer = await tx.load(Unit, issuing_unit_id, act="define", obj="resolution", field="issuingUnitId")
    if implements_id is not None:
        implemented = await tx.load(Resolution, implements_id, field="implementsId")
        if not lies_under(issuer.path, (await session.get_one(Unit, implemented.issuing_unit_id)).path, strictly=True):
            raise fail("implementsId", ErrorCode.INVALID, "a programme implements a resolution issued by a unit above its own issuer")
    if await session.scalar(select(Resolution.id).where(Resolution.code == code)) is not None:
        raise fail("code", ErrorCode.DUPLICATE, f"a resolution with code '{code}' already exists")
    resolution = Resolution(
        code=code, title=title.strip(), search_title=fold(f"{code} {title}"), kind=kind, status=status, issuing_unit_id=issuer.id, issued_on=issued_on,
        summary=summary, document_url=document_url, implements_id=implements_id,
        implementer_kinds=",".join(implementer_kinds) if implementer_kinds else None, programme_due_on=programme_due_on, version=1,
    )
    session.add(resolution)
    await session.flush()
    tx.record(action="resolutionCreate", object_type="resolution", object_key=resolution.id, unit_id=issuer.id, after=snapshot(resolution, *RESOLUTION_FIELDS))
    return resolution


@operation("resolutionUpdate")
async def update_resolution(tx: Tx, *, resolution_id: int, version: int | None, changes: dict[str, Any]) -> Resolution:
    """Edit title, status, summary, document link, issue date, coverage expectations."""
    errors = _text(changes.get("title"), "title", limit=500, required="title" in changes) + _choice(changes.get("status"), "status", RESOLUTION_STATUSES)
    for name, field in (("status", "status"), ("issued_on", "issuedOn")):
        if name in changes and changes[name] is None:
            errors.append(FieldError(field, ErrorCode.REQUIRED, f"{field} cannot be emptied"))
    if changes.get("document_url") and not URL.match(changes["document_url"]):
        errors.append(FieldError("documentUrl", ErrorCode.INVALID, "a document link is an http(s) URL"))
    session = tx.session
    errors += await _check_kinds(session, changes.get("implementer_kinds"))
    if errors:
        raise ServiceError(errors)
    resolution = await tx.load(Resolution, resolution_id, act="define", field="id", lock=True)
    _check_version(resolution, version, "resolution")
    # the rules of create hold for the values the resolution ends up with
    issued_on, status = changes.get("issued_on", resolution.issued_on), changes.get("status", resolution.status)
    if issued_on > tx.today and status != "draft":
        raise fail("issuedOn", ErrorCode.IN_FUTURE, "only a draft may have an issue date in the future")
    kinds = changes["implementer_kinds"] if "implementer_kinds" in changes else resolution.implementer_kinds
    if changes.get("programme_due_on", resolution.programme_due_on) is not None and not kinds:
        raise fail("implementerKinds", ErrorCode.REQUIRED, "say which kinds of units must issue a programme by programmeDueOn")
    before = snapshot(resolution, *RESOLUTION_FIELDS)
    values: dict[str, Any] = {"version": Resolution.version + 1, "updated_at": _now()}
    for name in ("title", "status", "summary", "document_url", "issued_on", "programme_due_on"):
        if name in changes:
            values[name] = changes[name].strip() if name == "title" else changes[name]
    if "implementer_kinds" in changes:
        values["implementer_kinds"] = ",".join(changes["implementer_kinds"] or []) or None
    if "title" in changes:
        values["search_title"] = fold(f"{resolution.code} {changes['title']}")
    await session.execute(update(Resolution).where(Resolution.id == resolution.id).values(**values))
    await session.refresh(resolution)
    tx.record(action="resolutionUpdate", object_type="resolution", object_key=resolution.id, unit_id=resolution.issuing_unit_id, before=before, after=snapshot(resolution, *RESOLUTION_FIELDS))
    return resolution


@operation("objectiveCreate")
async def create_objective(tx: Tx, *, resolution_id: int, code: str, title: str) -> Objective:
    errors = _code(code) + _text(title, "title", limit=500, required=True)
    if errors:
        raise ServiceError(errors)
    session = tx.session
    resolution = await tx.load(Resolution, resolution_id, act="define", obj="objective", field="resolutionId")
    await ensure_editable(tx, resolution.id, field="resolutionId")
    if await session.scalar(select(Objective.id).where(Objective.code == code)) is not None:
        raise fail("code", ErrorCode.DUPLICATE, f"an objective with code '{code}' already exists")
    objective = Objective(code=code, resolution_id=resolution.id, title=title.strip(), version=1)
    session.add(objective)
    await session.flush()
    tx.record(action="objectiveCreate", object_type="objective", object_key=objective.id, unit_id=resolution.issuing_unit_id, after=snapshot(objective, "code", "resolution_id", "title"))
    return objective


async def _objective_for_define(tx: Tx, objective_id: int, field: str, *, obj: str, lock: bool = False) -> tuple[Objective, Resolution]:
    """An objective the caller may define (on) where its resolution was issued, and that resolution."""
    objective = await tx.load(Objective, objective_id, act="define", obj=obj, field=field, lock=lock)
    await ensure_editable(tx, objective.resolution_id, field=field)
    return objective, await tx.session.get_one(Resolution, objective.resolution_id)


@operation("objectiveUpdate")
async def update_objective(tx: Tx, *, objective_id: int, version: int | None, title: str) -> Objective:
    errors = _text(title, "title", limit=500, required=True)
    if errors:
        raise ServiceError(errors)
    session = tx.session
    objective, resolution = await _objective_for_define(tx, objective_id, "id", obj="objective", lock=True)
    _check_version(objective, version, "objective")
    before = snapshot(objective, "title", "version")
    await session.execute(update(Objective).where(Objective.id == objective.id).values(title=title.strip(), version=Objective.version + 1, updated_at=_now()))
    await session.refresh(objective)
    tx.record(action="objectiveUpdate", object_type="objective", object_key=objective.id, unit_id=resolution.issuing_unit_id, before=before, after=snapshot(objective, "title", "version"))
    return objective


@operation("keyResultCreate")
async def create_key_result(tx: Tx, *, objective_id: int, title: str) -> KeyResult:
    """Add a key result; an objective has at most five (the objective's row is locked while counting)."""
    errors = _text(title, "title", limit=500, required=True)
    if errors:
        raise ServiceError(errors)
    session = tx.session
    objective, resolution = await _objective_for_define(tx, objective_id, "objectiveId", obj="key_result", lock=True)
    count = int(await session.scalar(select(func.count()).select_from(KeyResult).where(KeyResult.objective_id == objective.id)) or 0)
    if count >= MAX_KEY_RESULTS:
        raise fail("objectiveId", ErrorCode.LIMIT_REACHED, f"an objective has at most {MAX_KEY_RESULTS} key results; this one has {count}")
    key_result = KeyResult(objective_id=objective.id, position=count + 1, title=title.strip(), version=1)
    session.add(key_result)
    await session.flush()
    tx.record(action="keyResultCreate", object_type="key_result", object_key=key_result.id, unit_id=resolution.issuing_unit_id, after=snapshot(key_result, "objective_id", "position", "title"))
    return key_result


@operation("keyResultUpdate")
async def update_key_result(tx: Tx, *, key_result_id: int, version: int | None, title: str) -> KeyResult:
    errors = _text(title, "title", limit=500, required=True)
    if errors:
        raise ServiceError(errors)
    session = tx.session
    key_result = await tx.load(KeyResult, key_result_id, act="define", field="id", lock=True)
    resolution = await session.get_one(Resolution, (await session.get_one(Objective, key_result.objective_id)).resolution_id)
    await ensure_editable(tx, resolution.id, field="id")
    _check_version(key_result, version, "key result")
    before = snapshot(key_result, "title", "version")
    await session.execute(update(KeyResult).where(KeyResult.id == key_result.id).values(title=title.strip(), version=KeyResult.version + 1, updated_at=_now()))
    await session.refresh(key_result)
    tx.record(action="keyResultUpdate", object_type="key_result", object_key=key_result.id, unit_id=resolution.issuing_unit_id, before=before, after=snapshot(key_result, "title", "version"))
    return key_result


async def check_okr(session: AsyncSession, resolution_id: int, objective_id: int | None, key_result_id: int | None) -> None:
    """The objective and key result, if given, belong to this resolution (NOT_FOUND otherwise)."""
    if objective_id is not None:
        owner = await session.scalar(select(Objective.resolution_id).where(Objective.id == objective_id))
        if owner != resolution_id:
            raise fail("objectiveId", ErrorCode.NOT_FOUND, "no such objective in this resolution")
    if key_result_id is not None:
        owner = await session.scalar(select(Objective.resolution_id).join(KeyResult, KeyResult.objective_id == Objective.id).where(KeyResult.id == key_result_id))
        if owner != resolution_id:
            raise fail("keyResultId", ErrorCode.NOT_FOUND, "no such key result in this resolution")
