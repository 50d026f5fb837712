"""What each covered GraphQL field means in SQL, type by type, and the covered root fields.

A field is covered only where its SQL answers exactly what its strawberry resolver answers (the
differential tests run both); anything else makes the whole operation fall back to the
executor. Scope: every row source applies `Scope.visible` of its model, except a child whose
visibility is by definition its parent's (a task's milestones, an assignment's reports): the
parent row was already filtered, so the child is reached through its foreign key alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from graphql import GraphQLError
from sqlalchemy import ColumnElement, and_, exists, func, select, true
from sqlalchemy.dialects.postgresql import aggregate_order_by

from resolute.api.kpis import reads as kpi_reads
from resolute.api.kpis import rules as kpi_rules
from resolute.api.kpis.models import Kpi, Measurement
from resolute.api.org.models import Unit
from resolute.api.org.reads import unit_conditions
from resolute.api.resolutions.models import Resolution
from resolute.api.tasks import reads as task_reads
from resolute.api.tasks import rules
from resolute.api.tasks.models import Assignment, Milestone, ProgressReport, Task, TaskCoordinator
from resolute.schema.compiled.builder import EMPTY_ARRAY, Compiler, FieldHandler, Level, Page, as_bool, decimal_text, global_id, upper_enum
from resolute.schema.compiled.plan import Field, NotCovered
from resolute.schema.ids import decode_id
from resolute.schema.kpis.queries import BY_ID as MEASUREMENT_CURSORS
from resolute.schema.kpis.queries import KpiFilterInput, MeasurementFilterInput, kpi_filter, measurement_filter
from resolute.schema.org.queries import unit_filter
from resolute.schema.org.types import UnitFilterInput
from resolute.schema.pagination import BY_CODE, MAX_WINDOW, KeyOrdering, Ordering
from resolute.schema.tasks.queries import AssignmentFilterInput, TaskFilterInput, assignment_filter, task_filter
from resolute.schema.tasks.types import ASSIGNMENT_CURSORS, REPORT_CURSORS

__all__ = ["ROOTS", "TYPES"]

T = TypeVar("T")


# -- field kinds --------------------------------------------------------------------------------


def column(name: str) -> FieldHandler:
    return lambda compiler, level, field: level.c[name]


def decimal(name: str) -> FieldHandler:
    return lambda compiler, level, field: decimal_text(level.c[name])


def node_id(type_name: str) -> FieldHandler:
    return lambda compiler, level, field: global_id(type_name, level.c.id)


def unit_by(fk: str, *, nameable: bool = False) -> FieldHandler:
    """A unit named by a foreign key, null where the caller may not see it (`nameable`: also on the caller's own
    ancestor chain, as api.org.reads.nameable_units_by_ids)."""
    if not nameable:
        return lambda compiler, level, field: compiler.to_one(Unit, field, lambda unit: unit.c.id == level.c[fk])
    return lambda compiler, level, field: compiler.to_one(
        Unit, field, lambda unit: and_(unit.c.id == level.c[fk], unit.adapt(compiler.scope.chain_or_visible())), scoped=False
    )


def _arg_id(field: Field, name: str, type_name: str) -> int | None:
    value = field.args.get(name)
    if value is None:
        return None
    try:
        return decode_id(value, type_name, name)
    except GraphQLError:
        raise NotCovered(f"bad id in {name}") from None


def _after(ordering: Ordering | KeyOrdering, field: Field) -> tuple[Any, ...] | None:
    """The key of the `after` cursor, as a tuple; NotCovered for a bad cursor (the executor answers the error)."""
    try:
        key = ordering.decode(field.args.get("after"))
    except GraphQLError:
        raise NotCovered("bad cursor") from None
    if key is None or isinstance(ordering, KeyOrdering):
        return key
    return (key,)


# -- types --------------------------------------------------------------------------------------

def _children(compiler: Compiler, level: Level, field: Field) -> ColumnElement[Any]:
    """Unit.children: the direct sub-units the caller may see, in code order (archived ones on request), paged."""
    archived = field.args.get("includeArchived", False)
    page = Page(
        where=lambda unit: [unit.c.parent_id == level.c.id, unit.visible(compiler.scope), *([] if archived else [unit.c.archived_at.is_(None)])],
        keys=lambda unit: [unit.c.code], cursor_name=BY_CODE.name, first=field.args["first"], after=_after(BY_CODE, field), composite=False,
    )
    return compiler.connection(Unit, field, page, "UnitEdge", "Unit")


UNIT: dict[str, FieldHandler] = {
    "id": node_id("Unit"), "code": column("code"), "name": column("name"), "kind": column("kind"), "depth": column("depth"),
    "version": column("version"),
    "archived": lambda compiler, level, field: level.c.archived_at.is_not(None),
    "parent": unit_by("parent_id"),
    "children": _children,
}

RESOLUTION: dict[str, FieldHandler] = {
    "id": node_id("Resolution"),
    **{name: column(col) for name, col in {"code": "code", "title": "title", "kind": "kind", "status": "status", "issuedOn": "issued_on",
                                           "summary": "summary", "documentUrl": "document_url", "programmeDueOn": "programme_due_on",
                                           "version": "version"}.items()},
    "issuingUnit": unit_by("issuing_unit_id", nameable=True),
    "kpis": lambda compiler, level, field: compiler.list_of(
        Kpi, field, lambda kpi: [kpi.c.resolution_id == level.c.id, kpi.visible(compiler.scope)], lambda kpi: [kpi.c.code]
    ),
}


def _latest_by_child(compiler: Compiler, level: Level, field: Field) -> ColumnElement[Any]:
    """Kpi.latestByChild: per direct sub-unit of `unit` (default: the caller's), its latest measurement.

    Driven from the sub-units: for each, one backward step on the (kpi, unit, period) index, so the
    cost follows the number of children, not the KPI's history.
    """
    parent_id = _arg_id(field, "unit", "Unit")
    conditions: list[ColumnElement[bool]] = []
    if parent_id is None:
        parent_id = compiler.scope.principal.unit_id
    else:
        parent = compiler.level(Unit)
        conditions.append(exists(select(parent.c.id).select_from(parent.table).where(parent.c.id == parent_id, parent.visible(compiler.scope))))
    child = compiler.level(Unit)
    history = compiler.level(Measurement)
    latest = (
        select(history.table)
        .where(history.c.kpi_id == level.c.id, history.c.unit_id == child.c.id)
        .order_by(history.c.period.desc())
        .limit(1)
        .correlate_except(history.table)
        .lateral(f"{history.table.name}l")
    )
    measurement = Level(Measurement, latest)
    first, offset = field.args["first"], field.args["offset"]
    if not (0 <= first <= MAX_WINDOW and offset >= 0):
        raise NotCovered("first or offset out of range")
    sliced = (
        select(compiler.object(measurement, field.type_name, field.fields).label("obj"), child.c.code.label("code"))
        .select_from(child.table.join(latest, true()))
        .where(child.c.parent_id == parent_id, measurement.visible(compiler.scope), *conditions)
        .order_by(child.c.code)
        .limit(first)
        .offset(offset)
        .correlate_except(child.table, latest)
        .lateral(f"{child.table.name}w")
    )
    query = select(func.json_agg(aggregate_order_by(sliced.c.obj, sliced.c.code))).select_from(sliced)
    return func.coalesce(query.scalar_subquery(), EMPTY_ARRAY)


KPI: dict[str, FieldHandler] = {
    "id": node_id("Kpi"),
    **{name: column(col) for name, col in {"code": "code", "name": "name", "unitOfMeasure": "unit_of_measure", "formula": "formula",
                                           "dataSource": "data_source", "direction": "direction", "group": "kpi_group",
                                           "frequency": "frequency", "version": "version"}.items()},
    **{name: decimal(col) for name, col in {"baseline": "baseline", "target": "target", "yellowThreshold": "yellow_threshold",
                                            "redThreshold": "red_threshold"}.items()},
    "leadUnit": unit_by("lead_unit_id", nameable=True),
    "latestByChild": _latest_by_child,
    "resolution": lambda compiler, level, field: compiler.to_one(Resolution, field, lambda r: r.c.id == level.c.resolution_id),
}


def _light(compiler: Compiler, level: Level, field: Field) -> ColumnElement[Any]:
    """Measurement.light: against the KPI's thresholds, null where the caller may not see the KPI."""
    kpi = compiler.level(Kpi)
    colour = upper_enum(kpi_rules.light(kpi.c, level.c.value))
    return select(colour).select_from(kpi.table).where(kpi.c.id == level.c.kpi_id, kpi.visible(compiler.scope)).scalar_subquery()


MEASUREMENT: dict[str, FieldHandler] = {
    "id": node_id("Measurement"), "period": column("period"), "value": decimal("value"), "note": column("note"), "version": column("version"),
    "unit": unit_by("unit_id"), "light": _light,
    "kpi": lambda compiler, level, field: compiler.to_one(Kpi, field, lambda k: k.c.id == level.c.kpi_id),
}

MILESTONE: dict[str, FieldHandler] = {
    "id": node_id("Milestone"), "title": column("title"), "dueOn": column("due_on"), "doneOn": column("done_on"), "version": column("version"),
    "overdue": lambda compiler, level, field: as_bool(rules.milestone_overdue(compiler.today, level.c)),
}

REPORT: dict[str, FieldHandler] = {
    "id": node_id("ProgressReport"), "reportedOn": column("reported_on"), "progress": column("progress"), "status": column("status"), "note": column("note"),
}


def _assignment_page(compiler: Compiler, field: Field, where: Callable[[Level], Sequence[ColumnElement[bool]]]) -> Page:
    order = field.args["orderBy"]
    keys = task_reads.ASSIGNMENT_ORDERS[order.value]
    return Page(where=where, keys=lambda level: [level.adapt(k) for k in keys()], cursor_name=ASSIGNMENT_CURSORS[order].name,
                first=field.args["first"], after=_after(ASSIGNMENT_CURSORS[order], field))


def _task_assignments(compiler: Compiler, level: Level, field: Field) -> ColumnElement[Any]:
    page = _assignment_page(compiler, field, lambda a: [a.c.task_id == level.c.id, a.visible(compiler.scope)])
    return compiler.connection(Assignment, field, page, "AssignmentEdge", "Assignment")


def _coordinating_units(compiler: Compiler, level: Level, field: Field) -> ColumnElement[Any]:
    """Task.coordinatingUnits: those the caller may see, in code order."""
    link = compiler.level(TaskCoordinator)
    return compiler.list_of(
        Unit, field, lambda unit: [unit.visible(compiler.scope)], lambda unit: [unit.c.code],
        joins=lambda unit: (link, and_(link.c.unit_id == unit.c.id, link.c.task_id == level.c.id)),
    )


TASK: dict[str, FieldHandler] = {
    "id": node_id("Task"),
    **{name: column(col) for name, col in {"code": "code", "title": "title", "description": "description", "status": "status", "startOn": "start_on",
                                           "dueOn": "due_on", "completedOn": "completed_on", "evaluationCriteria": "evaluation_criteria",
                                           "version": "version"}.items()},
    "overdue": lambda compiler, level, field: as_bool(rules.overdue(level.c, compiler.today)),
    "resolution": lambda compiler, level, field: compiler.to_one(  # handed down with the task, if the task was
        Resolution, field, lambda r: r.c.id == level.c.resolution_id, handed_down=level.handed_down
    ),
    "leadUnit": unit_by("lead_unit_id", nameable=True),
    "coordinatingUnits": _coordinating_units,
    "milestones": lambda compiler, level, field: compiler.list_of(
        Milestone, field, lambda m: [m.c.task_id == level.c.id], lambda m: [m.c.due_on, m.c.id]  # visible with its task
    ),
    "assignments": _task_assignments,
}



def _reports(compiler: Compiler, level: Level, field: Field) -> ColumnElement[Any]:
    """Assignment.reports: oldest first, paged; visible with their assignment."""
    page = Page(where=lambda r: [r.c.assignment_id == level.c.id], keys=lambda r: [r.c.reported_on, r.c.id], cursor_name=REPORT_CURSORS.name,
                first=field.args["first"], after=_after(REPORT_CURSORS, field))
    return compiler.connection(ProgressReport, field, page, "ProgressReportEdge", "ProgressReport")


ASSIGNMENT: dict[str, FieldHandler] = {
    "id": node_id("Assignment"),
    **{name: column(col) for name, col in {"code": "code", "raci": "raci", "assignedOn": "assigned_on", "originalDueOn": "original_due_on",
                                           "dueOn": "due_on", "instructions": "instructions", "status": "status", "progress": "progress",
                                           "completedOn": "completed_on", "version": "version"}.items()},
    "overdue": lambda compiler, level, field: as_bool(rules.overdue(level.c, compiler.today)),
    "timeliness": lambda compiler, level, field: upper_enum(rules.timeliness(level.c)),
    "expectedProgress": lambda compiler, level, field: rules.expected_progress(compiler.today, level.c),
    "behindPace": lambda compiler, level, field: as_bool(rules.behind_pace(compiler.today, model=level.c)),
    "task": lambda compiler, level, field: compiler.to_one(Task, field, lambda t: t.c.id == level.c.task_id, handed_down=level.c.assignee_unit_id),
    "unit": unit_by("assignee_unit_id"),
    "assignerUnit": unit_by("assigner_unit_id", nameable=True),
    "latestReport": lambda compiler, level, field: compiler.to_one(  # visible with its assignment
        ProgressReport, field, lambda r: r.c.assignment_id == level.c.id, scoped=False, order=lambda r: [r.c.reported_on.desc(), r.c.id.desc()]
    ),
    "reports": _reports,
}

TYPES: dict[str, dict[str, FieldHandler]] = {
    "Unit": UNIT, "Resolution": RESOLUTION, "Kpi": KPI, "Measurement": MEASUREMENT, "Milestone": MILESTONE, "ProgressReport": REPORT,
    "Task": TASK, "Assignment": ASSIGNMENT,
}


# -- root fields ----------------------------------------------------------------------------------


def _one_by_id_or_code(model: Any, type_name: str) -> Any:
    """task(id | code), resolution(id | code): exactly one of them, else the executor answers the error."""

    def compile_root(compiler: Compiler, field: Field) -> ColumnElement[Any]:
        given_id, code = field.args.get("id"), field.args.get("code")
        if (given_id is None) == (code is None):
            raise NotCovered("give exactly one of id and code")
        row = compiler.level(model)
        match = row.c.id == _arg_id(field, "id", type_name) if given_id is not None else row.c.code == code
        return select(compiler.object(row, type_name, field.fields)).select_from(row.table).where(match, row.visible(compiler.scope)).scalar_subquery()

    return compile_root


def _given(field: Field, input_type: type[T], lookups: Sequence[str]) -> T:
    """The `filter` argument as the resolver's own input type; NotCovered when it names a unit whose
    path must be looked up first (`lookups`): the executor does that."""
    given = field.args.get("filter") or {}
    if any(given.get(name) is not None for name in lookups):
        raise NotCovered(f"filter needs a lookup: {lookups}")
    return input_type(**{re.sub(r"(?<!^)([A-Z])", r"_\1", k).lower(): v for k, v in given.items()})


def _listing(model: Any, type_name: str, ordering: Ordering, key: str, filtered: Callable[[Compiler, Field], list[ColumnElement[bool]]]) -> Any:
    """A root list in one key's order (code, id), filtered by the read module's own conditions (scope included):
    `filtered` builds them with the resolver's own filter function, so both paths filter alike."""

    def compile_root(compiler: Compiler, field: Field) -> ColumnElement[Any]:
        order = field.args.get("orderBy")
        if order is not None and order.value != key:
            raise NotCovered("another order")  # the executor pages it (tasks by due date)
        try:
            conditions = filtered(compiler, field)
        except GraphQLError:  # a bad id: the executor answers the error
            raise NotCovered("bad filter") from None
        page = Page(where=lambda row: [row.adapt(c) for c in conditions], keys=lambda row: [row.c[key]], cursor_name=ordering.name,
                    first=field.args["first"], after=_after(ordering, field), composite=False)
        return compiler.connection(model, field, page, f"{type_name}Edge", type_name)

    return compile_root


def _unit_conditions(compiler: Compiler, field: Field) -> list[ColumnElement[bool]]:
    flt = unit_filter(_given(field, UnitFilterInput, ["under"]), under_path=None, matches_nothing=False)
    return [compiler.scope.visible(Unit), *unit_conditions(Unit, flt)]


def _task_conditions(compiler: Compiler, field: Field) -> list[ColumnElement[bool]]:
    flt = task_filter(_given(field, TaskFilterInput, ["leadUnder"]), compiler.today, lead_path=None, matches_nothing=False)
    return task_reads.task_conditions(compiler.scope, flt, compiler.today)


def _kpi_conditions(compiler: Compiler, field: Field) -> list[ColumnElement[bool]]:
    flt = kpi_filter(_given(field, KpiFilterInput, ["leadUnder"]), lead_path=None, matches_nothing=False)
    return kpi_reads.kpi_conditions(compiler.scope, flt)


def _measurement_conditions(compiler: Compiler, field: Field) -> list[ColumnElement[bool]]:
    flt = measurement_filter(_given(field, MeasurementFilterInput, ["under"]), under_path=None, matches_nothing=False)
    return kpi_reads.measurement_conditions(compiler.scope, flt)


def _assignments(compiler: Compiler, field: Field) -> ColumnElement[Any]:
    """Query.assignments: in the order asked, filtered by the resolver's own filter function."""
    try:
        flt = assignment_filter(_given(field, AssignmentFilterInput, ["assigneeUnder"]), compiler.scope, compiler.today,
                                under_path=None, matches_nothing=False)
    except GraphQLError:
        raise NotCovered("bad filter") from None
    conditions = task_reads.assignment_conditions(compiler.scope, flt, compiler.today)
    page = _assignment_page(compiler, field, lambda a: [a.adapt(c) for c in conditions])
    return compiler.connection(Assignment, field, page, "AssignmentEdge", "Assignment")


ROOTS = {
    "unit": _one_by_id_or_code(Unit, "Unit"), "units": _listing(Unit, "Unit", BY_CODE, "code", _unit_conditions),
    "task": _one_by_id_or_code(Task, "Task"), "tasks": _listing(Task, "Task", BY_CODE, "code", _task_conditions),
    "resolution": _one_by_id_or_code(Resolution, "Resolution"), "assignments": _assignments,
    "kpi": _one_by_id_or_code(Kpi, "Kpi"), "kpis": _listing(Kpi, "Kpi", BY_CODE, "code", _kpi_conditions),
    "measurements": _listing(Measurement, "Measurement", MEASUREMENT_CURSORS, "id", _measurement_conditions),
}
