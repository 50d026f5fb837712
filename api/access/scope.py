"""The one module that turns a caller's grants into SQL filters.

A grant (role, unit) covers the unit's subtree: the units whose materialised path starts with
the grant unit's path. For an (object, action), the caller's scope is the union of the
subtrees of the grants whose role casbin allows it; every list, node lookup, loader batch and
count of every model applies `Scope.visible(Model)` from the registry below, and nothing else
decides which rows a caller may see. Out of scope is indistinguishable from non-existent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_, select

from resolute.api.access.policy import Policy
from resolute.api.accounts.models import Grant, User
from resolute.api.audit.models import AuditEvent
from resolute.api.kpis.models import Kpi, KpiUnitTarget, Measurement
from resolute.api.org.models import Unit, lies_under, subtree_upper
from resolute.api.resolutions.models import KeyResult, Objective, Resolution
from resolute.api.tasks.models import Assignment, Evaluation, Extension, Milestone, ProgressReport, Task, TaskCoordinator

__all__ = ["GrantScope", "Principal", "Scope", "OBJECT_TYPES", "path_ids"]


@dataclass(frozen=True)
class GrantScope:
    id: int
    role: str
    unit_id: int
    path: str

    def covers(self, path: str) -> bool:
        return lies_under(path, self.path)


@dataclass(frozen=True)
class Principal:
    """Who is calling: loaded fresh from the database on every request."""

    user_id: int
    username: str
    unit_id: int
    unit_path: str
    grants: tuple[GrantScope, ...]


def path_ids(path: str) -> list[int]:
    """The unit ids along a materialised path, root first ("/1/7/42/" -> [1, 7, 42])."""
    return [int(part) for part in path.strip("/").split("/") if part]


def _minimal(paths: Iterable[str]) -> tuple[str, ...]:
    """Drop the paths that lie under another one: their ranges add nothing."""
    kept: list[str] = []
    for path in sorted(set(paths)):
        if not kept or not path.startswith(kept[-1]):
            kept.append(path)
    return tuple(kept)


class Scope:
    """A caller's reach, computed once per request from its principal and the policy."""

    def __init__(self, principal: Principal, policy: Policy) -> None:
        self.principal = principal
        self.policy = policy
        self._paths: dict[tuple[str, str], tuple[str, ...]] = {}

    # -- what casbin allows, grant by grant ------------------------------------------------
    def grants_for(self, obj: str, act: str) -> tuple[GrantScope, ...]:
        return tuple(g for g in self.principal.grants if self.policy.allows(g.role, obj, act))

    def allows(self, obj: str, act: str) -> bool:
        """Whether some grant allows the action somewhere (not where: that is SQL's job)."""
        return bool(self.grants_for(obj, act))

    def paths(self, obj: str, act: str) -> tuple[str, ...]:
        key = (obj, act)
        if key not in self._paths:
            self._paths[key] = _minimal(g.path for g in self.grants_for(obj, act))
        return self._paths[key]

    # -- SQL ---------------------------------------------------------------------------------
    def within(self, path_column: Any, obj: str, act: str) -> ColumnElement[bool]:
        """`path_column` lies in a subtree where `act` on `obj` is allowed."""
        ranges = [and_(path_column >= p, path_column < subtree_upper(p)) for p in self.paths(obj, act)]
        if not ranges:
            return false()
        return ranges[0] if len(ranges) == 1 else or_(*ranges)

    def unit_ids(self, obj: str, act: str) -> Select[tuple[int]]:
        """The ids of the units where `act` on `obj` is allowed, as a subquery."""
        return select(Unit.id).where(self.within(Unit.path, obj, act))

    def visible(self, model: type, act: str = "read") -> ColumnElement[bool]:
        """The row filter of `model` for `act`: the one registry every query goes through."""
        try:
            obj, build = ROW_FILTERS[model]
        except KeyError:  # pragma: no cover - a new model must be registered
            raise LookupError(f"no row filter registered for {model.__name__}") from None
        return build(self, obj, act)

    # -- checks on already loaded paths (for writes that name several units) ---------------
    def grant_covering(self, obj: str, act: str, *paths: str) -> GrantScope | None:
        """A single grant that allows the action and covers every path given (grants never add up)."""
        for grant in self.grants_for(obj, act):
            if all(grant.covers(p) for p in paths):
                return grant
        return None

    def holds_role_over(self, role: str, path: str) -> bool:
        """Whether the caller holds `role`, or admin, over the unit at `path`."""
        return any(g.covers(path) and g.role in (role, "admin") for g in self.principal.grants)

    # -- upward: the caller's own ancestor chain (code, name, kind only) ---------------------
    def own_chain_ids(self) -> tuple[int, ...]:
        return tuple(path_ids(self.principal.unit_path))

    def chain_or_visible(self) -> ColumnElement[bool]:
        """Units the caller may name: its scope, plus its own unit's ancestor chain."""
        return or_(self.visible(Unit), Unit.id.in_(self.own_chain_ids()))


def _units(scope: Scope, obj: str, act: str) -> ColumnElement[bool]:
    return scope.within(Unit.path, obj, act)


