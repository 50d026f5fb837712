"""The working cycle end to end, through GraphQL only, on SQLite and PostgreSQL.

The issue's acceptance test: a central manager creates 57-NQ/TW with objectives, key results, a
KPI and tasks and fans a task out to two provinces; a province manager writes its action
programme, decomposes the task and fans it out to its communes; commune officers acknowledge,
report progress and measurements; one asks for an extension; the province evaluates.

After EVERY step, every user's whole view is compared, as exact sets, with what ACCESS.md says
that user may see (`Sight` below is a direct transcription of its reading rules over a small
in-memory model of what was written): resolutions (with implements / implementedBy, objectives,
key results, KPIs), tasks (with resolution, parent, origin assignment, assignments, milestones,
subtasks), assignments (assigner, status, progress, dates, acknowledgement, reports, extensions,
evaluation, subtasks), KPIs (with unit targets and resolution), measurements, and `node(id)` of
every object written so far. Literal sets for the key users anchor that transcription at the end.

Also: every refusal of the issue's bad-input list is a typed error (field, code) that writes
nothing (every row of every table, audit events included, is read directly before and after); foreign and unknown
ids answer identically; timeliness; the latest report by date; statement counts that do not
grow with the page size; the assignment <-> subtask chain both ways.

Dates: the server refuses due dates before today and reports dated in the future or before the
assignment, so "completed late" and "completed within an extension" cannot be produced by the API
with the real clock (see test_timeliness_on_time_and_why_late_needs_time). The clock-shifted test
moves only the clock the task service reads (api.tasks.service.date) to assign in the past; every
write still goes through GraphQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import text

from resolute.schema.ids import encode_id
from tests.support import TABLES, Api, StatementCounter, current_version, unit, user, within

TODAY = dt.date.today()
ERRORS = "errors { field code message }"

UNITS = [
    unit("TW", None, "central", "Ban Chấp hành Trung ương Đảng"),
    unit("P01", "TW", "province", "Thành phố Hà Nội"),
    unit("P01-C01", "P01", "commune", "Phường Hoàn Kiếm"),
    unit("P01-C01-K01", "P01-C01", "cell", "Chi bộ tổ dân phố số 1"),
    unit("P01-C02", "P01", "commune", "Xã Tân Phong"),
    unit("P01-S01", "P01", "department", "Sở Khoa học và Công nghệ"),
    unit("P02", "TW", "province", "Tỉnh Lào Cai"),
    unit("P02-C01", "P02", "commune", "Xã Đông Hà"),
]
PARENT = {u.code: u.parent_code for u in UNITS}
KIND = {u.code: u.kind for u in UNITS}
ARCHIVED: frozenset[str] = frozenset()  # the cycle archives no unit (an archived unit is in no coverage: it makes nothing expected)
GRANTS = {  # username -> (role, unit): one grant each
    "admin": ("admin", "TW"),
    "tw.manager": ("manager", "TW"),
    "p01.manager": ("manager", "P01"),
    "p01.officer": ("officer", "P01"),
    "p02.manager": ("manager", "P02"),
    "p02.officer": ("officer", "P02"),
    "p01.c01.officer": ("officer", "P01-C01"),
    "p01.c02.officer": ("officer", "P01-C02"),
    "p02.c01.officer": ("officer", "P02-C01"),
    "p01.c01.viewer": ("viewer", "P01-C01"),
}
USERS = [user(name, unit_code, role) for name, (role, unit_code) in GRANTS.items()]
WATCHERS = [name for name in GRANTS if name != "admin"]  # every view is checked for these
# Reading does not depend on the role (every role holds set:read), so of two users with the same grant unit
# and different roles one is checked per step, in turn; every user is checked at the key steps and at the end.
TWINS = (("p01.manager", "p01.officer"), ("p01.c01.officer", "p01.c01.viewer"))

T001, T002, SUB = "57-NQ/TW-T001", "57-NQ/TW-T002", "CTr-57/P01-T01"
KPI_TW, KPI_P01 = "57-NQ/TW-K01", "CTr-57/P01-K01"


def under(code: str, top: str) -> bool:
    """`code` is `top` or lies below it."""
    return within(code, top, PARENT)


# -- GraphQL helpers -------------------------------------------------------------------------------

PAYLOAD = {  # mutation -> selection of its object (null / [] when refused)
    "resolutionCreate": "resolution { id }", "resolutionUpdate": "resolution { id }", "objectiveCreate": "objective { id }",
    "keyResultCreate": "keyResult { id }", "kpiCreate": "kpi { id }", "kpiUnitTargetSet": "kpi { id }",
    "measurementSubmit": "measurement { id }", "taskCreate": "task { id milestones { id title } }", "taskUpdate": "task { id }",
    "taskAssign": "assignments { id unit { code } }", "assignmentAcknowledge": "assignment { id }",
    "progressReportSubmit": "report { id }", "extensionRequest": "extension { id }", "extensionDecide": "extension { id }",
    "assignmentEvaluate": "evaluation { rating }", "milestoneCreate": "milestone { id }", "milestoneUpdate": "milestone { id }",
    "kpiUpdate": "kpi { id }", "objectiveUpdate": "objective { id }", "measurementCorrect": "measurement { id }",
}


async def call(api: Api, name: str, inp: dict[str, Any], as_user: str, select: str | None = None) -> dict[str, Any]:
    query = f"mutation($i: {name[0].upper()}{name[1:]}Input!) {{ r: {name}(input: $i) {{ {select or PAYLOAD[name]} {ERRORS} }} }}"
    return (await api.data(query, {"i": inp}, as_user=as_user))["r"]


async def ok(api: Api, name: str, inp: dict[str, Any], as_user: str, select: str | None = None) -> dict[str, Any]:
    result = await call(api, name, inp, as_user, select)
    assert result["errors"] == [], (name, as_user, result["errors"])
    return result


async def snapshot(api: Api) -> dict[str, list[str]]:
    """Every row of every table, read directly: a refused mutation must leave all of them as they were."""
    async with api.engine.connect() as conn:
        return {table: sorted(repr(tuple(row)) for row in await conn.execute(text(f"SELECT * FROM {table}"))) for table in (*TABLES, "unit_kinds")}


async def refused(api: Api, name: str, inp: dict[str, Any], as_user: str, expected: list[tuple[str | None, str]]) -> list[dict[str, Any]]:
    """The mutation answers exactly these (field, code) errors, returns no object and writes nothing."""
    before = await snapshot(api)
    result = await call(api, name, inp, as_user)
    assert [(e["field"], e["code"]) for e in result["errors"]] == expected, (name, as_user, result["errors"])
    payload = next(k for k in result if k != "errors")
    assert result[payload] in (None, []), result
    after = await snapshot(api)
    assert after == before, f"{name} by {as_user} was refused but changed {[t for t in before if before[t] != after[t]]}"
    return result["errors"]


async def same_refusal(api: Api, name: str, foreign: dict[str, Any], missing: dict[str, Any], as_user: str, expected: list[tuple[str | None, str]]) -> None:
    """An id the caller may not see is answered exactly like an id that does not exist."""
    a = await refused(api, name, foreign, as_user, expected)
    b = await refused(api, name, missing, as_user, expected)
    assert a == b, (name, as_user, a, b)


def missing(type_name: str) -> str:
    return encode_id(type_name, 987654)


# -- the model of what was written, and what ACCESS.md lets each grant see --------------------------


@dataclass
class Asg:
    assigner: str
    due: str
    original: str
    acknowledged: bool = False
    reports: list[tuple[int, str]] = field(default_factory=list)
    extensions: list[tuple[str, str]] = field(default_factory=list)  # (status, requested due)
    rating: str | None = None


@dataclass
class Model:
    resolutions: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # code -> (issuer, implements)
    implementer_kinds: dict[str, frozenset[str]] = field(default_factory=dict)  # code -> the unit kinds it expects a programme from
    objectives: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # code -> (resolution, key results)
    kpis: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (resolution, lead)
    targets: set[tuple[str, str]] = field(default_factory=set)  # (kpi, unit)
    tasks: dict[str, tuple[str, str, str | None, tuple[str, str] | None]] = field(default_factory=dict)  # code -> (resolution, lead, parent, origin)
    milestones: dict[str, str] = field(default_factory=dict)  # title -> task
    assignments: dict[tuple[str, str], Asg] = field(default_factory=dict)  # (task, assignee) -> ...
    measurements: set[tuple[str, str, str]] = field(default_factory=set)  # (kpi, unit, period)
    nodes: dict[str, tuple[str, Any]] = field(default_factory=dict)  # global id -> (kind, key)


class Sight:
    """ACCESS.md "Reading", rules 1-3 and 5, for one grant unit (every role reads)."""

    def __init__(self, m: Model, grant_unit: str) -> None:
        self.m, self.g = m, grant_unit
        self.handed_tasks = {t for (t, u) in m.assignments if self.s(u)}  # assigned to the scope
        self.handed_resolutions = {m.tasks[t][0] for t in self.handed_tasks}
        # rule 2 for resolutions: read in their own right (home, handed down, expected), then up the
        # implementation chain: whatever a resolution read so implements, directly or transitively
        self.resolutions: set[str] = set()
        todo = [c for c, (issuer, _) in m.resolutions.items() if self.s(issuer) or c in self.handed_resolutions or self.expected(c)]
        while todo:
            code = todo.pop()
            if code not in self.resolutions:  # a chain that loops ends here
                self.resolutions.add(code)
                implements = m.resolutions[code][1]
                if implements is not None:
                    todo.append(implements)

    def s(self, unit_code: str) -> bool:
        return under(unit_code, self.g)

    def expected(self, code: str) -> bool:
        """A unit of the scope appears in the resolution's coverage: strictly below its issuer, not
        archived, of a kind the resolution expects an implementing programme from."""
        issuer, kinds = self.m.resolutions[code][0], self.m.implementer_kinds.get(code, frozenset())
        return any(self.s(u) and u != issuer and under(u, issuer) and u not in ARCHIVED and KIND[u] in kinds for u in PARENT)

    def names(self, unit_code: str) -> bool:
        """A unit a reference may name (an assigner): in scope, or on the user's own ancestor chain (ACCESS.md "Up";
        each user's own unit is its grant's)."""
        return self.s(unit_code) or under(self.g, unit_code)

    def assignment(self, key: tuple[str, str]) -> bool:  # assignee side or assigner side
        return self.s(key[1]) or self.s(self.m.assignments[key].assigner)

    def task(self, code: str) -> bool:  # lead unit, or handed down
        return self.s(self.m.tasks[code][1]) or code in self.handed_tasks

    def resolution(self, code: str) -> bool:  # home, handed down, expected, or up the chain from one of those
        return code in self.resolutions

    def kpi(self, code: str) -> bool:  # with its resolution, the lead unit, a reporting unit
        res, lead = self.m.kpis[code]
        return self.resolution(res) or self.s(lead) or any(self.s(u) for k, u in self.m.targets if k == code)

    def node(self, kind: str, key: Any) -> bool:
        return {
            "resolution": lambda: self.resolution(key), "objective": lambda: self.resolution(self.m.objectives[key][0]),
            "keyresult": lambda: self.resolution(self.m.objectives[key[0]][0]), "kpi": lambda: self.kpi(key),
            "task": lambda: self.task(key), "milestone": lambda: self.task(self.m.milestones[key]),
            "assignment": lambda: self.assignment(key), "extension": lambda: self.assignment(key),
            "measurement": lambda: self.s(key[1]),
        }[kind]()


def expected_view(m: Model, grant_unit: str) -> dict[str, Any]:
    v = Sight(m, grant_unit)
    resolutions = {
        code: {
            "implements": impl if impl and v.resolution(impl) else None,
            "implementedBy": sorted(c for c, (_, i) in m.resolutions.items() if i == code and v.resolution(c)),
            "objectives": sorted((o, tuple(krs)) for o, (r, krs) in m.objectives.items() if r == code),
            "kpis": sorted(k for k, (r, _) in m.kpis.items() if r == code and v.kpi(k)),
        }
        for code, (_, impl) in m.resolutions.items() if v.resolution(code)
    }
    tasks = {
        code: {
            "resolution": res if v.resolution(res) else None,
            "parent": parent if parent and v.task(parent) else None,
            "origin": origin if origin and v.assignment(origin) else None,
            "assignments": sorted(u for (t, u) in m.assignments if t == code and v.assignment((t, u))),
            "milestones": sorted(title for title, t in m.milestones.items() if t == code),
            "subtasks": sorted(c for c, (_, _, p, _) in m.tasks.items() if p == code and v.task(c)),
        }
        for code, (res, _, parent, origin) in m.tasks.items() if v.task(code)
    }
    assignments = {
        key: {
            "assigner": a.assigner if v.names(a.assigner) else None,
            "status": a.reports[-1][1] if a.reports else "not_started",
            "progress": a.reports[-1][0] if a.reports else 0,
            "dueOn": a.due, "originalDueOn": a.original, "acknowledged": a.acknowledged,
            "reports": a.reports, "extensions": a.extensions, "rating": a.rating,
            "subtasks": sorted(c for c, (_, _, _, o) in m.tasks.items() if o == key and v.task(c)),
        }
        for key, a in m.assignments.items() if v.assignment(key)
    }
    kpis = {
        code: {"resolution": res if v.resolution(res) else None, "targets": sorted(u for k, u in m.targets if k == code and v.s(u))}
        for code, (res, _) in m.kpis.items() if v.kpi(code)
    }
    measurements = {x for x in m.measurements if v.s(x[1])}
    nodes = {gid: v.node(kind, key) for gid, (kind, key) in m.nodes.items()}
    return {"resolutions": resolutions, "tasks": tasks, "assignments": assignments, "kpis": kpis, "measurements": measurements, "nodes": nodes}


VIEW = """
  resolutions(first: 100) { totalCount nodes { code implements { code } implementedBy { nodes { code } } objectives { code keyResults { title } } kpis { code } } }
  tasks(first: 100) { totalCount nodes { code resolution { code } parentTask { code } originAssignment { task { code } unit { code } }
    assignments(first: 100) { nodes { unit { code } } } milestones { title } subtasks { code } } }
  assignments(first: 100) { totalCount nodes { task { code } unit { code } assignerUnit { code } status progress dueOn originalDueOn acknowledgedAt
    reports { totalCount nodes { progress status } } extensions { status requestedDueOn } evaluation { rating } subtasks { code } } }
  kpis(first: 100) { totalCount nodes { code resolution { code } unitTargets { nodes { unit { code } } } } }
  measurements(first: 100) { totalCount nodes { kpi { code } unit { code } period } }
