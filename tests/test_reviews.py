"""Review check-ins (issue 11, step 7), through GraphQL on SQLite and PostgreSQL: a review records each key result's
confidence, a narrative and decisions; an adjustment of a target or a due date goes through that object's own rules and
records who, why and who approved it; every refusal is typed and writes nothing; reading them costs a fixed number of
statements whatever the number of objectives."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, update

from resolute.api import clock
from resolute.api.kpis.models import Measurement
from resolute.api.reviews.models import Review
from resolute.schema.ids import decode_any, encode_id


def decode(global_id: str) -> int:
    decoded = decode_any(global_id)
    assert decoded is not None
    return decoded[1]
from tests.support import Api, StatementCounter, unit, user

Json = dict[str, Any]
RECORD = """mutation($in: ReviewRecordInput!) { reviewRecord(input: $in) {
  review { id cadence heldOn narrative decisions unit { code } recordedBy { username }
    confidences { keyResult { title } confidence note } adjustments { objectType before after reason approvedBy { username } kpi { code } task { code } } }
  errors { field code message } } }"""
READ = """query($r: String!) { resolution(code: $r) { objectives { code reviews(first: 5) { totalCount nodes { cadence narrative
  confidences { keyResult { title } confidence } adjustments { objectType before after reason approvedBy { username } } } } } } }"""


async def setup(api: Api) -> Json:
    """R1 issued at the root: objective O1 (key results KR1, KR2) with KPI K1, task T1 serving K1; an admin and a manager at
    the root (either approves the other's adjustments), a viewer at the root, a manager of P01."""
    await api.seed([unit("TW", None, "central"), unit("P01", "TW", "province"), unit("P02", "TW", "province")],
                   [user("admin", "TW", "admin"), user("chief", "TW", "manager"), user("viewer", "TW", "viewer"), user("p01", "P01", "manager")])  # fmt: skip
    ids = {u["code"]: u["id"] for u in (await api.data("{ units(first: 10) { nodes { id code } } }", as_user="admin"))["units"]["nodes"]}
    r = (await api.data('mutation($u: ID!) { resolutionCreate(input: {code: "R1", title: "Nghị quyết 1", kind: "resolution", issuingUnitId: $u, '
                        'issuedOn: "2025-01-01"}) { resolution { id } } }', {"u": ids["TW"]}, as_user="admin"))["resolutionCreate"]["resolution"]["id"]  # fmt: skip
    o = (await api.data('mutation($r: ID!) { objectiveCreate(input: {resolutionId: $r, code: "O1", title: "Mục tiêu 1"}) { objective { id } } }',
                        {"r": r}, as_user="admin"))["objectiveCreate"]["objective"]["id"]  # fmt: skip
    krs = [(await api.data('mutation($o: ID!, $t: String!) { keyResultCreate(input: {objectiveId: $o, title: $t}) { keyResult { id } } }',
                           {"o": o, "t": t}, as_user="admin"))["keyResultCreate"]["keyResult"]["id"] for t in ("KR1", "KR2")]  # fmt: skip
    k = (await api.data('mutation($r: ID!, $o: ID!, $u: ID!) { kpiCreate(input: {resolutionId: $r, objectiveId: $o, code: "K1", name: "Chỉ tiêu 1", '
                        'unitOfMeasure: "%", direction: "increase", baseline: "40", target: "80", yellowThreshold: "62", redThreshold: "54", '
                        'group: "public_service", frequency: "monthly", leadUnitId: $u}) { kpi { id } errors { field code } } }',
                        {"r": r, "o": o, "u": ids["TW"]}, as_user="admin"))["kpiCreate"]["kpi"]["id"]  # fmt: skip
    t = (await api.data('mutation($r: ID!, $u: ID!, $k: ID!) { taskCreate(input: {resolutionId: $r, code: "T1", title: "Nhiệm vụ 1", leadUnitId: $u, '
                        'startOn: "2025-01-01", dueOn: "2027-12-31", kpiId: $k}) { task { id } errors { field code } } }',
                        {"r": r, "u": ids["TW"], "k": k}, as_user="admin"))["taskCreate"]["task"]["id"]  # fmt: skip
    users = {u["username"]: u["id"] for u in (await api.data("{ users(first: 10) { nodes { id username } } }", as_user="admin"))["users"]["nodes"]}
    return {"units": ids, "resolution": r, "objective": o, "krs": krs, "kpi": k, "task": t, "users": users}


async def reviews(api: Api) -> int:
    async with api.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(Review))).scalar_one())