def _users(scope: Scope, obj: str, act: str) -> ColumnElement[bool]:
    in_scope = User.unit_id.in_(scope.unit_ids(obj, act))
    # Everyone reads its own account, even where no grant covers its unit.
    return or_(in_scope, User.id == scope.principal.user_id) if act == "read" else in_scope


def _grants(scope: Scope, obj: str, act: str) -> ColumnElement[bool]:
    in_scope = Grant.user_id.in_(select(User.id).where(User.unit_id.in_(scope.unit_ids(obj, act))))
    return or_(in_scope, Grant.user_id == scope.principal.user_id) if act == "read" else in_scope


def _handed_down_tasks(units: Select[tuple[int]]) -> Select[tuple[int]]:
    """Tasks assigned to a unit among `units`."""
    return select(Assignment.task_id).where(Assignment.assignee_unit_id.in_(units))


def _handed_down_resolutions(units: Select[tuple[int]]) -> Select[tuple[int]]:
    """Resolutions of the tasks assigned to a unit among `units`."""
    return select(Task.resolution_id).where(Task.id.in_(_handed_down_tasks(units)))


def _resolutions(scope: Scope, obj: str, act: str) -> ColumnElement[bool]:
    units = scope.unit_ids(obj, act)
    home = Resolution.issuing_unit_id.in_(units)
    if act != "read":
        return home
    return or_(home, Resolution.id.in_(_handed_down_resolutions(units)))


def _objectives(scope: Scope, obj: str, act: str) -> ColumnElement[bool]:
    return Objective.resolution_id.in_(select(Resolution.id).where(_resolutions(scope, obj, act)))


def _key_results(scope: Scope, obj: str, act: str) -> ColumnElement[bool]:
    return KeyResult.objective_id.in_(select(Objective.id).where(_objectives(scope, obj, act)))


def _kpis(scope: Scope, obj: str, act: str) -> ColumnElement[bool]:
    """Home units: the owning resolution's issuer and the lead unit; a reporting unit reads it too."""
    units = scope.unit_ids(obj, act)
    home = or_(Kpi.resolution_id.in_(select(Resolution.id).where(Resolution.issuing_unit_id.in_(units))), Kpi.lead_unit_id.in_(units))
    if act != "read":
        return home
    # handed down: the KPIs a unit of the scope must report on (it has a target for it), and
    # those of the resolutions whose tasks were assigned to the scope
    return or_(
        home,
        Kpi.id.in_(select(KpiUnitTarget.kpi_id).where(KpiUnitTarget.unit_id.in_(units))),
        Kpi.resolution_id.in_(_handed_down_resolutions(units)),
    )


def _measurements(scope: Scope, obj: str, act: str) -> ColumnElement[bool]:
    return Measurement.unit_id.in_(scope.unit_ids(obj, act))


def _tasks(scope: Scope, obj: str, act: str) -> ColumnElement[bool]:
    """Down: the lead unit. Handed down: assigned to the scope. Across: coordinated by it (read-only)."""
    units = scope.unit_ids(obj, act)
    home = Task.lead_unit_id.in_(units)
    if act != "read":
        return home
    return or_(home, Task.id.in_(_handed_down_tasks(units)), Task.id.in_(select(TaskCoordinator.task_id).where(TaskCoordinator.unit_id.in_(units))))


def _milestones(scope: Scope, obj: str, act: str) -> ColumnElement[bool]:
    return Milestone.task_id.in_(select(Task.id).where(_tasks(scope, obj, act)))


def _assignments(scope: Scope, obj: str, act: str) -> ColumnElement[bool]:
    """The assignee side and the assigner side; never a sibling assignee."""
    units = scope.unit_ids(obj, act)
    return or_(Assignment.assignee_unit_id.in_(units), Assignment.assigner_unit_id.in_(units))


def _of_assignment(column: Any) -> Callable[[Scope, str, str], ColumnElement[bool]]:
    """Reports, extensions and evaluations live where their assignment lives."""

    def build(scope: Scope, obj: str, act: str) -> ColumnElement[bool]:
        return column.in_(select(Assignment.id).where(_assignments(scope, obj, act)))  # type: ignore[no-any-return]

    return build


def _audit_events(scope: Scope, obj: str, act: str) -> ColumnElement[bool]:
    return AuditEvent.unit_id.in_(scope.unit_ids(obj, act))


# model -> (object type in the policy, row filter). Home units are those of ACCESS.md.
ROW_FILTERS: dict[type, tuple[str, Callable[[Scope, str, str], ColumnElement[bool]]]] = {
    Unit: ("unit", _units),
    User: ("user", _users),
    Grant: ("grant", _grants),
    AuditEvent: ("audit_event", _audit_events),
    Resolution: ("resolution", _resolutions),
    Objective: ("objective", _objectives),
    KeyResult: ("key_result", _key_results),
    Kpi: ("kpi", _kpis),
    Measurement: ("measurement", _measurements),
    Task: ("task", _tasks),
    Milestone: ("milestone", _milestones),
    Assignment: ("assignment", _assignments),
    ProgressReport: ("progress_report", _of_assignment(ProgressReport.assignment_id)),
    Extension: ("extension", _of_assignment(Extension.assignment_id)),
    Evaluation: ("evaluation", _of_assignment(Evaluation.assignment_id)),
}
OBJECT_TYPES = {model: obj for model, (obj, _) in ROW_FILTERS.items()}
