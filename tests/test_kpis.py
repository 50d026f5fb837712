"""KPIs and measurements end to end, over HTTP, on SQLite and PostgreSQL.

1. kpiCreate answers every field exactly (amounts as Decimals with two decimals), with the nested
   lead unit, coordinating units (only those the reader may see), resolution and unit targets.
2. Thresholds must agree with the direction; every refusal names the exact (field, code) and
   writes nothing (the KPI, measurement, audit and idempotency tables read directly before/after).
3. kpiUpdate changes only the fields sent, re-checks thresholds against the merged values,
   refuses stale versions, refuses a new frequency once values exist, replaces coordinators;
   kpiUnitTargetSet needs the same right and a unit under the issuer.
4. Who reads a KPI: its issuer's and its lead unit's subtrees, and a unit given its own target
   (handed down) until the target is removed; never another province (lists, kpi(code), node).
5. measurementSubmit: traffic light per FORMAT.md at the exact boundaries, both directions;
   periods checked against the frequency and today; refusals write nothing.
6. measurementCorrect keeps the earlier values in order with who and why.
7. measurements(filter) exactly, per scope, with totalCount; updatedSince is inclusive.
8. Statement counts do not grow with the page size.  9. One audit event per mutation.
10. Idempotent measurementSubmit.  (+ amounts just below the 10^13 limit round-trip exactly.)

Refusal cases of one mutation share one setup: each case is checked for its exact (field, code)
list and for an unchanged database, and all mismatches are reported together with the case id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import text

from resolute.schema.ids import decode_any, encode_id
from tests.support import Api, StatementCounter, current_version, small_tree, user

# -- queries ---------------------------------------------------------------------------------------

ERRORS = "errors { field code message }"
KPI_FIELDS = (
    "id code name unitOfMeasure formula dataSource direction baseline target yellowThreshold redThreshold group frequency version"
    " updatedAt leadUnit { code } coordinatingUnits { code } unitTargets { nodes { unit { code } target } } resolution { code }"
)
M_FIELDS = (
    "id period value note version updatedAt light unit { code } kpi { code }"
    " history { value note reason replacedBy { username } }"
)
KPI_CREATE = "mutation($i: KpiCreateInput!, $k: String) { kpiCreate(input: $i, idempotencyKey: $k) { kpi { " + KPI_FIELDS + " } " + ERRORS + " } }"
KPI_UPDATE = "mutation($i: KpiUpdateInput!, $k: String) { kpiUpdate(input: $i, idempotencyKey: $k) { kpi { " + KPI_FIELDS + " } " + ERRORS + " } }"
TARGET_SET = (
    "mutation($i: KpiUnitTargetSetInput!, $k: String) { kpiUnitTargetSet(input: $i, idempotencyKey: $k) { kpi { " + KPI_FIELDS + " } " + ERRORS + " } }"
)
SUBMIT = (
    "mutation($i: MeasurementSubmitInput!, $k: String) { measurementSubmit(input: $i, idempotencyKey: $k) { measurement { "
    + M_FIELDS + " } " + ERRORS + " } }"
)
CORRECT = (
    "mutation($i: MeasurementCorrectInput!, $k: String) { measurementCorrect(input: $i, idempotencyKey: $k) { measurement { "
    + M_FIELDS + " } " + ERRORS + " } }"
)
RESOLUTION_CREATE = "mutation($i: ResolutionCreateInput!) { resolutionCreate(input: $i) { resolution { id code } " + ERRORS + " } }"
KR_CREATE = "mutation($i: KeyResultCreateInput!) { keyResultCreate(input: $i) { keyResult { id } " + ERRORS + " } }"
OBJECTIVE_CREATE = "mutation($i: ObjectiveCreateInput!) { objectiveCreate(input: $i) { objective { id code } " + ERRORS + " } }"
KPI_BY_CODE = "query($c: String) { kpi(code: $c) { " + KPI_FIELDS + " } }"
KPI_LIST = "query($first: Int!) { kpis(first: $first) { totalCount nodes { code } } }"
MEASUREMENTS = (
    "query($f: MeasurementFilterInput, $first: Int!, $after: String) { measurements(first: $first, after: $after, filter: $f) {"
    " totalCount nodes { " + M_FIELDS + " } pageInfo { hasNextPage endCursor } } }"
)
NEWEST_EVENT = "{ auditEvents(first: 1) { totalCount nodes { action objectType objectKey actorUsername unit { code } before after } } }"

TABLES = ("kpis", "kpi_coordinators", "kpi_unit_targets", "measurements", "measurement_revisions", "audit_events", "idempotency_keys")

TODAY = date.today()
LONG_AGO = TODAY - timedelta(days=400)
MISSING_KPI = encode_id("Kpi", 987654)

INCREASE = {"unitOfMeasure": "%", "direction": "increase", "baseline": "40", "target": "80", "yellowThreshold": "62", "redThreshold": "54",
            "group": "public_service", "frequency": "monthly"}
DECREASE = {"unitOfMeasure": "vụ", "direction": "decrease", "baseline": "80", "target": "40", "yellowThreshold": "50", "redThreshold": "60",
            "group": "anti_corruption", "frequency": "monthly"}


def next_month() -> str:
    return f"{TODAY.year + 1}-01" if TODAY.month == 12 else f"{TODAY.year}-{TODAY.month + 1:02d}"


def this_month() -> str:
    return f"{TODAY.year}-{TODAY.month:02d}"


def this_quarter() -> str:
    return f"{TODAY.year}-Q{(TODAY.month - 1) // 3 + 1}"


def next_quarter() -> str:
    q = (TODAY.month - 1) // 3 + 1
    return f"{TODAY.year + 1}-Q1" if q == 4 else f"{TODAY.year}-Q{q + 1}"


PERIOD_TOKENS = {"<next-month>": next_month, "<next-quarter>": next_quarter, "<next-year>": lambda: str(TODAY.year + 1)}


# -- tree, world and helpers -----------------------------------------------------------------------


def users() -> list[Any]:
    return [
        user("admin", "TW", "admin"),
        user("tw.manager", "TW", "manager"),
        user("p01.manager", "P01", "manager"),
        user("p01.officer", "P01", "officer"),
        user("p01.c01.officer", "P01-C01", "officer"),
        user("p01.viewer", "P01", "viewer"),
        user("p02.manager", "P02", "manager"),
        user("p02.officer", "P02", "officer"),
    ]


@dataclass
class World:
    api: Api
    units: dict[str, str]  # code -> global id
    resolutions: dict[str, str]  # code -> global id

    def unit(self, code: str) -> str:
        return self.units[code]


async def gid_of(api: Api, table: str, code: str, type_name: str) -> str:
    async with api.engine.connect() as conn:
        pk = (await conn.execute(text(f"SELECT id FROM {table} WHERE code = :c"), {"c": code})).scalar_one()
    return encode_id(type_name, pk)


def pk_of(global_id: str) -> int:
    decoded = decode_any(global_id)
    assert decoded is not None, global_id
    return decoded[1]


@pytest.fixture
async def world(api: Api) -> World:
    """small_tree with the users above; 57-NQ/TW (by tw.manager) and its programme CTr-57/P01 (by the admin)."""
    await api.seed(small_tree(), users())
    async with api.engine.connect() as conn:
        units = {code: encode_id("Unit", pk) for code, pk in await conn.execute(text("SELECT code, id FROM units"))}
    central = {"code": "57-NQ/TW", "title": "Nghị quyết 57", "kind": "resolution", "issuingUnitId": units["TW"], "issuedOn": LONG_AGO.isoformat()}
    r1 = (await api.data(RESOLUTION_CREATE, {"i": central}, as_user="tw.manager"))["resolutionCreate"]
    assert r1["errors"] == [], r1
    programme = {"code": "CTr-57/P01", "title": "Chương trình hành động 57", "kind": "action_programme", "issuingUnitId": units["P01"],
                 "issuedOn": LONG_AGO.isoformat(), "implementsId": r1["resolution"]["id"]}
    r2 = (await api.data(RESOLUTION_CREATE, {"i": programme}, as_user="admin"))["resolutionCreate"]
    assert r2["errors"] == [], r2
    return World(api, units, {"57-NQ/TW": r1["resolution"]["id"], "CTr-57/P01": r2["resolution"]["id"]})


async def db_state(api: Api) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a KPI or measurement mutation may touch (read-only SQL)."""
    state = {}
    async with api.engine.connect() as conn:
        for table in TABLES:
            state[table] = sorted((tuple(r) for r in await conn.execute(text(f"SELECT * FROM {table}"))), key=repr)
    return state


async def count_rows(api: Api, table: str) -> int:
    async with api.engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def mutate(api: Api, query: str, input: dict[str, Any], *, as_user: str, key: str | None = None) -> dict[str, Any]:
    data = await api.data(query, {"i": input, "k": key}, as_user=as_user)
    (payload,) = data.values()
    return payload


def ok(payload: dict[str, Any], name: str) -> dict[str, Any]:
    assert payload["errors"] == [], payload["errors"]
    assert payload[name] is not None
    return payload[name]