"""


def _code(obj: dict[str, Any] | None) -> str | None:
    return obj["code"] if obj else None


async def actual_view(api: Api, m: Model, as_user: str) -> dict[str, Any]:
    gids = list(m.nodes)
    assert len(gids) <= 30  # the server allows 30 aliases a query
    nodes = " ".join(f'n{i}: node(id: "{gid}") {{ id }}' for i, gid in enumerate(gids))
    data = await api.data("{" + VIEW + nodes + "}", as_user=as_user)
    for conn in ("resolutions", "tasks", "assignments", "kpis", "measurements"):
        assert data[conn]["totalCount"] == len(data[conn]["nodes"]), (as_user, conn, "totalCount covers only the rows listed")
    resolutions = {
        r["code"]: {
            "implements": _code(r["implements"]), "implementedBy": sorted(x["code"] for x in r["implementedBy"]["nodes"]),
            "objectives": sorted((o["code"], tuple(k["title"] for k in o["keyResults"])) for o in r["objectives"]),
            "kpis": sorted(k["code"] for k in r["kpis"]),
        }
        for r in data["resolutions"]["nodes"]
    }
    tasks = {
        t["code"]: {
            "resolution": _code(t["resolution"]), "parent": _code(t["parentTask"]),
            "origin": (t["originAssignment"]["task"]["code"], t["originAssignment"]["unit"]["code"]) if t["originAssignment"] else None,
            "assignments": sorted(a["unit"]["code"] for a in t["assignments"]["nodes"]),
            "milestones": sorted(x["title"] for x in t["milestones"]), "subtasks": sorted(x["code"] for x in t["subtasks"]),
        }
        for t in data["tasks"]["nodes"]
    }
    assignments = {
        (a["task"]["code"], a["unit"]["code"]): {
            "assigner": _code(a["assignerUnit"]), "status": a["status"], "progress": a["progress"], "dueOn": a["dueOn"],
            "originalDueOn": a["originalDueOn"], "acknowledged": a["acknowledgedAt"] is not None,
            "reports": [(r["progress"], r["status"]) for r in a["reports"]["nodes"]],
            "extensions": [(x["status"], x["requestedDueOn"]) for x in a["extensions"]],
            "rating": a["evaluation"]["rating"] if a["evaluation"] else None, "subtasks": sorted(x["code"] for x in a["subtasks"]),
        }
        for a in data["assignments"]["nodes"]
    }
    kpis = {k["code"]: {"resolution": _code(k["resolution"]), "targets": sorted(t["unit"]["code"] for t in k["unitTargets"]["nodes"])} for k in data["kpis"]["nodes"]}
    measurements = {(x["kpi"]["code"], x["unit"]["code"], x["period"]) for x in data["measurements"]["nodes"]}
    assert len(measurements) == len(data["measurements"]["nodes"])
    found = {gid: data[f"n{i}"] is not None for i, gid in enumerate(gids)}
    for i, gid in enumerate(gids):
        assert data[f"n{i}"] is None or data[f"n{i}"]["id"] == gid
    return {"resolutions": resolutions, "tasks": tasks, "assignments": assignments, "kpis": kpis, "measurements": measurements, "nodes": found}


_STEP = [0]


async def check(api: Api, m: Model, step: str, users: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every user's whole view equals exactly what ACCESS.md lets its grant see."""
    if users is None:
        _STEP[0] += 1
        skipped = {group[(_STEP[0] + 1) % len(group)] for group in TWINS}
        users = [name for name in WATCHERS if name not in skipped]
    users = list(users)
    for name in users:
        await api.token_for(name)
    actuals = await asyncio.gather(*(actual_view(api, m, name) for name in users))
    views = {}
    for name, actual in zip(users, actuals, strict=True):
        expected = expected_view(m, GRANTS[name][1])
        for part in ("resolutions", "tasks", "assignments", "kpis", "measurements"):
            assert actual[part] == expected[part], f"after {step}: {name} sees the wrong {part}"
        wrong = {m.nodes[g]: actual["nodes"][g] for g in expected["nodes"] if actual["nodes"][g] != expected["nodes"][g]}
        assert not wrong, f"after {step}: node(id) as {name} is wrong for {wrong} (True = found)"
        views[name] = actual
    return views


# -- building the world --------------------------------------------------------------------------


