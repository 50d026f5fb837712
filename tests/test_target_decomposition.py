"""Target decomposition (issue 11, step 3), through GraphQL on SQLite and PostgreSQL: the consistency check equals an
independent computation over random trees and targets; a draft is saved whatever it says, activated only when every
unit reconciles, then locked; every refusal is typed and writes nothing; a reader sees its own subtree only; the
statements of a request do not grow with the number of KPIs."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolute.schema.ids import encode_id
from tests.support import Api, Backend, StatementCounter, running_app, unit, user

Json = dict[str, Any]
CENT = Decimal("0.01")
RESOLUTION = """mutation($u: ID!) { resolutionCreate(input: {code: "R1", title: "Nghị quyết", kind: "resolution", issuingUnitId: $u, issuedOn: "2025-01-01"}) {
  resolution { id } errors { code } } }"""
KPI = """mutation($r: ID!, $lead: ID!, $code: String!, $target: Decimal!) { kpiCreate(input: {resolutionId: $r, code: $code, name: "Chỉ tiêu",
  unitOfMeasure: "hộ", direction: "increase", baseline: "-1", target: $target, yellowThreshold: "-1", redThreshold: "-1", group: "development",
  frequency: "yearly", leadUnitId: $lead}) { kpi { id } errors { field code } } }"""
SAVE = """mutation($k: ID!, $p: String!, $a: String!, $t: [DecomposedTargetInput!]!, $v: Int) {
  targetDecompositionSave(input: {kpiId: $k, period: $p, aggregation: $a, targets: $t, version: $v}) {
    decomposition { version status reconciles } errors { field code message } } }"""
ACTIVATE = """mutation($k: ID!, $p: String!, $v: Int!) { targetDecompositionActivate(input: {kpiId: $k, period: $p, version: $v}) {
  decomposition { version status activatedAt } errors { field code message } } }"""
READ = """query($k: ID!, $p: String!) { node(id: $k) { ... on Kpi { decomposition(period: $p) { period aggregation status version reconciles
  targets(first: 100) { totalCount nodes { unit { code } target } }
  consistency { unit { code } target children aggregate difference reconciles } } } } }"""


def tree_codes(parents: tuple[int, ...]) -> list[str]:
    return [f"U{i:02d}" for i in range(len(parents))]


async def world(api: Api, parents: tuple[int, ...], lead: int, target: Decimal) -> tuple[dict[str, str], str]:
    """The tree (U00 the root), an admin at the root, a viewer at the root, a manager at U01; R1 issued at the root with a
    KPI led by `lead`. Returns unit code -> global id, and the KPI's id."""
    codes = tree_codes(parents)
    kinds = ["central"] + ["province"] * (len(parents) - 1)
    await api.seed([unit(codes[0], None, "central")] + [unit(codes[i], codes[p], kinds[i]) for i, p in enumerate(parents) if i],
                   [user("admin", "U00", "admin"), user("viewer", "U00", "viewer")] + ([user("mgr", "U01", "manager")] if len(parents) > 1 else []))  # fmt: skip
    ids = {u["code"]: u["id"] for u in (await api.data("{ units(first: 100) { nodes { id code } } }", as_user="admin"))["units"]["nodes"]}
    r = (await api.data(RESOLUTION, {"u": ids["U00"]}, as_user="admin"))["resolutionCreate"]["resolution"]["id"]
    made = (await api.data(KPI, {"r": r, "lead": ids[codes[lead]], "code": "K1", "target": str(target)}, as_user="admin"))["kpiCreate"]
    assert made["errors"] == [], made
    return ids, made["kpi"]["id"]


