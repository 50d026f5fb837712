"""Dashboards answered without the executor: `progressRollup` and `ranking`, in Python over their one statement.

A province's per-child rollup is one SQL statement of 119 rows, but graphql-core then resolves and
completes some 1,400 fields, which on the benchmark machine cost three times the statement
(bench/README.md). These roots run the same resolver steps as strawberry (the same filter checks,
the same unit lookup, the same service call on the request's session) and write the selected fields
straight from the service's rows. Only plain fields are written here (numbers, texts, a unit's own
columns); a selection reaching further (a unit's parent, children or dates), a bad argument, or any
error at all leaves the whole operation to the executor, which answers (or refuses) exactly as before.
tests/test_compiled_reads.py checks that both give the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from graphql import GraphQLError

from resolute.schema.compiled.plan import Field, NotCovered
from resolute.schema.ids import encode_id
from resolute.schema.monitoring.queries import find_ranking, find_rollup
from resolute.schema.monitoring.types import ProgressFilterInput, RankingMetric
from resolute.schema.pagination import window

__all__ = ["DIRECT"]

Getter = Callable[[Any], Any]


@dataclass(frozen=True)
class _Info:
    """What the resolver steps read of strawberry's Info: the request's context."""

    context: Any


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _plain(type_name: str) -> Callable[[str], Getter]:
    """A type whose every field is the same-named attribute (snake case) of the service's object."""
    def field(name: str) -> Getter:
        attribute = _snake(name)
        return lambda obj: getattr(obj, attribute)
    return field


_UNIT: dict[str, Getter] = {
    "id": lambda u: encode_id("Unit", u.id), "code": lambda u: u.code, "name": lambda u: u.name, "kind": lambda u: u.kind,
    "depth": lambda u: u.depth, "version": lambda u: u.version, "archived": lambda u: u.archived_at is not None,
}
_PLAIN = {
    "ProgressFigures": {"total", "notStarted", "inProgress", "completed", "cancelled", "overdue", "completedOnTime", "completedWithinExtension",
                        "completedLate", "completionRate", "onTimeRate", "averageProgress"},
    "LightCounts": {"green", "yellow", "red", "measured", "greenShare"},
    "DisciplineFigures": {"expected", "received", "onTime", "assigned", "acknowledged", "acknowledgedInTime", "completeness", "timeliness",
                          "averageAckDays", "disciplineIndex"},
}  # fmt: skip
# the object types of these roots: field -> how to read it from the service's object
_FIELDS: dict[str, Mapping[str, Getter]] = {
    "Unit": _UNIT,
    "ProgressRollup": {"unit": lambda r: r.unit, "figures": lambda r: r.figures, "children": lambda r: r.children, "childCount": lambda r: len(r.children)},
    "UnitProgress": {"unit": lambda pair: pair[0], "figures": lambda pair: pair[1]},
    "Ranking": {"metric": lambda r: r[1], "thenBy": lambda r: r[2], "entries": lambda r: r[0].entries, "entryCount": lambda r: len(r[0].entries),
                "rankedCount": lambda r: r[0].ranked,
                "lowerQuartile": lambda r: r[0].lower_quartile, "median": lambda r: r[0].median, "upperQuartile": lambda r: r[0].upper_quartile},
    "RankingEntry": {"rank": lambda e: e.rank, "unit": lambda e: e.unit, "value": lambda e: e.value, "figures": lambda e: e.figures,
                     "lights": lambda e: e.lights, "discipline": lambda e: e.discipline},
    **{t: {f: _plain(t)(f) for f in names} for t, names in _PLAIN.items()},
}  # fmt: skip


_WINDOWED = {("ProgressRollup", "children"), ("Ranking", "entries")}  # lists sliced by `first` and `offset`


def _write(fields: tuple[Field, ...], type_name: str, obj: Any) -> Any:
    """The response object of `obj` for the selected `fields` (lists and nulls as the executor writes them)."""
    return _writer(fields, type_name)(obj)