@dataclass
class World:
    api: Api
    m: Model = field(default_factory=Model)
    ids: dict[Any, str] = field(default_factory=dict)

    def unit(self, code: str) -> str:
        return self.ids[("unit", code)]

    def res(self, code: str) -> str:
        return self.ids[("resolution", code)]

    def task(self, code: str) -> str:
        return self.ids[("task", code)]

    def asg(self, task: str, unit_code: str) -> str:
        return self.ids[("assignment", (task, unit_code))]

    def kpi(self, code: str) -> str:
        return self.ids[("kpi", code)]

    def remember(self, kind: str, key: Any, gid: str) -> str:
        self.ids[(kind, key)] = gid
        if kind != "unit":  # units' own reading rules are tested in test_units_read
            self.m.nodes[gid] = (kind, key)
        return gid

    # each method below writes through GraphQL and records the write in the model
    async def resolution(self, as_user: str, code: str, issuer: str, implements: str | None = None) -> None:
        inp: dict[str, Any] = {"code": code, "title": f"Văn bản {code}", "kind": "action_programme" if implements else "resolution",
                               "issuingUnitId": self.unit(issuer), "issuedOn": "2025-01-15" if implements else "2024-12-22"}
        if issuer == "TW":  # every province owes an action programme
            inp |= {"implementerKinds": ["province"], "programmeDueOn": "2027-03-31"}
        if implements:
            inp["implementsId"] = self.res(implements)
        r = await ok(self.api, "resolutionCreate", inp, as_user)
        self.m.resolutions[code] = (issuer, implements)
        self.m.implementer_kinds[code] = frozenset(inp.get("implementerKinds", ()))
        self.remember("resolution", code, r["resolution"]["id"])

    async def objective(self, as_user: str, resolution: str, code: str, key_results: list[str]) -> None:
        r = await ok(self.api, "objectiveCreate", {"resolutionId": self.res(resolution), "code": code, "title": f"Mục tiêu {code}"}, as_user)
        self.m.objectives[code] = (resolution, [])
        self.remember("objective", code, r["objective"]["id"])
        for title in key_results:
            k = await ok(self.api, "keyResultCreate", {"objectiveId": r["objective"]["id"], "title": title}, as_user)
            self.m.objectives[code][1].append(title)
            self.remember("keyresult", (code, title), k["keyResult"]["id"])

    async def kpi_create(self, as_user: str, resolution: str, code: str, lead: str, frequency: str) -> None:
        inp = {"resolutionId": self.res(resolution), "code": code, "name": f"Chỉ tiêu {code}", "unitOfMeasure": "%", "direction": "increase",
               "baseline": "40", "target": "80", "yellowThreshold": "62", "redThreshold": "54", "group": "public_service",
               "frequency": frequency, "leadUnitId": self.unit(lead)}
        r = await ok(self.api, "kpiCreate", inp, as_user)
        self.m.kpis[code] = (resolution, lead)
        self.remember("kpi", code, r["kpi"]["id"])

    async def target(self, as_user: str, kpi: str, unit_code: str) -> None:
        await ok(self.api, "kpiUnitTargetSet", {"kpiId": self.kpi(kpi), "unitId": self.unit(unit_code), "target": "70"}, as_user)
        self.m.targets.add((kpi, unit_code))

    async def task_create(self, as_user: str, resolution: str, code: str, lead: str, start: str, due: str, milestones: dict[str, str],
                          origin: tuple[str, str] | None = None) -> None:
        inp: dict[str, Any] = {"resolutionId": self.res(resolution), "code": code, "title": f"Nhiệm vụ {code}", "leadUnitId": self.unit(lead),
                               "startOn": start, "dueOn": due, "milestones": [{"title": t, "dueOn": d} for t, d in milestones.items()]}
        if origin:
            inp["fromAssignmentId"] = self.asg(*origin)
        r = await ok(self.api, "taskCreate", inp, as_user)
        self.m.tasks[code] = (resolution, lead, origin[0] if origin else None, origin)
        self.remember("task", code, r["task"]["id"])
        for ms in r["task"]["milestones"]:
            self.m.milestones[ms["title"]] = code
            self.remember("milestone", ms["title"], ms["id"])

    async def assign(self, as_user: str, task: str, assigner: str, assignees: list[str], due: str | None = None) -> None:
        specs = [{"unitId": self.unit(u), **({"dueOn": due} if due else {})} for u in assignees]
        r = await ok(self.api, "taskAssign", {"taskId": self.task(task), "assignerUnitId": self.unit(assigner), "assignees": specs}, as_user,
                     "assignments { id unit { code } dueOn originalDueOn status progress }")
        assert [a["unit"]["code"] for a in r["assignments"]] == assignees
        for a in r["assignments"]:
            assert (a["status"], a["progress"], a["dueOn"]) == ("not_started", 0, a["originalDueOn"])
            self.m.assignments[(task, a["unit"]["code"])] = Asg(assigner=assigner, due=a["dueOn"], original=a["originalDueOn"])
            self.remember("assignment", (task, a["unit"]["code"]), a["id"])

    async def acknowledge(self, as_user: str, task: str, unit_code: str) -> None:
        r = await ok(self.api, "assignmentAcknowledge", {"id": self.asg(task, unit_code)}, as_user, "assignment { acknowledgedAt acknowledgedBy { username } }")
        assert r["assignment"]["acknowledgedBy"] == {"username": as_user}
        self.m.assignments[(task, unit_code)].acknowledged = True

    async def report(self, as_user: str, task: str, unit_code: str, progress: int, status: str) -> None:
        inp = {"assignmentId": self.asg(task, unit_code), "progress": progress, "status": status, "note": "Báo cáo định kỳ",
               "evidence": ["https://vanban.example.vn/bao-cao.pdf"]}
        r = await ok(self.api, "progressReportSubmit", inp, as_user, "report { progress status reportedOn reporter { username } } assignment { status progress }")
        assert r["report"] == {"progress": progress, "status": status, "reportedOn": TODAY.isoformat(), "reporter": {"username": as_user}}
        assert r["assignment"] == {"status": status, "progress": progress}
        self.m.assignments[(task, unit_code)].reports.append((progress, status))

    async def measure(self, as_user: str, kpi: str, unit_code: str, period: str, value: str) -> None:
        r = await ok(self.api, "measurementSubmit", {"kpiId": self.kpi(kpi), "unitId": self.unit(unit_code), "period": period, "value": value}, as_user)
        self.m.measurements.add((kpi, unit_code, period))
        self.remember("measurement", (kpi, unit_code, period), r["measurement"]["id"])

    async def ask_extension(self, as_user: str, task: str, unit_code: str, due: str) -> str:
        r = await ok(self.api, "extensionRequest", {"assignmentId": self.asg(task, unit_code), "requestedDueOn": due, "reason": "Thiếu kinh phí"}, as_user,
                     "extension { id status requestedDueOn requestedBy { username } }")
        assert (r["extension"]["status"], r["extension"]["requestedDueOn"], r["extension"]["requestedBy"]) == ("pending", due, {"username": as_user})
        self.m.assignments[(task, unit_code)].extensions.append(("pending", due))
        n = len(self.m.assignments[(task, unit_code)].extensions)
        return self.remember("extension", (task, unit_code), r["extension"]["id"]) if n == 1 else r["extension"]["id"]

    async def decide(self, as_user: str, task: str, unit_code: str, extension_id: str, approve: bool, reason: str | None = None) -> None:
        inp: dict[str, Any] = {"id": extension_id, "approve": approve, **({"reason": reason} if reason else {})}
        r = await ok(self.api, "extensionDecide", inp, as_user, "extension { status decidedBy { username } assignment { dueOn originalDueOn } }")
        a = self.m.assignments[(task, unit_code)]
        i = next(i for i, (s, _) in enumerate(a.extensions) if s == "pending")
        a.extensions[i] = ("approved" if approve else "refused", a.extensions[i][1])
        if approve:
            a.due = a.extensions[i][1]
        assert r["extension"] == {"status": a.extensions[i][0], "decidedBy": {"username": as_user}, "assignment": {"dueOn": a.due, "originalDueOn": a.original}}

    async def evaluate(self, as_user: str, task: str, unit_code: str, rating: str) -> None:
        r = await ok(self.api, "assignmentEvaluate", {"assignmentId": self.asg(task, unit_code), "rating": rating, "comment": "Hoàn thành tốt"}, as_user,
                     "evaluation { rating comment evaluator { username } evaluatorUnit { code } } assignment { evaluation { rating } }")
        assert r["evaluation"]["rating"] == rating and r["evaluation"]["evaluator"] == {"username": as_user}
        assert r["assignment"] == {"evaluation": {"rating": rating}}
        self.m.assignments[(task, unit_code)].rating = rating


async def new_world(api: Api) -> World:
    await api.seed(UNITS, USERS)
    w = World(api)
    for u in (await api.data("{ units(first: 50) { nodes { id code } } }", as_user="admin"))["units"]["nodes"]:
        w.remember("unit", u["code"], u["id"])
    assert {key for kind, key in w.ids} == set(PARENT)
    return w


async def central_steps(w: World) -> None:
    """tw.manager: 57-NQ/TW with an objective, key results, a KPI and two tasks."""
    await w.resolution("tw.manager", "57-NQ/TW", "TW")
    await w.objective("tw.manager", "57-NQ/TW", "57-NQ/TW-O1", ["KR1: 80% thủ tục trực tuyến toàn trình", "KR2: kinh tế số 20% GDP"])
    await w.kpi_create("tw.manager", "57-NQ/TW", KPI_TW, "TW", "quarterly")
    await w.task_create("tw.manager", "57-NQ/TW", T001, "TW", "2026-01-01", "2027-12-31", {"Dự thảo khung thể chế": "2026-06-30", "Trình ban hành": "2027-06-30"})
    await w.task_create("tw.manager", "57-NQ/TW", T002, "TW", "2026-03-01", "2027-12-31", {"Hạ tầng dữ liệu quốc gia": "2027-01-31"})


async def province_steps(w: World) -> None:
    """p01.manager: CTr-57/P01 implementing 57-NQ/TW, its objective and KPI with the communes' targets."""
    await w.resolution("p01.manager", "CTr-57/P01", "P01", implements="57-NQ/TW")
    await w.objective("p01.manager", "CTr-57/P01", "CTr-57/P01-O1", ["KR1: 100% xã có trung tâm chuyển đổi số"])
    await w.kpi_create("p01.manager", "CTr-57/P01", KPI_P01, "P01", "monthly")
    await w.target("p01.manager", KPI_P01, "P01-C01")
    await w.target("p01.manager", KPI_P01, "P01-C02")