def refused(payload: dict[str, Any], name: str) -> list[tuple[str | None, str]]:
    assert payload[name] is None, payload
    assert payload["errors"], "a refused mutation must say why"
    assert all(e["message"] for e in payload["errors"])
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def check_refusals(api: Api, name: str, cases: list[tuple[Any, ...]], send: Any) -> None:
    """Send each case; it must be refused with exactly its (field, code) list and change no row.

    All cases share one setup (refusals write nothing, which each case checks), and every
    mismatch is reported at the end with the case's id.
    """
    problems: list[str] = []
    for case in cases:
        case_id, expected = case[0], case[-1]
        before = await db_state(api)
        payload = await send(*case[1:-1])
        after = await db_state(api)
        if payload[name] is not None or not payload["errors"] or not all(e["message"] for e in payload["errors"]):
            problems.append(f"{case_id}: not refused as expected: {payload}")
        else:
            got = [(e["field"], e["code"]) for e in payload["errors"]]
            if got != expected:
                problems.append(f"{case_id}: expected {expected}, got {got}")
        if after != before:
            changed = [t for t in TABLES if after[t] != before[t]]
            problems.append(f"{case_id}: the refusal changed {changed}")
    assert not problems, "\n".join(problems)


def kpi_input(w: World, code: str, *, resolution: str = "57-NQ/TW", lead: str = "P01", coordinators: tuple[str, ...] = (), base: dict[str, Any] = INCREASE,
              **extra: Any) -> dict[str, Any]:
    values = {"resolutionId": w.resolutions[resolution], "code": code, "name": f"Chỉ tiêu {code}", **base, "leadUnitId": w.unit(lead),
              "coordinatingUnitIds": [w.unit(c) for c in coordinators]}
    values.update(extra)
    return values


async def create_kpi(w: World, code: str, *, as_user: str = "tw.manager", **kwargs: Any) -> dict[str, Any]:
    return ok(await mutate(w.api, KPI_CREATE, kpi_input(w, code, **kwargs), as_user=as_user), "kpi")


async def set_target(w: World, kpi: dict[str, Any], unit_code: str, target: str | None = "70", *, remove: bool = False, as_user: str = "tw.manager") -> dict[str, Any]:
    payload = await mutate(w.api, TARGET_SET, {"kpiId": kpi["id"], "unitId": w.unit(unit_code), "target": target, "remove": remove}, as_user=as_user)
    return ok(payload, "kpi")


def submit_input(w: World, kpi: dict[str, Any], unit_code: str, period: str, value: str, note: str | None = None) -> dict[str, Any]:
    return {"kpiId": kpi["id"], "unitId": w.unit(unit_code), "period": period, "value": value, "note": note}


async def submit(w: World, kpi: dict[str, Any], unit_code: str, period: str, value: str, *, as_user: str, key: str | None = None) -> dict[str, Any]:
    return ok(await mutate(w.api, SUBMIT, submit_input(w, kpi, unit_code, period, value), as_user=as_user, key=key), "measurement")


async def batch(api: Api, name: str, input_type: str, inputs: list[dict[str, Any]], fields: str, *, as_user: str) -> list[dict[str, Any]]:
    """Many mutations of one kind, up to 16 per request (aliased), each required to succeed."""
    payloads: list[dict[str, Any]] = []
    for start in range(0, len(inputs), 16):
        chunk = inputs[start:start + 16]
        decl = ", ".join(f"$i{n}: {input_type}!" for n in range(len(chunk)))
        body = " ".join(f"m{n}: {name}(input: $i{n}) {{ {fields} errors {{ field code }} }}" for n in range(len(chunk)))
        data = await api.data(f"mutation({decl}) {{ {body} }}", {f"i{n}": i for n, i in enumerate(chunk)}, as_user=as_user)
        payloads += [data[f"m{n}"] for n in range(len(chunk))]
    assert all(p["errors"] == [] for p in payloads), [p["errors"] for p in payloads if p["errors"]]
    return payloads


async def kpi_codes(api: Api, as_user: str) -> list[str]:
    conn = (await api.data(KPI_LIST, {"first": 100}, as_user=as_user))["kpis"]
    codes = [n["code"] for n in conn["nodes"]]
    assert conn["totalCount"] == len(codes), (as_user, conn)
    return codes


async def measured(api: Api, as_user: str, flt: dict[str, Any] | None = None) -> list[tuple[str | None, str, str]]:
    """(kpi code, unit code, period) of every measurement the caller lists, walking pages of 3."""
    seen: list[dict[str, Any]] = []
    after = None
    total = None
    while True:
        conn = (await api.data(MEASUREMENTS, {"f": flt, "first": 3, "after": after}, as_user=as_user))["measurements"]
        total = conn["totalCount"] if total is None else total
        assert conn["totalCount"] == total
        seen += conn["nodes"]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert total == len(seen), (as_user, flt, total, len(seen))
    return [((n["kpi"] or {}).get("code"), n["unit"]["code"], n["period"]) for n in seen]


# -- 1. kpiCreate ----------------------------------------------------------------------------------


async def test_create_answers_every_field_exactly(world: World) -> None:
    api = world.api
    payload = await mutate(api, KPI_CREATE, kpi_input(world, "57-NQ/TW-K01", coordinators=("P01-C01", "P02"), baseline="40.5", target="80.125",
                                                     yellowThreshold="62", redThreshold="54", formula="số hồ sơ trực tuyến / tổng số hồ sơ",
                                                     dataSource="Cổng dịch vụ công", name="  Tỷ lệ dịch vụ công trực tuyến  "), as_user="tw.manager")
    kpi = ok(payload, "kpi")
    assert decode_any(kpi.pop("id"))[0] == "Kpi"  # type: ignore[index]
    assert kpi.pop("updatedAt")
    assert kpi == {
        "code": "57-NQ/TW-K01",
        "name": "Tỷ lệ dịch vụ công trực tuyến",  # trimmed
        "unitOfMeasure": "%",
        "formula": "số hồ sơ trực tuyến / tổng số hồ sơ",
        "dataSource": "Cổng dịch vụ công",
        "direction": "increase",
        "baseline": "40.50",
        "target": "80.12",  # two decimals (half to even)
        "yellowThreshold": "62.00",
        "redThreshold": "54.00",
        "group": "public_service",
        "frequency": "monthly",
        "version": 1,
        "leadUnit": {"code": "P01"},
        "coordinatingUnits": [{"code": "P01-C01"}, {"code": "P02"}],
        "unitTargets": {"nodes": []},
        "resolution": {"code": "57-NQ/TW"},
    }
    # read back from the database, the same
    stored = (await api.data(KPI_BY_CODE, {"c": "57-NQ/TW-K01"}, as_user="admin"))["kpi"]
    assert {k: v for k, v in stored.items() if k not in ("id", "updatedAt")} == kpi
    # a province reads only the coordinating units of its own subtree
    seen = (await api.data(KPI_BY_CODE, {"c": "57-NQ/TW-K01"}, as_user="p01.manager"))["kpi"]
    assert seen["coordinatingUnits"] == [{"code": "P01-C01"}] and seen["leadUnit"] == {"code": "P01"}

    # unit targets, nested, in unit code order; setting one bumps the version
    after = await set_target(world, stored, "P01-C01", "70.5")
    after = await set_target(world, stored, "P01", None)
    assert after["unitTargets"]["nodes"] == [{"unit": {"code": "P01"}, "target": None}, {"unit": {"code": "P01-C01"}, "target": "70.50"}]
    assert after["version"] == 3


async def test_a_programme_kpi_is_defined_by_the_province_under_its_own_issuer(world: World) -> None:
    kpi = await create_kpi(world, "CTr-57/P01-K01", resolution="CTr-57/P01", lead="P01-C01-K01", coordinators=("P01-C02",), as_user="p01.manager",
                           base=DECREASE)
    assert (kpi["resolution"], kpi["leadUnit"], kpi["coordinatingUnits"]) == ({"code": "CTr-57/P01"}, {"code": "P01-C01-K01"}, [{"code": "P01-C02"}])
    assert (kpi["direction"], kpi["baseline"], kpi["target"], kpi["yellowThreshold"], kpi["redThreshold"]) == ("decrease", "80.00", "40.00", "50.00", "60.00")
    # thresholds may sit exactly on each other: red == yellow == target is consistent
    edge = await create_kpi(world, "57-NQ/TW-K09", baseline="0", target="10", yellowThreshold="10", redThreshold="10")
    assert (edge["target"], edge["yellowThreshold"], edge["redThreshold"]) == ("10.00", "10.00", "10.00")


# -- 2. kpiCreate refusals -------------------------------------------------------------------------

