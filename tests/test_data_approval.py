"""Data approval (issue 11, step 3), through GraphQL on SQLite and PostgreSQL: a month's figures pass up the tree
level by level (communes, then the province), the province accepts a commune's approval, un-approves from above,
returns ONE item with a reason without reopening the month, and the figures asked over approved data leave that
item out until it is corrected and cleared. Every refusal is typed and writes nothing."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from resolute.api.kpis.periods import periods_containing, periods_within
from tests.monitoring_world import Clock, pin_today
from tests.support import TABLES, Api, Backend, StatementCounter, typed_errors, unit, user

Json = dict[str, Any]
ERRORS = "errors { field code message }"
STATUS = "approval { state waitingFor approvedAbove unit { code } approvedBy { username } acceptedBy { username } children { unit { code } state waitingFor } }"
APPROVE = f"mutation($r: ID!, $p: String!, $u: ID!) {{ r: dataApprove(resolutionId: $r, period: $p, unitId: $u) {{ {STATUS} {ERRORS} }} }}"
ACCEPT = f"mutation($r: ID!, $p: String!, $u: ID!) {{ r: dataAccept(resolutionId: $r, period: $p, unitId: $u) {{ {STATUS} {ERRORS} }} }}"
UNAPPROVE = f"mutation($r: ID!, $p: String!, $u: ID!) {{ r: dataUnapprove(resolutionId: $r, period: $p, unitId: $u) {{ {STATUS} {ERRORS} }} }}"
RETURN = ("mutation($r: ID!, $p: String!, $i: ID!, $why: String!) { r: dataItemReturn(resolutionId: $r, period: $p, itemId: $i, reason: $why) "
          f"{{ dataReturn {{ id state reason itemKind unit {{ code }} returnedBy {{ username }} }} {ERRORS} }} }}")  # fmt: skip
CLEAR = f"mutation($i: ID!) {{ r: dataReturnClear(id: $i) {{ dataReturn {{ id state clearedBy {{ username }} }} {ERRORS} }} }}"
READ = """query($r: ID!, $p: String!, $u: ID) { dataApproval(resolution: $r, period: $p, unit: $u) { state waitingFor approvedAbove unit { code }
  childCount children { unit { code } state waitingFor } returnCount returns { state reason itemKind measurement { value } progressReport { progress } } } }"""
REPORT = ("mutation($i: ProgressReportSubmitInput!) { r: progressReportSubmit(input: $i) { report { id } "
          f"{ERRORS} }} }}")  # fmt: skip
MEASURE = f"mutation($i: MeasurementSubmitInput!) {{ r: measurementSubmit(input: $i) {{ measurement {{ id version }} {ERRORS} }} }}"
CORRECT = f"mutation($i: MeasurementCorrectInput!) {{ r: measurementCorrect(input: $i) {{ measurement {{ id value version }} {ERRORS} }} }}"
JULY = "2025-07"


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    pin_today(monkeypatch)
    Clock.current = date(2025, 7, 1)


def day(d: date) -> None:
    Clock.current = d


async def world(api: Api) -> Json:
    """57 at the root with a monthly KPI and a task assigned on 1 July to three communes (two of P01, one of P02);
    in July C1 reports 50 % and measures 60, C2 completes the task; P01-C3 holds nothing; then it is 5 August."""
    await api.seed(
        [unit("TW", None, "central"), unit("P01", "TW", "province"), unit("C1", "P01", "commune"), unit("C2", "P01", "commune"),
         unit("C3", "P01", "commune"), unit("P02", "TW", "province"), unit("C4", "P02", "commune")],
        [user("admin", "TW", "admin"), user("p01", "P01", "leader"), user("p01v", "P01", "viewer"), user("c1lead", "C1", "leader"),
         user("c1", "C1", "officer"), user("c2", "C2", "officer"), user("c2lead", "C2", "leader"), user("p02", "P02", "leader"),
         user("c4", "C4", "officer"), user("c4lead", "C4", "leader")],
    )  # fmt: skip
    ids = {u["code"]: u["id"] for u in (await api.data("{ units(first: 20) { nodes { id code } } }", as_user="admin"))["units"]["nodes"]}
    r = (await api.data('mutation($u: ID!) { resolutionCreate(input: {code: "57", title: "Nghị quyết 57", kind: "resolution", issuingUnitId: $u, '
                        'issuedOn: "2025-01-01"}) { resolution { id } } }', {"u": ids["TW"]}, as_user="admin"))["resolutionCreate"]["resolution"]["id"]  # fmt: skip
    k = (await api.data('mutation($r: ID!, $u: ID!) { kpiCreate(input: {resolutionId: $r, code: "K1", name: "Chỉ tiêu 1", unitOfMeasure: "%", '
                        'direction: "increase", baseline: "40", target: "80", yellowThreshold: "62", redThreshold: "54", group: "public_service", '
                        'frequency: "monthly", leadUnitId: $u}) { kpi { id } } }', {"r": r, "u": ids["TW"]}, as_user="admin"))["kpiCreate"]["kpi"]["id"]  # fmt: skip
    t = (await api.data('mutation($r: ID!, $u: ID!) { taskCreate(input: {resolutionId: $r, code: "T1", title: "Nhiệm vụ 1", leadUnitId: $u, '
                        'startOn: "2025-07-01", dueOn: "2025-12-31"}) { task { id } } }', {"r": r, "u": ids["TW"]}, as_user="admin"))["taskCreate"]["task"]["id"]  # fmt: skip
    assigned = (await api.data('mutation($i: TaskAssignInput!) { taskAssign(input: $i) { assignments { id unit { code } } errors { code } } }',
                               {"i": {"taskId": t, "assignerUnitId": ids["TW"], "assignees": [{"unitId": ids[c]} for c in ("C1", "C2", "C4")]}},
                               as_user="admin"))["taskAssign"]  # fmt: skip
    assert assigned["errors"] == [], assigned
    a = {x["unit"]["code"]: x["id"] for x in assigned["assignments"]}
    day(date(2025, 7, 10))
    rep1 = await ok(api, REPORT, {"i": {"assignmentId": a["C1"], "progress": 50, "status": "in_progress"}}, "c1")
    m1 = await ok(api, MEASURE, {"i": {"kpiId": k, "unitId": ids["C1"], "period": JULY, "value": "60"}}, "c1")
    day(date(2025, 7, 20))
    rep2 = await ok(api, REPORT, {"i": {"assignmentId": a["C2"], "progress": 100, "status": "completed"}}, "c2")
    await ok(api, REPORT, {"i": {"assignmentId": a["C4"], "progress": 20, "status": "in_progress"}}, "c4")
    day(date(2025, 8, 5))
    return {"units": ids, "r": r, "kpi": k, "task": t, "a": a, "rep1": rep1["report"]["id"], "rep2": rep2["report"]["id"], "m1": m1["measurement"]["id"]}


async def ok(api: Api, query: str, variables: Json, who: str) -> Json:
    got = (await api.data(query, variables, as_user=who))["r"]
    assert got["errors"] == [], (who, got["errors"])
    return got


async def snapshot(api: Api) -> dict[str, list[str]]:
    async with api.engine.connect() as conn:
        return {t: sorted(repr(tuple(row)) for row in await conn.execute(text(f"SELECT * FROM {t}"))) for t in TABLES}


async def refused(api: Api, query: str, variables: Json, who: str, want: list[tuple[str | None, str]]) -> str:
    """The mutation answers exactly these (field, code) errors, returns nothing and writes nothing; its message."""
    before = await snapshot(api)
    got = (await api.data(query, variables, as_user=who))["r"]
    assert [(e["field"], e["code"]) for e in got["errors"]] == want, (who, got["errors"])
    assert all(v is None for k, v in got.items() if k != "errors"), got
    assert await snapshot(api) == before
    return str(got["errors"][0]["message"])


def at(w: Json, code: str, period: str = JULY) -> Json:
    return {"r": w["r"], "p": period, "u": w["units"][code]}


async def read(api: Api, w: Json, code: str, who: str = "admin") -> Json | None:
    return (await api.data(READ, {"r": w["r"], "p": JULY, "u": w["units"][code]}, as_user=who))["dataApproval"]


async def test_a_month_passes_up_level_by_level_and_is_undone_from_above(api: Api) -> None:
    w = await world(api)
    assert await read(api, w, "P01") == {
        "state": "waiting", "waitingFor": 2, "approvedAbove": False, "unit": {"code": "P01"}, "childCount": 2,
        "children": [{"unit": {"code": "C1"}, "state": "ready", "waitingFor": 0}, {"unit": {"code": "C2"}, "state": "ready", "waitingFor": 0}],
        "returnCount": 0, "returns": [],
    }  # C3 holds no figure: not listed, not waited for
    message = await refused(api, APPROVE, at(w, "P01"), "p01", [("unitId", "INVALID")])  # the province before its communes
    assert "C1, C2" in message
    c1 = (await ok(api, APPROVE, at(w, "C1"), "c1lead"))["approval"]
    assert (c1["state"], c1["approvedBy"], c1["unit"]) == ("approved", {"username": "c1lead"}, {"code": "C1"})
    await ok(api, APPROVE, at(w, "C2"), "p01")  # a level above may approve a child's figures itself
    top = (await ok(api, APPROVE, at(w, "P01"), "p01"))["approval"]
    assert (top["state"], top["waitingFor"], [c["state"] for c in top["children"]]) == ("approved", 0, ["approved", "approved"])
    assert (await read(api, w, "TW"))["children"] == [{"unit": {"code": "P01"}, "state": "approved", "waitingFor": 0},
                                                      {"unit": {"code": "P02"}, "state": "waiting", "waitingFor": 1}]  # fmt: skip
    assert (await read(api, w, "C1", who="p01"))["approvedAbove"] is True
    assert (await read(api, w, "C1", who="c1"))["approvedAbove"] is None  # the commune does not read its province's figures
    # the commune cannot undo its approval under the province's; the province accepts it, un-approves itself, and then
    # only the province (from above) may un-approve the accepted commune
    assert "un-approve there first" in await refused(api, UNAPPROVE, at(w, "C1"), "c1lead", [("unitId", "INVALID")])
    accepted = (await ok(api, ACCEPT, at(w, "C1"), "p01"))["approval"]
    assert (accepted["state"], accepted["acceptedBy"]) == ("accepted", {"username": "p01"})
    assert (await ok(api, UNAPPROVE, at(w, "P01"), "p01"))["approval"]["state"] == "ready"
    assert (await read(api, w, "P01"))["state"] == "ready"
    await refused(api, UNAPPROVE, at(w, "C1"), "c1lead", [("unitId", "FORBIDDEN")])  # accepted above
    assert (await ok(api, UNAPPROVE, at(w, "C1"), "p01"))["approval"]["state"] == "ready"
    assert (await read(api, w, "P01"))["children"][0] == {"unit": {"code": "C1"}, "state": "ready", "waitingFor": 0}
    await ok(api, APPROVE, at(w, "C1"), "c1lead")
    actions = [e["action"] for e in (await api.data("{ auditEvents(first: 50) { nodes { action } } }", as_user="admin"))["auditEvents"]["nodes"]]
    assert [a for a in actions if a.startswith("data")] == ["dataApprove", "dataUnapprove", "dataUnapprove", "dataAccept", "dataApprove", "dataApprove", "dataApprove"]


async def test_every_refusal_is_typed_and_writes_nothing(api: Api) -> None:
    w = await world(api)
    await refused(api, APPROVE, at(w, "C1"), "c1", [("unitId", "FORBIDDEN")])  # an officer does not approve
    await refused(api, APPROVE, at(w, "C1"), "p01v", [("unitId", "FORBIDDEN")])  # nor a viewer
    await refused(api, APPROVE, at(w, "C1"), "p02", [("unitId", "NOT_FOUND")])  # a sibling province's commune: unseen
    await refused(api, APPROVE, at(w, "P01"), "c1lead", [("unitId", "NOT_FOUND")])  # above its scope (its ancestors are names only)
    await refused(api, APPROVE, at(w, "C1", "2025-08"), "c1lead", [("period", "INVALID")])  # August is not over
    await refused(api, APPROVE, at(w, "C1", "2025-13"), "c1lead", [("period", "INVALID")])
    await refused(api, ACCEPT, at(w, "C1"), "p01", [("unitId", "INVALID")])  # nothing approved to accept
    await refused(api, UNAPPROVE, at(w, "C1"), "c1lead", [("unitId", "INVALID")])  # nothing approved to undo
    await refused(api, APPROVE, at(w, "C3"), "p01", [("unitId", "INVALID")])  # holds no figure
    await ok(api, APPROVE, at(w, "C1"), "c1lead")
    await refused(api, APPROVE, at(w, "C1"), "c1lead", [("unitId", "INVALID")])  # twice
    await ok(api, APPROVE, at(w, "C2"), "p01")
    await refused(api, ACCEPT, at(w, "C2"), "p01", [("unitId", "FORBIDDEN")])  # who approved does not accept too
    await refused(api, ACCEPT, at(w, "C1"), "c1lead", [("unitId", "FORBIDDEN")])  # accepting is for the level above
    ret = {"r": w["r"], "p": JULY, "i": w["m1"], "why": "số liệu chưa khớp báo cáo quý"}
    await refused(api, RETURN, {**ret, "why": "  "}, "p01", [("reason", "REQUIRED")])
    await refused(api, RETURN, ret, "c1lead", [("itemId", "FORBIDDEN")])  # its own level does not return to itself
    await refused(api, RETURN, ret, "p02", [("itemId", "NOT_FOUND")])
    await refused(api, RETURN, {**ret, "i": w["rep2"]}, "c2lead", [("itemId", "FORBIDDEN")])  # C2's own level
    await refused(api, RETURN, {**ret, "i": w["units"]["C1"]}, "p01", [("itemId", "INVALID_ID")])  # a unit is not an item
    await refused(api, RETURN, {**ret, "p": "2025-06"}, "p01", [("itemId", "INVALID")])  # not a figure of June
    # approved figures are locked: no new figure and no correction without a return
    await refused(api, MEASURE, {"i": {"kpiId": w["kpi"], "unitId": w["units"]["C1"], "period": JULY, "value": "61"}}, "c1", [("period", "INVALID")])
    await refused(api, CORRECT, {"i": {"id": w["m1"], "version": 1, "value": "61", "reason": "nhập nhầm"}}, "c1", [("id", "INVALID")])
    await refused(api, REPORT, {"i": {"assignmentId": w["a"]["C1"], "progress": 60, "status": "in_progress", "reportedOn": "2025-07-31"}}, "c1",
                  [("reportedOn", "INVALID")])  # fmt: skip
    assert (await read(api, w, "C1"))["state"] == "approved"


async def test_one_item_is_returned_corrected_and_cleared_without_reopening_the_month(api: Api) -> None:
    w = await world(api)
    for code, who in (("C1", "c1lead"), ("C2", "c2lead"), ("P01", "p01")):
        await ok(api, APPROVE, at(w, code), who)
    lights = ('query($r: ID!, $f: String) { kpiLights(unit: $u, filter: {resolution: $r, approvedFor: $f}) { counts { green yellow red } } }'
              .replace("$u", '"' + w["units"]["P01"] + '"'))  # fmt: skip
    async def green_yellow_red(approved: bool = True) -> tuple[int, int, int]:
        got = (await api.data(lights, {"r": w["r"], "f": JULY if approved else None}, as_user="p01"))["kpiLights"]["counts"]
        return got["green"], got["yellow"], got["red"]

    assert await green_yellow_red() == (0, 1, 0)  # C1's 60 in July: yellow (below 62, above 54)
    returned = (await ok(api, RETURN, {"r": w["r"], "p": JULY, "i": w["m1"], "why": "số liệu chưa khớp sổ gốc"}, "p01"))["dataReturn"]
    assert (returned["state"], returned["itemKind"], returned["unit"], returned["returnedBy"]) == ("returned", "measurement", {"code": "C1"}, {"username": "p01"})
    await refused(api, RETURN, {"r": w["r"], "p": JULY, "i": w["m1"], "why": "lần nữa"}, "p01", [("itemId", "INVALID")])  # already returned
    # who corrects it is told why: the commune's officer (who reported it), not its leader; each with its outbox row
    told = "{ notifications(first: 5) { nodes { kind message assignment { id } dataReturn { state reason measurement { period } } } } }"
    assert (await api.data(told, as_user="c1"))["notifications"]["nodes"] == [
        {"kind": "data_returned", "message": "Measurement of C1 for 2025-07 returned by the level above: số liệu chưa khớp sổ gốc", "assignment": None,
         "dataReturn": {"state": "returned", "reason": "số liệu chưa khớp sổ gốc", "measurement": {"period": JULY}}}]  # fmt: skip
    assert (await api.data(told, as_user="c1lead"))["notifications"]["nodes"] == []
    async with api.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM notification_outbox JOIN notifications n ON n.id = notification_id "
                                        "WHERE n.kind = 'data_returned'"))).scalar_one() == 1  # fmt: skip
    assert (await read(api, w, "P01"))["state"] == "approved"  # the month stays approved
    assert await green_yellow_red() == (0, 0, 0)  # held back from approved figures
    assert await green_yellow_red(approved=False) == (0, 1, 0)  # the live figures still show it
    assert (await read(api, w, "C1", who="c1"))["returns"] == [
        {"state": "returned", "reason": "số liệu chưa khớp sổ gốc", "itemKind": "measurement", "measurement": {"value": "60.00"}, "progressReport": None}]
    await refused(api, CLEAR, {"i": returned["id"]}, "p01", [("id", "INVALID")])  # not corrected yet
    fixed = await ok(api, CORRECT, {"i": {"id": w["m1"], "version": 1, "value": "70", "reason": "đối chiếu sổ gốc"}}, "c1")  # allowed: it was returned
    assert fixed["measurement"]["value"] == "70.00"
    await refused(api, CORRECT, {"i": {"id": w["m1"], "version": 2, "value": "71", "reason": "lại"}}, "c1", [("id", "INVALID")])  # once corrected, locked again
    assert await green_yellow_red() == (0, 0, 0)  # corrected, not yet cleared
    await refused(api, CLEAR, {"i": returned["id"]}, "c1lead", [("id", "FORBIDDEN")])
    await refused(api, CLEAR, {"i": returned["id"]}, "p02", [("id", "NOT_FOUND")])
    cleared = (await ok(api, CLEAR, {"i": returned["id"]}, "p01"))["dataReturn"]
    assert (cleared["state"], cleared["clearedBy"]) == ("cleared", {"username": "p01"})
    assert await green_yellow_red() == (1, 0, 0)  # 70 is green, and counts again
    assert (await read(api, w, "P01"))["returnCount"] == 0


ROLLUP = """query($u: ID!, $r: ID!, $f: String) { progressRollup(unit: $u, filter: {resolution: $r, approvedFor: $f}) {
  figures { total completed inProgress notStarted averageProgress } children { unit { code } figures { total completed averageProgress } } } }"""


async def test_figures_over_approved_data_are_those_of_the_period_as_approved(api: Api) -> None:
    w = await world(api)
    day(date(2025, 8, 3))
    await ok(api, REPORT, {"i": {"assignmentId": w["a"]["C1"], "progress": 80, "status": "in_progress"}}, "c1")  # August: not July's figure
    day(date(2025, 8, 5))

    async def rollup(unit_code: str, approved: str | None = JULY) -> Json:
        return (await api.data(ROLLUP, {"u": w["units"][unit_code], "r": w["r"], "f": approved}, as_user="admin"))["progressRollup"]

    assert (await rollup("TW"))["figures"] == {"total": 0, "completed": 0, "inProgress": 0, "notStarted": 0, "averageProgress": None}  # nothing approved
    await ok(api, APPROVE, at(w, "C1"), "c1lead")
    assert (await rollup("P01"))["children"] == [
        {"unit": {"code": "C1"}, "figures": {"total": 1, "completed": 0, "averageProgress": 50.0}},  # July's 50 %, not August's 80 %
        {"unit": {"code": "C2"}, "figures": {"total": 0, "completed": 0, "averageProgress": None}},  # not approved
        {"unit": {"code": "C3"}, "figures": {"total": 0, "completed": 0, "averageProgress": None}},
    ]
    await ok(api, APPROVE, at(w, "C2"), "c2lead")
    await ok(api, APPROVE, at(w, "C4"), "c4lead")
    assert (await rollup("TW"))["figures"] == {"total": 3, "completed": 1, "inProgress": 2, "notStarted": 0, "averageProgress": 56.67}
    assert (await rollup("TW", None))["figures"]["averageProgress"] == 66.67  # live: 80, 100, 20
    # a returned report holds its assignment back until its correction is cleared; the rest of the month counts
    await ok(api, APPROVE, at(w, "P01"), "p01")
    returned = (await ok(api, RETURN, {"r": w["r"], "p": JULY, "i": w["rep2"], "why": "chưa có biên bản nghiệm thu"}, "p01"))["dataReturn"]
    assert (await rollup("P01"))["figures"]["total"] == 1
    await ok(api, REPORT, {"i": {"assignmentId": w["a"]["C2"], "progress": 90, "status": "in_progress", "reportedOn": "2025-07-25"}}, "c2")
    await refused(api, REPORT, {"i": {"assignmentId": w["a"]["C2"], "progress": 95, "status": "in_progress", "reportedOn": "2025-07-26"}}, "c2",
                  [("reportedOn", "INVALID")])  # fmt: skip  (the return was answered: July is locked again)
    await ok(api, CLEAR, {"i": returned["id"]}, "p01")
    assert (await rollup("P01"))["children"][1] == {"unit": {"code": "C2"}, "figures": {"total": 1, "completed": 0, "averageProgress": 90.0}}
    bad = await api.gql('query($u: ID!) { progressRollup(unit: $u, filter: {approvedFor: "2025-07"}) { figures { total } } }', {"u": w["units"]["TW"]}, as_user="admin")
    assert typed_errors(bad) == [("REQUIRED", "filter.approvedFor")]


async def test_a_replayed_key_answers_the_same_return_and_writes_nothing_more(api: Api) -> None:
    w = await world(api)
    await ok(api, APPROVE, at(w, "C1"), "c1lead")
    keyed = RETURN.replace("reason: $why)", 'reason: $why, idempotencyKey: "tra-lai-1")')
    variables = {"r": w["r"], "p": JULY, "i": w["m1"], "why": "thiếu minh chứng"}
    first = (await ok(api, keyed, variables, "p01"))["dataReturn"]
    before = await snapshot(api)
    again = (await ok(api, keyed, variables, "p01"))["dataReturn"]
    assert again == first and await snapshot(api) == before
    reused = (await api.data(keyed, {**variables, "why": "lý do khác"}, as_user="p01"))["r"]
    assert [(e["field"], e["code"]) for e in reused["errors"]] == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]


async def test_reading_approval_is_a_fixed_number_of_statements_and_only_in_scope(api: Api, statements: StatementCounter) -> None:
    w = await world(api)
    counts = []
    for code in ("C1", "P01", "TW"):  # no child, two children, two provinces with three communes under them
        await read(api, w, code)  # the caller's principal and scope are cached after the first request
        statements.reset()
        assert (await read(api, w, code))["unit"] == {"code": code}
        counts.append(statements.count)
    assert 0 < counts[0] == counts[1] == counts[2], counts
    assert await read(api, w, "P01", who="c1") is None  # above the commune's scope
    assert await read(api, w, "P01", who="p02") is None  # a sibling's
    assert (await read(api, w, "P01", who="p01v"))["state"] == "waiting"  # a viewer of the province reads it


@pytest.mark.committing("an approval and a child's un-approval race in PostgreSQL")
async def test_a_parent_approval_and_a_child_unapproval_at_once_never_leave_the_parent_over_an_unapproved_child(api: Api, backend: Backend) -> None:
    if backend.name != "postgresql":
        pytest.skip("concurrency is tested on PostgreSQL (SQLite serialises writers)")
    w = await world(api)
    await ok(api, APPROVE, at(w, "C2"), "c2lead")
    for who in ("p01", "c1lead"):
        await api.token_for(who)
    outcomes = set()
    for _ in range(12):
        await ok(api, APPROVE, at(w, "C1"), "c1lead")
        parent, child = await asyncio.gather(api.data(APPROVE, at(w, "P01"), as_user="p01"), api.data(UNAPPROVE, at(w, "C1"), as_user="c1lead"))
        outcomes.add((parent["r"]["errors"] == [], child["r"]["errors"] == []))
        states = {c["unit"]["code"]: c["state"] for c in (await read(api, w, "P01"))["children"]}
        top = (await read(api, w, "P01"))["state"]
        assert top != "approved" or states["C1"] == "approved", (top, states)  # never an approved parent over a ready child
        if top == "approved":
            await ok(api, UNAPPROVE, at(w, "P01"), "p01")
        if states["C1"] == "approved":
            await ok(api, UNAPPROVE, at(w, "C1"), "c1lead")
    assert outcomes <= {(True, False), (False, True)}, outcomes  # exactly one of the two wins each time


PERIODS = st.one_of(
    st.builds(lambda y, m: f"{y}-{m:02d}", st.integers(2023, 2026), st.integers(1, 12)),
    st.builds(lambda y, q: f"{y}-Q{q}", st.integers(2023, 2026), st.integers(1, 4)),
    st.builds(str, st.integers(2023, 2026)),
)


def _days(period: str) -> set[date]:
    """Every day of a period, worked out from its name alone."""
    if "-Q" in period:
        year, quarter = int(period[:4]), int(period[-1])
        months = [(year, 3 * (quarter - 1) + k) for k in (1, 2, 3)]
    elif "-" in period:
        months = [(int(period[:4]), int(period[5:]))]
    else:
        months = [(int(period), k) for k in range(1, 13)]
    return {date(y, m, d) for y, m in months for d in range(1, 32) if _valid(y, m, d)}


def _valid(y: int, m: int, d: int) -> bool:
    try:
        date(y, m, d)
    except ValueError:
        return False
    return True


@given(outer=PERIODS, inner=PERIODS)
def test_a_period_lies_within_another_when_each_of_its_days_does(outer: str, inner: str) -> None:
    """What an approval of `outer` covers (a measurement of `inner`), and which approvals lock a figure of `inner`."""
    inside = _days(inner) <= _days(outer)
    assert (inner in periods_within(outer)) == inside
    assert (outer in periods_containing(inner)) == inside


async def test_a_figure_that_arrives_under_an_approved_parent_stays_out_until_the_parent_reopens(api: Api) -> None:
    """The lock and the approved figures go by a unit's own approval: a commune that held nothing when its province
    approved may still enter July's figure, which counts nowhere approved until the province un-approves and the
    commune approves; a resolution the caller does not read has no approval to show."""
    w = await world(api)
    for code, who in (("C1", "c1lead"), ("C2", "c2lead"), ("P01", "p01")):
        await ok(api, APPROVE, at(w, code), who)
    await api.seed([], [user("p01m", "P01", "manager")])
    await ok(api, MEASURE, {"i": {"kpiId": w["kpi"], "unitId": w["units"]["C3"], "period": JULY, "value": "90"}}, "p01m")  # on the commune's behalf
    assert (await read(api, w, "P01"))["children"][2] == {"unit": {"code": "C3"}, "state": "ready", "waitingFor": 0}
    assert "un-approve there first" in await refused(api, APPROVE, at(w, "C3"), "p01", [("unitId", "INVALID")])
    await ok(api, UNAPPROVE, at(w, "P01"), "p01")
    await ok(api, APPROVE, at(w, "C3"), "p01")
    assert (await ok(api, APPROVE, at(w, "P01"), "p01"))["approval"]["children"][2]["state"] == "approved"
    assert (await api.data(READ, {"r": w["r"], "p": JULY, "u": w["units"]["C4"]}, as_user="c4")) == {"dataApproval": {
        "state": "ready", "waitingFor": 0, "approvedAbove": None, "unit": {"code": "C4"}, "childCount": 0, "children": [], "returnCount": 0, "returns": []}}
    await api.seed([unit("X", "TW", "province")], [user("xlead", "X", "leader")])
    other = (await api.data('mutation($u: ID!) { resolutionCreate(input: {code: "X1", title: "Riêng", kind: "resolution", issuingUnitId: $u, '
                            'issuedOn: "2025-01-01"}) { resolution { id } } }', {"u": await unit_id(api, "X")}, as_user="admin"))["resolutionCreate"]["resolution"]["id"]  # fmt: skip
    assert (await api.data(READ, {"r": other, "p": JULY, "u": w["units"]["C1"]}, as_user="c1lead"))["dataApproval"] is None  # X1 is unseen from C1


async def unit_id(api: Api, code: str) -> str:
    return str((await api.data("query($c: String!) { unit(code: $c) { id } }", {"c": code}, as_user="admin"))["unit"]["id"])
