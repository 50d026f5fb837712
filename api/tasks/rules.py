"""The working cycle's derived facts, written once as SQL: overdue, timeliness, progress pace.

Nothing here is stored. Single-row reads load these expressions onto their rows and filters,
counts and aggregates use the very same ones, so a list and its totals can never disagree.
`model` is the mapped class, an alias of it, or any columns of the same names.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, case, null

from resolute.api.sqlcalendar import days_between
from resolute.api.tasks.models import Assignment, Milestone

__all__ = ["BEHIND_PACE_MARGIN", "behind_pace", "expected_progress", "is_open", "milestone_overdue", "overdue", "timeliness"]

BEHIND_PACE_MARGIN = 10  # percentage points of tolerance before an assignment counts as behind pace
CLOSED = ("completed", "cancelled")


def is_open(model: Any) -> ColumnElement[bool]:
    """Still to be worked on: a completed or cancelled task or assignment has no deadline left."""
    return model.status.not_in(CLOSED)  # type: ignore[no-any-return]


def overdue(model: Any, today: date) -> ColumnElement[bool]:
    """A task or assignment still open after its (possibly extended) due date."""
    return and_(is_open(model), model.due_on < today)


def milestone_overdue(today: date, model: Any = Milestone) -> ColumnElement[bool]:
    """A milestone is done by a date, not by a status: not done and due before today."""
    return and_(model.done_on.is_(None), model.due_on < today)


def timeliness(model: Any = Assignment) -> ColumnElement[str | None]:
    """How a completed assignment met its deadline; the original due date tells an extension from lateness."""
    completed = and_(model.status == "completed", model.completed_on.is_not(None))
    return case(
        (~completed, null()),
        (model.completed_on <= model.original_due_on, "on_time"),
        (model.completed_on <= model.due_on, "within_extension"),
        else_="late",
    )


def expected_progress(today: date, model: Any = Assignment) -> ColumnElement[int]:
    """The percentage a straight line from the assignment date to the due date reaches today (floored).

    0 up to the assignment date, 100 from the due date on (also when the due date is not after it).
    """
    span = days_between(model.assigned_on, model.due_on)
    return case(
        (model.due_on <= today, 100),
        (model.assigned_on >= today, 0),
        else_=100 * days_between(model.assigned_on, today) // span,
    )


def behind_pace(today: date, margin: int = BEHIND_PACE_MARGIN, model: Any = Assignment) -> ColumnElement[bool]:
    """Open and reporting more than `margin` points less progress than the straight line expects today."""
    return and_(is_open(model), model.progress < expected_progress(today, model) - margin)