async def built(api: Api) -> World:
    """The cycle up to the communes' first reports, without the per-step checks (for the other tests)."""
    w = await new_world(api)
    await central_steps(w)
    await w.assign("tw.manager", T001, "TW", ["P01", "P02"])
    await w.assign("p02.manager", T001, "P02", ["P02-C01"])
    await province_steps(w)
    await w.task_create("p01.manager", "CTr-57/P01", SUB, "P01", "2026-02-01", "2027-06-30", {"Khảo sát hiện trạng": "2026-12-31"}, origin=(T001, "P01"))
    await w.assign("p01.manager", SUB, "P01", ["P01-C01", "P01-C02"], due="2027-03-31")
    await w.report("p01.c01.officer", SUB, "P01-C01", 40, "in_progress")
    await w.report("p01.c02.officer", SUB, "P01-C02", 20, "in_progress")
    return w


# -- 1. the acceptance test ----------------------------------------------------------------------


async def test_cycle_every_step_each_user_sees_exactly_its_share(api: Api) -> None:
    w = await new_world(api)
    m = w.m
    await check(api, m, "seeding")

    await central_steps(w)
    await check(api, m, "57-NQ/TW with objective, key results, KPI and tasks")
    # 57-NQ/TW expects a programme from every province (implementerKinds), so P01 and P02 read it from its issue,
    # before anything is handed to them (ACCESS.md, reading rule 2: resolutions a unit is expected to implement).
    # A commune is no implementer and nothing is handed to it yet: for P01-C01, 57-NQ/TW and its KPI do not exist
    tw = "{ resolution(code: \"57-NQ/TW\") { code } }"
    for who, seen in (("p01.manager", True), ("p02.officer", True), ("p01.c01.officer", False), ("p02.c01.officer", False)):
        assert (await api.data(tw, as_user=who))["resolution"] == ({"code": "57-NQ/TW"} if seen else None), who
    tw_measure = {"kpiId": w.kpi(KPI_TW), "unitId": w.unit("P01-C01"), "period": "2026-Q3", "value": "5"}  # valid, but for the KPI
    await same_refusal(api, "measurementSubmit", tw_measure, {**tw_measure, "kpiId": missing("Kpi")}, "p01.c01.officer",
                       [("kpiId", "NOT_FOUND")])
    # and what TW has not handed down yet stays hidden from P01: T001 does not exist for it, it cannot even name it as a parent
    own = {"resolutionId": w.res("57-NQ/TW"), "code": "57-NQ/TW-P01-T1", "title": "x", "leadUnitId": w.unit("P01"),
           "startOn": "2026-02-01", "dueOn": "2026-12-31"}
    await same_refusal(api, "taskCreate", {**own, "parentTaskId": w.task(T001)}, {**own, "parentTaskId": missing("Task")}, "p01.manager",
                       [("parentTaskId", "NOT_FOUND")])
    await w.assign("tw.manager", T001, "TW", ["P01", "P02"])
    await check(api, m, "fan-out of T001 to P01 and P02", WATCHERS)
    await w.assign("p02.manager", T001, "P02", ["P02-C01"])
    await check(api, m, "P02 hands T001 down to P02-C01")

    # P01 reads 57-NQ/TW (expected of it, and now handed down too), so it writes its programme itself
    await w.resolution("p01.manager", "CTr-57/P01", "P01", implements="57-NQ/TW")
    await w.objective("p01.manager", "CTr-57/P01", "CTr-57/P01-O1", ["KR1: 100% xã có trung tâm chuyển đổi số"])
    await w.kpi_create("p01.manager", "CTr-57/P01", KPI_P01, "P01", "monthly")
    await check(api, m, "CTr-57/P01 with its objective and KPI")
    await w.target("p01.manager", KPI_P01, "P01-C01")
    await w.target("p01.manager", KPI_P01, "P01-C02")
    await check(api, m, "communes' targets on the programme KPI")

    await w.task_create("p01.manager", "CTr-57/P01", SUB, "P01", "2026-02-01", "2027-06-30", {"Khảo sát hiện trạng": "2026-12-31"}, origin=(T001, "P01"))
    await check(api, m, "P01 decomposes its assignment of T001")
    await w.assign("p01.manager", SUB, "P01", ["P01-C01", "P01-C02"], due="2027-03-31")
    await check(api, m, "fan-out of the programme task to P01-C01 and P01-C02", WATCHERS)

    # the commune: its assignment, and the task and resolution above it, read-only; up the implementation chain
    # also 57-NQ/TW, which that programme implements. Still hidden: its sibling's assignment and T001 (handed to P01 only)
    sibling, own = w.asg(SUB, "P01-C02"), w.asg(SUB, "P01-C01")
    c01 = await api.data(
        "query($s: ID!, $o: ID!) { sib: node(id: $s) { id } own: node(id: $o) { id }"
        " task(code: \"" + SUB + "\") { code parentTask { code } originAssignment { id } assignments { nodes { unit { code } } } }"
        " resolution(code: \"CTr-57/P01\") { code implements { code } }"
        " up: task(code: \"" + T001 + "\") { code } tw: resolution(code: \"57-NQ/TW\") { code }"
        " assignments(first: 10) { totalCount nodes { unit { code } } } }",
        {"s": sibling, "o": own}, as_user="p01.c01.officer")
    assert c01 == {"sib": None, "own": {"id": own},
                   "task": {"code": SUB, "parentTask": None, "originAssignment": None, "assignments": {"nodes": [{"unit": {"code": "P01-C01"}}]}},
                   "resolution": {"code": "CTr-57/P01", "implements": {"code": "57-NQ/TW"}}, "up": None, "tw": {"code": "57-NQ/TW"},
                   "assignments": {"totalCount": 1, "nodes": [{"unit": {"code": "P01-C01"}}]}}
    for name, inp, fld in (
        ("assignmentAcknowledge", lambda a: {"id": a}, "id"),
        ("progressReportSubmit", lambda a: {"assignmentId": a, "progress": 10, "status": "in_progress"}, "assignmentId"),
        ("extensionRequest", lambda a: {"assignmentId": a, "requestedDueOn": "2027-05-31", "reason": "x"}, "assignmentId"),
        ("assignmentEvaluate", lambda a: {"assignmentId": a, "rating": "good"}, "assignmentId"),
    ):
        # an officer evaluates nothing anywhere: casbin alone refuses it, whatever the id
        await same_refusal(api, name, inp(sibling), inp(missing("Assignment")), "p01.c01.officer", [(fld, "FORBIDDEN" if name == "assignmentEvaluate" else "NOT_FOUND")])
    # roles that may not do this anywhere: FORBIDDEN, decided by casbin before any row is read
    # (every update sends the object's true current version, read from the database: only the role may refuse it)
    version = {gid: await current_version(api, gid) for gid in (w.task(SUB), w.task(T001), w.res("CTr-57/P01"), w.res("57-NQ/TW"), w.kpi(KPI_P01), w.kpi(KPI_TW),
                                                              w.ids[("milestone", "Khảo sát hiện trạng")], w.ids[("milestone", "Trình ban hành")],
                                                              w.ids[("objective", "CTr-57/P01-O1")])}
    for who in ("p01.c01.officer", "p01.c01.viewer"):
        await refused(api, "taskUpdate", {"id": w.task(SUB), "version": version[w.task(SUB)], "title": "Sửa bởi xã", "dueOn": "2027-01-31"}, who, [("id", "FORBIDDEN")])
        await refused(api, "resolutionUpdate", {"id": w.res("CTr-57/P01"), "version": version[w.res("CTr-57/P01")], "title": "Sửa bởi xã"}, who, [("id", "FORBIDDEN")])
    for who in ("p01.c01.officer",):
        ms = w.ids[("milestone", "Khảo sát hiện trạng")]
        await refused(api, "milestoneUpdate", {"id": ms, "version": version[ms], "doneOn": TODAY.isoformat()}, who, [("id", "NOT_FOUND")])  # it reports, but not for the lead unit
        await refused(api, "milestoneUpdate", {"id": ms, "version": version[ms], "title": "Sửa bởi xã"}, who, [("id", "FORBIDDEN")])
        await refused(api, "milestoneCreate", {"taskId": w.task(SUB), "title": "Thêm bởi xã", "dueOn": "2027-01-31"}, who, [("taskId", "FORBIDDEN")])
        objective = w.ids[("objective", "CTr-57/P01-O1")]
        await refused(api, "objectiveUpdate", {"id": objective, "version": version[objective], "title": "Sửa bởi xã"}, who, [("id", "FORBIDDEN")])
        await refused(api, "kpiUpdate", {"id": w.kpi(KPI_P01), "version": version[w.kpi(KPI_P01)], "target": "99"}, who, [("id", "FORBIDDEN")])
        await refused(api, "taskAssign", {"taskId": w.task(SUB), "assignerUnitId": w.unit(GRANTS[who][1]), "assignees": [{"unitId": w.unit("P01-C01-K01")}]},
                      who, [("assignerUnitId", "FORBIDDEN")])
    # handed down, so read, but outside the caller's write scope: answered exactly like a missing id (sent with the same version)
    v = version[w.task(T001)]
    await same_refusal(api, "taskUpdate", {"id": w.task(T001), "version": v, "title": "Sửa bởi tỉnh"}, {"id": missing("Task"), "version": v, "title": "Sửa bởi tỉnh"},
                       "p01.manager", [("id", "NOT_FOUND")])
    v = version[w.ids[("milestone", "Trình ban hành")]]
    await same_refusal(api, "milestoneUpdate", {"id": w.ids[("milestone", "Trình ban hành")], "version": v, "doneOn": TODAY.isoformat()},
                       {"id": missing("Milestone"), "version": v, "doneOn": TODAY.isoformat()}, "p01.manager", [("id", "NOT_FOUND")])
    v = version[w.kpi(KPI_TW)]
    await same_refusal(api, "kpiUpdate", {"id": w.kpi(KPI_TW), "version": v, "target": "99"}, {"id": missing("Kpi"), "version": v, "target": "99"}, "p01.manager",
                       [("id", "NOT_FOUND")])
    v = version[w.res("57-NQ/TW")]
    await same_refusal(api, "resolutionUpdate", {"id": w.res("57-NQ/TW"), "version": v, "title": "Sửa bởi tỉnh"}, {"id": missing("Resolution"), "version": v, "title": "Sửa bởi tỉnh"},
                       "p01.manager", [("id", "NOT_FOUND")])
    # ... and invisible beyond it: NOT_FOUND, as for a missing id
    v = version[w.task(T001)]
    await same_refusal(api, "taskUpdate", {"id": w.task(T001), "version": v, "title": "x"}, {"id": missing("Task"), "version": v, "title": "x"}, "p01.c01.officer",
                       [("id", "FORBIDDEN")])  # no define anywhere
    v = version[w.task(SUB)]
    await same_refusal(api, "taskUpdate", {"id": w.task(SUB), "version": v, "title": "x"}, {"id": missing("Task"), "version": v, "title": "x"}, "p02.manager", [("id", "NOT_FOUND")])
    v = version[w.res("CTr-57/P01")]
    await same_refusal(api, "resolutionUpdate", {"id": w.res("CTr-57/P01"), "version": v, "title": "x"}, {"id": missing("Resolution"), "version": v, "title": "x"}, "p02.manager",
                       [("id", "NOT_FOUND")])
    # (each refusal above compared every row of every table before and after: nothing was written)

    await w.acknowledge("p01.c01.officer", SUB, "P01-C01")
    await w.acknowledge("p01.c02.officer", SUB, "P01-C02")
    await w.acknowledge("p02.c01.officer", T001, "P02-C01")
    await w.acknowledge("p01.manager", T001, "P01")
    await check(api, m, "acknowledgements")

    await w.report("p01.c01.officer", SUB, "P01-C01", 40, "in_progress")
    await w.report("p01.c02.officer", SUB, "P01-C02", 20, "in_progress")
    await w.report("p01.manager", T001, "P01", 30, "in_progress")
    await w.report("p02.officer", T001, "P02", 10, "in_progress")
    await w.report("p02.c01.officer", T001, "P02-C01", 15, "in_progress")
    await check(api, m, "progress reports")

    await w.measure("p01.c01.officer", KPI_P01, "P01-C01", "2026-10", "12")
    await w.measure("p01.c02.officer", KPI_P01, "P01-C02", "2026-10", "8")
    await w.measure("p01.officer", KPI_TW, "P01", "2026-Q3", "61")
    await w.measure("p02.officer", KPI_TW, "P02", "2026-Q3", "55")
    await w.measure("p02.c01.officer", KPI_TW, "P02-C01", "2026-Q3", "45")
    await check(api, m, "measurements")

    ext = await w.ask_extension("p01.c02.officer", SUB, "P01-C02", "2027-06-30")
    await check(api, m, "P01-C02 asks for an extension", WATCHERS)
    for who in ("p01.c01.officer", "p02.manager", "p02.officer"):  # the sibling's or another province's request: not there (officers decide nothing)
        await same_refusal(api, "extensionDecide", {"id": ext, "approve": True}, {"id": missing("Extension"), "approve": True}, who,
                           [("id", "FORBIDDEN" if who.endswith("officer") else "NOT_FOUND")])
    await w.decide("p01.manager", SUB, "P01-C02", ext, approve=True)
    await check(api, m, "P01 approves the extension")

    await w.report("p01.c01.officer", SUB, "P01-C01", 100, "completed")
    await check(api, m, "P01-C01 completes")
    await w.evaluate("p01.manager", SUB, "P01-C01", "excellent")
    views = await check(api, m, "P01 evaluates P01-C01", WATCHERS)

    # literal anchors for the transcription of ACCESS.md used above
    p02_common = {
        "resolutions": {"57-NQ/TW": {"implements": None, "implementedBy": [], "kpis": [KPI_TW],
                                     "objectives": [("57-NQ/TW-O1", ("KR1: 80% thủ tục trực tuyến toàn trình", "KR2: kinh tế số 20% GDP"))]}},
        "kpis": {KPI_TW: {"resolution": "57-NQ/TW", "targets": []}},
    }
    for who in ("p02.manager", "p02.officer"):
        v = views[who]
        assert {k: v[k] for k in p02_common} == p02_common
        assert v["tasks"] == {T001: {"resolution": "57-NQ/TW", "parent": None, "origin": None, "assignments": ["P02", "P02-C01"],
                                     "milestones": ["Dự thảo khung thể chế", "Trình ban hành"], "subtasks": []}}
        assert set(v["assignments"]) == {(T001, "P02"), (T001, "P02-C01")}
        # TW assigned it: out of P02's scope, but on its own ancestor chain, so named (code, name, kind)
        assert v["assignments"][(T001, "P02")]["subtasks"] == [] and v["assignments"][(T001, "P02")]["assigner"] == "TW"
        assert v["measurements"] == {(KPI_TW, "P02", "2026-Q3"), (KPI_TW, "P02-C01", "2026-Q3")}
    v = views["p02.c01.officer"]
    assert {k: v[k] for k in p02_common} == p02_common and set(v["tasks"]) == {T001}
    assert v["tasks"][T001]["assignments"] == ["P02-C01"]
    assert v["assignments"] == {(T001, "P02-C01"): {"assigner": "P02", "status": "in_progress", "progress": 15, "dueOn": "2027-12-31",
                                                    "originalDueOn": "2027-12-31", "acknowledged": True, "reports": [(15, "in_progress")],
                                                    "extensions": [], "rating": None, "subtasks": []}}
    assert v["measurements"] == {(KPI_TW, "P02-C01", "2026-Q3")}
    for who in ("p01.c01.officer", "p01.c01.viewer"):
        v = views[who]
        # its programme handed down, and up the chain what that programme implements, with its objectives and KPI
        assert v["resolutions"] == {"CTr-57/P01": {"implements": "57-NQ/TW", "implementedBy": [], "kpis": [KPI_P01],
                                                   "objectives": [("CTr-57/P01-O1", ("KR1: 100% xã có trung tâm chuyển đổi số",))]},
                                    "57-NQ/TW": {"implements": None, "implementedBy": ["CTr-57/P01"], "kpis": [KPI_TW],
                                                 "objectives": [("57-NQ/TW-O1", ("KR1: 80% thủ tục trực tuyến toàn trình",
                                                                                 "KR2: kinh tế số 20% GDP"))]}}
        assert v["tasks"] == {SUB: {"resolution": "CTr-57/P01", "parent": None, "origin": None, "assignments": ["P01-C01"],
                                    "milestones": ["Khảo sát hiện trạng"], "subtasks": []}}
        assert v["assignments"] == {(SUB, "P01-C01"): {"assigner": "P01", "status": "completed", "progress": 100, "dueOn": "2027-03-31",
                                                       "originalDueOn": "2027-03-31", "acknowledged": True,
                                                       "reports": [(40, "in_progress"), (100, "completed")], "extensions": [],
                                                       "rating": "excellent", "subtasks": []}}
        assert v["kpis"] == {KPI_P01: {"resolution": "CTr-57/P01", "targets": ["P01-C01"]},
                             KPI_TW: {"resolution": "57-NQ/TW", "targets": []}}
        assert v["measurements"] == {(KPI_P01, "P01-C01", "2026-10")}
        assert v["nodes"][sibling] is False and v["nodes"][ext] is False and v["nodes"][w.asg(T001, "P01")] is False
    v = views["p01.manager"]
    assert v["tasks"][T001]["assignments"] == ["P01"] and v["tasks"][T001]["subtasks"] == [SUB]
    assert v["tasks"][SUB]["parent"] == T001 and v["tasks"][SUB]["origin"] == (T001, "P01")
    assert v["assignments"][(T001, "P01")]["subtasks"] == [SUB]
    assert v["assignments"][(SUB, "P01-C02")]["extensions"] == [("approved", "2027-06-30")]
    assert (v["assignments"][(SUB, "P01-C02")]["dueOn"], v["assignments"][(SUB, "P01-C02")]["originalDueOn"]) == ("2027-06-30", "2027-03-31")
    assert v["resolutions"]["57-NQ/TW"]["implementedBy"] == ["CTr-57/P01"] and v["resolutions"]["CTr-57/P01"]["implements"] == "57-NQ/TW"
    assert T002 not in v["tasks"]
    assert views["tw.manager"]["tasks"][T001]["assignments"] == ["P01", "P02", "P02-C01"]
    for one, two in (*TWINS, ("p02.manager", "p02.officer")):
        assert views[one] == views[two], (one, two)  # reading does not depend on the role

    # filters and counts over what the caller may list
    counts = ("query($t: ID!, $r: ID!, $rt: ID!, $u: ID!) { byTask: assignments(filter: {task: $t}) { totalCount }"
              " bySibling: assignments(filter: {assigneeUnder: $u}) { totalCount } byResolution: assignments(filter: {resolution: $r}) { totalCount }"
              " tasksOf: tasks(filter: {resolution: $r}) { totalCount } tasksOfTw: tasks(filter: {resolution: $rt}) { totalCount }"
              " search: tasks(filter: {search: \"ctr-57\"}) { totalCount } late: assignments(filter: {overdue: false}) { totalCount } }")
    args = {"t": w.task(SUB), "r": w.res("CTr-57/P01"), "rt": w.res("57-NQ/TW"), "u": w.unit("P01-C02")}
    expected_counts = {
        "tw.manager": (2, 1, 2, 1, 2, 1, 5), "p01.manager": (2, 1, 2, 1, 1, 1, 3), "p01.c01.officer": (1, 0, 1, 1, 0, 1, 1),
        "p01.c02.officer": (1, 1, 1, 1, 0, 1, 1), "p02.manager": (0, 0, 0, 0, 1, 0, 2), "p02.c01.officer": (0, 0, 0, 0, 1, 0, 1),
    }
    for who, want in expected_counts.items():
        data = await api.data(counts, args, as_user=who)
        assert tuple(v["totalCount"] for v in data.values()) == want, who

    # aggregates count only what the caller may list: another province's programme is not even counted
    coverage = "{ resolution(code: \"57-NQ/TW\") { coverageSummary { expected onTime late missing pending } coverage { nodes { unit { code } programme { code } } } } }"
    got = {who: (await api.data(coverage, as_user=who))["resolution"] for who in ("tw.manager", "p01.manager", "p02.manager", "p02.c01.officer", "p01.c01.officer")}
    assert got["tw.manager"]["coverage"]["nodes"] == [{"unit": {"code": "P01"}, "programme": {"code": "CTr-57/P01"}}, {"unit": {"code": "P02"}, "programme": None}]
    assert got["p01.manager"]["coverage"]["nodes"] == [{"unit": {"code": "P01"}, "programme": {"code": "CTr-57/P01"}}]
    assert got["p02.manager"]["coverage"]["nodes"] == [{"unit": {"code": "P02"}, "programme": None}]
    assert got["p02.c01.officer"]["coverage"]["nodes"] == []
    # the commune reads 57-NQ/TW (up the chain from its programme) but none of the units expected to implement it: it counts nothing
    assert got["p01.c01.officer"] == {"coverageSummary": {"expected": 0, "onTime": 0, "late": 0, "missing": 0, "pending": 0},
                                      "coverage": {"nodes": []}}
    # a resolution the caller cannot read is null, with nothing counted: P01's programme for P02 (nothing of it handed to P02,
    # expected of no unit, and P02 reads nothing implementing it)
    for who in ("p02.manager", "p02.c01.officer"):
        assert (await api.data(coverage.replace("57-NQ/TW", "CTr-57/P01"), as_user=who))["resolution"] is None, who
    assert (got["tw.manager"]["coverageSummary"]["expected"], got["p01.manager"]["coverageSummary"]["expected"],
            got["p02.manager"]["coverageSummary"]) == (2, 1, {"expected": 1, "onTime": 0, "late": 0, "missing": 0, "pending": 1})


