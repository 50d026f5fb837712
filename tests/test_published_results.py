"""Published results (issue 11, step 8): a snapshot's figures equal the live figures when it was published, its hash
verifies (against its content and the audit chain), a later change leaves it as it was, a correction is a new version
with a reason, and every refusal is typed and writes nothing. Through GraphQL, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from resolute.api.results.models import PublishedResult
from resolute.api.tasks.models import Assignment
from resolute.schema.ids import encode_id
from tests.monitoring_world import Clock, gid, load, pin_today
from tests.support import Api, typed_errors
from tests.test_monitoring_warnings import TODAY, edges_world

Json = dict[str, Any]
PUBLISH = """mutation($r: ID!, $p: String!, $why: String) { resultsPublish(input: {resolutionId: $r, period: $p, reason: $why}) {
  published { id period version content contentHash reason verified unit { code } resolution { code } } errors { field code message } } }"""
LIST = """query($r: ID!, $p: String) { publishedResults(resolution: $r, period: $p) { totalCount nodes { id version period contentHash verified content } } }"""
FIGURES = "total notStarted inProgress completed cancelled overdue completedOnTime completedWithinExtension completedLate completionRate onTimeRate averageProgress"
DISCIPLINE = "expected received onTime assigned acknowledged acknowledgedInTime completeness timeliness averageAckDays disciplineIndex"
LIVE = f"""query($u: ID!, $r: ID!, $p: String!) {{
  progressRollup(unit: $u, filter: {{resolution: $r}}) {{ figures {{ {FIGURES} }} children {{ unit {{ code name }} figures {{ {FIGURES} }} }} }}
  ranking(metric: COMPLETION_RATE, thenBy: ON_TIME_RATE, childrenOf: $u, filter: {{resolution: $r}}, period: $p) {{
    median lowerQuartile upperQuartile entries {{ rank value unit {{ code name }} }} }}
  kpiLights(unit: $u, filter: {{resolution: $r}}) {{ counts {{ green yellow red }} children {{ unit {{ code name }} counts {{ green yellow red }} }} }}
  reportingDiscipline(unit: $u, period: $p, resolution: $r) {{ figures {{ {DISCIPLINE} }} children {{ unit {{ code name }} figures {{ {DISCIPLINE} }} }} }}
}}"""


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    pin_today(monkeypatch)
    monkeypatch.setattr(Clock, "current", TODAY)


def camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def as_api(figures: Json) -> Json:
    return {camel(k): v for k, v in figures.items()}


def children(rows: list[Json], key: str) -> list[Json]:
    return [{"code": r["unit"]["code"], "name": r["unit"]["name"], key: r[key]} for r in rows]


def live_as_content(live: Json) -> Json:
    """The live answer, shaped as a snapshot's content (an independent reading of the same figures)."""
    r = live["ranking"]
    d = live["reportingDiscipline"]
    return {
        "progress": {"figures": live["progressRollup"]["figures"], "children": children(live["progressRollup"]["children"], "figures")},
        "ranking": {"median": r["median"], "lowerQuartile": r["lowerQuartile"], "upperQuartile": r["upperQuartile"],
                    "entries": [{"rank": e["rank"], "code": e["unit"]["code"], "name": e["unit"]["name"], "value": e["value"]} for e in r["entries"]]},
        "kpiLights": {"counts": live["kpiLights"]["counts"], "children": children(live["kpiLights"]["children"], "counts")},
        "discipline": {"figures": d["figures"], "children": children(d["children"], "figures")},
    }  # fmt: skip


def content_as_api(content: Json) -> Json:
    """A snapshot's content with its figures' names as the API spells them."""
    p, r, k, d = content["progress"], content["ranking"], content["kpiLights"], content["discipline"]
    return {
        "progress": {"figures": as_api(p["figures"]), "children": [{**c, "figures": as_api(c["figures"])} for c in p["children"]]},
        "ranking": {key: r[key] for key in ("median", "lowerQuartile", "upperQuartile", "entries")},
        "kpiLights": {"counts": k["counts"], "children": k["children"]},
        "discipline": {"figures": as_api(d["figures"]), "children": [{**c, "figures": as_api(c["figures"])} for c in d["children"]]},
    }


async def rows(api: Api) -> int:
    async with api.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(PublishedResult))).scalar_one())