async def kpi_target_and_due(api: Api, w: Json) -> tuple[str, str]:
    got = await api.data('{ kpi(code: "K1") { target } task(code: "T1") { dueOn } }', as_user="admin")
    return got["kpi"]["target"], got["task"]["dueOn"]


async def test_a_review_records_confidences_and_its_adjustments_with_who_approved_them(api: Api) -> None:
    w = await setup(api)
    today = clock.today()
    review = {"objectiveId": w["objective"], "cadence": "monthly", "heldOn": today.isoformat(), "narrative": "Tiến độ chậm ở hai tỉnh",
              "decisions": "Lùi hạn nhiệm vụ T1; nâng chỉ tiêu K1", "approvedById": w["users"]["chief"],
              "confidences": [{"keyResultId": w["krs"][0], "confidence": "on_track"}, {"keyResultId": w["krs"][1], "confidence": "at_risk", "note": "thiếu kinh phí"}],
              "adjustments": [{"kpiId": w["kpi"], "target": "85", "reason": "vượt kế hoạch quý I"},
                              {"taskId": w["task"], "dueOn": "2028-06-30", "reason": "chờ nghị định hướng dẫn"}]}  # fmt: skip
    body = (await api.data(RECORD, {"in": review}, as_user="admin"))["reviewRecord"]
    assert body["errors"] == [], body
    got = body["review"]
    assert (got["cadence"], got["unit"]["code"], got["recordedBy"]["username"]) == ("monthly", "TW", "admin")
    assert [(c["keyResult"]["title"], c["confidence"], c["note"]) for c in got["confidences"]] == [("KR1", "on_track", None), ("KR2", "at_risk", "thiếu kinh phí")]
    assert [(a["objectType"], a["before"], a["after"], a["reason"], a["approvedBy"]["username"], (a["kpi"] or a["task"])["code"]) for a in got["adjustments"]] == [
        ("kpi", "80.00", "85.00", "vượt kế hoạch quý I", "chief", "K1"), ("task", "2027-12-31", "2028-06-30", "chờ nghị định hướng dẫn", "chief", "T1")]
    assert await kpi_target_and_due(api, w) == ("85.00", "2028-06-30")  # applied, through the objects' own services
    actions = [e["action"] for e in (await api.data("{ auditEvents(first: 5) { nodes { action } } }", as_user="admin"))["auditEvents"]["nodes"]]
    assert actions[:3] == ["reviewRecord", "taskUpdate", "kpiUpdate"], actions  # each change audited as itself, then the review

    # a reader of the objective who does not see T1 (led at the root, handed to nobody) sees no adjustment of it
    sees = await api.data('{ kpi(code: "K1") { code } task(code: "T1") { code } }', as_user="p01")
    below = await api.data(READ, {"r": "R1"}, as_user="p01")
    if below["resolution"] is not None:
        shown = {a["objectType"] for o in below["resolution"]["objectives"] for r in o["reviews"]["nodes"] for a in r["adjustments"]}
        assert shown == {"kpi"} if sees["kpi"] and not sees["task"] else True, (shown, sees)
        assert sees["task"] is None and "task" not in shown

    kpi_review = {"kpiId": w["kpi"], "cadence": "weekly", "heldOn": (today - timedelta(days=1)).isoformat(), "narrative": "Ổn định",
                  "confidences": [{"confidence": "off_track"}]}  # fmt: skip
    assert (await api.data(RECORD, {"in": kpi_review}, as_user="chief"))["reviewRecord"]["errors"] == []
    listed = await api.data(READ, {"r": "R1"}, as_user="viewer")  # a reader reads them, newest first
    (objective,) = listed["resolution"]["objectives"]
    assert objective["reviews"]["totalCount"] == 1 and objective["reviews"]["nodes"][0]["narrative"] == "Tiến độ chậm ở hai tỉnh"
    retried = RECORD.replace("reviewRecord(input: $in)", 'reviewRecord(input: $in, idempotencyKey: "review-1")')
    once = (await api.data(retried, {"in": {**kpi_review, "narrative": "lần một"}}, as_user="chief"))["reviewRecord"]
    twice = (await api.data(retried, {"in": {**kpi_review, "narrative": "lần một"}}, as_user="chief"))["reviewRecord"]
    assert once["errors"] == [] and twice == once  # a retry answers the same review, recorded once
    async with api.engine.begin() as conn:
        await conn.execute(Review.__table__.delete().where(Review.narrative == "lần một"))
    kpi_reviews = await api.data('{ kpi(code: "K1") { reviews { totalCount nodes { cadence confidences { keyResult { title } confidence } } } } }', as_user="viewer")
    assert kpi_reviews["kpi"]["reviews"] == {"totalCount": 1, "nodes": [{"cadence": "weekly", "confidences": [{"keyResult": None, "confidence": "off_track"}]}]}


