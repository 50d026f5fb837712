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
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select, true
from sqlalchemy.orm import aliased

from resolute.api.access.policy import Policy
from resolute.api.accounts.models import Grant, User
from resolute.api.audit.models import AuditEvent
from resolute.api.kpis.models import Kpi, KpiUnitTarget, Measurement
from resolute.api.org.models import Unit
from resolute.api.org.tree import in_subtree, lies_under, minimal_paths, path_ids, units_under
from resolute.api.resolutions.models import KeyResult, Objective, Resolution, expects_kind
from resolute.api.tasks.models import Assignment, Evaluation, Extension, Milestone, ProgressReport, Task, TaskCoordinator

__all__ = ["ASSIGNEE_SIDE", "ASSIGNER_SIDE", "OBJECT_TYPES", "ROW_FILTERS", "WHOLE_TREE_READS", "GrantScope", "Principal", "Scope", "path_ids"]


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
            self._paths[key] = minimal_paths(g.path for g in self.grants_for(obj, act))
        return self._paths[key]

    # -- SQL ---------------------------------------------------------------------------------
    def within(self, path_column: Any, obj: str, act: str) -> ColumnElement[bool]:
        """`path_column` lies in a subtree where `act` on `obj` is allowed."""
        ranges = [in_subtree(path_column, p) for p in self.paths(obj, act)]
        if not ranges:
            return false()
        return ranges[0] if len(ranges) == 1 else or_(*ranges)

    def unit_ids(self, obj: str, act: str) -> Select[tuple[int]]:
        """The ids of the units where `act` on `obj` is allowed, as a subquery."""
        return select(Unit.id).where(self.within(Unit.path, obj, act))

    def covers_whole_tree(self, obj: str, act: str) -> bool:
        """Whether a grant allowing `act` on `obj` sits at the root (the tree has one root, path "/<id>/")."""
        return any(len(path_ids(p)) == 1 for p in self.paths(obj, act))

    def visible(self, model: type, act: str = "read", *, obj: str | None = None, probe: bool = False) -> ColumnElement[bool]:
        """The rows of `model` on which the caller may `act`: the one registry every query goes through.

        `obj` names the kind of object the verb is about when it differs from the row's own, e.g.
        the assignments on which the caller may submit a progress report:
        `visible(Assignment, "submit", obj="progress_report")`. Reading with a grant at the root
        applies no filter at all: every row lies under the root, and the planner need not prove it.
        `probe`: the same rows, written for checking a few rows named by key (the task of an
        assignment): correlated EXISTS the planner probes per row, where a list wants IN sets it
        hashes once.
        """
        try:
            registered, build = ROW_FILTERS[model]
        except KeyError:  # pragma: no cover - a new model must be registered
            raise LookupError(f"no row filter registered for {model.__name__}") from None
        if act == "read" and model in WHOLE_TREE_READS and self.covers_whole_tree(obj or registered, act):
            return true()
        if probe and act == "read" and model in PROBES:
            return PROBES[model](self, obj or registered, act)
        return build(self, obj or registered, act)

    def visible_handed_down(self, model: type, assignee_unit: Any) -> ColumnElement[bool]:
        """`visible(model, probe=True)` for the task of an assignment, or the resolution of that task, given
        the column naming that assignment's assignee unit. A task and its resolution are handed down to every
        unit the task is assigned to (ACCESS.md, Reading 2; `_tasks` and `_resolutions` below), so where the
        assignee lies in the scope the row is visible whatever else holds: that test comes first, on the row in
        hand, and the general filter's probes run only for the other rows (an assignment read from the
        assigner's side). A province's Q1-shaped list ran its task and resolution probes on every row."""
        if model not in HANDED_DOWN:
            raise LookupError(f"{model.__name__} is not handed down with an assignment")
        obj = OBJECT_TYPES[model]
        if self.covers_whole_tree(obj, "read"):
            return true()
        return or_(assignee_unit.in_(self.unit_ids(obj, "read")), self.visible(model, probe=True))

    def covers(self, path: str, obj: str, act: str = "read") -> bool:
        """Whether one grant allowing `act` on `obj` covers the whole subtree at `path`."""
        return any(lies_under(path, p) for p in self.paths(obj, act))

    def visible_assignments(self, assignee_path: Any, *, under: str | None = None) -> ColumnElement[bool]:
        """`visible(Assignment)` for a query that has joined each assignment's assignee unit (whose path is
        `assignee_path`): the assignee side becomes a range test on that row, which the planner checks as
        rows stream from the assignee index, instead of a set of every unit id in scope (rollups).

        `under`: the subtree the query is already restricted to (by assignee). When the caller reads
        assignments over all of it, every such row is visible and no filter is needed: a redundant
        OR would only mislead the planner's estimates."""
        obj, act = "assignment", "read"
        if self.covers_whole_tree(obj, act) or (under is not None and self.covers(under, obj, act)):
            return true()
        return or_(self.within(assignee_path, obj, act), Assignment.assigner_unit_id.in_(self.unit_ids(obj, act)))

    def visible_under(self, model: type, path: str | None) -> ColumnElement[bool]:
        """`visible(model)` for a query already restricted to the subtree at `path` (None: not restricted):
        nothing when the caller reads that model over all of it, for the models whose rows live at one unit."""
        obj = OBJECT_TYPES[model]
        if path is not None and model in ONE_UNIT_MODELS and self.covers(path, obj):
            return true()
        return self.visible(model)

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
    """Read: users of the scope, and one's own account. Acting on an account (obj user) acts on
    everything it holds: one grant must cover the account's unit and every unit it holds a grant
    over, so no one gains more than it holds. Granting to (obj grant): the user's unit."""
    if act == "read":
        return or_(User.unit_id.in_(scope.unit_ids(obj, act)), User.id == scope.principal.user_id)
    if obj != "user":
        return User.unit_id.in_(scope.unit_ids(obj, act))
    held_unit = aliased(Unit)
    return _any(
        and_(
            units_under(User.unit_id, grant.path),
            ~exists(select(Grant.id).join(held_unit, held_unit.id == Grant.unit_id).where(Grant.user_id == User.id, ~in_subtree(held_unit.path, grant.path))),
        )
        for grant in scope.grants_for(obj, act)
    )