async def test_a_snapshot_is_the_live_figures_then_stays_as_it_was_and_verifies(api: Api) -> None:
    w, _ = edges_world()
    pks = await load(api, w)
    r0, root = gid(pks, "Resolution", 0), gid(pks, "Unit", 0)
    live_before = await api.data(LIVE, {"u": root, "r": r0, "p": "2025-05"}, as_user="user0")
    published = (await api.data(PUBLISH, {"r": r0, "p": "2025-05"}, as_user="user0"))["resultsPublish"]
    assert published["errors"] == []
    snap = published["published"]
    assert (snap["version"], snap["period"], snap["reason"], snap["verified"], snap["unit"]["code"], snap["resolution"]["code"]) == (1, "2025-05", None, True, w.code(0), "R0")
    assert snap["contentHash"] == hashlib.sha256(snap["content"].encode("utf-8")).hexdigest()  # anyone can check it
    content = json.loads(snap["content"])
    assert snap["content"] == json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)  # canonical
    assert (content["period"], content["asOf"], content["unit"]["code"]) == ("2025-05", TODAY.isoformat(), w.code(0))
    assert content_as_api(content) == live_as_content(live_before)
    assert content["progress"]["figures"]["total"] > 0 and content["kpiLights"]["counts"]["red"] + content["kpiLights"]["counts"]["yellow"] > 0

    # a later change: the live figures move, the snapshot does not
    async with api.engine.begin() as conn:
        await conn.execute(update(Assignment).values(status="completed", progress=100, completed_on=TODAY))
    live_after = await api.data(LIVE, {"u": root, "r": r0, "p": "2025-05"}, as_user="user0")
    assert live_after["progressRollup"]["figures"] != live_before["progressRollup"]["figures"]
    listed = (await api.data(LIST, {"r": r0, "p": None}, as_user="user0"))["publishedResults"]
    assert listed["totalCount"] == 1 and listed["nodes"][0]["content"] == snap["content"] and listed["nodes"][0]["verified"] is True

    # a correction: a reason is required, then it is version 2; version 1 is untouched
    again = (await api.data(PUBLISH, {"r": r0, "p": "2025-05"}, as_user="user0"))["resultsPublish"]
    assert (again["published"], typed_errors({"errors": [{"extensions": e} for e in again["errors"]]})) == (None, [("REQUIRED", "reason")])
    fixed = (await api.data(PUBLISH, {"r": r0, "p": "2025-05", "why": "báo cáo của xã được sửa"}, as_user="user0"))["resultsPublish"]["published"]
    assert (fixed["version"], fixed["reason"], fixed["verified"]) == (2, "báo cáo của xã được sửa", True)
    assert content_as_api(json.loads(fixed["content"])) == live_as_content(live_after)
    listed = (await api.data(LIST, {"r": r0, "p": "2025-05"}, as_user="user0"))["publishedResults"]
    assert [(n["version"], n["content"]) for n in listed["nodes"]] == [(2, fixed["content"]), (1, snap["content"])]  # newest first
    other = (await api.data(PUBLISH, {"r": r0, "p": "2025-Q2"}, as_user="user0"))["resultsPublish"]["published"]
    assert other["version"] == 1  # versions count per period

    # the audit chain holds each snapshot's hash
    events = await api.data('{ auditEvents(first: 10, filter: {action: "resultsPublish"}) { nodes { objectKey after } } }', as_user="user0")
    recorded = {e["objectKey"]: e["after"]["contentHash"] for e in events["auditEvents"]["nodes"]}
    assert sorted(recorded.values()) == sorted([snap["contentHash"], fixed["contentHash"], other["contentHash"]])


