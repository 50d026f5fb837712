"""Publishing a resolution's results for a period: the figures computed now, frozen as canonical JSON, hashed.

What is frozen, over the issuing unit's subtree and for the resolution's whole family (its programmes down the
chain): the progress rollup with each direct sub-unit's figures, the ranking of those sub-units by completion rate,
the KPI lights, and the reporting discipline of the period. The content's SHA-256 goes into the row and into the
audit chain, so a snapshot can be checked against both. A correction is a new version with a reason; an older
version is never edited (PostgreSQL refuses it outright, migration 0010).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from sqlalchemy import func, select

from resolute.api.errors import ErrorCode, FieldError, ServiceError, fail
from resolute.api.monitoring import discipline, lights, ranking, rollups
from resolute.api.org.models import Unit
from resolute.api.resolutions.models import Resolution
from resolute.api.results.models import PublishedResult
from resolute.api.transaction import Tx, operation

__all__ = ["canonical", "content_hash", "publish_results"]

MAX_REASON = 1000


def canonical(content: dict[str, Any]) -> str:
    """One text for one content: keys sorted, no spaces, UTF-8 as is (the hash is over these bytes)."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain_figures(f: Any) -> dict[str, Any]:
    """A rollup's figures as the API shows them (its progress sum is only there for the average)."""
    return {k: v for k, v in asdict(f).items() if k != "progress_sum"}


def _unit(u: Unit) -> dict[str, str]:
    return {"code": u.code, "name": u.name}


async def _figures(tx: Tx, resolution: Resolution, unit: Unit, period: str) -> dict[str, Any]:
    """The figures as the caller reads them now (its scope covers the issuing unit: it may define there)."""
    session, scope, today = tx.session, tx.scope, tx.today
    family = await rollups.resolution_family(session, scope, resolution.id)
    progress = await rollups.rollup(session, scope, unit, rollups.ProgressFilter(resolution_ids=family), today=today)
    if progress is None:
        raise LookupError(f"unit {unit.code} is out of the publisher's scope")  # the caller may define there: it reads the unit
    kpi_filter = lights.KpiFilter(resolution_ids=family)
    lit = await lights.light_rollup(session, scope, unit, kpi_filter)
    bounds = discipline.period_bounds(period)
    inputs = ranking.RankingInputs(progress=rollups.ProgressFilter(resolution_ids=family), kpis=kpi_filter, period=bounds, today=today)  # type: ignore[arg-type]
    ranked = await ranking.ranking(session, scope, metric="completion_rate", then_by="on_time_rate", parent=unit, kind=None, inputs=inputs)
    kept = await discipline.discipline(session, scope, unit, period, resolution_ids=family)
    return {
        "resolution": {"code": resolution.code, "title": resolution.title}, "unit": _unit(unit), "period": period, "asOf": today.isoformat(),
        "progress": {"figures": _plain_figures(progress.figures), "children": [{**_unit(u), "figures": _plain_figures(f)} for u, f in progress.children]},
        "ranking": {"metric": "completion_rate", "thenBy": "on_time_rate", "median": ranked.median, "lowerQuartile": ranked.lower_quartile,
                    "upperQuartile": ranked.upper_quartile, "entries": [{"rank": e.rank, **_unit(e.unit), "value": e.value} for e in ranked.entries]},
        "kpiLights": {"counts": asdict(lit.counts), "children": [{**_unit(u), "counts": asdict(c)} for u, c in lit.children]},
        "discipline": None if kept is None else {"figures": asdict(kept.figures), "children": [{**_unit(u), "figures": asdict(f)} for u, f in kept.children]},
    }  # fmt: skip


@operation("resultsPublish")
async def publish_results(tx: Tx, *, resolution_id: int, period: str, reason: str | None = None) -> PublishedResult:
    """Freeze the resolution's results for `period` as its next version; a second version needs a reason (a correction)."""
    errors: list[FieldError] = []
    bounds = discipline.period_bounds(period) if len(period) <= 7 else None
    if bounds is None:
        errors.append(FieldError("period", ErrorCode.INVALID, "a month (2025-09), a quarter (2025-Q3) or a year (2025)"))
    elif bounds[0] > tx.today:
        errors.append(FieldError("period", ErrorCode.IN_FUTURE, "a period that has not begun has no results yet"))
    reason = reason.strip() if reason else None
    if reason is not None and len(reason) > MAX_REASON:
        errors.append(FieldError("reason", ErrorCode.TOO_LONG, f"at most {MAX_REASON} characters"))
    if errors:
        raise ServiceError(errors)
    resolution = await tx.load(Resolution, resolution_id, act="define", field="resolutionId", lock=True)  # who defines it publishes it
    session = tx.session
    latest = await session.scalar(select(func.max(PublishedResult.version)).where(PublishedResult.resolution_id == resolution.id, PublishedResult.period == period))
    if latest is not None and not reason:
        raise fail("reason", ErrorCode.REQUIRED, f"version {latest} is published for {period}: say why a correction is needed")
    unit = await session.get_one(Unit, resolution.issuing_unit_id)
    text = canonical(await _figures(tx, resolution, unit, period))
    row = PublishedResult(
        resolution_id=resolution.id, unit_id=unit.id, period=period, version=(latest or 0) + 1, content=text, content_hash=content_hash(text),
        reason=reason, published_by_id=tx.scope.principal.user_id,
    )
    session.add(row)
    await session.flush()
    tx.record(action="resultsPublish", object_type="published_result", object_key=row.id, unit_id=unit.id,
              after={"resolution": resolution.code, "period": period, "version": row.version, "contentHash": row.content_hash, "reason": reason})  # fmt: skip
    return row