def _grants(scope: Scope, obj: str, act: str) -> ColumnElement[bool]:
    """Read: the grants of the users of the scope, and one's own. Revoke: one grant of the caller
    covers both the holder's unit and the grant's unit, and the caller holds the grant's role (or
    admin) over the grant's unit: no one takes away more than it could give."""
    if act == "read":
        return or_(Grant.user_id.in_(select(User.id).where(User.unit_id.in_(scope.unit_ids(obj, act)))), Grant.user_id == scope.principal.user_id)
    grant_unit = select(Unit.path).where(Unit.id == Grant.unit_id).scalar_subquery()
    covered = _any(
        and_(Grant.user_id.in_(select(User.id).where(units_under(User.unit_id, g.path))), in_subtree(grant_unit, g.path))
        for g in scope.grants_for(obj, act)
    )
    held = _any(
        and_(in_subtree(grant_unit, g.path), true() if g.role == "admin" else Grant.role == g.role) for g in scope.principal.grants
    )
    return and_(covered, held)


def _any(conditions: Iterable[ColumnElement[bool]]) -> ColumnElement[bool]:
    """OR over per-grant conditions; none is false (no grant, no rows)."""
    listed = list(conditions)
    return or_(*listed) if listed else false()


def _handed_down_tasks(units: Select[tuple[int]]) -> Select[tuple[int]]:
    """Tasks assigned to a unit among `units`."""
    return select(Assignment.task_id).where(Assignment.assignee_unit_id.in_(units))


def _handed_down_resolutions(units: Select[tuple[int]]) -> Select[tuple[int]]:
    """Resolutions of the tasks assigned to a unit among `units`."""
    return select(Task.resolution_id).where(Task.id.in_(_handed_down_tasks(units)))