async def test_every_refusal_is_typed_and_writes_nothing(api: Api) -> None:
    w = await setup(api)
    today = clock.today()
    base = {"objectiveId": w["objective"], "cadence": "monthly", "heldOn": today.isoformat(), "narrative": "Họp giao ban"}
    adjust = {"adjustments": [{"kpiId": w["kpi"], "target": "90", "reason": "điều chỉnh"}], "approvedById": w["users"]["chief"]}
    cases: list[tuple[str, Json, list[tuple[str | None, str]]]] = [
        ("admin", {**base, "kpiId": w["kpi"]}, [("objectiveId", "INVALID")]),
        ("admin", {k: v for k, v in base.items() if k != "objectiveId"}, [("objectiveId", "INVALID")]),
        ("admin", {**base, "cadence": "daily"}, [("cadence", "INVALID")]),
        ("admin", {**base, "heldOn": (today + timedelta(days=1)).isoformat()}, [("heldOn", "IN_FUTURE")]),
        ("admin", {**base, "narrative": "  "}, [("narrative", "REQUIRED")]),
        ("admin", {**base, "confidences": [{"keyResultId": w["krs"][0], "confidence": "fine"}]}, [("confidences[0].confidence", "INVALID")]),
        ("admin", {**base, "confidences": [{"keyResultId": w["krs"][0], "confidence": "on_track"}] * 2}, [("confidences[1].keyResultId", "DUPLICATE")]),
        ("admin", {**base, "confidences": [{"confidence": "on_track"}]}, [("confidences[0].keyResultId", "INVALID")]),  # an objective's: per key result
        ("admin", {**base, "objectiveId": None, "kpiId": w["kpi"], "confidences": [{"keyResultId": w["krs"][0], "confidence": "on_track"}]},
         [("confidences[0].keyResultId", "INVALID")]),
        ("admin", {**base, **adjust, "approvedById": None}, [("approvedById", "REQUIRED")]),
        ("admin", {**base, **adjust, "approvedById": w["users"]["admin"]}, [("approvedById", "INVALID")]),  # not oneself
        ("admin", {**base, **adjust, "approvedById": w["users"]["viewer"]}, [("approvedById", "INVALID")]),  # a viewer defines nothing
        ("admin", {**base, **adjust, "approvedById": w["users"]["p01"]}, [("approvedById", "INVALID")]),  # a manager below the review's unit
        ("admin", {**base, **adjust, "adjustments": [{"kpiId": w["kpi"], "taskId": w["task"], "target": "1", "reason": "x"}]}, [("adjustments[0]", "INVALID")]),
        ("admin", {**base, **adjust, "adjustments": [{"kpiId": w["kpi"], "target": "30", "reason": "giảm"}]}, [("adjustments[0].target", "INVALID")]),  # below its baseline
        ("admin", {**base, **adjust, "adjustments": [{"kpiId": w["kpi"], "target": "90", "reason": " "}]}, [("adjustments[0].reason", "REQUIRED")]),
        ("admin", {**base, **adjust, "adjustments": [{"taskId": w["task"], "dueOn": "2024-01-01", "reason": "sớm"}]}, [("adjustments[0].dueOn", "INVALID")]),  # before its start: the task's own rule
        ("admin", {**base, "objectiveId": encode_id("Objective", 10**6)}, [("objectiveId", "NOT_FOUND")]),
        ("viewer", base, [("objectiveId", "FORBIDDEN")]),
        ("p01", base, [("objectiveId", "NOT_FOUND")]),  # a manager below the unit that issued the objective's resolution
    ]
    before = await kpi_target_and_due(api, w)
    problems = []
    for username, given, want in cases:
        body = await api.gql(RECORD, {"in": given}, as_user=username)
        payload = (body.get("data") or {}).get("reviewRecord")
        got = [(e["field"], e["code"]) for e in payload["errors"]] if payload else [(e["extensions"].get("field"), e["extensions"]["code"]) for e in body["errors"]]
        if got != want or (payload and payload["review"] is not None):
            problems.append(f"{username} {given}: {got}, want {want}")
    assert problems == []
    assert await reviews(api) == 0 and await kpi_target_and_due(api, w) == before


