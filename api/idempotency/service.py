"""Claiming and completing idempotency keys inside the mutation's own transaction.

The claim is an INSERT .. ON CONFLICT DO NOTHING: a concurrent twin waits for the first
transaction and then finds the key taken, so the effect happens once. The key's row commits
or rolls back together with the mutation's writes, so a key is never "used" by a mutation
that did not happen. Keys belong to the user that sent them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import inspect, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.access.scope import ROW_FILTERS, Scope
from resolute.api.errors import ErrorCode, fail
from resolute.api.idempotency.models import IdempotencyKey
from resolute.api.org.models import UnitKind

__all__ = ["KEY_PATTERN", "Claim", "claim", "complete", "fingerprint", "reference", "replayed"]

KEY_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


@dataclass(frozen=True)
class Claim:
    replay: bool  # True: this key already took effect; answer with `result_ref` instead of acting
    result_ref: str | None = None


def fingerprint(secret: str, operation: str, arguments: Any) -> str:
    """A keyed digest of the input: inputs may hold passwords, which a plain hash would expose."""
    payload = json.dumps([operation, arguments], sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


async def claim(session: AsyncSession, *, user_id: int, key: str, operation: str, digest: str) -> Claim:
    if not KEY_PATTERN.match(key):
        raise fail("idempotencyKey", ErrorCode.INVALID, "an idempotency key has 8-128 letters, digits, '.', '_', ':' or '-' (a UUID is ideal)")
    dialect_insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    inserted = await session.execute(
        dialect_insert(IdempotencyKey)
        .values(user_id=user_id, key=key, operation=operation, fingerprint=digest, created_at=datetime.now(timezone.utc))
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.key)
    )
    if inserted.first() is not None:
        return Claim(replay=False)
    stored = await session.get_one(IdempotencyKey, (user_id, key))
    if stored.operation != operation or stored.fingerprint != digest:
        raise fail("idempotencyKey", ErrorCode.IDEMPOTENCY_KEY_REUSED, f"this key was already used for a different {stored.operation} input; use a new key for a new request")
    return Claim(replay=True, result_ref=stored.result_ref)


async def complete(session: AsyncSession, *, user_id: int, key: str, result_ref: str | None) -> None:
    await session.execute(update(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key).values(result_ref=result_ref))



# Objects an operation may answer with, so that a replayed key can answer again.
_REPLAYABLE: dict[str, type] = {model.__name__: model for model in (*ROW_FILTERS, UnitKind)}


def reference(result: object) -> str | None:
    """'Unit:42', or 'Assignment:7,8,9:list' for an operation that answers with a list (a fan-out)."""
    rows = result if isinstance(result, list) else [result] if result is not None else []
    if not rows:
        return None
    states = [inspect(row) for row in rows]
    keys = ",".join(str(state.identity[0]) for state in states)
    return f"{states[0].mapper.class_.__name__}:{keys}" + (":list" if isinstance(result, list) else "")


def _seen_through() -> dict[type, Callable[[Scope], Any]]:
    """The objects read through another (a review through what it reviews, a snapshot through its unit, a decomposition
    through its KPI, a plan revision through its programme, a data return through its unit), with the condition that
    says the caller sees them now."""
    from resolute.api.approvals.models import DataReturn
    from resolute.api.kpis.models import Kpi, TargetDecomposition
    from resolute.api.org.models import Unit
    from resolute.api.plans.models import PlanRevision
    from resolute.api.resolutions.models import Resolution
    from resolute.api.results import reads as results
    from resolute.api.results.models import PublishedResult
    from resolute.api.reviews import reads as reviews
    from resolute.api.reviews.models import Review

    return {
        Review: reviews.readable, PublishedResult: results.readable,
        TargetDecomposition: lambda scope: select(Kpi.id).where(Kpi.id == TargetDecomposition.kpi_id, scope.visible(Kpi)).exists(),
        PlanRevision: lambda scope: select(Resolution.id).where(Resolution.id == PlanRevision.resolution_id, scope.visible(Resolution)).exists(),
        DataReturn: lambda scope: select(Unit.id).where(Unit.id == DataReturn.unit_id, scope.visible(Unit)).exists(),
    }  # fmt: skip


async def replayed(session: AsyncSession, scope: Scope, ref: str | None) -> Any:
    """The object a first answer named, as the caller may see it now (None if gone, unseen, or of a kind not replayed)."""
    if not ref:
        return None
    type_name, _, rest = ref.partition(":")
    keys, _, shape = rest.partition(":")
    through = {model.__name__: (model, condition) for model, condition in _seen_through().items()}
    model = _REPLAYABLE.get(type_name) or (through[type_name][0] if type_name in through else None)
    if model is None:
        return None
    pk = inspect(model).primary_key[0]
    values = [int(k) if k.isdigit() and type_name != "UnitKind" else k for k in keys.split(",")]
    query = select(model).where(pk.in_(values))
    if model in ROW_FILTERS:
        query = query.where(scope.visible(model))
    elif type_name in through:
        query = query.where(through[type_name][1](scope))
    found = {getattr(row, pk.key): row for row in await session.scalars(query)}
    if shape == "list":
        return [found[v] for v in values if v in found]
    return found.get(values[0])
