"""The five operations of the PostGraphile comparison as Resolute sends them, and the rows they answer.

Each operation is one of the peer's (shared/peer/ops.js, same name, same persona and arguments as
its LOAD entry). A normaliser turns Resolute's answer into the rows that ops.js's `fromGql` makes of
PostGraphile's, so `first_difference` can compare the two answers row by row:

- Resolute stores no "overdue" status: an open assignment (not_started, in_progress) has
  `overdue: Boolean` instead. The data set's statuses are as of its reference date (2025-10-01,
  shared/dataset/FORMAT.md), so unless the server's clock says that day the normaliser derives
  "overdue" as of that date from `dueOn` (`as_of`); with `as_of=None` it reads `overdue` itself.
  A progress report's "overdue" (reported after the due date, still open) is mapped back likewise.
- Decimals come as strings on both sides ("62.00" against "62.0"): cells compare numerically.
- Resolute nests `unit { code name }` and `resolution { code }` where the peer has flat codes.
- Enums (`light: GREEN`) compare with the peer's lower-case text (`colour: "green"`).
- Q2: the peer's notStarted, inProgress and overdue are the data set's statuses as of its reference
  date; Resolute's overdue is derived as of its clock and counted among its open statuses, so both
  answers are compared with those three folded into one open count (`fold`).
- Q3: the peer's completedOnTime is "completed by the due date in force"; Resolute tells on time
  (by the original due date) from within an approved extension, so their sum is compared.
- Filters name objects by global id: `ids` says which variables bench/compare.py fills in from codes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["INTERIM_Q1", "OPERATIONS", "PASSWORD", "REFERENCE_DATE", "Operation", "first_difference", "same"]

REFERENCE_DATE = date(2025, 10, 1)  # the data set's "today": every status in it is as of this date
PASSWORD = "benchmark password 1"  # set on the personas by bench/compare.py (never a real account)
OPEN = ("not_started", "in_progress")

Rows = Any  # a list of rows (lists), or for Q4 one nested dict, as ops.js's fromGql makes them
Normaliser = Callable[[dict[str, Any], date | None], Rows]


@dataclass(frozen=True)
class Operation:
    """One benchmark operation: who runs it, the document Resolute answers it with, its rows."""

    name: str
    title: str
    persona: str
    document: str | None  # None: Resolute cannot answer it yet (see `missing`)
    variables: dict[str, Any] = field(default_factory=dict)
    normalise: Normaliser | None = None
    missing: str = ""
    ids: dict[str, tuple[str, str]] = field(default_factory=dict)  # variable -> (type, code): a global id the harness looks up
    fold: Callable[[Rows], Rows] | None = None  # applied to both sides' rows before comparing them

    def body(self) -> dict[str, Any]:
        """The POST body (the same one wrk sends)."""
        return {"query": self.document, "variables": self.variables}


# ---------------------------------------------------------------------------------------- helpers


def _get(obj: Any, *path: str) -> Any:
    """obj[a][b]..., or None as soon as a step is missing (an answer of today's shape, a null)."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _items(value: Any) -> list[Any]:
    """A list field, whether Resolute answers it as a list or as a connection with `nodes`."""
    if isinstance(value, dict):
        value = value.get("nodes")
    return list(value or [])


def assignment_status(node: dict[str, Any], as_of: date | None) -> str | None:
    """The data set's status of an assignment: "overdue" for an open one past its due date."""
    status = node.get("status")
    if status not in OPEN:
        return status
    due = node.get("dueOn")
    overdue = (due is not None and due < as_of.isoformat()) if as_of else node.get("overdue")
    return "overdue" if overdue else status


def report_status(report: dict[str, Any], due_on: str | None) -> str | None:
    """The data set's status of a report: "overdue" when sent after the due date, still open."""
    status = report.get("status")
    if status in OPEN and due_on is not None and str(report.get("reportedOn")) > due_on:
        return "overdue"
    return status


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _unit(value: Any) -> dict[str, Any] | None:
    return None if value is None else {"code": value.get("code"), "name": value.get("name")}


# ------------------------------------------------------------------------------------ normalisers


def q1_rows(data: dict[str, Any], as_of: date | None) -> Rows:
    """[code, task code, title, resolution code, dueOn, status, progress, latest report date]."""
    return [
        [n.get("code"), _get(n, "task", "code"), _get(n, "task", "title"), _get(n, "task", "resolution", "code"),
         n.get("dueOn"), assignment_status(n, as_of), n.get("progress"), _get(n, "latestReport", "reportedOn")]
        for n in _items(_get(data, "assignments"))
    ]


def q2_rows(data: dict[str, Any], as_of: date | None) -> Rows:
    """Per child: [code, name, kind, notStarted, inProgress, completed, overdue, cancelled, total, completionRate]
    with Resolute's open assignments all under notStarted (see `fold_open`)."""
    rollup = data.get("progressRollup") or {}
    rows = []
    for child in _items(rollup.get("children")):
        unit, f = child.get("unit") or {}, child.get("figures") or {}
        open_ = (f.get("notStarted") or 0) + (f.get("inProgress") or 0)
        rows.append([unit.get("code"), unit.get("name"), unit.get("kind"), open_, 0, f.get("completed"), 0, f.get("cancelled"),
                     f.get("total"), f.get("completionRate")])
    return rows


def fold_open(rows: Rows) -> Rows:
    """Q2 rows with notStarted + inProgress + overdue in one column (the split depends on the day it is asked)."""
    return [[*r[:3], (r[3] or 0) + (r[4] or 0) + (r[6] or 0), r[5], r[7], r[8], r[9]] for r in rows]


def q3_rows(data: dict[str, Any], as_of: date | None) -> Rows:
    """[rank, code, name, total, completed, completed by the due date in force, cancelled, completionRate, onTimeRate]."""
    ranking = data.get("ranking") or {}
    rows = []
    for e in _items(ranking.get("entries")):
        unit, f = e.get("unit") or {}, e.get("figures") or {}
        rows.append([e.get("rank"), unit.get("code"), unit.get("name"), f.get("total"), f.get("completed"),
                     (f.get("completedOnTime") or 0) + (f.get("completedWithinExtension") or 0), f.get("cancelled"),
                     f.get("completionRate"), f.get("onTimeRate")])
    return rows


def q4_tree(data: dict[str, Any], as_of: date | None) -> Rows:
    """The task as one dict, keyed as ops.js's Q4 fromGql keys it."""
    t = data.get("task")
    if t is None:
        return None
    assignments = _get(t, "assignments")
    return {
        "code": t.get("code"), "title": t.get("title"), "startOn": t.get("startOn"), "dueOn": t.get("dueOn"),
        "resolutionCode": _get(t, "resolution", "code"),
        "leadUnit": _unit(t.get("leadUnit")),
        "milestones": [{"title": m.get("title"), "dueOn": m.get("dueOn"), "doneOn": m.get("doneOn")} for m in _items(t.get("milestones"))],
        # the peer orders them by unit code (orderBy: UNIT_CODE_ASC); Resolute's list has no order argument
        "coordinators": sorted((_unit(u) for u in _items(t.get("coordinatingUnits"))), key=lambda u: u["code"] or ""),
        "assignmentCount": _get(assignments, "totalCount"),
        "assignments": [_q4_assignment(n, as_of) for n in _items(assignments)],
    }


def _q4_assignment(n: dict[str, Any], as_of: date | None) -> dict[str, Any]:
    latest = n.get("latestReport")
    return {
        "code": n.get("code"), "status": assignment_status(n, as_of), "progress": n.get("progress"),
        "dueOn": n.get("dueOn"), "completedOn": n.get("completedOn"), "assignee": _unit(n.get("unit")),
        "latest": None if latest is None else {
            "reportedOn": latest.get("reportedOn"), "progress": latest.get("progress"),
            "status": report_status(latest, n.get("dueOn")), "note": latest.get("note"),
        },
    }


def q5_rows(data: dict[str, Any], as_of: date | None) -> Rows:
    """Per KPI, per child unit: [kpi, name, direction, yellow, red, unit, unit name, period, value, colour]."""
    resolution = data.get("resolution")
    if resolution is None:
        return []
    rows: list[list[Any]] = []
    for k in _items(resolution.get("kpis")):
        head = [k.get("code"), k.get("name"), _lower(k.get("direction")), k.get("yellowThreshold"), k.get("redThreshold")]
        latest = sorted(_items(k.get("latestByChild")), key=lambda m: _get(m, "unit", "code") or "")
        if not latest:
            rows.append(head + [None] * 5)
        for m in latest:
            rows.append(head + [_get(m, "unit", "code"), _get(m, "unit", "name"), m.get("period"), m.get("value"), _lower(m.get("light"))])
    return rows


# ------------------------------------------------------------------------------------- operations

Q1 = """query Q1 { assignments(first: 20, orderBy: DUE_ON, filter: {toMyUnit: true, status: ["not_started", "in_progress"]}) { nodes { code dueOn status overdue progress task { code title resolution { code } } latestReport { reportedOn } } } }"""

Q4 = """query Q4($task: String!) { task(code: $task) { code title startOn dueOn resolution { code } leadUnit { code name } milestones { title dueOn doneOn } coordinatingUnits { code name } assignments(first: 50, orderBy: ASSIGNEE_CODE) { totalCount nodes { code status overdue progress dueOn completedOn unit { code name } latestReport { reportedOn progress status note } } } } }"""

Q5 = """query Q5($res: String!) { resolution(code: $res) { code kpis { code name direction yellowThreshold redThreshold latestByChild { unit { code name } period value light } } } }"""

Q2 = """query Q2($res: ID!) { progressRollup(filter: {resolution: $res}) { children { unit { code name kind } figures { notStarted inProgress completed overdue cancelled total completionRate } } } }"""

Q3 = """query Q3($res: ID!) { ranking(metric: COMPLETION_RATE, thenBy: ON_TIME_RATE, kind: "province", filter: {resolution: $res}) { entries { rank unit { code name } figures { total completed completedOnTime completedWithinExtension cancelled completionRate onTimeRate } } } }"""

# What Resolute answers today for Q1 (before the shapes above land): runs the pipeline end to end;
# its rows cannot match the peer's (no task, no report, no order by due date).
INTERIM_Q1 = "{ assignments(first: 20, filter: {toMyUnit: true}) { nodes { code dueOn status progress } } }"

OPERATIONS: dict[str, Operation] = {op.name: op for op in (
    Operation("q1", "mobile list: a commune's 20 open assignments by due date", "p07.c001.officer", Q1, {}, q1_rows),
    Operation("q2", "province dashboard: per child unit, assignments by status", "p07.leader", Q2, {}, q2_rows,
              ids={"res": ("Resolution", "57-NQ/TW")}, fold=fold_open),
    Operation("q3", "central ranking of the provinces", "admin", Q3, {}, q3_rows, ids={"res": ("Resolution", "57-NQ/TW")}),
    Operation("q4", "task detail with milestones, coordinators, 50 assignments", "admin", Q4, {"task": "57-NQ/TW-T001"}, q4_tree),
    Operation("q5", "KPI traffic lights of a province's programme", "p07.leader", Q5, {"res": "CTr-57/P07"}, q5_rows),
)}


# ------------------------------------------------------------------------------------- comparison

_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def same(a: Any, b: Any) -> bool:
    """Deep equality where two numbers (or numeric strings) are equal if their values are."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) != isinstance(b, bool):  # JSON's true is not 1
        return False
    if a == b:
        return True
    x, y = _number(a), _number(b)
    return x is not None and y is not None and x == y


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def _first_cell(a: Any, b: Any) -> str:
    """Which column or key of two rows differs first."""
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b)):
            if not same(x, y):
                return f"column {i}: {_short(x, 80)} vs {_short(y, 80)}"
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            if not same(a.get(key), b.get(key)):
                return f"{key}: {_short(a.get(key), 80)} vs {_short(b.get(key), 80)}"
    return "shape"


def first_difference(peer: Rows, ours: Rows, path: str = "rows") -> str | None:
    """None if the answers are the same rows; else where they first differ, peer's side first."""
    if isinstance(peer, dict) and isinstance(ours, dict):
        for key in [*peer, *(k for k in ours if k not in peer)]:
            if key not in ours or key not in peer:
                return f"{path}.{key}: only in {'the peer' if key in peer else 'Resolute'}'s answer"
            found = first_difference(peer[key], ours[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(peer, list) and isinstance(ours, list):
        for i, (p, o) in enumerate(zip(peer, ours)):
            if not same(p, o):
                return f"{path}[{i}] ({_first_cell(p, o)}): peer {_short(p)} / Resolute {_short(o)}"
        if len(peer) != len(ours):
            return f"{path}: the peer has {len(peer)} rows, Resolute {len(ours)}"
        return None
    return None if same(peer, ours) else f"{path}: peer {_short(peer)} / Resolute {_short(ours)}"