async def test_reading_reviews_costs_the_same_for_one_objective_or_three(api: Api, statements: StatementCounter) -> None:
    w = await setup(api)
    for code in ("O2", "O3"):
        o = (await api.data('mutation($r: ID!, $c: String!) { objectiveCreate(input: {resolutionId: $r, code: $c, title: "Mục tiêu"}) { objective { id } } }',
                            {"r": w["resolution"], "c": code}, as_user="admin"))["objectiveCreate"]["objective"]["id"]  # fmt: skip
        await api.data(RECORD, {"in": {"objectiveId": o, "cadence": "quarterly", "heldOn": date(2025, 3, 31).isoformat(), "narrative": code}}, as_user="admin")
    await api.data(RECORD, {"in": {"objectiveId": w["objective"], "cadence": "monthly", "heldOn": clock.today().isoformat(), "narrative": "O1",
                                   "confidences": [{"keyResultId": w["krs"][0], "confidence": "on_track"}], "approvedById": w["users"]["chief"],
                                   "adjustments": [{"kpiId": w["kpi"], "target": "82", "reason": "r"}]}}, as_user="admin")  # fmt: skip
    query = """{ resolution(code: "R1") { objectives { code reviews { nodes { narrative confidences { confidence keyResult { title } }
      adjustments { before approvedBy { username } } recordedBy { username } } } } } }"""
    await api.token_for("viewer")
    statements.reset()
    three = await api.data(query, as_user="viewer")
    many = statements.count
    assert [len(o["reviews"]["nodes"]) for o in three["resolution"]["objectives"]] == [1, 1, 1]
    async with api.engine.begin() as conn:  # two objectives fewer (their reviews with them): the same shape, fewer rows
        await conn.execute(Review.__table__.delete().where(Review.narrative.in_(["O2", "O3"])))
    statements.reset()
    await api.data(query, as_user="viewer")
    assert statements.count == many


async def test_a_review_that_reads_otherwise_than_the_kpis_values_is_a_warning(api: Api) -> None:
    w = await setup(api)
    kpi_id = decode(w["kpi"])
    units = {code: decode(gid) for code, gid in w["units"].items()}
    month = (clock.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    async with api.engine.begin() as conn:  # K1 (thresholds: green from 62, red below 54): red at P01, green at P02
        await conn.execute(insert(Measurement), [{"kpi_id": kpi_id, "unit_id": units["P01"], "period": month, "value": Decimal("50")},
                                                 {"kpi_id": kpi_id, "unit_id": units["P02"], "period": month, "value": Decimal("70")}])  # fmt: skip
    query = """{ warnings(first: 50, filter: {kinds: [CONFIDENCE_DIVERGENCE]}) { nodes { severity reason period value unit { code } kpi { code }
      review { narrative } dueOn } } }"""

    async def review(confidence: str, held: date) -> None:
        given = {"kpiId": w["kpi"], "cadence": "monthly", "heldOn": held.isoformat(), "narrative": confidence, "confidences": [{"confidence": confidence}]}
        assert (await api.data(RECORD, {"in": given}, as_user="admin"))["reviewRecord"]["errors"] == []

    today = clock.today()
    assert (await api.data(query, as_user="admin"))["warnings"]["nodes"] == []  # no review, nothing to diverge from
    await review("on_track", today - timedelta(days=3))
    (got,) = (await api.data(query, as_user="admin"))["warnings"]["nodes"]
    held = (today - timedelta(days=3)).isoformat()
    assert got == {"severity": "RED", "reason": f"reviewed on {held} as on track, but 1 of its latest values are red", "period": "on_track",
                   "value": "1", "unit": {"code": "TW"}, "kpi": {"code": "K1"}, "review": {"narrative": "on_track"}, "dueOn": held}  # fmt: skip
    assert (await api.data(query, as_user="p01"))["warnings"]["nodes"] == []  # held at TW, above P01's manager: not its warning
    await review("at_risk", today - timedelta(days=1))  # the latest review rules: at risk is no divergence
    assert (await api.data(query, as_user="admin"))["warnings"]["nodes"] == []
    async with api.engine.begin() as conn:
        await conn.execute(update(Measurement).where(Measurement.unit_id == units["P01"]).values(value=Decimal("65")))
    await review("off_track", today)
    (got,) = (await api.data(query, as_user="admin"))["warnings"]["nodes"]
    assert (got["severity"], got["value"], got["reason"]) == ("YELLOW", "2", f"reviewed on {today.isoformat()} as off track, but all 2 of its latest values are green")
    token = await api.token_for("admin")
    vi = (await api.client.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}", "Accept-Language": "vi"})).json()
    assert vi["data"]["warnings"]["nodes"][0]["reason"] == f"họp đánh giá ngày {today.isoformat()} nhận định chệch hướng, nhưng cả 2 giá trị mới nhất đều đạt (xanh)"