async def test_a_tampered_snapshot_no_longer_verifies_and_postgresql_refuses_the_rewrite(api: Api) -> None:
    w, _ = edges_world()
    pks = await load(api, w)
    r0 = gid(pks, "Resolution", 0)
    snap = (await api.data(PUBLISH, {"r": r0, "p": "2025-05"}, as_user="user0"))["resultsPublish"]["published"]
    forged = snap["content"].replace('"total":', '"total":1', 1)
    if api.engine.dialect.name == "postgresql":
        with pytest.raises(Exception, match="append-only"):
            async with api.engine.begin() as conn:
                await conn.execute(update(PublishedResult).values(content=forged))
        async with api.engine.begin() as conn:  # as the table's owner could, knowingly (a superuser, here)
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
            await conn.execute(update(PublishedResult).values(content=forged))
            await conn.execute(text("SET LOCAL session_replication_role = origin"))
    else:
        async with api.engine.begin() as conn:
            await conn.execute(update(PublishedResult).values(content=forged))
    listed = (await api.data(LIST, {"r": r0, "p": None}, as_user="user0"))["publishedResults"]["nodes"]
    assert [(n["content"], n["verified"]) for n in listed] == [(forged, False)]
    async with api.engine.begin() as conn:  # the hash rewritten to match: the audit chain still tells
        await conn.execute(text("SET LOCAL session_replication_role = replica")) if api.engine.dialect.name == "postgresql" else None
        await conn.execute(update(PublishedResult).values(content_hash=hashlib.sha256(forged.encode()).hexdigest()))
    assert [n["verified"] for n in (await api.data(LIST, {"r": r0, "p": None}, as_user="user0"))["publishedResults"]["nodes"]] == [False]


async def test_refusals_are_typed_and_write_nothing_and_out_of_scope_reads_nothing(api: Api) -> None:
    w, _ = edges_world()  # user0 admin at the root, user1 viewer of U01, user2 manager of U03, user3 officer of U02
    pks = await load(api, w)
    r0 = gid(pks, "Resolution", 0)
    cases = [
        ("user0", {"r": r0, "p": "2025-13"}, [("INVALID", "period")]),
        ("user0", {"r": r0, "p": "someday"}, [("INVALID", "period")]),
        ("user0", {"r": r0, "p": "2025-07"}, [("IN_FUTURE", "period")]),  # TODAY is 2025-06-15
        ("user0", {"r": r0, "p": "2025-05", "why": "x" * 1001}, [("TOO_LONG", "reason")]),
        ("user0", {"r": encode_id("Resolution", 10**6), "p": "2025-05"}, [("NOT_FOUND", "resolutionId")]),
        ("user0", {"r": gid(pks, "Unit", 0), "p": "2025-05"}, [("INVALID_ID", "resolutionId")]),
        ("user1", {"r": r0, "p": "2025-05"}, [("FORBIDDEN", "resolutionId")]),  # a viewer may not publish
        ("user2", {"r": r0, "p": "2025-05"}, [("NOT_FOUND", "resolutionId")]),  # a manager, but R0 was issued above its unit
        ("user3", {"r": r0, "p": "2025-05"}, [("FORBIDDEN", "resolutionId")]),
    ]
    for user, variables, want in cases:
        body = await api.gql(PUBLISH, variables, as_user=user)
        got = body.get("data") and body["data"]["resultsPublish"]
        found = [(e["code"], e["field"]) for e in got["errors"]] if got else typed_errors(body)
        assert found == want and (not got or got["published"] is None), f"{user} {variables}: {body}"
    assert await rows(api) == 0
    await api.data(PUBLISH, {"r": r0, "p": "2025-05"}, as_user="user0")
    seen = {user: (await api.data(LIST, {"r": r0, "p": None}, as_user=user))["publishedResults"]["totalCount"] for user in ("user0", "user1", "user2", "user3")}
    # a snapshot holds every sub-unit's figures of the unit it covers (R0's issuer, the root): read by whoever reads that
    # unit's whole subtree, not by a reader of the resolution below it (ACCESS.md: no figure of a unit one may not list)
    reads = {f"user{n}": w.readable_resolution(p, 0) and 0 in w.readable_units(p) for n, p in enumerate(w.personas)}
    assert seen == {user: int(ok) for user, ok in reads.items()} and reads["user1"] is False and w.readable_resolution(w.personas[1], 0), (seen, reads)


async def test_a_retried_publication_answers_the_same_snapshot(api: Api) -> None:
    w, _ = edges_world()
    pks = await load(api, w)
    retry = PUBLISH.replace("resultsPublish(input: {resolutionId: $r, period: $p, reason: $why})",
                            "resultsPublish(input: {resolutionId: $r, period: $p, reason: $why}, idempotencyKey: \"publish-1\")")  # fmt: skip
    first = (await api.data(retry, {"r": gid(pks, "Resolution", 0), "p": "2025-05"}, as_user="user0"))["resultsPublish"]
    again = (await api.data(retry, {"r": gid(pks, "Resolution", 0), "p": "2025-05"}, as_user="user0"))["resultsPublish"]
    assert first["errors"] == again["errors"] == [] and again["published"] == first["published"]
    assert await rows(api) == 1