# -- 2. the bad-input list -----------------------------------------------------------------------


async def test_bad_inputs_are_typed_errors_that_write_nothing(api: Api) -> None:
    w = await built(api)
    sa1, sa2, a_p01, a_p02 = w.asg(SUB, "P01-C01"), w.asg(SUB, "P01-C02"), w.asg(T001, "P01"), w.asg(T001, "P02")
    tomorrow = (TODAY + dt.timedelta(days=1)).isoformat()

    # assigning sideways or upwards
    assign = lambda task, frm, to, **kw: {"taskId": w.task(task), "assignerUnitId": w.unit(frm), "assignees": [{"unitId": w.unit(to), **kw}]}
    await refused(api, "taskAssign", assign(T001, "P01", "P02"), "admin", [("assignees[0].unitId", "INVALID")])
    await refused(api, "taskAssign", assign(T001, "P01", "TW"), "admin", [("assignees[0].unitId", "INVALID")])
    await refused(api, "taskAssign", assign(T001, "P01", "P01"), "admin", [("assignees[0].unitId", "INVALID")])
    await refused(api, "taskAssign", assign(SUB, "P01-C01", "P01-C02"), "admin", [("assignees[0].unitId", "INVALID")])  # commune to its sibling
    await refused(api, "taskAssign", assign(SUB, "P02", "P02-C01"), "admin", [("assignerUnitId", "FORBIDDEN")])  # P02 neither leads nor received SUB
    # for the province itself TW and P02 lie outside its scope: not found, as any unit it cannot see
    await refused(api, "taskAssign", assign(SUB, "P01", "TW"), "p01.manager", [("assignees[0].unitId", "NOT_FOUND")])
    await refused(api, "taskAssign", assign(SUB, "P01", "P02-C01"), "p01.manager", [("assignees[0].unitId", "NOT_FOUND")])
    # due after the task without allowAfterTaskDue; due before today
    await refused(api, "taskAssign", assign(SUB, "P01", "P01-S01", dueOn="2027-07-01"), "p01.manager", [("assignees[0].dueOn", "OUT_OF_RANGE")])
    await refused(api, "taskAssign", assign(SUB, "P01", "P01-S01", dueOn=(TODAY - dt.timedelta(days=1)).isoformat()), "p01.manager",
                  [("assignees[0].dueOn", "OUT_OF_RANGE")])
    await refused(api, "taskAssign", assign(SUB, "P01", "P01-C01"), "p01.manager", [("assignees[0].unitId", "DUPLICATE")])
    # a subtask due after its parent task, or after the assignment it decomposes
    sub = {"resolutionId": w.res("CTr-57/P01"), "code": "CTr-57/P01-T99", "title": "Quá hạn cha", "leadUnitId": w.unit("P01"), "startOn": "2026-02-01"}
    await refused(api, "taskCreate", {**sub, "dueOn": "2028-01-01", "parentTaskId": w.task(T001)}, "p01.manager", [("dueOn", "OUT_OF_RANGE")])
    await refused(api, "taskCreate", {**sub, "dueOn": "2028-01-01", "fromAssignmentId": a_p01}, "p01.manager", [("dueOn", "OUT_OF_RANGE")])
    await refused(api, "taskCreate", {**sub, "dueOn": "2027-12-31", "parentTaskId": w.task(SUB)}, "p01.manager", [("dueOn", "OUT_OF_RANGE")])

    # reports
    report = lambda a, **kw: {"assignmentId": a, "progress": 50, "status": "in_progress", **kw}
    await refused(api, "progressReportSubmit", report(sa1, status="completed"), "p01.c01.officer", [("status", "INVALID")])
    await refused(api, "progressReportSubmit", report(sa1, progress=100), "p01.c01.officer", [("status", "INVALID")])
    await refused(api, "progressReportSubmit", report(sa1, reportedOn=tomorrow), "p01.c01.officer", [("reportedOn", "IN_FUTURE")])
    await refused(api, "progressReportSubmit", report(sa1, progress=101), "p01.c01.officer", [("progress", "OUT_OF_RANGE")])
    await refused(api, "progressReportSubmit", report(sa1, evidence=["javascript:alert(1)"]), "p01.c01.officer", [("evidence[0]", "INVALID")])
    await refused(api, "progressReportSubmit", report(sa1), "p01.c01.viewer", [("assignmentId", "FORBIDDEN")])  # a viewer reads only

    # evaluations: by the assignee side, not completed, twice
    await refused(api, "assignmentEvaluate", {"assignmentId": sa1, "rating": "good"}, "p01.manager", [("assignmentId", "INVALID")])  # in progress
    await w.report("p01.c01.officer", SUB, "P01-C01", 100, "completed")
    await refused(api, "assignmentEvaluate", {"assignmentId": sa1, "rating": "good"}, "p01.c01.officer", [("assignmentId", "FORBIDDEN")])
    await w.report("p02.manager", T001, "P02", 100, "completed")
    await refused(api, "assignmentEvaluate", {"assignmentId": a_p02, "rating": "excellent"}, "p02.manager", [("assignmentId", "NOT_FOUND")])  # its own work
    await refused(api, "assignmentEvaluate", {"assignmentId": sa2, "rating": "good"}, "p01.manager", [("assignmentId", "INVALID")])
    await refused(api, "assignmentEvaluate", {"assignmentId": sa1, "rating": "superb"}, "p01.manager", [("rating", "INVALID")])
    await w.evaluate("p01.manager", SUB, "P01-C01", "good")
    await refused(api, "assignmentEvaluate", {"assignmentId": sa1, "rating": "excellent"}, "p01.manager", [("assignmentId", "DUPLICATE")])
    await refused(api, "assignmentEvaluate", {"assignmentId": sa1, "rating": "excellent"}, "tw.manager", [("assignmentId", "DUPLICATE")])
    await refused(api, "progressReportSubmit", report(sa1), "p01.c01.officer", [("assignmentId", "INVALID")])  # closed once evaluated

    # extensions
    ext = lambda a, due, reason="Thiếu kinh phí": {"assignmentId": a, "requestedDueOn": due, "reason": reason}
    await refused(api, "extensionRequest", ext(sa2, "2027-03-31"), "p01.c02.officer", [("requestedDueOn", "OUT_OF_RANGE")])  # = current due
    await refused(api, "extensionRequest", ext(sa2, "2027-01-31"), "p01.c02.officer", [("requestedDueOn", "OUT_OF_RANGE")])
    await refused(api, "extensionRequest", ext(sa2, "2027-05-31", "   "), "p01.c02.officer", [("reason", "REQUIRED")])
    await refused(api, "extensionRequest", ext(sa1, "2027-05-31"), "p01.c01.officer", [("assignmentId", "INVALID")])  # completed
    x_sa2 = await w.ask_extension("p01.c02.officer", SUB, "P01-C02", "2027-05-31")
    await refused(api, "extensionRequest", ext(sa2, "2027-06-30"), "p01.c02.officer", [("assignmentId", "DUPLICATE")])
    await refused(api, "extensionDecide", {"id": x_sa2, "approve": True}, "p01.c02.officer", [("id", "FORBIDDEN")])  # the assignee approving
    await refused(api, "extensionDecide", {"id": x_sa2, "approve": False}, "p01.manager", [("reason", "REQUIRED")])
    await refused(api, "extensionDecide", {"id": x_sa2, "approve": False, "reason": "  "}, "p01.manager", [("reason", "REQUIRED")])
    x_p01 = await w.ask_extension("p01.manager", T001, "P01", "2028-06-30")  # the province asks TW for more time ...
    await refused(api, "extensionDecide", {"id": x_p01, "approve": True}, "p01.manager", [("id", "NOT_FOUND")])  # ... and cannot grant it itself
    await w.decide("tw.manager", T001, "P01", x_p01, approve=False, reason="Không đủ căn cứ")
    await refused(api, "extensionDecide", {"id": x_p01, "approve": True}, "tw.manager", [("id", "INVALID")])  # already decided

    # unknown and foreign ids answer identically; wrong-type ids are INVALID_ID
    for who in ("p02.manager", "p02.officer"):
        await same_refusal(api, "assignmentAcknowledge", {"id": sa1}, {"id": missing("Assignment")}, who, [("id", "NOT_FOUND")])
        await same_refusal(api, "progressReportSubmit", report(a_p01), report(missing("Assignment")), who, [("assignmentId", "NOT_FOUND")])
        await same_refusal(api, "extensionRequest", ext(sa2, "2027-12-31"), ext(missing("Assignment"), "2027-12-31"), who, [("assignmentId", "NOT_FOUND")])
        await same_refusal(api, "extensionDecide", {"id": x_sa2, "approve": True}, {"id": missing("Extension"), "approve": True}, who,
                           [("id", "FORBIDDEN" if who.endswith("officer") else "NOT_FOUND")])  # officers decide nothing anywhere
        await same_refusal(api, "measurementSubmit", {"kpiId": w.kpi(KPI_P01), "unitId": w.unit("P02"), "period": "2026-10", "value": "1"},
                           {"kpiId": missing("Kpi"), "unitId": w.unit("P02"), "period": "2026-10", "value": "1"}, who, [("kpiId", "NOT_FOUND")])
    measure = {"kpiId": w.kpi(KPI_P01), "unitId": w.unit("P01-C01"), "period": "2026-10", "value": "5"}
    # a KPI the commune was not handed: P02-C01 reads 57-NQ/TW (T001 was handed to it) but nothing of P01's programme
    p02_c01 = {**measure, "unitId": w.unit("P02-C01")}
    await same_refusal(api, "measurementSubmit", p02_c01, {**p02_c01, "kpiId": missing("Kpi")}, "p02.c01.officer", [("kpiId", "NOT_FOUND")])
    # P01-C01 does read KPI_TW (its resolution lies up the chain from the programme handed to it): so it is told what is wrong
    # with its input, a month for a quarterly KPI
    await refused(api, "measurementSubmit", {**measure, "kpiId": w.kpi(KPI_TW)}, "p01.c01.officer", [("period", "INVALID")])
    await same_refusal(api, "measurementSubmit", {**measure, "unitId": w.unit("P01-C02")}, {**measure, "unitId": missing("Unit")}, "p01.c01.officer",
                       [("unitId", "NOT_FOUND")])  # for its sibling
    await same_refusal(api, "assignmentEvaluate", {"assignmentId": sa2, "rating": "good"}, {"assignmentId": missing("Assignment"), "rating": "good"},
                       "p02.manager", [("assignmentId", "NOT_FOUND")])
    await same_refusal(api, "taskAssign", assign(SUB, "P02", "P02-C01"), {**assign(SUB, "P02", "P02-C01"), "taskId": missing("Task")}, "p02.manager",
                       [("taskId", "NOT_FOUND")])
    await same_refusal(api, "taskAssign", assign(T001, "P02", "P01-C01"), {**assign(T001, "P02", "P02-C01"), "assignees": [{"unitId": missing("Unit")}]},
                       "p02.manager", [("assignees[0].unitId", "NOT_FOUND")])
    p02_task = {"resolutionId": w.res("57-NQ/TW"), "code": "57-NQ/TW-P02-T1", "title": "x", "leadUnitId": w.unit("P02"), "startOn": "2026-02-01", "dueOn": "2026-12-31"}
    await same_refusal(api, "taskCreate", {**p02_task, "fromAssignmentId": sa1}, {**p02_task, "fromAssignmentId": missing("Assignment")}, "p02.manager",
                       [("fromAssignmentId", "NOT_FOUND")])
    await same_refusal(api, "taskCreate", {**p02_task, "parentTaskId": w.task(SUB)}, {**p02_task, "parentTaskId": missing("Task")}, "p02.manager",
                       [("parentTaskId", "NOT_FOUND")])
    await same_refusal(api, "taskCreate", {**p02_task, "resolutionId": w.res("CTr-57/P01")}, {**p02_task, "resolutionId": missing("Resolution")},
                       "p02.manager", [("resolutionId", "NOT_FOUND")])
    await same_refusal(api, "resolutionCreate",
                       {"code": "CTr-57/P02", "title": "x", "kind": "action_programme", "issuingUnitId": w.unit("P02"), "issuedOn": "2025-02-01", "implementsId": w.res("CTr-57/P01")},
                       {"code": "CTr-57/P02", "title": "x", "kind": "action_programme", "issuingUnitId": w.unit("P02"), "issuedOn": "2025-02-01", "implementsId": missing("Resolution")},
                       "p02.manager", [("implementsId", "NOT_FOUND")])
    await refused(api, "assignmentAcknowledge", {"id": w.task(SUB)}, "p01.c01.officer", [("id", "INVALID_ID")])
    await refused(api, "assignmentAcknowledge", {"id": "not-an-id"}, "p01.c01.officer", [("id", "INVALID_ID")])
    await refused(api, "progressReportSubmit", report(w.unit("P01-C01")), "p01.c01.officer", [("assignmentId", "INVALID_ID")])
    await refused(api, "extensionDecide", {"id": sa2, "approve": True}, "p01.manager", [("id", "INVALID_ID")])
    await refused(api, "taskAssign", {**assign(SUB, "P01", "P01-S01"), "assignerUnitId": w.task(SUB)}, "p01.manager", [("assignerUnitId", "INVALID_ID")])
    await refused(api, "taskCreate", {**sub, "dueOn": "2027-01-01", "fromAssignmentId": w.task(T001)}, "p01.manager", [("fromAssignmentId", "INVALID_ID")])

    # allowAfterTaskDue says it is meant: the same late due date is now accepted
    r = await ok(api, "taskAssign", {**assign(SUB, "P01", "P01-S01", dueOn="2027-07-01"), "allowAfterTaskDue": True}, "p01.manager",
                 "assignments { unit { code } dueOn originalDueOn assignerUnit { code } }")
    assert r["assignments"] == [{"unit": {"code": "P01-S01"}, "dueOn": "2027-07-01", "originalDueOn": "2027-07-01", "assignerUnit": {"code": "P01"}}]