def _issued_in(units: Select[tuple[int]]) -> Select[tuple[int]]:
    """Resolutions issued by a unit among `units` (their home)."""
    return select(Resolution.id).where(Resolution.issuing_unit_id.in_(units))


def _among(key: Any, ids: Select[tuple[int]], *, probe: bool) -> ColumnElement[bool]:
    """`key` is one of `ids` (a one-column select): IN for a list, a set PostgreSQL hashes once; a
    correlated EXISTS for a few rows named by key (Scope.visible's `probe`), which it probes per row."""
    if not probe:
        return key.in_(ids)  # type: ignore[no-any-return]
    return exists(ids.where(ids.selected_columns[0] == key))


def _expected(scope: Scope, obj: str, act: str, r: Any) -> ColumnElement[bool]:
    """Resolutions `r` a unit of the scope is expected to implement (it appears in their coverage): issued
    by a strict ancestor of a grant's unit, for implementers of a kind found, not archived, in that grant's
    subtree. A resolution issued inside the subtree is read there anyway (home); a draft expects nothing
    yet (the issuer's work in progress stays its own)."""
    conditions = []
    for path in scope.paths(obj, act):
        ancestors = path_ids(path)[:-1]
        if ancestors:
            implementer = select(Unit.id).where(in_subtree(Unit.path, path), Unit.archived_at.is_(None), expects_kind(r.c.implementer_kinds, Unit.kind))
            conditions.append(and_(r.c.issuing_unit_id.in_(ancestors), r.c.implementer_kinds.is_not(None), r.c.status != "draft", exists(implementer)))
    return _any(conditions)


def _resolutions_in_reach(scope: Scope, obj: str, act: str, r: Any, *, probe: bool) -> ColumnElement[bool]:
    """Resolutions `r` read in their own right: issued in the scope (home), of a task handed down to it,
    or expected of it."""
    units = scope.unit_ids(obj, act)
    return or_(r.c.issuing_unit_id.in_(units), _among(r.c.id, _handed_down_resolutions(units), probe=probe), _expected(scope, obj, act, r))


# The resolutions table under names of its own inside the chain's CTE (made once: an alias is costly to build).
_REACHED = Resolution.__table__.alias("reached")
_STEP = Resolution.__table__.alias("step")


def _readable_resolution_ids(scope: Scope, obj: str, act: str) -> Select[tuple[int]]:
    """The ids of the resolutions the scope reads: those in its reach and, up the implementation chain,
    every resolution one of them implements (a commune working on its province's programme reads the
    central resolution). UNION, not UNION ALL: a chain written around the service may loop. Written on
    aliases, so that a query moving `Resolution` onto an alias (the compiled path) leaves it alone."""
    reached, step = _REACHED, _STEP
    chain = select(reached.c.id).where(_resolutions_in_reach(scope, obj, act, reached, probe=False)).cte(recursive=True, nesting=True)
    chain = chain.union(select(step.c.implements_id).join(chain, step.c.id == chain.c.id).where(step.c.implements_id.is_not(None)))
    return select(chain.c.id)


def _of_readable_resolution(scope: Scope, obj: str, act: str, key: Any) -> ColumnElement[bool]:
    """`key` names a resolution on which `act` is allowed. Reading tests home first: PostgreSQL builds a
    hashed set only when a row needs it, so the chain (whose handed-down part is the costly one over a
    large scope) is computed only when something outside home is asked for."""
    home = key.in_(_issued_in(scope.unit_ids(obj, act)))
    if act != "read":
        return home  # type: ignore[no-any-return]
    return or_(home, key.in_(_readable_resolution_ids(scope, obj, act)))


def _resolutions(scope: Scope, obj: str, act: str, *, probe: bool = False) -> ColumnElement[bool]:
    """Home: the issuing unit (the only place a resolution is defined). Handed down, expected and up the
    chain: read only. The direct rules come first, so the chain's set is built only for a row they miss."""
    if act != "read":
        return Resolution.issuing_unit_id.in_(scope.unit_ids(obj, act))
    direct = _resolutions_in_reach(scope, obj, act, Resolution.__table__, probe=probe)
    return or_(direct, Resolution.id.in_(_readable_resolution_ids(scope, obj, act)))