CREATE_REFUSALS = [
    # id, caller, resolution, overrides (codes for units; <tokens>), expected
    ("increase: target equal to baseline", "tw.manager", "57-NQ/TW", {"target": "40", "yellowThreshold": "40", "redThreshold": "40"}, [("target", "INVALID")]),
    ("increase: target below baseline", "tw.manager", "57-NQ/TW", {"target": "30", "yellowThreshold": "30", "redThreshold": "20"}, [("target", "INVALID")]),
    ("increase: yellow above target", "tw.manager", "57-NQ/TW", {"yellowThreshold": "80.01"}, [("yellowThreshold", "INVALID")]),
    ("increase: red above yellow", "tw.manager", "57-NQ/TW", {"redThreshold": "62.01"}, [("yellowThreshold", "INVALID")]),
    ("decrease: target equal to baseline", "tw.manager", "57-NQ/TW", {**DECREASE, "target": "80", "yellowThreshold": "80", "redThreshold": "80"}, [("target", "INVALID")]),
    ("decrease: target above baseline", "tw.manager", "57-NQ/TW", {**DECREASE, "target": "90"}, [("target", "INVALID")]),
    ("decrease: red below yellow", "tw.manager", "57-NQ/TW", {**DECREASE, "redThreshold": "49.99"}, [("yellowThreshold", "INVALID")]),
    ("decrease: yellow below target", "tw.manager", "57-NQ/TW", {**DECREASE, "yellowThreshold": "39.99"}, [("yellowThreshold", "INVALID")]),
    ("bad direction", "tw.manager", "57-NQ/TW", {"direction": "up"}, [("direction", "INVALID")]),
    ("bad group", "tw.manager", "57-NQ/TW", {"group": "economy"}, [("group", "INVALID")]),
    ("bad frequency", "tw.manager", "57-NQ/TW", {"frequency": "weekly"}, [("frequency", "INVALID")]),
    ("empty name", "tw.manager", "57-NQ/TW", {"name": ""}, [("name", "REQUIRED")]),
    ("blank name", "tw.manager", "57-NQ/TW", {"name": "   "}, [("name", "REQUIRED")]),
    ("empty code", "tw.manager", "57-NQ/TW", {"code": ""}, [("code", "REQUIRED")]),
    ("empty name and bad direction", "tw.manager", "57-NQ/TW", {"name": "", "direction": "sideways"}, [("name", "REQUIRED"), ("direction", "INVALID")]),
    ("baseline of 10^13", "tw.manager", "57-NQ/TW", {"baseline": "10000000000000"}, [("baseline", "OUT_OF_RANGE")]),
    ("target of -10^13", "tw.manager", "57-NQ/TW", {"target": "-10000000000000"}, [("target", "OUT_OF_RANGE")]),
    ("lead unit outside the issuer's subtree", "admin", "CTr-57/P01", {"leadUnitId": "P02"}, [("leadUnitId", "NOT_FOUND")]),
    ("lead unit out of the caller's scope", "p01.manager", "CTr-57/P01", {"leadUnitId": "P02-C01"}, [("leadUnitId", "NOT_FOUND")]),
    ("lead unit that does not exist", "tw.manager", "57-NQ/TW", {"leadUnitId": "<missing-unit>"}, [("leadUnitId", "NOT_FOUND")]),
    ("lead unit given a resolution id", "tw.manager", "57-NQ/TW", {"leadUnitId": "<resolution>"}, [("leadUnitId", "INVALID_ID")]),
    ("coordinator outside the issuer's subtree", "admin", "CTr-57/P01", {"coordinatingUnitIds": ["P01-C01", "P02"]}, [("coordinatingUnitIds", "NOT_FOUND")]),
    ("lead unit also a coordinator", "tw.manager", "57-NQ/TW", {"coordinatingUnitIds": ["P01-C01", "P01"]}, [("coordinatingUnitIds", "INVALID")]),
    ("duplicate code", "tw.manager", "57-NQ/TW", {"code": "57-NQ/TW-K01"}, [("code", "DUPLICATE")]),
    ("duplicate code under another resolution", "admin", "CTr-57/P01", {"code": "57-NQ/TW-K01"}, [("code", "DUPLICATE")]),
    ("officer of the issuer", "p01.officer", "CTr-57/P01", {}, [("resolutionId", "FORBIDDEN")]),
    ("viewer of the issuer", "p01.viewer", "CTr-57/P01", {}, [("resolutionId", "FORBIDDEN")]),
    ("province manager on a central resolution it cannot see", "p01.manager", "57-NQ/TW", {}, [("resolutionId", "NOT_FOUND")]),
    ("P02 manager on 57-NQ/TW", "p02.manager", "57-NQ/TW", {"leadUnitId": "P02"}, [("resolutionId", "NOT_FOUND")]),
    ("P02 manager on P01's programme", "p02.manager", "CTr-57/P01", {"leadUnitId": "P02"}, [("resolutionId", "NOT_FOUND")]),
    ("objective of another resolution", "tw.manager", "57-NQ/TW", {"objectiveId": "<objective of CTr-57/P01>"}, [("objectiveId", "NOT_FOUND")]),
    ("key result of another resolution", "tw.manager", "57-NQ/TW", {"keyResultId": "<key result of CTr-57/P01>"}, [("keyResultId", "NOT_FOUND")]),
    ("objective given a resolution id", "tw.manager", "57-NQ/TW", {"objectiveId": "<resolution>"}, [("objectiveId", "INVALID_ID")]),
    ("name of 301 characters", "tw.manager", "57-NQ/TW", {"name": "x" * 301}, [("name", "TOO_LONG")]),
    ("code of 81 characters", "tw.manager", "57-NQ/TW", {"code": "K" * 81}, [("code", "TOO_LONG")]),
    ("51 coordinating units", "tw.manager", "57-NQ/TW", {"coordinatingUnitIds": "<51 units>"}, [("coordinatingUnitIds", "OUT_OF_RANGE")]),
]


async def test_create_refusals_write_nothing(world: World) -> None:
    api = world.api
    await create_kpi(world, "57-NQ/TW-K01")
    objective = ok(await mutate(api, OBJECTIVE_CREATE, {"resolutionId": world.resolutions["CTr-57/P01"], "code": "CTr-57/P01-O1", "title": "Mục tiêu 1"},
                                as_user="admin"), "objective")
    key_result = ok(await mutate(api, KR_CREATE, {"objectiveId": objective["id"], "title": "Kết quả then chốt 1"}, as_user="admin"), "keyResult")
    special = {"<missing-unit>": encode_id("Unit", 987654), "<resolution>": world.resolutions["57-NQ/TW"], "<objective of CTr-57/P01>": objective["id"],
               "<key result of CTr-57/P01>": key_result["id"], "<51 units>": [encode_id("Unit", 1000 + n) for n in range(51)]}

    def resolve(value: Any) -> Any:
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return special.get(value, world.units.get(value, value)) if isinstance(value, str) else value

    async def send(caller: str, resolution: str, overrides: dict[str, Any]) -> dict[str, Any]:
        values = kpi_input(world, "57-NQ/TW-K02" if resolution == "57-NQ/TW" else "CTr-57/P01-K02", resolution=resolution, lead="P01")
        for field, value in overrides.items():
            values[field] = value if field in ("code", "name") else resolve(value)
        return await mutate(api, KPI_CREATE, values, as_user=caller)

    await check_refusals(api, "kpi", CREATE_REFUSALS, send)
    assert await kpi_codes(api, "admin") == ["57-NQ/TW-K01"]


# -- 3. kpiUpdate ----------------------------------------------------------------------------------


async def test_update_changes_only_the_fields_given(world: World) -> None:
    api = world.api
    created = await create_kpi(world, "57-NQ/TW-K01", coordinators=("P01-C02",), formula="a / b", dataSource="Báo cáo")
    before = (await api.data(KPI_BY_CODE, {"c": "57-NQ/TW-K01"}, as_user="admin"))["kpi"]
    updated = ok(await mutate(api, KPI_UPDATE, {"id": created["id"], "version": 1, "name": " Tên mới ", "target": "85"}, as_user="tw.manager"), "kpi")
    assert datetime.fromisoformat(updated["updatedAt"]) > datetime.fromisoformat(before["updatedAt"])
    strip = ("updatedAt",)
    expected = {k: v for k, v in before.items() if k not in strip} | {"name": "Tên mới", "target": "85.00", "version": 2}
    assert {k: v for k, v in updated.items() if k not in strip} == expected
    reread = (await api.data(KPI_BY_CODE, {"c": "57-NQ/TW-K01"}, as_user="admin"))["kpi"]
    assert {k: v for k, v in reread.items() if k not in strip} == expected
    # clearing an optional text field with null, only it
    cleared = ok(await mutate(api, KPI_UPDATE, {"id": created["id"], "version": 2, "formula": None}, as_user="tw.manager"), "kpi")
    assert {k: v for k, v in cleared.items() if k not in strip} == expected | {"formula": None, "version": 3}


async def test_thresholds_are_checked_against_the_merged_values(world: World) -> None:
    api = world.api
    kpi = await create_kpi(world, "57-NQ/TW-K01")  # increase 40 -> 80, yellow 62, red 54
    # the target alone down to the yellow threshold is consistent; below it is not
    assert ok(await mutate(api, KPI_UPDATE, {"id": kpi["id"], "version": 1, "target": "62"}, as_user="tw.manager"), "kpi")["target"] == "62.00"
    # lowering target and yellow together is fine
    both = ok(await mutate(api, KPI_UPDATE, {"id": kpi["id"], "version": 2, "target": "58", "yellowThreshold": "57"}, as_user="tw.manager"), "kpi")
    assert (both["target"], both["yellowThreshold"], both["redThreshold"], both["version"]) == ("58.00", "57.00", "54.00", 3)
    # turning it round needs all values at once
    flipped = ok(await mutate(api, KPI_UPDATE, {"id": kpi["id"], "version": 3, "direction": "decrease", "baseline": "90", "target": "30", "yellowThreshold": "40",
                                                "redThreshold": "50"}, as_user="tw.manager"), "kpi")
    assert (flipped["direction"], flipped["baseline"], flipped["target"], flipped["yellowThreshold"], flipped["redThreshold"]) == (
        "decrease", "90.00", "30.00", "40.00", "50.00")