# -- 3. timeliness and the latest report ---------------------------------------------------------

TIMELY = ("query($t: ID!) { assignments(first: 10, filter: {task: $t}) { nodes { unit { code } assignedOn dueOn originalDueOn status progress"
          " completedOn overdue timeliness reports { nodes { reportedOn progress status } } extensions { status requestedDueOn } } } }")
LATE_ONLY = "query($t: ID!) { assignments(first: 10, filter: {task: $t, overdue: true}) { totalCount nodes { unit { code } } } }"


async def _timely(api: Api, task_id: str) -> dict[str, dict[str, Any]]:
    data = await api.data(TIMELY, {"t": task_id}, as_user="tw.manager")
    return {a["unit"]["code"]: {**a, "reports": a["reports"]["nodes"]} for a in data["assignments"]["nodes"]}


async def test_timeliness_on_time_and_why_late_needs_time(api: Api) -> None:
    """With the real clock only ON_TIME can happen: every date that would make an assignment late is refused."""
    w = await new_world(api)
    await w.resolution("tw.manager", "57-NQ/TW", "TW")
    await w.task_create("tw.manager", "57-NQ/TW", T001, "TW", "2026-01-01", "2027-12-31", {})
    soon = (TODAY + dt.timedelta(days=3)).isoformat()
    await w.assign("tw.manager", T001, "TW", ["P01", "P02"], due=soon)
    x = await w.ask_extension("p02.officer", T001, "P02", "2027-01-31")
    await w.decide("tw.manager", T001, "P02", x, approve=True)
    await w.report("p01.officer", T001, "P01", 100, "completed")
    await w.report("p02.officer", T001, "P02", 100, "completed")
    got = await _timely(api, w.task(T001))
    assert got["P01"] | {"reports": None} == {"unit": {"code": "P01"}, "assignedOn": TODAY.isoformat(), "dueOn": soon, "originalDueOn": soon,
                                              "status": "completed", "progress": 100, "completedOn": TODAY.isoformat(), "overdue": False,
                                              "timeliness": "ON_TIME", "reports": None, "extensions": []}
    # the extension moved dueOn and kept originalDueOn; done before the original date it is still on time
    assert (got["P02"]["dueOn"], got["P02"]["originalDueOn"], got["P02"]["timeliness"]) == ("2027-01-31", soon, "ON_TIME")
    assert got["P02"]["extensions"] == [{"status": "approved", "requestedDueOn": "2027-01-31"}]
    # why LATE / WITHIN_EXTENSION cannot be built with the real clock: no past due date, no report before the assignment or after today
    yesterday, tomorrow = (TODAY - dt.timedelta(days=1)).isoformat(), (TODAY + dt.timedelta(days=1)).isoformat()
    await refused(api, "taskAssign", {"taskId": w.task(T001), "assignerUnitId": w.unit("TW"), "assignees": [{"unitId": w.unit("P01-C01"), "dueOn": yesterday}]},
                  "tw.manager", [("assignees[0].dueOn", "OUT_OF_RANGE")])
    await w.assign("tw.manager", T001, "TW", ["P01-C01"], due=TODAY.isoformat())  # due today is allowed
    a = w.asg(T001, "P01-C01")
    await refused(api, "progressReportSubmit", {"assignmentId": a, "progress": 100, "status": "completed", "reportedOn": yesterday}, "p01.c01.officer",
                  [("reportedOn", "OUT_OF_RANGE")])
    await refused(api, "progressReportSubmit", {"assignmentId": a, "progress": 100, "status": "completed", "reportedOn": tomorrow}, "p01.c01.officer",
                  [("reportedOn", "IN_FUTURE")])
    await w.report("p01.c01.officer", T001, "P01-C01", 100, "completed")
    got = await _timely(api, w.task(T001))
    assert (got["P01-C01"]["completedOn"], got["P01-C01"]["dueOn"], got["P01-C01"]["timeliness"]) == (TODAY.isoformat(), TODAY.isoformat(), "ON_TIME")


