"""unitMerge: open work, KPI duties, people and grants follow the target; history stays and still rolls up."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from tests.support import Api, unit, user

MERGE = "mutation($s: [ID!]!, $t: ID!) { unitMerge(input: {sourceIds: $s, targetId: $t}) { unit { code children { nodes { code } } } errors { field code message } } }"


@pytest.fixture
async def world(api: Api) -> dict[str, str]:
    """Two provinces; P01's commune C02 will merge into C01; work and a measurement exist at C02."""
    units = [
        unit("TW", None, "central"), unit("P01", "TW", "province"), unit("P01-C01", "P01", "commune"), unit("P01-C02", "P01", "commune"),
        unit("P01-C02-K01", "P01-C02", "cell"), unit("P02", "TW", "province"), unit("P02-C01", "P02", "commune"),
    ]
    users = [
        user("admin", "TW", "admin"), user("tw.manager", "TW", "manager"), user("p01.admin", "P01", "admin"), user("p01.manager", "P01", "manager"),
        user("c01.officer", "P01-C01", "officer"), user("c02.officer", "P01-C02", "officer"), user("p02.admin", "P02", "admin"),
    ]
    await api.seed(units, users)
    ids = {n["code"]: n["id"] for n in (await api.data("{ units(first: 50) { nodes { id code } } }", as_user="admin"))["units"]["nodes"]}
    r = await api.data('mutation($u: ID!) { resolutionCreate(input: {code: "CTr-1/P01", title: "Chương trình", kind: "plan", issuingUnitId: $u, issuedOn: "2025-01-01"}) { resolution { id } errors { code } } }',
                       {"u": ids["P01"]}, as_user="p01.manager")
    rid = r["resolutionCreate"]["resolution"]["id"]
    for code in ("T1", "T2"):
        t = await api.data('mutation($r: ID!, $l: ID!, $c: String!) { taskCreate(input: {resolutionId: $r, code: $c, title: "Việc", leadUnitId: $l, startOn: "2025-01-01", dueOn: "2030-12-31"}) { task { id } errors { code } } }',
                           {"r": rid, "l": ids["P01"], "c": code}, as_user="p01.manager")
        ids[code] = t["taskCreate"]["task"]["id"]
    await api.data('mutation($t: ID!, $f: ID!, $a: ID!) { taskAssign(input: {taskId: $t, assignerUnitId: $f, assignees: [{unitId: $a}]}) { errors { code } } }',
                   {"t": ids["T1"], "f": ids["P01"], "a": ids["P01-C02"]}, as_user="p01.manager")
    a2 = await api.data('mutation($t: ID!, $f: ID!, $a: ID!) { taskAssign(input: {taskId: $t, assignerUnitId: $f, assignees: [{unitId: $a}]}) { assignments { id } errors { code } } }',
                        {"t": ids["T2"], "f": ids["P01"], "a": ids["P01-C02"]}, as_user="p01.manager")
    done = a2["taskAssign"]["assignments"][0]["id"]
    await api.data('mutation($a: ID!) { progressReportSubmit(input: {assignmentId: $a, progress: 100, status: "completed"}) { errors { code } } }', {"a": done}, as_user="c02.officer")
    k = await api.data('mutation($r: ID!, $l: ID!) { kpiCreate(input: {resolutionId: $r, code: "CTr-1/P01-K1", name: "Chỉ số", unitOfMeasure: "%", direction: "increase", baseline: "10", target: "50", yellowThreshold: "30", redThreshold: "20", group: "development", frequency: "monthly", leadUnitId: $l}) { kpi { id } errors { code } } }',
                       {"r": rid, "l": ids["P01"]}, as_user="p01.manager")
    ids["K1"] = k["kpiCreate"]["kpi"]["id"]
    await api.data('mutation($k: ID!, $u: ID!) { kpiUnitTargetSet(input: {kpiId: $k, unitId: $u, target: "40"}) { errors { code } } }', {"k": ids["K1"], "u": ids["P01-C02"]}, as_user="p01.manager")
    await api.data('mutation($k: ID!, $u: ID!) { measurementSubmit(input: {kpiId: $k, unitId: $u, period: "2025-03", value: "25"}) { errors { code } } }', {"k": ids["K1"], "u": ids["P01-C02"]}, as_user="c02.officer")
    return ids


