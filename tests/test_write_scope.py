"""Every write loads what it writes through the scope registry for its verb: out of write scope is "not found".

One world per backend (built once, through GraphQL, by the module fixture `scene`), then, per model
that has writes and per write mutation, a parametrised case that names the model, the mutation,
the caller and how the caller relates to the object:

- READ-ONLY ("reads: ..."): the caller reads the object (handed down, its own request, its own
  assignment, a KPI it leads, a second read-only grant over the whole tree, an account or grant it
  administers but that reaches above it), yet its grants do not allow that verb THERE;
- NAMED ("names: ..."): a unit of the caller's own ancestor chain, which it reads as code, name
  and kind only;
- INVISIBLE ("invisible: ..."): the caller cannot see the object at all (a sibling's, another
  province's).

Each answer must be identical, as a whole (status, `data` with its `errors` list, field, code and
message, and the null payload object), to the answer for a well-formed id of the same type that
does not exist, and nothing may be written: every row of every table is compared before and after
each call. The premises are checked too (one test): `node(id)` finds a READ-ONLY object and does
not find a NAMED or INVISIBLE one; a NAMED unit is in the caller's `me.ancestors`.

FORBIDDEN cases: a caller whose roles allow the verb nowhere gets FORBIDDEN, decided before any row
is read, so the answer for an object it reads equals the answer for a missing id.

Positive controls (one or more per model) show the same kind of input succeeds for the right
caller, so no refusal above can pass because the input itself was bad. They act on objects whose
change alters no case above (throwaway units and accounts, extra assignments), so the order in
which the cases run does not matter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import text

from tests.support import Api, Backend, current_version, running_app, unit, user
from tests.test_cycle import World, missing, snapshot

pytestmark = pytest.mark.asyncio(loop_scope="module")

TODAY = dt.date.today()


def day(n: int) -> str:
    return (TODAY + dt.timedelta(days=n)).isoformat()


def month(back: int) -> str:
    """The monthly period `back` months before this one."""
    y, m = divmod(TODAY.year * 12 + TODAY.month - 1 - back, 12)
    return f"{y:04d}-{m + 1:02d}"


UNITS = [
    unit("TW", None, "central", "Ban Chấp hành Trung ương Đảng"),
    unit("P01", "TW", "province", "Thành phố Hà Nội"),
    unit("P01-C01", "P01", "commune", "Phường Hoàn Kiếm"),
    unit("P01-C01-K01", "P01-C01", "cell", "Chi bộ tổ dân phố số 1"),
    unit("P01-C02", "P01", "commune", "Xã Tân Phong"),
    unit("P01-S01", "P01", "department", "Sở Khoa học và Công nghệ"),
    unit("P01-X1", "P01", "department", "Ban tạm 1"),  # throwaway units for the positive unit controls
    unit("P01-X2", "P01", "department", "Ban tạm 2"),
    unit("P01-X3", "P01", "department", "Ban tạm 3"),
    unit("P02", "TW", "province", "Tỉnh Lào Cai"),
    unit("P02-C01", "P02", "commune", "Xã Đông Hà"),
]
USERS = [
    user("admin", "TW", "admin"),
    user("tw.manager", "TW", "manager"),
    user("p01.admin", "P01", "admin"),
    user("p01.manager", "P01", "manager"),
    user("p01.officer", "P01", "officer"),
    user("p01.c01.officer", "P01-C01", "officer"),
    user("p01.c01.viewer", "P01-C01", "viewer"),
    user("p01.c02.officer", "P01-C02", "officer"),
    user("p02.admin", "P02", "admin"),
    user("p02.manager", "P02", "manager"),
    user("p02.officer", "P02", "officer"),
    user("p02.c01.officer", "P02-C01", "officer"),
    user("p01.staff", "P01", "viewer"),  # + viewer over TW (given below): an account that reaches above P01
    user("p01.mixed", "P01", "manager"),  # + viewer over TW: reads the whole tree, writes only in P01
    user("p01.staff2", "P01", "viewer"),  # the same, for the positive controls (the root admin acts on it)
    user("p01.temp1", "P01", "viewer"),  # throwaway accounts for the positive account controls
    user("p01.temp2", "P01", "viewer"),
]

T001, SUB, SUB2 = "57-NQ/TW-T001", "CTr-57/P01-T01", "CTr-57/P02-T01"
KPI_TW, KPI_P01, KPI_P02 = "57-NQ/TW-K01", "CTr-57/P01-K01", "CTr-57/P02-K01"
MS_TW, MS_P01, MS_P02 = "Mốc trung ương", "Mốc tỉnh P01", "Mốc tỉnh P02"
PERIOD, PERIOD2 = month(1), month(2)

ERRORS = "errors { field code message }"
SELECT = {  # every payload field besides errors: all of them must be null (or []) when refused
    "unitCreate": "unit { id }", "unitUpdate": "unit { id }", "unitMove": "unit { id }", "unitArchive": "unit { id }", "unitMerge": "unit { id }",
    "userDeactivate": "user { id }", "userPasswordSet": "user { id }", "roleGrant": "grant { id }", "roleRevoke": "revokedGrantId",
    "resolutionUpdate": "resolution { id }", "objectiveCreate": "objective { id }", "objectiveUpdate": "objective { id }",
    "keyResultCreate": "keyResult { id }", "keyResultUpdate": "keyResult { id }", "kpiUpdate": "kpi { id }", "kpiUnitTargetSet": "kpi { id }",
    "measurementCorrect": "measurement { id }", "measurementSubmit": "measurement { id }", "taskUpdate": "task { id }",
    "milestoneCreate": "milestone { id }", "milestoneUpdate": "milestone { id }", "taskAssign": "assignments { id }",
    "assignmentAcknowledge": "assignment { id }", "taskCreate": "task { id }", "progressReportSubmit": "report { id } assignment { id }",
    "extensionRequest": "extension { id }", "extensionDecide": "extension { id }", "assignmentEvaluate": "evaluation { rating } assignment { id }",
}


# -- the world -------------------------------------------------------------------------------------


@dataclass
class Scene:
    api: Api
    w: World
    users: dict[str, str] = field(default_factory=dict)  # username -> global id
    grants: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (username, role, unit code) -> global id
    ext: dict[str, str] = field(default_factory=dict)
    clean: dict[str, list[str]] | None = None  # see answered_like_missing

    def id(self, kind: str, key: Any) -> str:
        """The global id of what the world wrote: ("unit", code), ("task", code), ("assignment", (task, unit)) ..."""
        if kind == "user":
            return self.users[key]
        if kind == "grant":
            return self.grants[key]
        if kind == "extension":
            return self.ext[key]
        return self.w.ids[(kind, key)]


async def _accounts(s: Scene) -> None:
    q = "{ users(first: 100, filter: {includeInactive: true}) { nodes { id username grants { id role unit { code } } } } }"
    for u in (await s.api.data(q, as_user="admin"))["users"]["nodes"]:
        s.users[u["username"]] = u["id"]
        for g in u["grants"]:
            s.grants[(u["username"], g["role"], g["unit"]["code"])] = g["id"]


async def _grant(s: Scene, username: str, role: str, unit_code: str) -> None:
    r = await s.api.data("mutation($i: RoleGrantInput!) { roleGrant(input: $i) { grant { id } " + ERRORS + " } }",
                         {"i": {"userId": s.users[username], "role": role, "unitId": s.w.unit(unit_code)}}, as_user="admin")
    assert r["roleGrant"]["errors"] == [], r
    s.grants[(username, role, unit_code)] = r["roleGrant"]["grant"]["id"]


async def build(api: Api) -> Scene:
    await api.seed(UNITS, USERS)
    w = World(api)
    for u in (await api.data("{ units(first: 50) { nodes { id code } } }", as_user="admin"))["units"]["nodes"]:
        w.remember("unit", u["code"], u["id"])
    s = Scene(api, w)
    await _accounts(s)
    await _grant(s, "p01.staff", "viewer", "TW")
    await _grant(s, "p01.staff2", "viewer", "TW")
    await _grant(s, "p01.mixed", "viewer", "TW")
    await _grant(s, "p01.temp1", "viewer", "P01-C01")  # revoked by the positive roleRevoke control

    # the centre: 57-NQ/TW, an objective and key result, a national KPI LED BY P01, a task handed to both provinces
    await w.resolution("tw.manager", "57-NQ/TW", "TW")
    await w.objective("tw.manager", "57-NQ/TW", "57-NQ/TW-O1", ["KR trung ương"])
    await w.kpi_create("tw.manager", "57-NQ/TW", KPI_TW, "P01", "quarterly")
    await w.task_create("tw.manager", "57-NQ/TW", T001, "TW", day(-200), day(400), {MS_TW: day(100)})
    await w.assign("tw.manager", T001, "TW", ["P01", "P02"])
    # each province: its programme, objective, key result, KPI with targets, a subtask of its assignment handed to its communes
    for p, communes in (("P01", ["P01-C01", "P01-C02"]), ("P02", ["P02-C01"])):
        mgr, prog = f"{p.lower()}.manager", f"CTr-57/{p}"
        await w.resolution(mgr, prog, p, implements="57-NQ/TW")
        await w.objective(mgr, prog, f"{prog}-O1", [f"KR tỉnh {p}"])
        await w.kpi_create(mgr, prog, f"{prog}-K01", p, "monthly")
        for c in communes:
            await w.target(mgr, f"{prog}-K01", c)
        await w.task_create(mgr, prog, f"{prog}-T01", p, day(-100), day(300), {MS_P01 if p == "P01" else MS_P02: day(50)}, origin=(T001, p))
        await w.assign(mgr, f"{prog}-T01", p, communes, due=day(200))
    for who, kpi, c in (("p01.c01.officer", KPI_P01, "P01-C01"), ("p01.c02.officer", KPI_P01, "P01-C02"), ("p02.c01.officer", KPI_P02, "P02-C01")):
        await w.measure(who, kpi, c, PERIOD, "12")
    # pending extension requests: the province's own to TW, a commune's to each province
    s.ext["P01"] = await w.ask_extension("p01.manager", T001, "P01", day(450))
    s.ext["P01-C02"] = await w.ask_extension("p01.c02.officer", SUB, "P01-C02", day(250))
    s.ext["P02-C01"] = await w.ask_extension("p02.c01.officer", SUB2, "P02-C01", day(250))
    # completed, not yet evaluated: the province's own assignment, and a commune's
    await w.report("p01.manager", T001, "P01", 100, "completed")
    await w.report("p01.c01.officer", SUB, "P01-C01", 100, "completed")
    return s


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def scene(backend: Backend) -> AsyncIterator[Scene]:
    """The world, built once per backend; the refusals below write nothing (each checks it)."""
    await backend.reset()
    async with running_app(backend.settings) as api:
        yield await build(api)


# -- calling ---------------------------------------------------------------------------------------


async def send(api: Api, name: str, inp: dict[str, Any], caller: str) -> dict[str, Any]:
    """The whole HTTP answer (status, data, no top-level errors) of one mutation."""
    query = f"mutation($i: {name[0].upper()}{name[1:]}Input!) {{ r: {name}(input: $i) {{ {SELECT[name]} {ERRORS} }} }}"
    body = await api.gql(query, {"i": inp}, as_user=caller)
    assert "errors" not in body, (name, caller, body)
    return body


UPDATES = {"unitUpdate", "unitMove", "unitArchive", "resolutionUpdate", "objectiveUpdate", "keyResultUpdate", "kpiUpdate", "measurementCorrect", "taskUpdate",
           "milestoneUpdate"}  # their inputs require the version read


async def version_of(api: Api, name: str, inp: dict[str, Any]) -> dict[str, int]:
    """{"version": the current version of inp["id"]} for an update, read from the database rather than as the caller (who may
    not read the object), so that scope, never a stale version, is what refuses it; {} for any other mutation."""
    return {"version": await current_version(api, inp["id"])} if name in UPDATES else {}


def objects(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body["data"]["r"].items() if k != "errors"}


# -- the cases -------------------------------------------------------------------------------------

Ref = tuple[str, Any]  # (kind, key) of an object of the world


@dataclass(frozen=True)
class Case:
    model: str
    mutation: str
    caller: str
    relation: str  # "reads: <how>" or "invisible: <why>"
    target: Ref  # the object named by `slot`
    type_name: str  # the GraphQL type of that id
    slot: str  # the input key that carries the id ("sourceIds" holds a list)
    inp: Callable[[Scene], dict[str, Any]]  # the rest of the input
    error_field: str | None = None  # defaults to `slot`
    code: str = "NOT_FOUND"
    xfail: str | None = None
    label: str = ""  # what the input changes, where one case would otherwise share its id with another

    @property
    def reads(self) -> bool:
        return self.relation.startswith("reads")

    @property
    def names(self) -> bool:
        return self.relation.startswith("names")


_SEEN: dict[str, int] = {}


def with_id(case: Case, s: Scene, gid: str) -> dict[str, Any]:
    return {**case.inp(s), case.slot: [gid] if case.slot == "sourceIds" else gid}


UNIT_NEW = {"code": "P01-NEW", "name": "Đơn vị mới", "kind": "department"}
RENAME = {"name": "Tên mới"}
PASSWORD2 = "another correct horse battery"

READS_CHAIN = "names: its own ancestor chain (code, name, kind)"
P02_UNIT = "invisible: another province"
HANDED = "reads: handed down to its province"
MIXED = "reads: through its second grant, viewer over TW"

CASES: list[Case] = [
    # -- Unit (p01.admin: admin over P01) --
    Case("Unit", "unitUpdate", "p01.admin", READS_CHAIN, ("unit", "TW"), "Unit", "id", lambda s: RENAME),
    Case("Unit", "unitUpdate", "p01.admin", P02_UNIT, ("unit", "P02"), "Unit", "id", lambda s: RENAME),
    Case("Unit", "unitMove", "p01.admin", READS_CHAIN, ("unit", "TW"), "Unit", "id", lambda s: {"parentId": s.w.unit("P01-S01")}),
    Case("Unit", "unitMove", "p01.admin", P02_UNIT, ("unit", "P02-C01"), "Unit", "id", lambda s: {"parentId": s.w.unit("P01-S01")}),
    Case("Unit", "unitMove", "p01.admin", READS_CHAIN, ("unit", "TW"), "Unit", "parentId", lambda s: {"id": s.w.unit("P01-X1")}),
    Case("Unit", "unitMove", "p01.admin", P02_UNIT, ("unit", "P02"), "Unit", "parentId", lambda s: {"id": s.w.unit("P01-X1")}),
    Case("Unit", "unitArchive", "p01.admin", READS_CHAIN, ("unit", "TW"), "Unit", "id", lambda s: {}),
    Case("Unit", "unitArchive", "p01.admin", P02_UNIT, ("unit", "P02-C01"), "Unit", "id", lambda s: {}),
    Case("Unit", "unitCreate", "p01.admin", READS_CHAIN, ("unit", "TW"), "Unit", "parentId", lambda s: UNIT_NEW),
    Case("Unit", "unitCreate", "p01.admin", P02_UNIT, ("unit", "P02"), "Unit", "parentId", lambda s: UNIT_NEW),
    Case("Unit", "unitMerge", "p01.admin", READS_CHAIN, ("unit", "TW"), "Unit", "targetId", lambda s: {"sourceIds": [s.w.unit("P01-X3")]}),
    Case("Unit", "unitMerge", "p01.admin", P02_UNIT, ("unit", "P02"), "Unit", "targetId", lambda s: {"sourceIds": [s.w.unit("P01-X3")]}),
    Case("Unit", "unitMerge", "p01.admin", READS_CHAIN, ("unit", "TW"), "Unit", "sourceIds", lambda s: {"targetId": s.w.unit("P01-S01")}, "sourceIds[0]"),
    Case("Unit", "unitMerge", "p01.admin", P02_UNIT, ("unit", "P02-C01"), "Unit", "sourceIds", lambda s: {"targetId": s.w.unit("P01-S01")}, "sourceIds[0]"),
    # -- User (p01.admin) --
    Case("User", "userDeactivate", "p01.admin", "reads: an account of P01 holding a grant over TW", ("user", "p01.staff"), "User", "id", lambda s: {}),
    Case("User", "userDeactivate", "p01.admin", P02_UNIT, ("user", "p02.manager"), "User", "id", lambda s: {}),
    Case("User", "userPasswordSet", "p01.admin", "reads: an account of P01 holding a grant over TW", ("user", "p01.staff"), "User", "id",
         lambda s: {"password": PASSWORD2}),
    Case("User", "userPasswordSet", "p01.admin", P02_UNIT, ("user", "p02.manager"), "User", "id", lambda s: {"password": PASSWORD2}),
    # -- Grant (p01.admin) --
    Case("Grant", "roleRevoke", "p01.admin", "reads: the grant over TW of an account of P01", ("grant", ("p01.staff", "viewer", "TW")), "Grant", "grantId",
         lambda s: {}),
    Case("Grant", "roleRevoke", "p01.admin", P02_UNIT, ("grant", ("p02.manager", "manager", "P02")), "Grant", "grantId", lambda s: {}),
    Case("Grant", "roleGrant", "p01.admin", P02_UNIT, ("user", "p02.manager"), "User", "userId",
         lambda s: {"role": "viewer", "unitId": s.w.unit("P01-C01")}),
    Case("Grant", "roleGrant", "p01.admin", READS_CHAIN, ("unit", "TW"), "Unit", "unitId", lambda s: {"userId": s.users["p01.temp1"], "role": "viewer"}),
    Case("Grant", "roleGrant", "p01.admin", P02_UNIT, ("unit", "P02"), "Unit", "unitId", lambda s: {"userId": s.users["p01.temp1"], "role": "viewer"}),
    # -- Resolution --
    Case("Resolution", "resolutionUpdate", "p01.manager", HANDED, ("resolution", "57-NQ/TW"), "Resolution", "id", lambda s: {"title": "Sửa bởi tỉnh"}),
    Case("Resolution", "resolutionUpdate", "p01.manager", P02_UNIT, ("resolution", "CTr-57/P02"), "Resolution", "id", lambda s: {"title": "Sửa bởi tỉnh"}),
    Case("Resolution", "resolutionUpdate", "p01.mixed", MIXED, ("resolution", "CTr-57/P02"), "Resolution", "id", lambda s: {"title": "Sửa bởi tỉnh"}),
    Case("Resolution", "objectiveCreate", "p01.manager", HANDED, ("resolution", "57-NQ/TW"), "Resolution", "resolutionId",
         lambda s: {"code": "OBJ-X1", "title": "Mục tiêu thêm"}),
    Case("Resolution", "objectiveCreate", "p01.manager", P02_UNIT, ("resolution", "CTr-57/P02"), "Resolution", "resolutionId",
         lambda s: {"code": "OBJ-X1", "title": "Mục tiêu thêm"}),
    Case("Resolution", "objectiveCreate", "p01.mixed", MIXED, ("resolution", "CTr-57/P02"), "Resolution", "resolutionId",
         lambda s: {"code": "OBJ-X1", "title": "Mục tiêu thêm"}),
    # -- Objective --
    Case("Objective", "objectiveUpdate", "p01.manager", HANDED, ("objective", "57-NQ/TW-O1"), "Objective", "id", lambda s: {"title": "Sửa"}),
    Case("Objective", "objectiveUpdate", "p01.manager", P02_UNIT, ("objective", "CTr-57/P02-O1"), "Objective", "id", lambda s: {"title": "Sửa"}),
    Case("Objective", "objectiveUpdate", "p01.mixed", MIXED, ("objective", "CTr-57/P02-O1"), "Objective", "id", lambda s: {"title": "Sửa"}),
    Case("Objective", "keyResultCreate", "p01.manager", HANDED, ("objective", "57-NQ/TW-O1"), "Objective", "objectiveId", lambda s: {"title": "KR thêm"}),
    Case("Objective", "keyResultCreate", "p01.manager", P02_UNIT, ("objective", "CTr-57/P02-O1"), "Objective", "objectiveId", lambda s: {"title": "KR thêm"}),
    Case("Objective", "keyResultCreate", "p01.mixed", MIXED, ("objective", "CTr-57/P02-O1"), "Objective", "objectiveId", lambda s: {"title": "KR thêm"}),
    # -- KeyResult --
    Case("KeyResult", "keyResultUpdate", "p01.manager", HANDED, ("keyresult", ("57-NQ/TW-O1", "KR trung ương")), "KeyResult", "id", lambda s: {"title": "Sửa"}),
    Case("KeyResult", "keyResultUpdate", "p01.manager", P02_UNIT, ("keyresult", ("CTr-57/P02-O1", "KR tỉnh P02")), "KeyResult", "id", lambda s: {"title": "Sửa"}),
    Case("KeyResult", "keyResultUpdate", "p01.mixed", MIXED, ("keyresult", ("CTr-57/P02-O1", "KR tỉnh P02")), "KeyResult", "id", lambda s: {"title": "Sửa"}),
    # -- Kpi: the definition belongs to the owning resolution's issuer; the lead unit only reads it --
    Case("Kpi", "kpiUpdate", "p01.manager", "reads: its unit leads the national KPI", ("kpi", KPI_TW), "Kpi", "id", lambda s: {"target": "85"},
         label="target"),
    Case("Kpi", "kpiUpdate", "p01.manager", "reads: its unit leads the national KPI", ("kpi", KPI_TW), "Kpi", "id",
         lambda s: {"yellowThreshold": "65", "redThreshold": "55"}, label="thresholds"),
    Case("Kpi", "kpiUpdate", "p02.manager", HANDED, ("kpi", KPI_TW), "Kpi", "id", lambda s: {"target": "85"}),
    Case("Kpi", "kpiUpdate", "p01.manager", P02_UNIT, ("kpi", KPI_P02), "Kpi", "id", lambda s: {"target": "85"}),
    Case("Kpi", "kpiUpdate", "p01.mixed", MIXED, ("kpi", KPI_P02), "Kpi", "id", lambda s: {"target": "85"}),
    Case("Kpi", "kpiUnitTargetSet", "p01.manager", "reads: its unit leads the national KPI", ("kpi", KPI_TW), "Kpi", "kpiId",
         lambda s: {"unitId": s.w.unit("P01-C01"), "target": "70"}),
    Case("Kpi", "kpiUnitTargetSet", "p01.manager", P02_UNIT, ("kpi", KPI_P02), "Kpi", "kpiId", lambda s: {"unitId": s.w.unit("P01-C01"), "target": "70"}),
    Case("Kpi", "kpiUnitTargetSet", "p01.mixed", MIXED, ("kpi", KPI_P02), "Kpi", "kpiId", lambda s: {"unitId": s.w.unit("P02-C01"), "target": "70"}),
    # -- Measurement --
    Case("Measurement", "measurementCorrect", "p01.c01.officer", "invisible: its sibling commune's", ("measurement", (KPI_P01, "P01-C02", PERIOD)), "Measurement",
         "id", lambda s: {"value": "9", "reason": "Sửa số liệu"}),
    Case("Measurement", "measurementCorrect", "p01.c01.officer", P02_UNIT, ("measurement", (KPI_P02, "P02-C01", PERIOD)), "Measurement", "id",
         lambda s: {"value": "9", "reason": "Sửa số liệu"}),
    Case("Measurement", "measurementCorrect", "p01.mixed", MIXED, ("measurement", (KPI_P02, "P02-C01", PERIOD)), "Measurement", "id",
         lambda s: {"value": "9", "reason": "Sửa số liệu"}),
    Case("Measurement", "measurementSubmit", "p01.c01.officer", READS_CHAIN, ("unit", "P01"), "Unit", "unitId",
         lambda s: {"kpiId": s.w.kpi(KPI_P01), "period": PERIOD2, "value": "5"}),
    Case("Measurement", "measurementSubmit", "p01.c01.officer", "invisible: its sibling commune", ("unit", "P01-C02"), "Unit", "unitId",
         lambda s: {"kpiId": s.w.kpi(KPI_P01), "period": PERIOD2, "value": "5"}),
    Case("Measurement", "measurementSubmit", "p01.mixed", MIXED, ("unit", "P02-C01"), "Unit", "unitId",
         lambda s: {"kpiId": s.w.kpi(KPI_TW), "period": "2026-Q1", "value": "5"}),
    # -- Task --
    Case("Task", "taskUpdate", "p01.manager", HANDED, ("task", T001), "Task", "id", lambda s: {"title": "Sửa bởi tỉnh"}),
    Case("Task", "taskUpdate", "p01.manager", P02_UNIT, ("task", SUB2), "Task", "id", lambda s: {"title": "Sửa bởi tỉnh"}),
    Case("Task", "taskUpdate", "p01.mixed", MIXED, ("task", SUB2), "Task", "id", lambda s: {"title": "Sửa bởi tỉnh"}),
    Case("Task", "milestoneCreate", "p01.manager", HANDED, ("task", T001), "Task", "taskId", lambda s: {"title": "Mốc thêm", "dueOn": day(60)}),
    Case("Task", "milestoneCreate", "p01.manager", P02_UNIT, ("task", SUB2), "Task", "taskId", lambda s: {"title": "Mốc thêm", "dueOn": day(60)}),
    Case("Task", "milestoneCreate", "p01.mixed", MIXED, ("task", SUB2), "Task", "taskId", lambda s: {"title": "Mốc thêm", "dueOn": day(60)}),
    Case("Task", "taskAssign", "p01.manager", READS_CHAIN, ("unit", "TW"), "Unit", "assignerUnitId",
         lambda s: {"taskId": s.w.task(T001), "assignees": [{"unitId": s.w.unit("P01-C02")}]}),
    Case("Task", "taskAssign", "p01.manager", P02_UNIT, ("unit", "P02"), "Unit", "assignerUnitId",
         lambda s: {"taskId": s.w.task(T001), "assignees": [{"unitId": s.w.unit("P02-C01")}]}),
    Case("Task", "taskAssign", "p01.mixed", MIXED, ("unit", "P02"), "Unit", "assignerUnitId",
         lambda s: {"taskId": s.w.task(SUB2), "assignees": [{"unitId": s.w.unit("P02-C01")}]}),
    Case("Task", "taskAssign", "p01.manager", P02_UNIT, ("task", SUB2), "Task", "taskId",
         lambda s: {"assignerUnitId": s.w.unit("P01"), "assignees": [{"unitId": s.w.unit("P01-C02")}]}),
    # -- Milestone --
    Case("Milestone", "milestoneUpdate", "p01.manager", HANDED, ("milestone", MS_TW), "Milestone", "id", lambda s: {"title": "Sửa"}, label="title"),
    Case("Milestone", "milestoneUpdate", "p01.manager", HANDED, ("milestone", MS_TW), "Milestone", "id", lambda s: {"doneOn": day(0)}, label="doneOn"),
    Case("Milestone", "milestoneUpdate", "p01.c01.officer", "reads: a task led by its province, handed down to it", ("milestone", MS_P01), "Milestone", "id",
         lambda s: {"doneOn": day(0)}),
    Case("Milestone", "milestoneUpdate", "p01.manager", P02_UNIT, ("milestone", MS_P02), "Milestone", "id", lambda s: {"title": "Sửa"}),
    Case("Milestone", "milestoneUpdate", "p01.c01.officer", P02_UNIT, ("milestone", MS_P02), "Milestone", "id", lambda s: {"doneOn": day(0)}),
    Case("Milestone", "milestoneUpdate", "p01.mixed", MIXED, ("milestone", MS_P02), "Milestone", "id", lambda s: {"doneOn": day(0)}),
    # -- Assignment --
    *(
        c
        for name, slot, extra in (
            ("assignmentAcknowledge", "id", {}),
            ("progressReportSubmit", "assignmentId", {"progress": 50, "status": "in_progress"}),
            ("extensionRequest", "assignmentId", {"requestedDueOn": day(500), "reason": "Thiếu kinh phí"}),
        )
        for c in (
            Case("Assignment", name, "p01.c02.officer", "invisible: its sibling commune's", ("assignment", (SUB, "P01-C01")), "Assignment", slot,
                 lambda s, extra=extra: extra),
            Case("Assignment", name, "p01.manager", "invisible: another province's assignment of a task it reads", ("assignment", (T001, "P02")), "Assignment",
                 slot, lambda s, extra=extra: extra),
            Case("Assignment", name, "p01.mixed", MIXED, ("assignment", (SUB2, "P02-C01")), "Assignment", slot, lambda s, extra=extra: extra),
        )
    ),
    Case("Assignment", "assignmentEvaluate", "p01.manager", "reads: its own assignment (it is the assignee)", ("assignment", (T001, "P01")), "Assignment",
         "assignmentId", lambda s: {"rating": "excellent"}),
    Case("Assignment", "assignmentEvaluate", "p02.manager", "invisible: another province's", ("assignment", (SUB, "P01-C01")),
         "Assignment", "assignmentId", lambda s: {"rating": "good"}),
    Case("Assignment", "assignmentEvaluate", "p01.mixed", MIXED, ("assignment", (SUB2, "P02-C01")), "Assignment", "assignmentId", lambda s: {"rating": "good"}),
    # -- Extension --
    Case("Extension", "extensionDecide", "p01.manager", "reads: its own request (it is the assignee)", ("extension", "P01"), "Extension", "id",
         lambda s: {"approve": True}),
    Case("Extension", "extensionDecide", "p01.manager", P02_UNIT, ("extension", "P02-C01"), "Extension", "id", lambda s: {"approve": True}),
    Case("Extension", "extensionDecide", "p02.manager", P02_UNIT, ("extension", "P01-C02"), "Extension", "id", lambda s: {"approve": True}),
    Case("Extension", "extensionDecide", "p01.mixed", MIXED, ("extension", "P02-C01"), "Extension", "id", lambda s: {"approve": True}),
]

# Roles that allow the verb nowhere: FORBIDDEN, decided by casbin before any row is read, so the answer for an
# object the caller reads (and could otherwise write on) equals the answer for a missing id. One case per model,
# and, where a write reads some row before it asks casbin, a case for that row's id too.
NOT_ANYWHERE = "reads: but its roles allow the verb nowhere"
READ_FIRST = ("the server reads this row (read scope) before it asks casbin: a missing id answers NOT_FOUND on {slot}, an id the caller"
              " reads answers FORBIDDEN on {err}; the rule is FORBIDDEN before any row is read, the same whatever the id")
FORBIDDEN_CASES: list[Case] = [
    Case(m, name, caller, NOT_ANYWHERE, target, t, slot, inp, err, code="FORBIDDEN", xfail=xf and READ_FIRST.format(slot=slot, err=err))
    for m, name, caller, target, t, slot, inp, err, xf in [
        ("Unit", "unitUpdate", "p01.manager", ("unit", "P01-C01"), "Unit", "id", lambda s: RENAME, None, False),
        ("Unit", "unitMerge", "p01.manager", ("unit", "P01-S01"), "Unit", "targetId", lambda s: {"sourceIds": [s.w.unit("P01-X3")]}, None, False),
        ("User", "userDeactivate", "p01.manager", ("user", "p01.officer"), "User", "id", lambda s: {}, None, False),
        ("Grant", "roleRevoke", "p01.manager", ("grant", ("p01.officer", "officer", "P01")), "Grant", "grantId", lambda s: {}, None, False),
        ("Resolution", "resolutionUpdate", "p01.c01.viewer", ("resolution", "CTr-57/P01"), "Resolution", "id", lambda s: {"title": "x"}, None, False),
        ("Objective", "keyResultCreate", "p01.c01.viewer", ("objective", "CTr-57/P01-O1"), "Objective", "objectiveId", lambda s: {"title": "x"}, None, False),
        ("KeyResult", "keyResultUpdate", "p01.c01.viewer", ("keyresult", ("CTr-57/P01-O1", "KR tỉnh P01")), "KeyResult", "id", lambda s: {"title": "x"}, None, False),
        ("Kpi", "kpiUnitTargetSet", "p01.c01.viewer", ("kpi", KPI_P01), "Kpi", "kpiId", lambda s: {"unitId": s.w.unit("P01-C01"), "target": "70"}, None, False),
        ("Measurement", "measurementCorrect", "p01.c01.viewer", ("measurement", (KPI_P01, "P01-C01", PERIOD)), "Measurement", "id",
         lambda s: {"value": "9", "reason": "x"}, None, False),
        ("Measurement", "measurementSubmit", "p01.c01.viewer", ("unit", "P01-C01"), "Unit", "unitId",
         lambda s: {"kpiId": s.w.kpi(KPI_P01), "period": PERIOD2, "value": "5"}, None, False),
        ("Measurement", "measurementSubmit", "p01.c01.viewer", ("kpi", KPI_P01), "Kpi", "kpiId",
         lambda s: {"unitId": s.w.unit("P01-C01"), "period": PERIOD2, "value": "5"}, "unitId", False),
        ("Task", "taskUpdate", "p01.c01.viewer", ("task", SUB), "Task", "id", lambda s: {"title": "x"}, None, False),
        ("Task", "taskAssign", "p01.c01.officer", ("unit", "P01-C01"), "Unit", "assignerUnitId",
         lambda s: {"taskId": s.w.task(SUB), "assignees": [{"unitId": s.w.unit("P01-C01-K01")}]}, None, False),
        ("Task", "taskAssign", "p01.c01.officer", ("task", SUB), "Task", "taskId",
         lambda s: {"assignerUnitId": s.w.unit("P01-C01"), "assignees": [{"unitId": s.w.unit("P01-C01-K01")}]}, "assignerUnitId", False),
        ("Task", "taskCreate", "p01.c01.viewer", ("resolution", "CTr-57/P01"), "Resolution", "resolutionId",
         lambda s: {"code": "CTr-57/P01-T99", "title": "x", "leadUnitId": s.w.unit("P01-C01"), "startOn": day(-10), "dueOn": day(100)}, "leadUnitId", False),
        ("Milestone", "milestoneUpdate", "p01.c01.officer", ("milestone", MS_P01), "Milestone", "id", lambda s: {"title": "x"}, None, False),
        ("Assignment", "progressReportSubmit", "p01.c01.viewer", ("assignment", (SUB, "P01-C01")), "Assignment", "assignmentId",
         lambda s: {"progress": 50, "status": "in_progress"}, None, False),
        ("Assignment", "assignmentEvaluate", "p01.c01.officer", ("assignment", (SUB, "P01-C01")), "Assignment", "assignmentId",
         lambda s: {"rating": "good"}, None, False),
        ("Extension", "extensionDecide", "p01.c02.officer", ("extension", "P01-C02"), "Extension", "id", lambda s: {"approve": True}, None, False),
    ]
]


def _params(cases: list[Case]) -> list[Any]:
    out = []
    for c in cases:
        relation = c.relation.replace(": ", "(").replace(" ", "-") + ")"
        name = f"{c.model}.{c.mutation}.{c.slot}.{c.caller}.{relation}" + (f".{c.label}" if c.label else "")
        _SEEN[name] = _SEEN.get(name, 0) + 1
        marks = [pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else []
        out.append(pytest.param(c, id=name if _SEEN[name] == 1 else f"{name}#{_SEEN[name]}", marks=marks))
    return out


async def answered_like_missing(s: Scene, case: Case) -> None:
    """Both answers identical as a whole, the expected (field, code), no object, and every row of every table as before.

    `s.clean` is the snapshot the previous case ended with, when it passed (reads write nothing, and
    every request of this module runs on the module's one connection): one snapshot fewer per case.
    """
    api = s.api
    gid = s.id(*case.target)
    before, s.clean = s.clean or await snapshot(api), None
    version = await version_of(api, case.mutation, with_id(case, s, gid))  # the same for the missing id: the inputs differ by the id alone
    foreign = await send(api, case.mutation, with_id(case, s, gid) | version, case.caller)
    middle = await snapshot(api)
    assert middle == before, f"{case.mutation} by {case.caller} on {case.target} was refused but changed {[t for t in before if before[t] != middle[t]]}"
    absent = await send(api, case.mutation, with_id(case, s, missing(case.type_name)) | version, case.caller)
    after = await snapshot(api)
    assert after == before, f"{case.mutation} by {case.caller} on a missing id changed {[t for t in before if before[t] != after[t]]}"
    r = absent["data"]["r"]
    assert [(e["field"], e["code"]) for e in r["errors"]] == [(case.error_field or case.slot, case.code)], r
    assert all(v in (None, []) for v in objects(absent).values()), absent
    assert foreign == absent, f"{case.mutation} by {case.caller} on {case.target} ({case.relation}) is answered unlike a missing id"
    s.clean = after


async def test_premises_the_caller_reads_or_does_not_see_each_object(scene: Scene) -> None:
    """READ-ONLY objects are found by node(id), INVISIBLE ones are not; a unit of the caller's own ancestor
    chain is named (code, name, kind) in `me.ancestors`, though node(id) does not give it. One query per caller."""
    s, wrong = scene, []
    by_caller: dict[str, list[Case]] = {}
    for case in CASES + FORBIDDEN_CASES:
        by_caller.setdefault(case.caller, []).append(case)
    for caller, cases in by_caller.items():
        for i in range(0, len(cases), 25):
            chunk = cases[i:i + 25]
            query = "{ me { ancestors { code } } " + " ".join(f'n{j}: node(id: "{s.id(*c.target)}") {{ id }}' for j, c in enumerate(chunk)) + " }"
            data = await s.api.data(query, as_user=caller)
            chain = {a["code"] for a in data["me"]["ancestors"]}
            for j, c in enumerate(chunk):
                if (data[f"n{j}"] is not None) is not c.reads or (c.names and c.target[1] not in chain):
                    wrong.append((c.mutation, caller, c.target, c.relation))
    assert not wrong, wrong
    s.clean = None


@pytest.mark.parametrize("case", _params(CASES))
async def test_out_of_write_scope_is_answered_like_a_missing_id(scene: Scene, case: Case) -> None:
    await answered_like_missing(scene, case)


@pytest.mark.parametrize("case", _params(FORBIDDEN_CASES))
async def test_a_verb_allowed_nowhere_is_forbidden_whatever_the_id(scene: Scene, case: Case) -> None:
    await answered_like_missing(scene, case)


# -- the KPI lead unit, explicitly ---------------------------------------------------------------

KPI_READ = ("query($c: String) { kpi(code: $c) { code version baseline target yellowThreshold redThreshold direction"
            " leadUnit { code } unitTargets { nodes { unit { code } target } } } }")


async def test_the_lead_province_reads_the_national_kpi_but_cannot_change_its_definition(scene: Scene) -> None:
    s, api = scene, scene.api
    s.clean = None
    seen = (await api.data(KPI_READ, {"c": KPI_TW}, as_user="p01.manager"))["kpi"]
    assert seen is not None and seen["leadUnit"] == {"code": "P01"}, seen  # it reads the KPI it leads
    assert seen == (await api.data(KPI_READ, {"c": KPI_TW}, as_user="tw.manager"))["kpi"]
    before = await snapshot(api)
    kpi, nokpi = s.w.kpi(KPI_TW), missing("Kpi")
    for name, inp in (
        ("kpiUpdate", {"target": "95"}),
        ("kpiUpdate", {"yellowThreshold": "70", "redThreshold": "60"}),
        ("kpiUpdate", {"baseline": "10", "target": "95", "yellowThreshold": "70", "redThreshold": "60"}),
        ("kpiUpdate", {"direction": "decrease", "baseline": "90", "target": "20", "yellowThreshold": "40", "redThreshold": "50"}),
        ("kpiUnitTargetSet", {"unitId": s.w.unit("P01-C01"), "target": "70"}),
        ("kpiUnitTargetSet", {"unitId": s.w.unit("P01"), "target": "70"}),
    ):
        key = "id" if name == "kpiUpdate" else "kpiId"
        version = await version_of(api, name, {key: kpi})
        got = await send(api, name, {**inp, key: kpi, **version}, "p01.manager")
        absent = await send(api, name, {**inp, key: nokpi, **version}, "p01.manager")
        assert [(e["field"], e["code"]) for e in absent["data"]["r"]["errors"]] == [(key, "NOT_FOUND")]
        assert got == absent, (name, inp, got)
    assert await snapshot(api) == before
    assert (await api.data(KPI_READ, {"c": KPI_TW}, as_user="p01.manager"))["kpi"] == seen  # unchanged, and still read


# -- positive controls: the right caller succeeds --------------------------------------------------


@dataclass(frozen=True)
class Control:
    model: str
    mutation: str
    caller: str
    what: str
    inp: Callable[[Scene], dict[str, Any]]


CONTROLS = [
    Control("Unit", "unitUpdate", "p01.admin", "renames a commune of P01", lambda s: {"id": s.w.unit("P01-C02"), "name": "Xã Tân Phong mới"}),
    Control("Unit", "unitMove", "p01.admin", "moves a unit within P01", lambda s: {"id": s.w.unit("P01-X1"), "parentId": s.w.unit("P01-S01")}),
    Control("Unit", "unitArchive", "p01.admin", "archives a unit of P01", lambda s: {"id": s.w.unit("P01-X2")}),
    Control("Unit", "unitCreate", "p01.admin", "creates a unit under a commune of P01",
            lambda s: {"parentId": s.w.unit("P01-C01"), "code": "P01-C01-K09", "name": "Chi bộ mới", "kind": "cell"}),
    Control("Unit", "unitMerge", "p01.admin", "merges a unit of P01 into another", lambda s: {"sourceIds": [s.w.unit("P01-X3")], "targetId": s.w.unit("P01-S01")}),
    Control("User", "userDeactivate", "p01.admin", "deactivates an account of P01", lambda s: {"id": s.users["p01.temp2"]}),
    Control("User", "userPasswordSet", "p01.admin", "sets the password of an account of P01", lambda s: {"id": s.users["p01.temp1"], "password": PASSWORD2}),
    Control("User", "userDeactivate", "admin", "the root admin deactivates an account that reaches above P01", lambda s: {"id": s.users["p01.staff2"]}),
    Control("Grant", "roleRevoke", "p01.admin", "revokes a grant inside P01", lambda s: {"grantId": s.grants[("p01.temp1", "viewer", "P01-C01")]}),
    Control("Grant", "roleGrant", "p01.admin", "grants a role inside P01",
            lambda s: {"userId": s.users["p01.temp1"], "role": "viewer", "unitId": s.w.unit("P01-C02")}),
    Control("Grant", "roleRevoke", "admin", "the root admin revokes a grant over TW", lambda s: {"grantId": s.grants[("p01.staff2", "viewer", "TW")]}),
    Control("Resolution", "resolutionUpdate", "tw.manager", "the issuer edits the resolution handed down",
            lambda s: {"id": s.w.res("57-NQ/TW"), "title": "Sửa bởi trung ương"}),
    Control("Resolution", "objectiveCreate", "tw.manager", "the issuer adds an objective",
            lambda s: {"resolutionId": s.w.res("57-NQ/TW"), "code": "57-NQ/TW-O9", "title": "Mục tiêu thêm"}),
    Control("Resolution", "resolutionUpdate", "p02.manager", "the province edits its own programme", lambda s: {"id": s.w.res("CTr-57/P02"), "title": "Sửa"}),
    Control("Objective", "objectiveUpdate", "tw.manager", "the issuer edits its objective", lambda s: {"id": s.w.ids[("objective", "57-NQ/TW-O1")], "title": "Sửa"}),
    Control("Objective", "keyResultCreate", "tw.manager", "the issuer adds a key result",
            lambda s: {"objectiveId": s.w.ids[("objective", "57-NQ/TW-O1")], "title": "KR thêm"}),
    Control("KeyResult", "keyResultUpdate", "tw.manager", "the issuer edits its key result",
            lambda s: {"id": s.w.ids[("keyresult", ("57-NQ/TW-O1", "KR trung ương"))], "title": "Sửa"}),
    Control("Kpi", "kpiUpdate", "tw.manager", "the issuer changes the target and thresholds of the KPI P01 leads",
            lambda s: {"id": s.w.kpi(KPI_TW), "target": "85", "yellowThreshold": "65", "redThreshold": "55"}),
    Control("Kpi", "kpiUnitTargetSet", "tw.manager", "the issuer sets a unit target on the KPI P01 leads",
            lambda s: {"kpiId": s.w.kpi(KPI_TW), "unitId": s.w.unit("P01"), "target": "70"}),
    Control("Kpi", "kpiUpdate", "p02.manager", "the province edits its own KPI", lambda s: {"id": s.w.kpi(KPI_P02), "target": "85"}),
    Control("Measurement", "measurementCorrect", "p01.c01.officer", "the commune corrects its own value",
            lambda s: {"id": s.w.ids[("measurement", (KPI_P01, "P01-C01", PERIOD))], "value": "9", "reason": "Sửa số liệu"}),
    Control("Measurement", "measurementSubmit", "p01.c01.officer", "the commune submits for itself",
            lambda s: {"kpiId": s.w.kpi(KPI_P01), "unitId": s.w.unit("P01-C01"), "period": PERIOD2, "value": "5"}),
    Control("Measurement", "measurementCorrect", "p02.officer", "the province corrects its commune's value",
            lambda s: {"id": s.w.ids[("measurement", (KPI_P02, "P02-C01", PERIOD))], "value": "9", "reason": "Sửa số liệu"}),
    Control("Task", "taskUpdate", "tw.manager", "the lead unit edits the task handed down", lambda s: {"id": s.w.task(T001), "title": "Sửa bởi trung ương"}),
    Control("Task", "milestoneCreate", "tw.manager", "the lead unit adds a milestone", lambda s: {"taskId": s.w.task(T001), "title": "Mốc thêm", "dueOn": day(60)}),
    Control("Task", "taskAssign", "p01.manager", "the province hands its task to a unit below",
            lambda s: {"taskId": s.w.task(SUB), "assignerUnitId": s.w.unit("P01"), "assignees": [{"unitId": s.w.unit("P01-S01")}]}),
    Control("Task", "taskAssign", "p01.manager", "the province hands the task it received down",
            lambda s: {"taskId": s.w.task(T001), "assignerUnitId": s.w.unit("P01"), "assignees": [{"unitId": s.w.unit("P01-S01")}]}),
    Control("Milestone", "milestoneUpdate", "tw.manager", "the lead unit re-plans its milestone", lambda s: {"id": s.w.ids[("milestone", MS_TW)], "title": "Sửa"}),
    Control("Milestone", "milestoneUpdate", "p01.officer", "an officer of the lead unit marks its milestone done",
            lambda s: {"id": s.w.ids[("milestone", MS_P01)], "doneOn": day(0)}),
    Control("Assignment", "assignmentAcknowledge", "p01.c02.officer", "the assignee acknowledges", lambda s: {"id": s.w.asg(SUB, "P01-C02")}),
    Control("Assignment", "progressReportSubmit", "p01.c02.officer", "the assignee reports",
            lambda s: {"assignmentId": s.w.asg(SUB, "P01-C02"), "progress": 50, "status": "in_progress"}),
    Control("Assignment", "extensionRequest", "p02.officer", "the assignee asks for time",
            lambda s: {"assignmentId": s.w.asg(T001, "P02"), "requestedDueOn": day(500), "reason": "Thiếu kinh phí"}),
    Control("Assignment", "assignmentEvaluate", "p01.manager", "the assigner evaluates its commune", lambda s: {"assignmentId": s.w.asg(SUB, "P01-C01"), "rating": "good"}),
    Control("Assignment", "assignmentEvaluate", "tw.manager", "the assigner evaluates the province",
            lambda s: {"assignmentId": s.w.asg(T001, "P01"), "rating": "excellent"}),
    Control("Extension", "extensionDecide", "p01.manager", "the assigner decides its commune's request", lambda s: {"id": s.ext["P01-C02"], "approve": True}),
    Control("Extension", "extensionDecide", "tw.manager", "the assigner decides the province's request",
            lambda s: {"id": s.ext["P01"], "approve": False, "reason": "Không đủ căn cứ"}),
]


@pytest.mark.parametrize("control", [pytest.param(c, id=f"{c.model}.{c.mutation}.{c.caller}") for c in CONTROLS])
async def test_the_right_caller_succeeds(scene: Scene, control: Control) -> None:
    api = scene.api
    scene.clean = None
    before = await audit_count(api)
    inp = control.inp(scene)
    body = await send(api, control.mutation, inp | await version_of(api, control.mutation, inp), control.caller)
    r = body["data"]["r"]
    assert r["errors"] == [], (control.what, r["errors"])
    assert all(v not in (None, []) for v in objects(body).values()), (control.what, r)
    assert await audit_count(api) > before, f"{control.what}: no audit event"


async def audit_count(api: Api) -> int:
    async with api.engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM audit_events"))).scalar_one())