def _writer(fields: tuple[Field, ...], type_name: str) -> Callable[[Any], Any]:
    """A function writing the response of an object of `type_name` (or a list of them, or None) for `fields`:
    the selection is looked at once, not once per object (a dashboard writes 119 rows of a dozen fields)."""
    getters = _FIELDS.get(type_name)
    if getters is None:
        raise NotCovered(f"{type_name} is not written directly")
    steps: list[tuple[str, Getter, Callable[[Any], Any] | None]] = []
    for f in fields:
        if f.name == "__typename":
            steps.append((f.key, lambda _obj: type_name, None))
            continue
        getter = getters.get(f.name)
        if getter is None:
            raise NotCovered(f"{type_name}.{f.name} is not written directly")
        if (type_name, f.name) in _WINDOWED:
            first, offset, read = f.args["first"], f.args["offset"], getter
            getter = lambda obj, read=read, first=first, offset=offset: window(read(obj), first=first, offset=offset)  # a bad bound: GraphQLError, NotCovered by _guarded
        steps.append((f.key, getter, _writer(f.fields, f.type_name) if f.fields else None))

    def write(obj: Any) -> Any:
        if obj is None:
            return None
        if isinstance(obj, list):
            return [write(item) for item in obj]
        out: dict[str, Any] = {}
        for key, getter, nested in steps:
            value = getter(obj)
            if nested is not None:
                value = nested(value)
            elif isinstance(value, Enum):
                value = value.name
            elif value is not None and not isinstance(value, (bool, int, float, str)):
                raise NotCovered(f"{type_name}.{key} is not a plain value")
            out[key] = value
        return out

    return write


def _filter(field: Field) -> ProgressFilterInput | None:
    given = field.args.get("filter")
    if given is None:
        return None
    known = {"resolution", "kpiGroup", "dueFrom", "dueTo", "approvedFor"}
    if not set(given) <= known:
        raise NotCovered("an unknown filter field")
    return ProgressFilterInput(resolution=given.get("resolution"), kpi_group=given.get("kpiGroup"), due_from=given.get("dueFrom"), due_to=given.get("dueTo"),
                               approved_for=given.get("approvedFor"))


def _metric(value: Any) -> RankingMetric | None:
    if value is None or isinstance(value, RankingMetric):
        return value
    try:
        return RankingMetric[value] if value in RankingMetric.__members__ else RankingMetric(value)
    except (KeyError, ValueError):
        raise NotCovered("a ranking metric") from None


async def _progress_rollup(context: Any, field: Field) -> Any:
    """Query.progressRollup: the resolver's own steps (schema/monitoring/queries.py), written directly."""
    found = await find_rollup(_Info(context), field.args.get("unit"), _filter(field))
    return _write(field.fields, field.type_name, found)


async def _ranking(context: Any, field: Field) -> Any:
    """Query.ranking: the resolver's own steps, written directly."""
    args = field.args
    metric, then_by = _metric(args.get("metric")), _metric(args.get("thenBy"))
    if metric is None:
        raise NotCovered("no ranking metric")
    found = await find_ranking(_Info(context), metric, then_by, args.get("childrenOf"), args.get("kind"), _filter(field), args.get("period"))
    return _write(field.fields, field.type_name, None if found is None else (found, metric, then_by))


async def _guarded(answer: Callable[[Any, Field], Awaitable[Any]], context: Any, field: Field) -> Any:
    try:
        return await answer(context, field)
    except GraphQLError as refused:  # the executor refuses it with its path and extensions
        raise NotCovered(str(refused)) from None


DIRECT: dict[str, Callable[[Any, Field], Awaitable[Any]]] = {
    "progressRollup": lambda context, field: _guarded(_progress_rollup, context, field),
    "ranking": lambda context, field: _guarded(_ranking, context, field),
}