def oracle(parents: tuple[int, ...], lead: int, kpi_target: Decimal, aggregation: str, targets: dict[int, Decimal], readable: set[int]) -> list[Json]:
    """The consistency check worked out from the definitions (api/kpis/decomposition.py's docstring), in plain Python."""
    codes = tree_codes(parents)
    found = []
    for u in sorted(readable, key=lambda i: codes[i]):
        kids = [targets[c] for c in targets if c != 0 and parents[c] == u]
        if not kids:
            continue
        made = {"sum": sum(kids), "share": sum(kids), "minimum": min(kids), "maximum": max(kids),
                "average": (sum(kids) / len(kids)).quantize(CENT)}[aggregation]  # fmt: skip
        own = kpi_target if u == lead else targets.get(u)
        difference = made - 100 if aggregation == "share" else None if own is None else made - own
        found.append({"unit": {"code": codes[u]}, "target": None if own is None else Decimal(own), "children": len(kids), "aggregate": made,
                      "difference": difference, "reconciles": difference == 0})  # fmt: skip
    return found


def decimals(rows: list[Json]) -> list[Json]:
    return [{**r, **{k: None if r[k] is None else Decimal(r[k]) for k in ("target", "aggregate", "difference")}} for r in rows]


@st.composite
def cases(draw: st.DrawFn) -> tuple[tuple[int, ...], int, str, dict[int, Decimal], Decimal]:
    n = draw(st.integers(3, 9))
    parents = (0,) + tuple(draw(st.integers(0, i - 1)) for i in range(1, n))
    lead = draw(st.sampled_from([0, 0, 1]))
    under = [u for u in range(1, n) if u != lead and _under(parents, u, lead)]
    aggregation = draw(st.sampled_from(["sum", "average", "minimum", "maximum", "share"]))
    amounts = st.sampled_from([Decimal(v) for v in ("0", "10", "25", "50", "33.33", "33.34", "100", "12.5")])
    chosen = draw(st.lists(st.sampled_from(under), unique=True)) if under else []
    targets = {u: draw(amounts) for u in chosen}
    if draw(st.booleans()) and aggregation == "sum":  # often make it add up, so that activation succeeds too
        for parent in sorted({parents[u] for u in targets}):
            kids = [u for u in targets if parents[u] == parent]
            if parent != lead and parent in targets:
                targets[parent] = sum(targets[k] for k in kids)
    kpi_target = sum(targets[u] for u in targets if parents[u] == lead) if draw(st.booleans()) else Decimal(100)
    return parents, lead, aggregation, targets, kpi_target


def _under(parents: tuple[int, ...], u: int, top: int) -> bool:
    while u != top and u != 0:
        u = parents[u]
    return u == top


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=cases())
def test_the_consistency_check_is_the_definitions_and_activation_follows_it(backend: Backend, case: Any) -> None:
    parents, lead, aggregation, targets, kpi_target = case

    async def run() -> None:
        async with running_app(backend.settings, engine=backend.engine) as api:
            ids, kpi = await world(api, parents, lead, kpi_target)
            codes = tree_codes(parents)
            variables = {"k": kpi, "p": "2026", "a": aggregation, "t": [{"unitId": ids[codes[u]], "target": str(t)} for u, t in targets.items()], "v": None}
            saved = (await api.data(SAVE, variables, as_user="admin"))["targetDecompositionSave"]
            assert saved["errors"] == [] and saved["decomposition"]["status"] == "draft", saved
            got = (await api.data(READ, {"k": kpi, "p": "2026"}, as_user="admin"))["node"]["decomposition"]
            want = oracle(parents, lead, kpi_target, aggregation, targets, set(range(len(parents))))
            assert decimals(got["consistency"]) == want, (got["consistency"], want)
            assert sorted((n["unit"]["code"], Decimal(n["target"])) for n in got["targets"]["nodes"]) == sorted((codes[u], t) for u, t in targets.items())
            every = bool(want) and all(w["reconciles"] for w in want)
            assert got["reconciles"] is every
            done = (await api.data(ACTIVATE, {"k": kpi, "p": "2026", "v": got["version"]}, as_user="admin"))["targetDecompositionActivate"]
            after = (await api.data(READ, {"k": kpi, "p": "2026"}, as_user="admin"))["node"]["decomposition"]
            if every:
                assert done["errors"] == [] and after["status"] == "active" and after["version"] == got["version"] + 1
            else:
                assert [(e["field"], e["code"]) for e in done["errors"]] in ([("targets", "INVALID")], [("targets", "REQUIRED")]), done
                assert (after["status"], after["version"]) == ("draft", got["version"])  # nothing written
            if "mgr" in api.tokens or len(parents) > 1:  # a reader below: its own subtree only
                mine = {u for u in range(len(parents)) if _under(parents, u, 1)}
                seen = (await api.data(READ, {"k": kpi, "p": "2026"}, as_user="mgr"))["node"]
                if seen is not None and seen["decomposition"] is not None:
                    assert decimals(seen["decomposition"]["consistency"]) == oracle(parents, lead, kpi_target, aggregation, targets, mine)
                    assert {n["unit"]["code"] for n in seen["decomposition"]["targets"]["nodes"]} == {codes[u] for u in targets if u in mine}

    asyncio.run(run())


