"""Plan approval (issue 11, step 2), through GraphQL on SQLite and PostgreSQL: a province's programme is submitted to
the centre, returned with a reason, edited, submitted again and approved (its plan frozen in a snapshot); an approved
plan refuses edits until a new revision is opened, which keeps the old one; every refusal is typed and writes nothing."""

from __future__ import annotations

import json
from typing import Any

from tests.support import Api, unit, user

Json = dict[str, Any]
SUBMIT = "mutation($r: ID!) { planSubmit(resolutionId: $r) { plan { revision state } errors { field code message } } }"
DECIDE = "mutation($r: ID!, $ok: Boolean!, $why: String) { planDecide(resolutionId: $r, approve: $ok, reason: $why) { plan { revision state reason snapshot decidedBy { username } } errors { field code message } } }"
REVISE = "mutation($r: ID!, $why: String!) { planRevise(resolutionId: $r, reason: $why) { plan { revision state reason } errors { field code message } } }"
TASK_EDIT = "mutation($t: ID!, $v: Int!, $title: String!) { taskUpdate(input: {id: $t, version: $v, title: $title}) { task { title version } errors { field code message } } }"


async def world(api: Api) -> Json:
    await api.seed([unit("TW", None, "central"), unit("P01", "TW", "province"), unit("P02", "TW", "province")],
                   [user("admin", "TW", "admin"), user("centre", "TW", "manager"), user("p01", "P01", "manager"), user("p01v", "P01", "viewer"),
                    user("p02", "P02", "manager")])  # fmt: skip
    ids = {u["code"]: u["id"] for u in (await api.data("{ units(first: 10) { nodes { id code } } }", as_user="admin"))["units"]["nodes"]}
    create = ('mutation($u: ID!, $code: String!, $kind: String!, $of: ID) { resolutionCreate(input: {code: $code, title: "Văn bản", kind: $kind, '
              'issuingUnitId: $u, issuedOn: "2025-01-01", implementsId: $of}) { resolution { id } errors { field code } } }')  # fmt: skip
    central = (await api.data('mutation($u: ID!) { resolutionCreate(input: {code: "R0", title: "Nghị quyết", kind: "resolution", issuingUnitId: $u, '
                              'issuedOn: "2025-01-01", implementerKinds: ["province"], programmeDueOn: "2025-03-01"}) { resolution { id } } }',
                              {"u": ids["TW"]}, as_user="admin"))["resolutionCreate"]["resolution"]["id"]  # fmt: skip  (each province issues a programme)
    made = (await api.data(create, {"u": ids["P01"], "code": "CTr-P01", "kind": "action_programme", "of": central}, as_user="p01"))["resolutionCreate"]
    assert made["errors"] == [], made
    programme = made["resolution"]["id"]
    task = (await api.data('mutation($r: ID!, $u: ID!) { taskCreate(input: {resolutionId: $r, code: "P01-T1", title: "Nhiệm vụ 1", leadUnitId: $u, '
                           'startOn: "2025-02-01", dueOn: "2026-12-31"}) { task { id version } errors { code } } }', {"r": programme, "u": ids["P01"]},
                           as_user="p01"))["taskCreate"]["task"]  # fmt: skip
    return {"units": ids, "central": central, "programme": programme, "task": task}


def errors(payload: Json) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def version_of(api: Api, code: str) -> int:
    return (await api.data('query($c: String!) { task(code: $c) { version } }', {"c": code}, as_user="p01"))["task"]["version"]