async def test_frequency_may_change_until_the_first_value(world: World) -> None:
    api = world.api
    kpi = await create_kpi(world, "57-NQ/TW-K01")
    assert ok(await mutate(api, KPI_UPDATE, {"id": kpi["id"], "version": 1, "frequency": "quarterly"}, as_user="tw.manager"), "kpi")["frequency"] == "quarterly"
    await submit(world, kpi, "P01", "2025-Q3", "70", as_user="p01.officer")
    # giving the same frequency again changes nothing about periods and is accepted
    assert ok(await mutate(api, KPI_UPDATE, {"id": kpi["id"], "version": 2, "frequency": "quarterly", "name": "Đổi tên"}, as_user="tw.manager"), "kpi")["version"] == 3
    before = await db_state(api)
    assert refused(await mutate(api, KPI_UPDATE, {"id": kpi["id"], "version": 3, "frequency": "monthly"}, as_user="tw.manager"), "kpi") == [("frequency", "INVALID")]
    assert await db_state(api) == before


async def test_coordinating_units_are_replaced_and_the_lead_unit_never_redefines(world: World) -> None:
    api = world.api
    kpi = await create_kpi(world, "57-NQ/TW-K01", coordinators=("P01-C02",))
    replaced = ok(await mutate(api, KPI_UPDATE, {"id": kpi["id"], "version": 1, "coordinatingUnitIds": [world.unit("P02-C01"), world.unit("P01-C01")]},
                               as_user="tw.manager"), "kpi")
    assert replaced["coordinatingUnits"] == [{"code": "P01-C01"}, {"code": "P02-C01"}] and replaced["version"] == 2
    # not giving them keeps them
    kept = ok(await mutate(api, KPI_UPDATE, {"id": kpi["id"], "version": replaced["version"], "name": "Tên khác"}, as_user="tw.manager"), "kpi")
    assert kept["coordinatingUnits"] == [{"code": "P01-C01"}, {"code": "P02-C01"}]
    # a new lead unit together with coordinators that no longer hold it
    moved = ok(await mutate(api, KPI_UPDATE, {"id": kpi["id"], "version": kept["version"], "leadUnitId": world.unit("P01-C01"), "coordinatingUnitIds": [world.unit("P01")]},
                            as_user="tw.manager"), "kpi")
    assert (moved["leadUnit"], moved["coordinatingUnits"]) == ({"code": "P01-C01"}, [{"code": "P01"}])
    emptied = ok(await mutate(api, KPI_UPDATE, {"id": kpi["id"], "version": moved["version"], "coordinatingUnitIds": []}, as_user="tw.manager"), "kpi")
    assert emptied["coordinatingUnits"] == []
    async with api.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM kpi_coordinators"))).scalar_one() == 0
    # ACCESS.md: the lead unit reads a KPI but never edits its definition (it could not have created
    # it): its manager is answered exactly as for a KPI that does not exist, and nothing changes
    before = await db_state(api)
    version = await current_version(api, kpi["id"])  # the true one, though the caller may not read the KPI: only scope refuses
    for kpi_id in (kpi["id"], MISSING_KPI):
        refused = await mutate(api, KPI_UPDATE, {"id": kpi_id, "version": version, "target": "75", "coordinatingUnitIds": [world.unit("P01-C02")]}, as_user="p01.manager")
        assert refused == {"kpi": None, "errors": [{"field": "id", "code": "NOT_FOUND", "message": "no such KPI"}]}, refused
    assert await db_state(api) == before


async def test_the_lead_unit_may_not_become_one_of_its_coordinators(world: World) -> None:
    """Same rule as kpiCreate, also when only the lead unit changes."""
    api = world.api
    kpi = await create_kpi(world, "57-NQ/TW-K01", coordinators=("P01-C01",))
    before = await db_state(api)
    payload = await mutate(api, KPI_UPDATE, {"id": kpi["id"], "version": 1, "leadUnitId": world.unit("P01-C01")}, as_user="tw.manager")
    stored = (await api.data(KPI_BY_CODE, {"c": "57-NQ/TW-K01"}, as_user="admin"))["kpi"]
    assert payload["kpi"] is None, f"P01-C01 is now both lead and coordinator: lead {stored['leadUnit']}, coordinators {stored['coordinatingUnits']}"
    assert [e["code"] for e in payload["errors"]] == ["INVALID"]
    assert payload["errors"][0]["field"] in ("leadUnitId", "coordinatingUnitIds")
    assert await db_state(api) == before


UPDATE_REFUSALS = [
    # id, caller, changes (unit codes for unit ids), expected
    ("target alone below yellow", "tw.manager", {"target": "61.99"}, [("yellowThreshold", "INVALID")]),
    ("target alone at baseline", "tw.manager", {"target": "40"}, [("target", "INVALID")]),
    ("baseline alone above target", "tw.manager", {"baseline": "80.01"}, [("target", "INVALID")]),
    ("yellow alone above target", "tw.manager", {"yellowThreshold": "80.01"}, [("yellowThreshold", "INVALID")]),
    ("red alone above yellow", "tw.manager", {"redThreshold": "62.01"}, [("yellowThreshold", "INVALID")]),
    ("direction alone", "tw.manager", {"direction": "decrease"}, [("target", "INVALID")]),
    ("bad direction", "tw.manager", {"direction": "down"}, [("direction", "INVALID")]),
    ("bad group", "tw.manager", {"group": "other"}, [("group", "INVALID")]),
    ("bad frequency", "tw.manager", {"frequency": "daily"}, [("frequency", "INVALID")]),
    ("frequency after a value", "tw.manager", {"frequency": "yearly"}, [("frequency", "INVALID")]),
    ("empty name", "tw.manager", {"name": ""}, [("name", "REQUIRED")]),
    ("null name", "tw.manager", {"name": None}, [("name", "REQUIRED")]),
    ("target of 10^13", "tw.manager", {"target": "10000000000000"}, [("target", "OUT_OF_RANGE")]),
    ("stale version", "tw.manager", {"version": 1, "name": "Tên"}, [("version", "CONFLICT")]),
    ("future version", "tw.manager", {"version": 7, "name": "Tên"}, [("version", "CONFLICT")]),
    ("lead unit among the coordinators given", "tw.manager", {"coordinatingUnitIds": ["P01-C01", "P01"]}, [("coordinatingUnitIds", "INVALID")]),
    ("the lead unit's manager, with a name change", "p01.manager", {"name": "Tên", "coordinatingUnitIds": ["P02"]}, [("id", "NOT_FOUND")]),
    ("the lead unit's manager moving the lead", "p01.manager", {"leadUnitId": "P02"}, [("id", "NOT_FOUND")]),
    ("officer", "p01.officer", {"name": "Tên"}, [("id", "FORBIDDEN")]),
    ("viewer", "p01.viewer", {"name": "Tên"}, [("id", "FORBIDDEN")]),
    ("another province's manager", "p02.manager", {"name": "Tên"}, [("id", "NOT_FOUND")]),
    ("a unit id", "tw.manager", {"id": "<unit>", "name": "Tên"}, [("id", "INVALID_ID")]),
    ("a KPI that does not exist", "tw.manager", {"id": MISSING_KPI, "name": "Tên"}, [("id", "NOT_FOUND")]),
]