async def test_saving_activating_locking_and_every_refusal(api: Api) -> None:
    ids, kpi = await world(api, (0, 0, 1, 1, 0, 4), lead=0, target=Decimal(100))  # U01 (U02, U03), U04 (U05)
    t = lambda **kw: [{"unitId": ids[c], "target": v} for c, v in kw.items()]
    good = {"k": kpi, "p": "2026-Q1", "a": "sum", "t": t(U01="60", U04="40", U02="30", U03="30", U05="40"), "v": None}

    async def refused(user_: str, variables: Json, want: list[tuple[str, str]], mutation: str = SAVE) -> None:
        body = await api.gql(mutation, variables, as_user=user_)
        payload = (body.get("data") or {}).get("targetDecompositionSave" if mutation == SAVE else "targetDecompositionActivate")
        got = [(e["field"], e["code"]) for e in payload["errors"]] if payload else [(e["extensions"].get("field"), e["extensions"]["code"]) for e in body["errors"]]
        assert got == want and (payload is None or payload["decomposition"] is None), (variables, body)

    await refused("admin", {**good, "p": "2026-13"}, [("period", "INVALID")])
    await refused("admin", {**good, "a": "median"}, [("aggregation", "INVALID")])
    await refused("admin", {**good, "t": t(U01="60") + t(U01="40")}, [("targets[1].unitId", "DUPLICATE")])
    await refused("admin", {**good, "t": t(U01="1e20")}, [("targets[0].target", "OUT_OF_RANGE")])
    await refused("admin", {**good, "t": t(U00="100")}, [("targets", "INVALID")])  # the lead unit itself: its target is the KPI's
    await refused("admin", {**good, "t": [{"unitId": encode_id("Unit", 10**6), "target": "1"}]}, [("targets", "NOT_FOUND")])
    await refused("admin", {**good, "k": encode_id("Kpi", 10**6)}, [("kpiId", "NOT_FOUND")])
    await refused("admin", {**good, "v": 3}, [("version", "CONFLICT")])
    await refused("viewer", good, [("kpiId", "FORBIDDEN")])
    await refused("mgr", good, [("kpiId", "NOT_FOUND")])  # a manager below the KPI's lead unit may not define it
    assert (await api.data(READ, {"k": kpi, "p": "2026-Q1"}, as_user="admin"))["node"]["decomposition"] is None  # nothing written

    # a draft that does not reconcile is saved, but not activated
    off = (await api.data(SAVE, {**good, "t": t(U01="60", U04="40", U02="30", U03="25")}, as_user="admin"))["targetDecompositionSave"]
    assert off["errors"] == [] and off["decomposition"] == {"version": 1, "status": "draft", "reconciles": False}
    body = (await api.data(ACTIVATE, {"k": kpi, "p": "2026-Q1", "v": 1}, as_user="admin"))["targetDecompositionActivate"]
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("targets", "INVALID")] and "U01: off by -5.00" in body["errors"][0]["message"]
    await refused("admin", {"k": kpi, "p": "2026-Q1", "v": 7}, [("version", "CONFLICT")], ACTIVATE)
    await refused("viewer", {"k": kpi, "p": "2026-Q1", "v": 1}, [("kpiId", "FORBIDDEN")], ACTIVATE)
    await refused("admin", {"k": kpi, "p": "2026-Q2", "v": 1}, [("period", "NOT_FOUND")], ACTIVATE)
    # corrected (version 2), activated (version 3), then locked
    fixed = (await api.data(SAVE, {**good, "v": 1}, as_user="admin"))["targetDecompositionSave"]["decomposition"]
    assert fixed == {"version": 2, "status": "draft", "reconciles": True}
    active = (await api.data(ACTIVATE, {"k": kpi, "p": "2026-Q1", "v": 2}, as_user="admin"))["targetDecompositionActivate"]
    assert active["errors"] == [] and active["decomposition"]["status"] == "active" and active["decomposition"]["activatedAt"]
    await refused("admin", {**good, "v": 3}, [("period", "INVALID")])
    await refused("admin", {"k": kpi, "p": "2026-Q1", "v": 3}, [("period", "INVALID")], ACTIVATE)
    # the target it divides is locked with it
    version = (await api.data('{ kpi(code: "K1") { version target } }', as_user="admin"))["kpi"]
    moved = await api.data('mutation($k: ID!, $v: Int!) { kpiUpdate(input: {id: $k, version: $v, target: "120"}) { errors { field code message } } }',
                           {"k": kpi, "v": version["version"]}, as_user="admin")  # fmt: skip
    assert [(e["field"], e["code"]) for e in moved["kpiUpdate"]["errors"]] == [("target", "INVALID")]
    assert (await api.data('{ kpi(code: "K1") { target } }', as_user="admin"))["kpi"]["target"] == version["target"]
    # a retried save answers what the first one did, once
    again = SAVE.replace("targetDecompositionSave(input: {kpiId: $k, period: $p, aggregation: $a, targets: $t, version: $v})",
                         "targetDecompositionSave(input: {kpiId: $k, period: $p, aggregation: $a, targets: $t, version: $v}, idempotencyKey: \"decomposition-2027\")")  # fmt: skip
    once = (await api.data(again, {**good, "p": "2027"}, as_user="admin"))["targetDecompositionSave"]
    twice = (await api.data(again, {**good, "p": "2027"}, as_user="admin"))["targetDecompositionSave"]
    assert once["errors"] == [] and twice == once
    events = await api.data('{ auditEvents(first: 20) { nodes { action } } }', as_user="admin")
    assert [e["action"] for e in events["auditEvents"]["nodes"] if e["action"].startswith("targetDecomposition")] == [
        "targetDecompositionSave", "targetDecompositionActivate", "targetDecompositionSave", "targetDecompositionSave"]  # the retried save once