def _objectives(scope: Scope, obj: str, act: str) -> ColumnElement[bool]:
    return _of_readable_resolution(scope, obj, act, Objective.resolution_id)


def _key_results(scope: Scope, obj: str, act: str) -> ColumnElement[bool]:
    return KeyResult.objective_id.in_(select(Objective.id).where(_objectives(scope, obj, act)))


def _kpis(scope: Scope, obj: str, act: str) -> ColumnElement[bool]:
    """Defined only where the owning resolution was issued. Read with its resolution, and also by the
    lead unit and by the units that must report on it (they have a target for it)."""
    if act != "read":
        return _of_readable_resolution(scope, obj, act, Kpi.resolution_id)
    units = scope.unit_ids(obj, act)
    home = Kpi.resolution_id.in_(_issued_in(units))
    targeted = Kpi.id.in_(select(KpiUnitTarget.kpi_id).where(KpiUnitTarget.unit_id.in_(units)))
    return or_(home, Kpi.lead_unit_id.in_(units), targeted, Kpi.resolution_id.in_(_readable_resolution_ids(scope, obj, act)))


def _measurements(scope: Scope, obj: str, act: str) -> ColumnElement[bool]:
    return Measurement.unit_id.in_(scope.unit_ids(obj, act))


def _tasks(scope: Scope, obj: str, act: str, *, probe: bool = False) -> ColumnElement[bool]:
    """Down: the lead unit. Handed down: assigned to the scope. Across: coordinated by it (read-only)."""
    units = scope.unit_ids(obj, act)
    home = Task.lead_unit_id.in_(units)
    if act != "read":
        return home
    coordinated = select(TaskCoordinator.task_id).where(TaskCoordinator.unit_id.in_(units))
    return or_(home, _among(Task.id, _handed_down_tasks(units), probe=probe), _among(Task.id, coordinated, probe=probe))


def _milestones(scope: Scope, obj: str, act: str) -> ColumnElement[bool]:
    return Milestone.task_id.in_(select(Task.id).where(_tasks(scope, obj, act)))


# Which side of an assignment each verb acts from (ACCESS.md "Where each verb may be used").
ASSIGNEE_SIDE = frozenset({("assignment", "acknowledge"), ("extension", "request"), ("progress_report", "submit"), ("task", "define")})
ASSIGNER_SIDE = frozenset({("extension", "decide"), ("evaluation", "submit")})


def _assignments(scope: Scope, obj: str, act: str) -> ColumnElement[bool]:
    """Read from either side, never a sibling assignee's. The assignee side acknowledges, reports,
    asks for time and decomposes it into its own tasks; the assigner side decides and evaluates;
    no other verb acts on one."""
    units = scope.unit_ids(obj, act)
    if act == "read":
        return or_(Assignment.assignee_unit_id.in_(units), Assignment.assigner_unit_id.in_(units))
    if (obj, act) in ASSIGNEE_SIDE:
        return Assignment.assignee_unit_id.in_(units)
    if (obj, act) in ASSIGNER_SIDE:
        return Assignment.assigner_unit_id.in_(units)
    return false()


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

# The read filters also written for probing a few rows by key (Scope.visible's `probe`).
PROBES: dict[type, Callable[[Scope, str, str], ColumnElement[bool]]] = {Task: partial(_tasks, probe=True), Resolution: partial(_resolutions, probe=True)}

# The models an assignment hands down to its assignee unit, read with it (Scope.visible_handed_down).
HANDED_DOWN = frozenset({Task, Resolution})

# The models a row of which lives at exactly one unit, read by whoever reads that unit's subtree.
ONE_UNIT_MODELS = frozenset({Unit, Measurement})

# The models whose every row hangs under some unit by a non-null reference, so that reading from
# the root sees them all (an audit event may name no unit: it keeps its filter).
WHOLE_TREE_READS = frozenset(ROW_FILTERS) - {AuditEvent}