async def test_submitted_returned_edited_approved_locked_and_revised(api: Api) -> None:
    w = await world(api)
    r, t = w["programme"], w["task"]["id"]
    assert (await api.data(SUBMIT, {"r": r}, as_user="p01"))["planSubmit"]["plan"] == {"revision": 1, "state": "submitted"}
    locked = (await api.data(TASK_EDIT, {"t": t, "v": await version_of(api, "P01-T1"), "title": "đổi"}, as_user="p01"))["taskUpdate"]
    assert errors(locked) == [("id", "INVALID")] and "submitted" in locked["errors"][0]["message"]
    assert errors((await api.data(DECIDE, {"r": r, "ok": True}, as_user="p01"))["planDecide"]) == [("resolutionId", "FORBIDDEN")]  # not its own
    assert errors((await api.data(DECIDE, {"r": r, "ok": False}, as_user="centre"))["planDecide"]) == [("reason", "REQUIRED")]
    returned = (await api.data(DECIDE, {"r": r, "ok": False, "why": "thiếu chỉ tiêu"}, as_user="centre"))["planDecide"]["plan"]
    assert (returned["state"], returned["reason"], returned["decidedBy"]["username"], returned["snapshot"]) == ("returned", "thiếu chỉ tiêu", "centre", None)
    edited = (await api.data(TASK_EDIT, {"t": t, "v": await version_of(api, "P01-T1"), "title": "Nhiệm vụ 1 (sửa)"}, as_user="p01"))["taskUpdate"]
    assert edited["errors"] == []  # a returned plan is edited freely
    assert (await api.data(SUBMIT, {"r": r}, as_user="p01"))["planSubmit"]["plan"] == {"revision": 2, "state": "submitted"}
    approved = (await api.data(DECIDE, {"r": r, "ok": True}, as_user="centre"))["planDecide"]["plan"]
    assert approved["state"] == "approved" and json.loads(approved["snapshot"])["tasks"][0]["title"] == "Nhiệm vụ 1 (sửa)"
    # approved: every definition of the plan is locked
    refused = [
        (await api.data(TASK_EDIT, {"t": t, "v": await version_of(api, "P01-T1"), "title": "x"}, as_user="p01"))["taskUpdate"],
        (await api.data('mutation($r: ID!) { objectiveCreate(input: {resolutionId: $r, code: "O9", title: "x"}) { errors { field code message } } }',
                        {"r": r}, as_user="p01"))["objectiveCreate"],
        (await api.data('mutation($r: ID!, $u: ID!) { taskCreate(input: {resolutionId: $r, code: "P01-T9", title: "x", leadUnitId: $u, startOn: "2025-02-01", '
                        'dueOn: "2026-01-01"}) { errors { field code message } } }', {"r": r, "u": w["units"]["P01"]}, as_user="p01"))["taskCreate"],
    ]
    assert [errors(p) for p in refused] == [[("id", "INVALID")], [("resolutionId", "INVALID")], [("resolutionId", "INVALID")]]
    # a new revision: the approved one and its snapshot stay
    assert errors((await api.data(REVISE, {"r": r, "why": " "}, as_user="p01"))["planRevise"]) == [("reason", "REQUIRED")]
    opened = (await api.data(REVISE, {"r": r, "why": "điều chỉnh sau giao ban quý"}, as_user="p01"))["planRevise"]["plan"]
    assert opened == {"revision": 3, "state": "draft", "reason": "điều chỉnh sau giao ban quý"}
    assert (await api.data(TASK_EDIT, {"t": t, "v": await version_of(api, "P01-T1"), "title": "Nhiệm vụ 1 (bản 3)"}, as_user="p01"))["taskUpdate"]["errors"] == []
    history = (await api.data('query($c: String!) { resolution(code: $c) { planRevisions { revision state snapshot } } }', {"c": "CTr-P01"}, as_user="p01v"))
    revisions = history["resolution"]["planRevisions"]
    assert [(p["revision"], p["state"]) for p in revisions] == [(3, "draft"), (2, "approved"), (1, "returned")]
    assert revisions[1]["snapshot"] == approved["snapshot"]  # kept as it was approved
    actions = [e["action"] for e in (await api.data("{ auditEvents(first: 30) { nodes { action } } }", as_user="admin"))["auditEvents"]["nodes"] if e["action"].startswith("plan")]
    assert actions == ["planRevise", "planDecide", "planSubmit", "planDecide", "planSubmit"]


async def test_every_refusal_is_typed_and_writes_nothing(api: Api) -> None:
    w = await world(api)
    r = w["programme"]
    cases = [
        (SUBMIT, {"r": w["central"]}, "admin", "planSubmit", [("resolutionId", "INVALID")]),  # not an action programme
        (SUBMIT, {"r": r}, "p01v", "planSubmit", [("resolutionId", "FORBIDDEN")]),
        (SUBMIT, {"r": r}, "p02", "planSubmit", [("resolutionId", "NOT_FOUND")]),  # a sibling province's
        (DECIDE, {"r": r, "ok": True}, "centre", "planDecide", [("resolutionId", "INVALID")]),  # nothing submitted
        (REVISE, {"r": r, "why": "x"}, "p01", "planRevise", [("resolutionId", "INVALID")]),  # nothing approved
    ]
    for query, variables, who, name, want in cases:
        got = (await api.data(query, variables, as_user=who))[name]
        assert (errors(got), got["plan"]) == (want, None), (name, who, got)
    await api.data(SUBMIT, {"r": r}, as_user="p01")
    assert errors((await api.data(SUBMIT, {"r": r}, as_user="p01"))["planSubmit"]) == [("resolutionId", "INVALID")]  # already submitted
    assert errors((await api.data(DECIDE, {"r": r, "ok": True}, as_user="p02"))["planDecide"]) == [("resolutionId", "NOT_FOUND")]
    history = await api.data('{ resolution(code: "CTr-P01") { planRevisions { revision state } } }', as_user="p01")
    assert history["resolution"]["planRevisions"] == [{"revision": 1, "state": "submitted"}]