async def test_update_and_unit_target_refusals_write_nothing(world: World) -> None:
    api = world.api
    kpi = await create_kpi(world, "57-NQ/TW-K01", coordinators=("P01-C02",))
    await submit(world, kpi, "P01", "2025-01", "60", as_user="p01.officer")
    kpi = ok(await mutate(api, KPI_UPDATE, {"id": kpi["id"], "version": 1, "dataSource": "Sở Nội vụ"}, as_user="tw.manager"), "kpi")  # version 2

    async def send(caller: str, changes: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {"id": kpi["id"], "version": kpi["version"]}  # the current one, unless the case gives another
        for field, value in changes.items():
            if field == "leadUnitId":
                value = world.unit(value)
            elif field == "coordinatingUnitIds":
                value = [world.unit(c) for c in value]
            elif value == "<unit>":
                value = world.unit("P01")
            values[field] = value
        return await mutate(api, KPI_UPDATE, values, as_user=caller)

    await check_refusals(api, "kpi", UPDATE_REFUSALS, send)

    # kpiUnitTargetSet needs the same define right and a unit under the issuer
    programme = await create_kpi(world, "CTr-57/P01-K01", resolution="CTr-57/P01", as_user="p01.manager")

    async def send_target(caller: str, kpi_id: str, unit_code: str, target: str | None) -> dict[str, Any]:
        return await mutate(api, TARGET_SET, {"kpiId": kpi_id, "unitId": world.unit(unit_code), "target": target}, as_user=caller)

    await check_refusals(api, "kpi", [
        ("target of 10^13", "tw.manager", kpi["id"], "P01-C01", "10000000000000", [("target", "OUT_OF_RANGE")]),
        ("unit outside the programme's issuer", "admin", programme["id"], "P02", "5", [("unitId", "NOT_FOUND")]),
        ("unit out of the caller's scope", "p01.manager", programme["id"], "P02-C01", "5", [("unitId", "NOT_FOUND")]),
        ("the lead unit's manager on the issuer's KPI", "p01.manager", kpi["id"], "P01-C01", "5", [("kpiId", "NOT_FOUND")]),
        ("officer", "p01.officer", kpi["id"], "P01-C01", "5", [("kpiId", "FORBIDDEN")]),
        ("another province's manager", "p02.manager", kpi["id"], "P02-C01", "5", [("kpiId", "NOT_FOUND")]),
        ("a unit id as kpiId", "tw.manager", world.unit("P01"), "P01-C01", "5", [("kpiId", "INVALID_ID")]),
    ], send_target)


# -- 4. who reads a KPI ----------------------------------------------------------------------------

EVERYONE = [u.username for u in users()]


SEES = (
    "query($c: String, $id: ID!) { kpis(first: 100) { totalCount nodes { code } } kpi(code: $c) { code } node(id: $id) { id ... on Kpi { code } } }"
)


async def sees(api: Api, kpi: dict[str, Any], as_user: str) -> bool:
    """Whether the caller reads the KPI; the list, the count, kpi(code) and node(id) must agree."""
    data = await api.data(SEES, {"c": kpi["code"], "id": kpi["id"]}, as_user=as_user)
    codes = [n["code"] for n in data["kpis"]["nodes"]]
    assert data["kpis"]["totalCount"] == len(codes), (as_user, data)
    listed, by_code, by_node = kpi["code"] in codes, data["kpi"], data["node"]
    assert listed == (by_code is not None) == (by_node is not None), (as_user, listed, by_code, by_node)
    if by_node is not None:
        assert by_node == {"id": kpi["id"], "code": kpi["code"]} and by_code["code"] == kpi["code"]
    return listed


async def readers(api: Api, kpi: dict[str, Any]) -> set[str]:
    return {name for name in EVERYONE if await sees(api, kpi, name)}


async def test_a_kpi_is_read_by_its_home_units_and_the_units_given_a_target(world: World) -> None:
    api = world.api
    central = await create_kpi(world, "57-NQ/TW-K01", coordinators=("P01-C02",))  # issuer TW, lead P01
    home = {"admin", "tw.manager", "p01.manager", "p01.officer", "p01.viewer"}
    assert await readers(api, central) == home

    # handed down: P01-C01 gets its own target and must report, so its officer reads the KPI
    await set_target(world, central, "P01-C01", "75", as_user="tw.manager")  # a definition: where the resolution was issued
    assert await readers(api, central) == home | {"p01.c01.officer"}
    handed = (await api.data(KPI_BY_CODE, {"c": central["code"]}, as_user="p01.c01.officer"))["kpi"]
    assert handed["unitTargets"]["nodes"] == [{"unit": {"code": "P01-C01"}, "target": "75.00"}]
    measurement = await submit(world, handed, "P01-C01", "2025-05", "70", as_user="p01.c01.officer")

    # taking the target away hides it again (its value stays visible, without the KPI)
    removed = await set_target(world, central, "P01-C01", None, remove=True, as_user="tw.manager")
    assert removed["unitTargets"]["nodes"] == []
    assert await readers(api, central) == home
    left = (await api.data(MEASUREMENTS, {"first": 10}, as_user="p01.c01.officer"))["measurements"]
    assert [(n["id"], n["kpi"], n["light"], n["value"]) for n in left["nodes"]] == [(measurement["id"], None, None, "70.00")]

    # a programme KPI of P01 led below it: TW and P01 read it, P02 never
    programme = await create_kpi(world, "CTr-57/P01-K01", resolution="CTr-57/P01", lead="P01-C02", as_user="p01.manager")
    assert await readers(api, programme) == home
    # a KPI led by P01-C01 is read there
    led_below = await create_kpi(world, "57-NQ/TW-K02", lead="P01-C01")
    assert await readers(api, led_below) == home | {"p01.c01.officer"}
    assert await kpi_codes(api, "p02.manager") == [] and await kpi_codes(api, "p02.officer") == []
    assert await kpi_codes(api, "p01.c01.officer") == ["57-NQ/TW-K02"]

    # coordination is read "across" for tasks only: a coordinating province does not read the KPI...
    coordinated = await create_kpi(world, "57-NQ/TW-K03", coordinators=("P02",))
    assert not await sees(api, coordinated, "p02.manager")
    # ...until a unit of its subtree is given a target (handed down)
    await set_target(world, coordinated, "P02-C01", "50")
    assert await sees(api, coordinated, "p02.manager")
    seen = (await api.data(KPI_BY_CODE, {"c": coordinated["code"]}, as_user="p02.manager"))["kpi"]
    assert seen["unitTargets"]["nodes"] == [{"unit": {"code": "P02-C01"}, "target": "50.00"}] and seen["coordinatingUnits"] == [{"code": "P02"}]
    assert await kpi_codes(api, "p02.manager") == ["57-NQ/TW-K03"]


# -- 5. measurementSubmit --------------------------------------------------------------------------


@dataclass
class Kpis:
    inc: dict[str, Any]  # 57-NQ/TW-K01: %, increase, monthly, lead P01, target for P01-C01
    dec: dict[str, Any]  # 57-NQ/TW-K02: decrease, monthly, lead P01, target for P01-C01
    quarterly: dict[str, Any]  # 57-NQ/TW-K03
    yearly: dict[str, Any]  # 57-NQ/TW-K04
    p02: dict[str, Any]  # 57-NQ/TW-K05, led by P02
    programme: dict[str, Any]  # CTr-57/P01-K01, led by P01

    def by_code(self, code: str) -> dict[str, Any]:
        return next(k for k in vars(self).values() if k["code"] == code)


@pytest.fixture
async def kpis(world: World) -> Kpis:
    inputs = [
        kpi_input(world, "57-NQ/TW-K01", coordinators=("P01-C02",)),
        kpi_input(world, "57-NQ/TW-K02", base=DECREASE),
        kpi_input(world, "57-NQ/TW-K03", base={**INCREASE, "unitOfMeasure": "doanh nghiệp", "frequency": "quarterly"}),
        kpi_input(world, "57-NQ/TW-K04", base={**INCREASE, "unitOfMeasure": "MW", "frequency": "yearly"}),
        kpi_input(world, "57-NQ/TW-K05", lead="P02"),
        kpi_input(world, "CTr-57/P01-K01", resolution="CTr-57/P01"),
    ]
    inc, dec, quarterly, yearly, p02, programme = [p["kpi"] for p in await batch(world.api, "kpiCreate", "KpiCreateInput", inputs, "kpi { " + KPI_FIELDS + " }",
                                                                                as_user="tw.manager")]
    targets = [{"kpiId": inc["id"], "unitId": world.unit("P01-C01"), "target": "75"}, {"kpiId": dec["id"], "unitId": world.unit("P01-C01"), "target": "45"}]
    inc, dec = [p["kpi"] for p in await batch(world.api, "kpiUnitTargetSet", "KpiUnitTargetSetInput", targets, "kpi { " + KPI_FIELDS + " }",
                                              as_user="tw.manager")]
    return Kpis(inc, dec, quarterly, yearly, p02, programme)


LIGHTS_INCREASE = [("100", "GREEN"), ("80", "GREEN"), ("62", "GREEN"), ("61.99", "YELLOW"), ("54", "YELLOW"), ("53.99", "RED"), ("0", "RED")]
LIGHTS_DECREASE = [("0", "GREEN"), ("50", "GREEN"), ("50.01", "YELLOW"), ("60", "YELLOW"), ("60.01", "RED"), ("500", "RED")]


async def test_traffic_light_at_the_exact_boundaries(world: World, kpis: Kpis) -> None:
    """FORMAT.md: increase v >= yellow green, else v >= red yellow, else red; decrease mirrored."""
    for submitter, unit_code in (("p01.officer", "P01"), ("p01.c01.officer", "P01-C01")):
        await lights_for(world, kpis, submitter, unit_code)


async def lights_for(world: World, kpis: Kpis, submitter: str, unit_code: str) -> None:
    expected: list[tuple[str, str, str, str]] = []
    inputs: list[dict[str, Any]] = []
    for kpi, cases in ((kpis.inc, LIGHTS_INCREASE), (kpis.dec, LIGHTS_DECREASE)):
        for month, (value, light) in enumerate(cases, start=1):
            period = f"2025-{month:02d}"
            inputs.append(submit_input(world, kpi, unit_code, period, value))
            expected.append((kpi["code"], period, f"{float(value):.2f}", light))
    answers = [p["measurement"] for p in await batch(world.api, "measurementSubmit", "MeasurementSubmitInput", inputs, "measurement { " + M_FIELDS + " }",
                                                     as_user=submitter)]
    for m, (code, period, value, light) in zip(answers, expected, strict=True):
        assert (m["kpi"], m["unit"], m["period"], m["value"], m["light"], m["version"], m["history"]) == (
            {"code": code}, {"code": unit_code}, period, value, light, 1, []), (submitter, code, value)
    # read back (the light recomputed from stored values), by the submitter and by the admin
    for reader in (submitter, "admin"):
        flt = {"under": world.unit(unit_code)} if reader == "admin" else None
        nodes = (await world.api.data(MEASUREMENTS, {"first": 100, "f": flt}, as_user=reader))["measurements"]["nodes"]
        assert [(n["kpi"]["code"], n["period"], n["value"], n["light"]) for n in nodes if n["unit"]["code"] == unit_code] == expected


async def test_periods_at_the_edge_of_today_and_percentages_at_0_and_100(world: World, kpis: Kpis) -> None:
    assert (await submit(world, kpis.inc, "P01", this_month(), "100", as_user="p01.officer"))["value"] == "100.00"
    assert (await submit(world, kpis.inc, "P01", "2025-12", "0", as_user="p01.officer"))["value"] == "0.00"
    assert (await submit(world, kpis.quarterly, "P01", this_quarter(), "1500", as_user="p01.manager"))["period"] == this_quarter()
    assert (await submit(world, kpis.yearly, "P01", str(TODAY.year), "320.5", as_user="p01.manager"))["value"] == "320.50"
    # not a percentage: any size below 10^13; officer of P01 submits for a cell below it
    assert (await submit(world, kpis.quarterly, "P01-C01-K01", "2025-Q1", "-12.345", as_user="p01.officer"))["value"] == "-12.34"


SUBMIT_REFUSALS = [
    # id, caller, kpi code (or <token>), unit code (or <token>), period (or <token>), value, expected
    ("next month", "p01.officer", "57-NQ/TW-K01", "P01", "<next-month>", "70", [("period", "IN_FUTURE")]),
    ("far future", "p01.officer", "57-NQ/TW-K01", "P01", "2099-01", "70", [("period", "IN_FUTURE")]),
    ("next quarter", "p01.officer", "57-NQ/TW-K03", "P01", "<next-quarter>", "70", [("period", "IN_FUTURE")]),
    ("next year", "p01.officer", "57-NQ/TW-K04", "P01", "<next-year>", "70", [("period", "IN_FUTURE")]),
    ("monthly given a quarter", "p01.officer", "57-NQ/TW-K01", "P01", "2025-Q3", "70", [("period", "INVALID")]),
    ("monthly given month 13", "p01.officer", "57-NQ/TW-K01", "P01", "2025-13", "70", [("period", "INVALID")]),
    ("monthly given month 00", "p01.officer", "57-NQ/TW-K01", "P01", "2025-00", "70", [("period", "INVALID")]),
    ("monthly given 2025-7", "p01.officer", "57-NQ/TW-K01", "P01", "2025-7", "70", [("period", "INVALID")]),
    ("monthly given a year", "p01.officer", "57-NQ/TW-K01", "P01", "2025", "70", [("period", "INVALID")]),
    ("quarterly given a month", "p01.officer", "57-NQ/TW-K03", "P01", "2025-07", "70", [("period", "INVALID")]),
    ("quarterly given Q5", "p01.officer", "57-NQ/TW-K03", "P01", "2025-Q5", "70", [("period", "INVALID")]),
    ("quarterly given Q0", "p01.officer", "57-NQ/TW-K03", "P01", "2025-Q0", "70", [("period", "INVALID")]),
    ("yearly given a month", "p01.officer", "57-NQ/TW-K04", "P01", "2025-01", "70", [("period", "INVALID")]),
    ("yearly given a quarter", "p01.officer", "57-NQ/TW-K04", "P01", "2025-Q1", "70", [("period", "INVALID")]),
    ("empty period", "p01.officer", "57-NQ/TW-K01", "P01", "", "70", [("period", "INVALID")]),
    ("percentage of 101", "p01.officer", "57-NQ/TW-K01", "P01", "2025-02", "101", [("value", "OUT_OF_RANGE")]),
    ("percentage of 100.01", "p01.officer", "57-NQ/TW-K01", "P01", "2025-02", "100.01", [("value", "OUT_OF_RANGE")]),
    ("percentage of -1", "p01.officer", "57-NQ/TW-K01", "P01", "2025-02", "-1", [("value", "OUT_OF_RANGE")]),
    ("value of 10^13", "p01.officer", "57-NQ/TW-K03", "P01", "2025-Q1", "10000000000000", [("value", "OUT_OF_RANGE")]),
    ("value and period both wrong", "p01.officer", "57-NQ/TW-K01", "P01", "<next-month>", "101", [("value", "OUT_OF_RANGE"), ("period", "IN_FUTURE")]),
    ("second value for a period", "p01.officer", "57-NQ/TW-K01", "P01", "2025-01", "70", [("period", "DUPLICATE")]),
    ("second value, by another submitter", "p01.manager", "57-NQ/TW-K01", "P01", "2025-01", "60", [("period", "DUPLICATE")]),
    ("commune officer for a sibling commune", "p01.c01.officer", "57-NQ/TW-K01", "P01-C02", "2025-02", "70", [("unitId", "NOT_FOUND")]),
    ("commune officer for its province", "p01.c01.officer", "57-NQ/TW-K01", "P01", "2025-02", "70", [("unitId", "NOT_FOUND")]),
    ("commune officer on a KPI not handed to it", "p01.c01.officer", "57-NQ/TW-K03", "P01-C01", "2025-Q1", "70", [("kpiId", "NOT_FOUND")]),
    ("province officer for another province", "p01.officer", "57-NQ/TW-K01", "P02", "2025-02", "70", [("unitId", "NOT_FOUND")]),
    ("manager of P02 for P01 on P02's KPI", "p02.manager", "57-NQ/TW-K05", "P01", "2025-02", "70", [("unitId", "NOT_FOUND")]),
    ("manager of P02 for P01 on P01's KPI", "p02.manager", "57-NQ/TW-K01", "P01", "2025-02", "70", [("kpiId", "NOT_FOUND")]),
    ("viewer", "p01.viewer", "57-NQ/TW-K01", "P01", "2025-02", "70", [("unitId", "FORBIDDEN")]),
    ("admin (no submit right)", "admin", "57-NQ/TW-K01", "P01", "2025-02", "70", [("unitId", "FORBIDDEN")]),
    ("unit not under the KPI's issuer", "tw.manager", "CTr-57/P01-K01", "P02", "2025-02", "70", [("unitId", "INVALID")]),
    ("a Unit id as kpiId", "p01.officer", "<unit>", "P01", "2025-02", "70", [("kpiId", "INVALID_ID")]),
    ("a KPI id as unitId", "p01.officer", "57-NQ/TW-K01", "<kpi>", "2025-02", "70", [("unitId", "INVALID_ID")]),
    ("a KPI that does not exist", "p01.officer", "<missing>", "P01", "2025-02", "70", [("kpiId", "NOT_FOUND")]),
]


async def test_submit_refusals_write_nothing(world: World, kpis: Kpis) -> None:
    api = world.api
    await submit(world, kpis.inc, "P01", "2025-01", "58.5", as_user="p01.officer")

    async def send(caller: str, kpi_code: str, unit_code: str, period: str, value: str) -> dict[str, Any]:
        kpi_id = {"<unit>": world.unit("P01"), "<missing>": MISSING_KPI}.get(kpi_code) or kpis.by_code(kpi_code)["id"]
        unit_id = kpis.inc["id"] if unit_code == "<kpi>" else world.unit(unit_code)
        period = PERIOD_TOKENS[period]() if period in PERIOD_TOKENS else period
        return await mutate(api, SUBMIT, {"kpiId": kpi_id, "unitId": unit_id, "period": period, "value": value}, as_user=caller)

    await check_refusals(api, "measurement", SUBMIT_REFUSALS, send)

    async def send_note(note: str) -> dict[str, Any]:
        return await mutate(api, SUBMIT, submit_input(world, kpis.inc, "P01", "2025-02", "70", note=note), as_user="p01.officer")

    await check_refusals(api, "measurement", [("note of 1001 characters", "x" * 1001, [("note", "TOO_LONG")])], send_note)
    assert (await send_note("x" * 1000))["errors"] == []


# -- 6. measurementCorrect -------------------------------------------------------------------------


async def test_corrections_keep_every_earlier_value_in_order(world: World, kpis: Kpis) -> None:
    api = world.api
    first = ok(await mutate(api, SUBMIT, submit_input(world, kpis.inc, "P01-C01", "2025-07", "58.5", note="số liệu sơ bộ"), as_user="p01.c01.officer"),
               "measurement")
    assert (first["value"], first["light"], first["version"], first["note"]) == ("58.50", "YELLOW", 1, "số liệu sơ bộ")
    c1 = ok(await mutate(api, CORRECT, {"id": first["id"], "version": 1, "value": "63", "reason": "  nhập nhầm  "}, as_user="p01.c01.officer"), "measurement")
    assert {k: c1[k] for k in ("id", "period", "value", "light", "version", "note")} == {
        "id": first["id"], "period": "2025-07", "value": "63.00", "light": "GREEN", "version": 2, "note": "số liệu sơ bộ"}
    assert c1["history"] == [{"value": "58.50", "note": "số liệu sơ bộ", "reason": "nhập nhầm", "replacedBy": {"username": "p01.c01.officer"}}]
    assert datetime.fromisoformat(c1["updatedAt"]) > datetime.fromisoformat(first["updatedAt"])
    # a second correction, by the province manager, with a new note
    c2 = ok(await mutate(api, CORRECT, {"id": first["id"], "version": 2, "value": "50", "reason": "số liệu chính thức", "note": "đã rà soát"},
                         as_user="p01.manager"), "measurement")
    assert (c2["value"], c2["light"], c2["version"], c2["note"]) == ("50.00", "RED", 3, "đã rà soát")
    expected_history = [
        {"value": "58.50", "note": "số liệu sơ bộ", "reason": "nhập nhầm", "replacedBy": {"username": "p01.c01.officer"}},
        {"value": "63.00", "note": "số liệu sơ bộ", "reason": "số liệu chính thức", "replacedBy": {"username": "p01.manager"}},
    ]
    assert c2["history"] == expected_history
    # read back, by the admin (through node) and by the commune officer (who cannot see the province manager's account)
    node = await api.data("query($id: ID!) { node(id: $id) { ... on Measurement { value version history { value reason replacedBy { username } } } } }",
                          {"id": first["id"]}, as_user="admin")
    assert node["node"] == {"value": "50.00", "version": 3,
                            "history": [{k: h[k] for k in ("value", "reason", "replacedBy")} for h in expected_history]}
    mine = (await api.data(MEASUREMENTS, {"first": 5}, as_user="p01.c01.officer"))["measurements"]["nodes"]
    assert [h["replacedBy"] for h in mine[0]["history"]] == [{"username": "p01.c01.officer"}, None]
    assert await count_rows(api, "measurements") == 1 and await count_rows(api, "measurement_revisions") == 2


CORRECT_REFUSALS = [
    # id, caller, input overrides, expected
    ("empty reason", "p01.officer", {"reason": ""}, [("reason", "REQUIRED")]),
    ("blank reason", "p01.officer", {"reason": "   "}, [("reason", "REQUIRED")]),
    ("stale version", "p01.officer", {"version": 1}, [("version", "CONFLICT")]),
    ("percentage of 101", "p01.officer", {"value": "101"}, [("value", "OUT_OF_RANGE")]),
    ("percentage of -1", "p01.manager", {"value": "-1"}, [("value", "OUT_OF_RANGE")]),
    ("another province's officer", "p02.officer", {}, [("id", "NOT_FOUND")]),
    ("another province's manager", "p02.manager", {}, [("id", "NOT_FOUND")]),
    ("commune officer on its province's value", "p01.c01.officer", {}, [("id", "NOT_FOUND")]),
    ("viewer", "p01.viewer", {}, [("id", "FORBIDDEN")]),
    ("admin (no submit right)", "admin", {}, [("id", "FORBIDDEN")]),
    ("a KPI id", "p01.officer", {"id": "<kpi>"}, [("id", "INVALID_ID")]),
    ("a measurement that does not exist", "p01.officer", {"id": encode_id("Measurement", 987654)}, [("id", "NOT_FOUND")]),
]


async def test_correct_refusals_write_nothing(world: World, kpis: Kpis) -> None:
    api = world.api
    m = await submit(world, kpis.inc, "P01", "2025-07", "58.5", as_user="p01.officer")
    ok(await mutate(api, CORRECT, {"id": m["id"], "version": 1, "value": "59", "reason": "sửa lần 1"}, as_user="p01.officer"), "measurement")  # now version 2

    async def send(caller: str, overrides: dict[str, Any]) -> dict[str, Any]:
        values = {"id": m["id"], "version": 2, "value": "64", "reason": "sửa lần 2"} | overrides
        if values["id"] == "<kpi>":
            values["id"] = kpis.inc["id"]
        return await mutate(api, CORRECT, values, as_user=caller)

    await check_refusals(api, "measurement", CORRECT_REFUSALS, send)


# -- 7. measurements(filter) -----------------------------------------------------------------------


async def test_measurement_filters_and_scope(world: World, kpis: Kpis) -> None:
    api = world.api
    rows = [
        (kpis.inc, "P01", "2025-01", "60", "p01.officer"),
        (kpis.inc, "P01", "2025-02", "61", "p01.officer"),
        (kpis.inc, "P01", "2025-03", "62", "p01.officer"),
        (kpis.dec, "P01", "2025-02", "55", "p01.officer"),
        (kpis.inc, "P01-C01", "2025-02", "70", "p01.c01.officer"),
        (kpis.inc, "P01-C01", "2025-03", "71", "p01.c01.officer"),
        (kpis.inc, "P01-C02", "2025-03", "72", "p01.manager"),
        (kpis.inc, "P01-C01-K01", "2025-03", "73", "p01.manager"),
        (kpis.p02, "P02", "2025-01", "50", "p02.manager"),
    ]
    ids = [(await submit(world, k, u, p, v, as_user=who))["id"] for k, u, p, v, who in rows]
    m1, m2, m3, m4, m5, m6, m7, m8, m9 = [(k["code"], u, p) for k, u, p, _, _ in rows]
    everything = [m1, m2, m3, m4, m5, m6, m7, m8, m9]
    p01_all = [m1, m2, m3, m4, m5, m6, m7, m8]
    gid = world.unit

    assert await measured(api, "admin") == everything
    assert await measured(api, "admin", {"kpi": kpis.inc["id"]}) == [m1, m2, m3, m5, m6, m7, m8]
    assert await measured(api, "admin", {"kpi": kpis.dec["id"]}) == [m4]
    assert await measured(api, "admin", {"kpi": kpis.yearly["id"]}) == []
    assert await measured(api, "admin", {"under": gid("P01-C01")}) == [m5, m6, m8]
    assert await measured(api, "admin", {"under": gid("P01")}) == p01_all
    assert await measured(api, "admin", {"under": gid("P02-C01")}) == []
    assert await measured(api, "admin", {"periodFrom": "2025-02"}) == [m2, m3, m4, m5, m6, m7, m8]
    assert await measured(api, "admin", {"periodTo": "2025-02"}) == [m1, m2, m4, m5, m9]
    assert await measured(api, "admin", {"periodFrom": "2025-03", "periodTo": "2025-03"}) == [m3, m6, m7, m8]
    assert await measured(api, "admin", {"kpi": kpis.inc["id"], "under": gid("P01-C01"), "periodFrom": "2025-03"}) == [m6, m8]

    # scope: a commune's officer its commune (and the cell below it); the province all of P01; P02 only its own
    assert await measured(api, "p01.c01.officer") == [m5, m6, m8]
    # P01 is out of its sight but above its unit, which it may name (ACCESS.md "Up"): under P01, still only its own
    assert await measured(api, "p01.c01.officer", {"under": gid("P01")}) == [m5, m6, m8]
    assert await measured(api, "p01.c01.officer", {"under": gid("P02")}) == []  # a unit it may not name: nothing
    assert await measured(api, "p01.manager") == p01_all
    assert await measured(api, "p01.viewer", {"periodTo": "2025-01"}) == [m1]
    assert await measured(api, "p02.manager") == [m9]
    assert await measured(api, "p02.manager", {"kpi": kpis.inc["id"]}) == []
    assert await measured(api, "p02.manager", {"under": gid("P01")}) == []

    # updatedSince: a correction moves a value forward; inclusive at that instant, in any time zone
    corrected = ok(await mutate(api, CORRECT, {"id": ids[1], "version": 1, "value": "65", "reason": "sửa"}, as_user="p01.officer"), "measurement")
    later = datetime.fromisoformat(corrected["updatedAt"])
    assert await measured(api, "admin", {"updatedSince": later.isoformat()}) == [m2]
    assert await measured(api, "admin", {"updatedSince": later.astimezone(timezone(timedelta(hours=7))).isoformat()}) == [m2]
    assert await measured(api, "p01.c01.officer", {"updatedSince": later.isoformat()}) == []
    assert await measured(api, "p02.manager", {"updatedSince": later.isoformat()}) == []
    assert await measured(api, "admin", {"updatedSince": (later + timedelta(seconds=1)).isoformat()}) == []
    assert await measured(api, "admin", {"updatedSince": (later - timedelta(days=1)).isoformat()}) == everything


async def test_updated_since_includes_values_submitted_at_or_after_that_instant(world: World, kpis: Kpis) -> None:
    """updatedSince is inclusive: a value's own updatedAt selects it, and a value submitted after a
    client's sync mark is returned when the client resumes from that mark."""
    api = world.api
    for period in ("2025-01", "2025-02", "2025-03"):
        await submit(world, kpis.inc, "P01", period, "60", as_user="p01.officer")
    nodes = (await api.data(MEASUREMENTS, {"first": 10}, as_user="admin"))["measurements"]["nodes"]
    stamps = [(n["period"], datetime.fromisoformat(n["updatedAt"])) for n in nodes]
    for period, stamp in stamps:
        expected = [p for p, other in stamps if other >= stamp]
        got = [n["period"] for n in (await api.data(MEASUREMENTS, {"first": 10, "f": {"updatedSince": stamp.isoformat()}}, as_user="admin"))["measurements"]["nodes"]]
        assert got == expected, f"updatedSince = {stamp.isoformat()} (the updatedAt of {period}) answered {got}; stamps: {stamps}"
    mark = datetime.now(UTC)
    await submit(world, kpis.inc, "P01", "2025-04", "60", as_user="p01.officer")
    got = [n["period"] for n in (await api.data(MEASUREMENTS, {"first": 10, "f": {"updatedSince": mark.isoformat()}}, as_user="admin"))["measurements"]["nodes"]]
    assert got == ["2025-04"], f"a value submitted after {mark.isoformat()} is missing from updatedSince: {got}"


# -- 8. statement counts ---------------------------------------------------------------------------

KPI_PAGE = "query($n: Int!) { kpis(first: $n) { nodes { code leadUnit { code } coordinatingUnits { code } unitTargets { nodes { unit { code } } } resolution { code } } } }"
M_PAGE = "query($n: Int!) { measurements(first: $n) { nodes { kpi { code } unit { code } light history { value } } } }"


async def test_statement_count_does_not_grow_with_the_page(world: World) -> None:
    api = world.api
    leads = ["P01", "P01-C01", "P01-C02", "P02"]
    inputs = [kpi_input(world, f"57-NQ/TW-K{n:03d}", lead=leads[n % 4], coordinators=("P02-C01", "P01-C01-K01")) for n in range(31)]
    created = [p["kpi"] for p in await batch(api, "kpiCreate", "KpiCreateInput", inputs, "kpi { id code }", as_user="tw.manager")]
    await batch(api, "kpiUnitTargetSet", "KpiUnitTargetSetInput",
                [{"kpiId": k["id"], "unitId": world.unit("P01-C01"), "target": "50"} for k in created], "kpi { id }", as_user="tw.manager")
    submitted = [p["measurement"] for p in await batch(api, "measurementSubmit", "MeasurementSubmitInput",
                                                       [{"kpiId": k["id"], "unitId": world.unit("P01-C01"), "period": "2025-01", "value": "60"} for k in created],
                                                       "measurement { id }", as_user="p01.c01.officer")]
    await batch(api, "measurementCorrect", "MeasurementCorrectInput",
                [{"id": m["id"], "version": 1, "value": "61", "reason": "sửa"} for m in submitted[::2]], "measurement { id }", as_user="p01.c01.officer")

    counter = StatementCounter(api.engine)
    for reader in ("admin", "p01.manager", "p01.c01.officer"):
        counts = {}
        for query, key in ((KPI_PAGE, "kpis"), (M_PAGE, "measurements")):
            for n in (3, 30):
                await api.token_for(reader)
                counter.reset()
                nodes = (await api.data(query, {"n": n}, as_user=reader))[key]["nodes"]
                counts[(key, n)] = counter.count
                assert len(nodes) == n, (reader, key, n, len(nodes))
                if key == "measurements":
                    assert all(node["light"] and node["kpi"] and node["unit"] for node in nodes)
                    assert sum(1 for node in nodes if node["history"] == [{"value": "60.00"}]) >= n // 2
                else:
                    assert all(node["unitTargets"]["nodes"] for node in nodes)
                    assert reader != "admin" or all(node["resolution"] == {"code": "57-NQ/TW"} for node in nodes)
            assert counts[(key, 3)] == counts[(key, 30)], (reader, key, counts, counter.statements)


# -- 9. audit --------------------------------------------------------------------------------------


async def test_every_kpi_and_measurement_mutation_writes_one_audit_event(world: World) -> None:
    api = world.api

    async def one_event(action: str, object_type: str, object_id: str, unit_code: str, actor: str) -> dict[str, Any]:
        newest = (await api.data(NEWEST_EVENT, as_user="admin"))["auditEvents"]
        event = newest["nodes"][0]
        assert {k: event[k] for k in ("action", "objectType", "objectKey", "actorUsername", "unit")} == {
            "action": action, "objectType": object_type, "objectKey": str(pk_of(object_id)), "actorUsername": actor, "unit": {"code": unit_code}}
        return event

    async def counted(run: Any) -> Any:
        before = await count_rows(api, "audit_events")
        result = await run
        assert await count_rows(api, "audit_events") == before + 1
        return result

    start = (await api.data(NEWEST_EVENT, as_user="admin"))["auditEvents"]["totalCount"]
    kpi = await counted(create_kpi(world, "57-NQ/TW-K01", coordinators=("P01-C02",)))
    event = await one_event("kpiCreate", "kpi", kpi["id"], "TW", "tw.manager")
    assert event["after"]["code"] == "57-NQ/TW-K01" and event["before"] is None
    programme = await counted(create_kpi(world, "CTr-57/P01-K01", resolution="CTr-57/P01", as_user="p01.manager"))
    await one_event("kpiCreate", "kpi", programme["id"], "P01", "p01.manager")
    await counted(mutate(api, KPI_UPDATE, {"id": kpi["id"], "version": 1, "target": "85"}, as_user="tw.manager"))
    event = await one_event("kpiUpdate", "kpi", kpi["id"], "TW", "tw.manager")
    assert (event["before"]["target"], event["after"]["target"]) == ("80.00", "85.00")
    await counted(set_target(world, kpi, "P01-C01", "70"))
    await one_event("kpiUnitTargetSet", "kpi", kpi["id"], "TW", "tw.manager")
    m = await counted(submit(world, kpi, "P01-C01", "2025-07", "58.5", as_user="p01.c01.officer"))
    event = await one_event("measurementSubmit", "measurement", m["id"], "P01-C01", "p01.c01.officer")
    assert (event["after"]["period"], event["after"]["value"]) == ("2025-07", "58.50")
    await counted(mutate(api, CORRECT, {"id": m["id"], "version": 1, "value": "63", "reason": "nhập nhầm"}, as_user="p01.c01.officer"))
    event = await one_event("measurementCorrect", "measurement", m["id"], "P01-C01", "p01.c01.officer")
    assert (event["before"]["value"], event["after"]["value"], event["after"]["reason"]) == ("58.50", "63.00", "nhập nhầm")
    await counted(set_target(world, kpi, "P01-C01", None, remove=True))
    event = await one_event("kpiUnitTargetSet", "kpi", kpi["id"], "TW", "tw.manager")
    assert event["after"] is None
    # the TW admin reads exactly the seven new ones on top of what the fixture wrote
    assert (await api.data(NEWEST_EVENT, as_user="admin"))["auditEvents"]["totalCount"] == start + 7


# -- 10. idempotency -------------------------------------------------------------------------------


async def test_submit_retried_with_the_same_key_takes_effect_once(world: World, kpis: Kpis) -> None:
    api = world.api
    values = submit_input(world, kpis.inc, "P01", "2025-07", "58.5", note="lần đầu")
    first = await mutate(api, SUBMIT, values, as_user="p01.officer", key="submit-2025-07-p01")
    events = await count_rows(api, "audit_events")
    second = await mutate(api, SUBMIT, values, as_user="p01.officer", key="submit-2025-07-p01")
    assert first["errors"] == [] and second == first
    assert await count_rows(api, "measurements") == 1 and await count_rows(api, "audit_events") == events
    # the same key for another input is refused; a new key for the same period is a DUPLICATE
    before = await db_state(api)
    other = await mutate(api, SUBMIT, {**values, "value": "60"}, as_user="p01.officer", key="submit-2025-07-p01")
    assert refused(other, "measurement") == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]
    fresh = await mutate(api, SUBMIT, values, as_user="p01.officer", key="submit-2025-07-p01-again")
    assert refused(fresh, "measurement") == [("period", "DUPLICATE")]
    assert await db_state(api) == before