async def test_statements_do_not_grow_with_the_number_of_kpis(api: Api, statements: StatementCounter) -> None:
    ids, first = await world(api, (0, 0, 1, 1), lead=0, target=Decimal(10))
    r = (await api.data("{ resolutions(first: 1) { nodes { id } } }", as_user="admin"))["resolutions"]["nodes"][0]["id"]
    kpis = [first] + [(await api.data(KPI, {"r": r, "lead": ids["U00"], "code": f"K{i}", "target": "10"}, as_user="admin"))["kpiCreate"]["kpi"]["id"] for i in range(2, 5)]
    for k in kpis:
        await api.data(SAVE, {"k": k, "p": "2026", "a": "sum", "t": [{"unitId": ids["U01"], "target": "10"}, {"unitId": ids["U02"], "target": "4"}], "v": None}, as_user="admin")
    query = """query($n: Int!) { kpis(first: $n) { nodes { code decomposition(period: "2026") { reconciles targets { totalCount nodes { target } }
      consistency { unit { code } difference } } } } }"""
    counts = []
    for n in (1, 4):
        await api.token_for("admin")
        statements.reset()
        got = await api.data(query, {"n": n}, as_user="admin")
        counts.append(statements.count)
        assert len(got["kpis"]["nodes"]) == n and all(k["decomposition"]["consistency"] for k in got["kpis"]["nodes"])
    assert counts[0] == counts[1], counts