class _Clock(dt.date):
    """The date the services believe it is (the unit of work gives them `tx.today`)."""

    current = TODAY

    @classmethod
    def today(cls) -> dt.date:  # type: ignore[override]
        return cls.current


async def test_late_within_extension_and_latest_report_with_a_shifted_clock(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("resolute.api.clock.date", _Clock)  # the one clock: every request's and every service's `today`
    day = lambda n: (TODAY - dt.timedelta(days=21 - n)).isoformat()  # day(0) is three weeks ago, day(21) is today
    w = await new_world(api)
    await w.resolution("tw.manager", "57-NQ/TW", "TW")
    await w.task_create("tw.manager", "57-NQ/TW", T001, "TW", "2026-01-01", "2027-12-31", {})
    monkeypatch.setattr(_Clock, "current", dt.date.fromisoformat(day(0)))
    await w.assign("tw.manager", T001, "TW", ["P01", "P02", "P01-C01"], due=day(9))  # assigned three weeks ago, due 12 days ago
    monkeypatch.setattr(_Clock, "current", dt.date.fromisoformat(day(8)))
    x = await w.ask_extension("p02.officer", T001, "P02", day(14))
    await w.decide("tw.manager", T001, "P02", x, approve=True)
    monkeypatch.setattr(_Clock, "current", TODAY)

    late = await api.data(LATE_ONLY, {"t": w.task(T001)}, as_user="tw.manager")
    assert late["assignments"] == {"totalCount": 3, "nodes": [{"unit": {"code": c}} for c in ("P01", "P02", "P01-C01")]}
    # P01 completes exactly on its due date: on time
    r = await ok(api, "progressReportSubmit", {"assignmentId": w.asg(T001, "P01"), "progress": 100, "status": "completed", "reportedOn": day(9)}, "p01.officer")
    # P02 completes after the original date, exactly on the extended one: within the extension
    await ok(api, "progressReportSubmit", {"assignmentId": w.asg(T001, "P02"), "progress": 100, "status": "completed", "reportedOn": day(14)}, "p02.officer")
    # P01-C01: a report on day 20, then one dated earlier (day 5) sent later: the assignment keeps day 20's
    a = w.asg(T001, "P01-C01")
    await ok(api, "progressReportSubmit", {"assignmentId": a, "progress": 60, "status": "in_progress", "reportedOn": day(20)}, "p01.c01.officer")
    r = await ok(api, "progressReportSubmit", {"assignmentId": a, "progress": 30, "status": "in_progress", "reportedOn": day(5)}, "p01.c01.officer",
                 "assignment { status progress } report { reportedOn progress }")
    assert r == {"report": {"reportedOn": day(5), "progress": 30}, "assignment": {"status": "in_progress", "progress": 60}, "errors": []}
    # a completion back-dated before day 20 does not become the latest either
    await ok(api, "progressReportSubmit", {"assignmentId": a, "progress": 100, "status": "completed", "reportedOn": day(15)}, "p01.c01.officer")
    got = await _timely(api, w.task(T001))
    assert (got["P01-C01"]["status"], got["P01-C01"]["progress"], got["P01-C01"]["completedOn"], got["P01-C01"]["overdue"]) == ("in_progress", 60, None, True)
    assert got["P01-C01"]["reports"] == [{"reportedOn": day(5), "progress": 30, "status": "in_progress"},
                                         {"reportedOn": day(15), "progress": 100, "status": "completed"},
                                         {"reportedOn": day(20), "progress": 60, "status": "in_progress"}]
    await ok(api, "progressReportSubmit", {"assignmentId": a, "progress": 100, "status": "completed", "reportedOn": day(21)}, "p01.c01.officer")

    got = await _timely(api, w.task(T001))
    summary = {u: (a["assignedOn"], a["originalDueOn"], a["dueOn"], a["completedOn"], a["overdue"], a["timeliness"]) for u, a in got.items()}
    assert summary == {
        "P01": (day(0), day(9), day(9), day(9), False, "ON_TIME"),
        "P02": (day(0), day(9), day(14), day(14), False, "WITHIN_EXTENSION"),
        "P01-C01": (day(0), day(9), day(9), day(21), False, "LATE"),
    }
    assert len(got["P01-C01"]["reports"]) == 4
    late = await api.data(LATE_ONLY, {"t": w.task(T001)}, as_user="tw.manager")
    assert late["assignments"] == {"totalCount": 0, "nodes": []}


# -- 4. statement counts -------------------------------------------------------------------------

COUNTED = ("query($first: Int!) { tasks(first: $first) { nodes { code assignments { nodes { unit { code } reports { nodes { progress } } } } kpis { code }"
           " milestones { title } } } }")


async def test_task_tree_statement_count_does_not_grow_with_n(api: Api, statements: StatementCounter) -> None:
    w = await new_world(api)
    await w.resolution("tw.manager", "57-NQ/TW", "TW")
    for i in range(1, 22):
        code = f"57-NQ/TW-T{i:03d}"
        await w.task_create("tw.manager", "57-NQ/TW", code, "TW", "2026-01-01", "2027-12-31", {f"Mốc {i}": "2027-06-30"})
        await w.assign("tw.manager", code, "TW", ["P01", "P02"])
        await w.report("p01.officer", code, "P01", i, "in_progress")

    async def count(first: int, as_user: str) -> int:
        await api.token_for(as_user)
        statements.reset()
        data = await api.data(COUNTED, {"first": first}, as_user=as_user)
        nodes = data["tasks"]["nodes"]
        assert len(nodes) == first
        for i, t in enumerate(nodes, start=1):  # the nested data is really there (and scoped)
            assert t["milestones"] == [{"title": f"Mốc {i}"}] and t["kpis"] == []
            units = ["P01", "P02"] if as_user == "tw.manager" else ["P01"]
            assert [a["unit"]["code"] for a in t["assignments"]["nodes"]] == units
            assert [a["reports"]["nodes"] for a in t["assignments"]["nodes"]] == [[{"progress": i}], []][: len(units)]
        return statements.count

    small, large = await count(3, "tw.manager"), await count(20, "tw.manager")
    assert small == large, statements.statements
    assert await count(3, "p01.officer") == await count(20, "p01.officer") == large


# -- 5. the chain both ways ----------------------------------------------------------------------

CHAIN = ("query($a: ID!, $t: ID!) { assignment: node(id: $a) { ... on Assignment { unit { code } subtasks { code assignments { nodes { unit { code } } } } } }"
         " task: node(id: $t) { ... on Task { code originAssignment { unit { code } task { code } } parentTask { code } subtasks { code } } } }")


async def test_assignment_subtask_chain_both_ways(api: Api) -> None:
    w = await built(api)
    await w.task_create("p01.manager", "CTr-57/P01", "CTr-57/P01-T02", "P01-S01", "2026-02-01", "2027-05-31", {}, origin=(T001, "P01"))
    await w.assign("p01.manager", "CTr-57/P01-T02", "P01", ["P01-C02"], due="2027-05-31")
    ids = {"a": w.asg(T001, "P01"), "t": w.task(SUB)}
    down = {"unit": {"code": "P01"}, "subtasks": [{"code": SUB, "assignments": {"nodes": [{"unit": {"code": "P01-C01"}}, {"unit": {"code": "P01-C02"}}]}},
                                                  {"code": "CTr-57/P01-T02", "assignments": {"nodes": [{"unit": {"code": "P01-C02"}}]}}]}
    up = {"code": SUB, "originAssignment": {"unit": {"code": "P01"}, "task": {"code": T001}}, "parentTask": {"code": T001}, "subtasks": []}
    for who in ("tw.manager", "p01.manager", "p01.officer"):
        assert await api.data(CHAIN, ids, as_user=who) == {"assignment": down, "task": up}, who
    assert (await api.data("query($t: ID!) { node(id: $t) { ... on Task { subtasks { code } } } }", {"t": w.task(T001)}, as_user="p01.manager")) == {
        "node": {"subtasks": [{"code": SUB}, {"code": "CTr-57/P01-T02"}]}}
    # the commune: its task, but neither the assignment above it nor its sibling's
    assert await api.data(CHAIN, ids, as_user="p01.c01.officer") == {
        "assignment": None, "task": {"code": SUB, "originAssignment": None, "parentTask": None, "subtasks": []}}
    c02 = await api.data(CHAIN, {"a": w.asg(SUB, "P01-C02"), "t": w.task("CTr-57/P01-T02")}, as_user="p01.c02.officer")
    assert c02 == {"assignment": {"unit": {"code": "P01-C02"}, "subtasks": []},
                   "task": {"code": "CTr-57/P01-T02", "originAssignment": None, "parentTask": None, "subtasks": []}}
    # the other province: T001 and its own assignment, no chain into P01
    p02 = await api.data(CHAIN, {"a": w.asg(T001, "P02"), "t": w.task(T001)}, as_user="p02.manager")
    assert p02 == {"assignment": {"unit": {"code": "P02"}, "subtasks": []},
                   "task": {"code": T001, "originAssignment": None, "parentTask": None, "subtasks": []}}
    assert (await api.data(CHAIN, ids, as_user="p02.manager")) == {"assignment": None, "task": None}
