"""What a data approval covers, said once in SQL: the units holding a resolution's figures for a period, the
approvals standing over a unit, and the items held back by a return.

The figures of a resolution R for a period P are those of R's family (R and the programmes implementing it,
down the chain): its tasks' assignments that existed before P ended (their progress reports dated in P or
before) and its KPIs' measurements of P or of a period within P (the months of a quarter). A unit takes part in
P's approval when its subtree holds such a figure; an upper level approves once each of its children that takes
part has approved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import aliased

from resolute.api.approvals.models import OPEN_RETURN_STATES, DataApproval, DataReturn
from resolute.api.kpis.models import Kpi, Measurement
from resolute.api.kpis.periods import period_bounds, periods_within
from resolute.api.org.models import Unit
from resolute.api.org.tree import under
from resolute.api.tasks.models import Assignment, Task

__all__ = ["Approved", "approval_of", "participates", "pending_children", "taking_part"]


@dataclass(frozen=True)
class Approved:
    """Figures restricted to what is approved: for the resolution `resolution_id` (whose family is `family`) and the
    period `period`, [start, end)."""

    resolution_id: int
    family: tuple[int, ...]
    period: str
    start: date
    end: date  # exclusive
    within: tuple[str, ...]  # the measurement periods P covers

    @classmethod
    def of(cls, resolution_id: int, family: tuple[int, ...], period: str) -> Approved:
        bounds = period_bounds(period)
        if bounds is None:
            raise ValueError(f"not a period: {period!r}")
        return cls(resolution_id, family, period, bounds[0], bounds[1], periods_within(period))

    def approval_at(self, unit_id: Any) -> ColumnElement[bool]:
        """The unit `unit_id` (a column) has approved these figures (a set the planner hashes once)."""
        return unit_id.in_(select(DataApproval.unit_id).where(  # type: ignore[no-any-return]
            DataApproval.resolution_id == self.resolution_id, DataApproval.period == self.period))

    @staticmethod
    def report_held(assignment_id: Any) -> ColumnElement[bool]:
        """A report of the assignment is under a return not yet cleared (for whichever approval it was made): its
        figure is in doubt, in every view of approved data."""
        held = select(DataReturn.assignment_id).where(DataReturn.assignment_id.is_not(None), DataReturn.state.in_(OPEN_RETURN_STATES))
        return assignment_id.in_(held)  # type: ignore[no-any-return]

    @staticmethod
    def measurement_held(measurement_id: Any) -> ColumnElement[bool]:
        """The measurement is under a return not yet cleared."""
        held = select(DataReturn.item_id).where(DataReturn.item_kind == "measurement", DataReturn.state.in_(OPEN_RETURN_STATES))
        return measurement_id.in_(held)  # type: ignore[no-any-return]


def participates(unit: Any, view: Approved) -> ColumnElement[bool]:
    """The unit (an alias of Unit) has a figure of the view in its subtree: probed per unit through its subtree's
    range, from the assignee and measured-unit indexes (never a set of the whole nation's figures)."""
    member = aliased(Unit, name="holder")
    assigned = (
        select(Assignment.id).join(member, member.id == Assignment.assignee_unit_id).join(Task, Task.id == Assignment.task_id)
        .where(under(member.path, unit.path), Task.resolution_id.in_(view.family), Assignment.assigned_on < view.end)
    )  # fmt: skip
    measured = (
        select(Measurement.id).join(member, member.id == Measurement.unit_id).join(Kpi, Kpi.id == Measurement.kpi_id)
        .where(under(member.path, unit.path), Kpi.resolution_id.in_(view.family), Measurement.period.in_(view.within))
    )  # fmt: skip
    return or_(exists(assigned), exists(measured))


def taking_part(child: Any, view: Approved) -> list[ColumnElement[bool]]:
    """A child (an alias of Unit) an upper level waits for: not archived, holding figures, not approved."""
    return [child.archived_at.is_(None), participates(child, view), ~view.approval_at(child.id)]


def pending_children(parent: Any, view: Approved) -> ColumnElement[int]:
    """How many children of `parent` (an alias of Unit) take part and have not approved: a correlated count."""
    child = aliased(Unit, name="pending_child")
    return select(func.count(child.id)).where(child.parent_id == parent.id, *taking_part(child, view)).correlate(parent).scalar_subquery()


def approval_of(view: Approved, unit_id: Any) -> Any:
    """The approval row of the unit (an outer join target)."""
    row = aliased(DataApproval, name="approval")
    return row, and_(row.unit_id == unit_id, row.resolution_id == view.resolution_id, row.period == view.period)
