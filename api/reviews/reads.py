"""Reading reviews: through the objective or KPI they review (seen by whoever reads it), newest first, batched."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.access.scope import Scope
from resolute.api.keyset import counts_by_parent, pages_by_parent
from resolute.api.kpis.models import Kpi
from resolute.api.resolutions.models import Objective
from resolute.api.reviews.models import Review, ReviewAdjustment, ReviewConfidence
from resolute.api.tasks.models import Task

__all__ = ["adjustments_by_review_ids", "confidences_by_review_ids", "count_reviews", "readable", "review_pages", "reviews_by_ids"]


def _of(subject: str, ids: Sequence[int]) -> Any:
    column = Review.objective_id if subject == "objective" else Review.kpi_id
    return column, select(Review).where(column.in_(set(ids)))


async def review_pages(session: AsyncSession, scope: Scope, ids: Sequence[int], *, subject: str, first: int, after: int | None) -> dict[int, list[Review]]:
    """For each objective (or KPI), up to first+1 of its reviews, newest first (by id), after the cursor's id."""
    column, query = _of(subject, ids)
    if after is not None:
        query = query.where(Review.id < after)
    return await pages_by_parent(session, query, parent=column, order=[Review.id.desc()], first=first)


async def count_reviews(session: AsyncSession, scope: Scope, ids: Sequence[int], *, subject: str) -> dict[int, int]:
    column, query = _of(subject, ids)
    return await counts_by_parent(session, query, parent=column)


def readable(scope: Scope) -> Any:
    """A review is read by whoever reads what it reviews."""
    return or_(
        select(Kpi.id).where(Kpi.id == Review.kpi_id, scope.visible(Kpi)).exists(),
        select(Objective.id).where(Objective.id == Review.objective_id, scope.visible(Objective)).exists(),
    )


async def reviews_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, Review]:
    """Reviews by id, where the caller reads what they review (a warning names one)."""
    return {row.id: row for row in await session.scalars(select(Review).where(Review.id.in_(set(ids)), readable(scope)))}


async def confidences_by_review_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, list[ReviewConfidence]]:
    grouped: dict[int, list[ReviewConfidence]] = defaultdict(list)
    for row in await session.scalars(select(ReviewConfidence).where(ReviewConfidence.review_id.in_(set(ids))).order_by(ReviewConfidence.id)):
        grouped[row.review_id].append(row)
    return grouped


async def adjustments_by_review_ids(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> dict[int, list[ReviewAdjustment]]:
    grouped: dict[int, list[ReviewAdjustment]] = defaultdict(list)
    seen = or_(  # an adjustment of a KPI or a task the caller does not see is not shown (its values and reason included)
        and_(ReviewAdjustment.object_type == "kpi", select(Kpi.id).where(Kpi.id == ReviewAdjustment.object_id, scope.visible(Kpi)).exists()),
        and_(ReviewAdjustment.object_type == "task", select(Task.id).where(Task.id == ReviewAdjustment.object_id, scope.visible(Task)).exists()),
    )
    query = select(ReviewAdjustment).where(ReviewAdjustment.review_id.in_(set(ids)), seen).order_by(ReviewAdjustment.id)
    for row in await session.scalars(query):
        grouped[row.review_id].append(row)
    return grouped