# -- amounts near the limit ------------------------------------------------------------------------


async def test_amounts_just_below_the_limit_are_stored_exactly(world: World, kpis: Kpis) -> None:
    """LIMIT is 10^13 with two decimals: 9999999999999.99 is accepted, so it must come back unchanged."""
    api = world.api
    kpi = await create_kpi(world, "57-NQ/TW-K99", base={**INCREASE, "unitOfMeasure": "đồng"}, baseline="-9999999999999.99",
                           target="9999999999999.99", yellowThreshold="9999999999999.98", redThreshold="1234567890123.45")
    m = await submit(world, kpi, "P01", "2025-01", "9999999999999.97", as_user="p01.officer")
    assert m["light"] == "YELLOW"
    stored = (await api.data(KPI_BY_CODE, {"c": kpi["code"]}, as_user="admin"))["kpi"]
    assert (stored["baseline"], stored["target"], stored["yellowThreshold"], stored["redThreshold"]) == (
        "-9999999999999.99", "9999999999999.99", "9999999999999.98", "1234567890123.45")
    read = (await api.data(MEASUREMENTS, {"first": 5, "f": {"kpi": kpi["id"]}}, as_user="admin"))["measurements"]["nodes"]
    assert [(n["value"], n["light"]) for n in read] == [("9999999999999.97", "YELLOW")]