async def test_merge_moves_work_people_and_duties_and_keeps_history(api: Api, world: dict[str, str]) -> None:
    since = datetime.now(UTC).isoformat()
    result = await api.data(MERGE, {"s": [world["P01-C02"]], "t": world["P01-C01"]}, as_user="p01.admin")
    assert result["unitMerge"]["errors"] == []
    assert result["unitMerge"]["unit"] == {"code": "P01-C01", "children": {"nodes": [{"code": "P01-C02-K01"}]}}  # the archived source is hidden
    units = (await api.data("{ units(first: 50, filter: {includeArchived: true}) { nodes { code archived parent { code } depth } } }", as_user="admin"))["units"]["nodes"]
    by_code = {u["code"]: u for u in units}
    assert by_code["P01-C02"] == {"code": "P01-C02", "archived": True, "parent": {"code": "P01-C01"}, "depth": 4}
    assert by_code["P01-C02-K01"]["parent"] == {"code": "P01-C01"} and not by_code["P01-C02-K01"]["archived"]
    # open work moved, closed work stays attributed to the source
    work = (await api.data("{ assignments(first: 50) { nodes { task { code } unit { code } status } } }", as_user="p01.manager"))["assignments"]["nodes"]
    assert sorted((a["task"]["code"], a["unit"]["code"], a["status"]) for a in work) == [("T1", "P01-C01", "not_started"), ("T2", "P01-C02", "completed")]
    # the officer of the source now belongs to the target, with its grant moved
    me = await api.data("{ me { unit { code } grants { role unit { code } } } }", as_user="c02.officer")
    assert me["me"] == {"unit": {"code": "P01-C01"}, "grants": [{"role": "officer", "unit": {"code": "P01-C01"}}]}
    # KPI duty moved; the measurement stays the source's and rolls up under the target
    kpi = await api.data('{ kpi(code: "CTr-1/P01-K1") { unitTargets { nodes { unit { code } target } } } }', as_user="admin")
    assert kpi["kpi"]["unitTargets"]["nodes"] == [{"unit": {"code": "P01-C01"}, "target": "40.00"}]
    under = await api.data("query($u: ID!) { measurements(first: 10, filter: {under: $u}) { nodes { unit { code } value } } }", {"u": world["P01-C01"]}, as_user="c01.officer")
    assert under["measurements"]["nodes"] == [{"unit": {"code": "P01-C02"}, "value": "25.00"}]
    # an incremental sync sees everything the merge changed
    synced = await api.data("query($s: DateTime) { units(first: 50, filter: {updatedSince: $s, includeArchived: true}) { nodes { code } } }", {"s": since}, as_user="admin")
    assert {n["code"] for n in synced["units"]["nodes"]} == {"P01-C02", "P01-C02-K01"}
    events = await api.data('{ auditEvents(first: 5, filter: {action: "unitMerge"}) { nodes { unit { code } after } } }', as_user="admin")
    (event,) = events["auditEvents"]["nodes"]
    assert event["unit"] == {"code": "P01-C02"} and event["after"]["open_assignments_moved"] == 1 and event["after"]["sub_units_moved"] == 1


async def _snapshot(api: Api) -> list[tuple]:  # type: ignore[type-arg]
    async with api.engine.connect() as conn:
        rows = await conn.execute(text("SELECT id, parent_id, path, archived_at, version FROM units ORDER BY id"))
        return [tuple(r) for r in rows]


@pytest.mark.parametrize(
    ("caller", "sources", "target", "expected"),
    [
        ("p01.admin", ["P01"], "P01-C01", [("targetId", "CYCLE")]),
        ("p01.admin", ["P01-C01"], "P01-C01", [("targetId", "INVALID")]),
        ("p01.admin", ["P02-C01"], "P01-C01", [("sourceIds[0]", "NOT_FOUND")]),
        ("p02.admin", ["P02-C01"], "P01-C01", [("targetId", "NOT_FOUND")]),
        ("p01.manager", ["P01-C02"], "P01-C01", [("targetId", "FORBIDDEN")]),
        ("admin", ["TW"], "P01", [("sourceIds[0]", "INVALID")]),  # the root is never merged
        ("admin", [], "P01", [("sourceIds", "REQUIRED")]),
        ("admin", ["P01-C02", "P01-C02"], "P01-C01", [("sourceIds", "INVALID")]),
    ],
)
async def test_refused_merges_change_nothing(api: Api, world: dict[str, str], caller: str, sources: list[str], target: str, expected: list[tuple[str, str]]) -> None:
    before = await _snapshot(api)
    body = await api.data(MERGE, {"s": [world[s] for s in sources], "t": world[target]}, as_user=caller)
    assert [(e["field"], e["code"]) for e in body["unitMerge"]["errors"]] == expected
    assert body["unitMerge"]["unit"] is None
    assert await _snapshot(api) == before
