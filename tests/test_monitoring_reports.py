"""Report packs: GET /reports/{progress,discipline,warnings,kpi-lights}.csv and /reports/pack.xlsx, on SQLite and
PostgreSQL, with today pinned.

1. Property: random small worlds (tests/monitoring_world.py). For every user, a random unit (its own by default, or one
   by code, in scope or not), resolution (by code, or every one) and period (a month, a quarter, a year, or the
   default): every CSV parses (csv module, UTF-8 with a byte order mark) and the workbook opens (openpyxl) with its four
   sheets, and every row and cell of each equals what the API answers for the same unit, resolution and period
   (progressRollup, reportingDiscipline, warnings, kpiStatuses); a unit or resolution out of scope is a 404 naming it.
2. Examples: the workbook's light and severity cells carry a fill of their colour and still say the word, headers are
   bold, dates are dates; file names, content types, no caching; Vietnamese names intact.
3. Refusals: 401 without a token, with a refused one, for a deactivated account; 404 for a unit or resolution that does
   not exist or lies out of scope, and for an unknown table; 400 for a bad period or code; all as JSON
   {"error", "message", "field"}.
"""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import httpx
import openpyxl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from resolute.api.accounts.models import User
from resolute.api.kpis.models import Kpi
from resolute.api.org.models import Unit
from resolute.api.tasks.models import Milestone
from resolute.schema.ids import encode_id
from tests.monitoring_world import TODAYS, Clock, KpiDef, Persona, Reading, TaskDef, Work, World, gid, load, pin_today, worlds
from tests.support import Api, Backend, running_app

Json = dict[str, Any]
TODAY = TODAYS[0]
TABLES = ("progress", "discipline", "warnings", "kpi-lights")
SHEETS = ("Progress", "Reporting discipline", "Warnings", "KPI lights")
HEADERS = {
    "progress": ("unit code", "unit name", "level", "total", "not started", "in progress", "completed", "cancelled", "overdue",
                 "completed on time", "completed within extension", "completed late", "completion rate", "on-time rate", "average progress"),
    "discipline": ("unit code", "unit name", "level", "period", "expected", "received", "on time", "completeness", "timeliness",
                   "assigned", "acknowledged", "acknowledged within 7 days", "average days to acknowledge", "discipline index"),
    "warnings": ("severity", "kind", "unit code", "unit name", "object", "task", "due on", "days", "progress", "expected progress",
                 "projected finish", "period", "value", "reason"),
    "kpi-lights": ("KPI code", "KPI name", "unit code", "unit name", "period", "value", "light", "previous period", "previous value", "change",
                   "target", "target share"),
}  # fmt: skip


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    pin_today(monkeypatch)
    monkeypatch.setattr(Clock, "current", TODAY)


# -- the API's answer, as the rows of each table ----------------------------------------------------------------
FIGURES = ("total notStarted inProgress completed cancelled overdue completedOnTime completedWithinExtension completedLate"
           " completionRate onTimeRate averageProgress")  # fmt: skip
DISCIPLINE = "expected received onTime completeness timeliness assigned acknowledged acknowledgedInTime averageAckDays disciplineIndex"
DASHBOARDS = f"""query($u: ID, $p: String, $r: ID, $after: String) {{
  progressRollup(unit: $u, filter: {{resolution: $r}}) {{ unit {{ code name }} figures {{ {FIGURES} }} children {{ unit {{ code name }} figures {{ {FIGURES} }} }} }}
  reportingDiscipline(unit: $u, period: $p, resolution: $r) {{ period unit {{ code name }} figures {{ {DISCIPLINE} }} children {{ unit {{ code name }} figures {{ {DISCIPLINE} }} }} }}
  warnings(unit: $u, filter: {{resolution: $r}}, first: 100) {{ totalCount pageInfo {{ hasNextPage }} nodes {{ severity kind unit {{ code name }}
    assignment {{ code }} milestone {{ title }} kpi {{ code }} task {{ code }} dueOn days progress expectedProgress projectedFinishOn period value reason }} }}
  kpiStatuses(unit: $u, filter: {{resolution: $r}}, first: 100, after: $after) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ kpi {{ code name }} unit {{ code name }}
    period value light previousPeriod previousValue change target targetShare }} }}
}}"""


def _date(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


async def api_tables(api: Api, user: str, unit_id: str | None, period: str | None, resolution_id: str | None) -> dict[str, list[list[Any]]]:
    """The rows each table should have, from the API (every page of kpiStatuses)."""
    data = await api.data(DASHBOARDS, {"u": unit_id, "p": period, "r": resolution_id}, as_user=user)
    statuses, after = list(data["kpiStatuses"]["nodes"]), data["kpiStatuses"]["pageInfo"]["endCursor"]
    more = data["kpiStatuses"]["pageInfo"]["hasNextPage"]
    while more:
        page = (await api.data(DASHBOARDS, {"u": unit_id, "p": period, "r": resolution_id, "after": after}, as_user=user))["kpiStatuses"]
        statuses += page["nodes"]
        after, more = page["pageInfo"]["endCursor"], page["pageInfo"]["hasNextPage"]
    assert not data["warnings"]["pageInfo"]["hasNextPage"] and data["warnings"]["totalCount"] == len(data["warnings"]["nodes"])

    rollup, discipline = data["progressRollup"], data["reportingDiscipline"]
    levels = lambda r: [(r["unit"], "whole subtree", r["figures"])] + [(c["unit"], "child", c["figures"]) for c in r["children"]]
    return {
        "progress": [[u["code"], u["name"], level, *(f[k] for k in FIGURES.split())] for u, level, f in levels(rollup)],
        "discipline": [
            [u["code"], u["name"], level, discipline["period"], f["expected"], f["received"], f["onTime"], f["completeness"], f["timeliness"],
             f["assigned"], f["acknowledged"], f["acknowledgedInTime"], f["averageAckDays"], f["disciplineIndex"]]
            for u, level, f in levels(discipline)
        ],
        "warnings": [
            [x["severity"].lower(), x["kind"].lower(), x["unit"]["code"], x["unit"]["name"],
             (x["assignment"] or {}).get("code") or (x["milestone"] or {}).get("title") or (x["kpi"] or {}).get("code"), (x["task"] or {}).get("code"),
             _date(x["dueOn"]), x["days"], x["progress"], x["expectedProgress"], _date(x["projectedFinishOn"]), x["period"], _decimal(x["value"]), x["reason"]]
            for x in data["warnings"]["nodes"]
        ],
        "kpi-lights": [
            [s["kpi"]["code"], s["kpi"]["name"], s["unit"]["code"], s["unit"]["name"], s["period"], Decimal(s["value"]), s["light"].lower(),
             s["previousPeriod"], _decimal(s["previousValue"]), _decimal(s["change"]), Decimal(s["target"]), s["targetShare"]]
            for s in statuses
        ],
    }  # fmt: skip


# -- what the files hold ----------------------------------------------------------------------------------------
def csv_same(cell: str, want: Any) -> bool:
    """A CSV cell (text) says the API's value: empty for null, the number (exactly: the same float or decimal), the date."""
    if want is None:
        return cell == ""
    if isinstance(want, bool):
        return False
    if isinstance(want, int):
        return cell == str(want)
    if isinstance(want, float):
        return Fraction(cell) == Fraction(repr(want))
    if isinstance(want, Decimal):
        return Decimal(cell) == want
    if isinstance(want, date):
        return cell == want.isoformat()
    return cell == want


def xlsx_same(cell: Any, want: Any) -> bool:
    """A workbook cell says the API's value: absent for null, a number (a decimal written as a float), a date cell."""
    if want is None:
        return cell is None
    if isinstance(want, (int, float, Decimal)):
        return isinstance(cell, (int, float)) and not isinstance(cell, bool) and float(cell) == float(want)
    if isinstance(want, date):
        return isinstance(cell, datetime) and cell.date() == want
    return cell == want


def parse_csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8" and response.headers["cache-control"] == "no-store"
    assert response.content.startswith(b"\xef\xbb\xbf"), "no byte order mark"
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


def compare(rows: list[list[Any]], want: list[list[Any]], same: Any, where: str) -> None:
    assert len(rows) == len(want), f"{where}: {len(rows)} rows, the API has {len(want)}: {rows} vs {want}"
    for i, (row, expected) in enumerate(zip(rows, want, strict=True)):
        row = list(row) + [None] * (len(expected) - len(row))  # a workbook row may stop at its last written cell
        wrong = [(HEADERS_FLAT[where.split(":")[0]][j], row[j], expected[j]) for j in range(len(expected)) if not same(row[j], expected[j])]
        assert len(row) == len(expected) and not wrong, f"{where}, row {i + 1}: (column, file, API) {wrong} in {row} vs {expected}"


HEADERS_FLAT = {**HEADERS, **{sheet: HEADERS[table] for table, sheet in zip(TABLES, SHEETS, strict=True)}}


async def fetch(api: Api, path: str, user: str | None, params: Json) -> httpx.Response:
    headers = {} if user is None else {"Authorization": f"Bearer {await api.token_for(user)}"}
    return await api.client.get(path, params={k: v for k, v in params.items() if v is not None}, headers=headers)


async def check_pack(api: Api, user: str, params: Json, want: dict[str, list[list[Any]]], where: str) -> openpyxl.Workbook:
    for table in TABLES:
        rows = parse_csv(await fetch(api, f"/reports/{table}.csv", user, params))
        assert tuple(rows[0]) == HEADERS[table], f"{table}.csv header: {rows[0]}"
        compare(rows[1:], want[table], csv_same, f"{table}: {table}.csv {where}")
    response = await fetch(api, "/reports/pack.xlsx", user, params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert tuple(book.sheetnames) == SHEETS
    for table, sheet in zip(TABLES, SHEETS, strict=True):
        rows = list(book[sheet].iter_rows(values_only=True))
        assert rows[0] == HEADERS[table], f"{sheet} header: {rows[0]}"
        compare(rows[1:], want[table], xlsx_same, f"{sheet}: pack.xlsx {where}")
    return book


# -- 1. the property --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ask:
    unit: int | None  # None: the default (the caller's own unit)
    resolution: int | None
    period: str | None


def periods(today: date) -> list[str]:
    previous = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    return [previous, today.strftime("%Y-%m"), f"{today.year}-Q{(today.month - 1) // 3 + 1}", str(today.year - 1)]


@st.composite
def cases(draw: st.DrawFn) -> tuple[World, tuple[Ask, ...]]:
    w = draw(worlds(max_units=8, max_works=10))
    asks = st.builds(Ask, unit=st.none() | st.integers(0, len(w.parents) - 1), resolution=st.none() | st.integers(0, len(w.resolutions) - 1),
                     period=st.none() | st.sampled_from(periods(w.today)))  # fmt: skip
    return w, tuple(draw(asks) for _ in w.personas)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=cases())
def test_every_file_says_what_the_api_says(backend: Backend, case: tuple[World, tuple[Ask, ...]]) -> None:
    world, asks = case
    Clock.current = world.today

    async def run() -> None:
        async with running_app(backend.settings, engine=backend.engine) as api:
            pks = await load(api, world)
            for n, ask in enumerate(asks):
                p, user = world.personas[n], f"user{n}"
                u = p.own if ask.unit is None else ask.unit
                params = {"unit": None if ask.unit is None else world.code(ask.unit), "resolution": None if ask.resolution is None else f"R{ask.resolution}",
                          "period": ask.period}  # fmt: skip
                where = f"for user{n} {p} with {params} (today {world.today})"
                if u not in world.readable_units(p):
                    event("reports: unit out of scope")
                    for path in [f"/reports/{t}.csv" for t in TABLES] + ["/reports/pack.xlsx"]:
                        response = await fetch(api, path, user, params)
                        assert (response.status_code, response.json()) == (404, {"error": "NOT_FOUND", "message": "no such unit in your scope", "field": "unit"}), f"{path} {where}"
                    continue
                if ask.resolution is not None and not world.readable_resolution(p, ask.resolution):
                    event("reports: resolution out of scope")
                    for path in [f"/reports/{t}.csv" for t in TABLES] + ["/reports/pack.xlsx"]:
                        response = await fetch(api, path, user, params)
                        assert (response.status_code, response.json()["field"]) == (404, "resolution"), f"{path} {where}"
                    continue
                want = await api_tables(api, user, None if ask.unit is None else gid(pks, "Unit", ask.unit), ask.period,
                                        None if ask.resolution is None else gid(pks, "Resolution", ask.resolution))  # fmt: skip
                event(f"reports: {sum(bool(rows) for rows in want.values())} tables with rows, {'some' if want['warnings'] else 'no'} warnings")
                await check_pack(api, user, params, want, where)

    asyncio.run(run())


# -- 2. examples ------------------------------------------------------------------------------------------------
ADMIN = Persona(0, (("admin", 0),))


def day(n: int) -> date:
    return TODAY + timedelta(days=n)


def example_world() -> World:
    """Under P01 (Thành phố Hà Nội): overdue and stale work, a missed milestone, KPI values of every light."""
    works = (
        Work(0, 0, 1, "in_progress", 20, day(-90), day(-5), day(-5), None, None, (day(-40),)),
        Work(1, 0, 2, "completed", 100, day(-90), day(-20), day(-20), day(-25), None, (date(2025, 5, 3),)),
        Work(0, 1, 2, "not_started", 0, day(-60), day(60), day(60), None, None, ()),
    )
    kpis = (KpiDef(0, "increase", Decimal(50), Decimal(20), "growth", 0, "monthly"), KpiDef(0, "decrease", Decimal(30), Decimal(60), "people", 1, "monthly"))
    readings = (Reading(0, 1, "2025-05", Decimal("19.99")), Reading(0, 2, "2025-05", Decimal(20)), Reading(0, 2, "2025-04", Decimal(80)),
                Reading(1, 1, "2025-05", Decimal(30)), Reading(1, 2, "2025-04", Decimal("60.01")), Reading(1, 2, "2025-05", Decimal(45)))  # fmt: skip
    return World(today=TODAY, parents=(0, 0, 1), kinds=("central", "province", "commune"), archived=frozenset(),
                 personas=(ADMIN, Persona(1, (("viewer", 1),)), Persona(2, (("officer", 2),))), resolutions=((0, None), (1, 0), (1, None)),
                 tasks=(TaskDef(0, 1, frozenset(), None, day(30)), TaskDef(1, 1, frozenset(), None, day(30))),
                 milestones=((0, day(-3), None),), works=works, kpis=kpis, readings=readings)  # fmt: skip


def hue(argb: str) -> str:
    """The colour a fill reads as: green, yellow or red (a light tint of it)."""
    r, g, b = (int(argb[i : i + 2], 16) for i in (2, 4, 6))
    if g > r and g > b:
        return "green"
    if r > b and g > b and abs(r - g) < 40:
        return "yellow"
    return "red" if r > g and r > b else "?"


async def test_the_workbook_colours_every_light_and_still_says_the_word(api: Api) -> None:
    await load(api, example_world())
    want = await api_tables(api, "user0", None, None, None)
    assert {row[6] for row in want["kpi-lights"]} == {"green", "yellow", "red"} and {row[0] for row in want["warnings"]} == {"red", "yellow"}
    book = await check_pack(api, "user0", {}, want, "for the admin")
    for sheet, column in (("KPI lights", HEADERS["kpi-lights"].index("light")), ("Warnings", HEADERS["warnings"].index("severity"))):
        cells = list(book[sheet].iter_rows(min_row=2))
        assert cells
        for row in cells:
            word, fill = row[column].value, row[column].fill
            assert fill.fill_type == "solid" and hue(fill.fgColor.rgb) == word, f"{sheet}: the {word!r} cell has fill {fill.fill_type} {fill.fgColor.rgb}"
            others = [c.fill.fill_type for i, c in enumerate(row) if i != column]
            assert others == [None] * len(others), f"{sheet}: only the light is coloured: {others}"
    for sheet in SHEETS:
        header = next(book[sheet].iter_rows(max_row=1))
        assert all(c.font.b for c in header), f"{sheet}: the header is bold"
        assert book[sheet].freeze_panes == "A2", f"{sheet}: the header stays in view"
    due = [r for r in book["Warnings"].iter_rows(min_row=2, values_only=True) if r[6] is not None]
    assert due and all(isinstance(r[6], datetime) for r in due), "due dates are dates"


async def test_file_names_types_and_vietnamese_names(api: Api) -> None:
    await load(api, example_world())
    response = await fetch(api, "/reports/progress.csv", "user1", {"period": "2025-Q2"})
    assert response.headers["content-disposition"] == 'attachment; filename="resolute-U01-2025-Q2-progress.csv"'
    rows = parse_csv(response)
    assert [r[:3] for r in rows[1:]] == [["U01", "Đơn vị U01", "whole subtree"], ["U02", "Đơn vị U02", "child"]]
    response = await fetch(api, "/reports/pack.xlsx", "user1", {"resolution": "R1"})
    assert response.headers["content-disposition"] == 'attachment; filename="resolute-U01-2025-05-pack.xlsx"'  # the default period: May
    assert response.headers["cache-control"] == "no-store"
    kpi_names = {r[1] for r in parse_csv(await fetch(api, "/reports/kpi-lights.csv", "user0", {}))[1:]}
    assert kpi_names == {"Chỉ tiêu 0", "Chỉ tiêu 1"}


# -- 3. refusals ------------------------------------------------------------------------------------------------
PATHS = [f"/reports/{t}.csv" for t in TABLES] + ["/reports/pack.xlsx"]


def problem(response: httpx.Response) -> tuple[int, str, str | None]:
    body = response.json()
    assert response.headers["content-type"].startswith("application/json") and set(body) <= {"error", "message", "field"}, body
    assert isinstance(body["message"], str) and body["message"], body
    return response.status_code, body["error"], body.get("field")


async def test_refusals_are_json_naming_what_is_wrong(api: Api) -> None:
    w = example_world()
    w = World(**{**w.__dict__, "personas": (*w.personas, Persona(1, ()), Persona(1, (("viewer", 1),)))})  # user3: no grant; user4: deactivated below
    await load(api, w)
    token = await api.token_for("user4")
    async with api.engine.begin() as conn:
        await conn.execute(update(User).where(User.username == "user4").values(active=False))
    for path in PATHS:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic dXNlcjA6eA=="}, {"Authorization": f"Bearer {token}"}):
            response = await api.client.get(path, headers=headers)
            assert problem(response) == (401, "UNAUTHENTICATED", None) and response.headers["www-authenticate"] == "Bearer", f"{path} {headers}"
        cases = [
            ("user1", {"unit": "U00"}, (404, "NOT_FOUND", "unit")),  # above the viewer's grant
            ("user2", {"unit": "U01"}, (404, "NOT_FOUND", "unit")),  # above the officer's grant
            ("user0", {"unit": "NO-SUCH-UNIT"}, (404, "NOT_FOUND", "unit")),
            ("user3", {}, (404, "NOT_FOUND", "unit")),  # its own unit, but no grant
            ("user0", {"resolution": "NO-SUCH"}, (404, "NOT_FOUND", "resolution")),
            ("user2", {"resolution": "R2"}, (404, "NOT_FOUND", "resolution")),  # issued at U01, nothing of it handed to U02
            ("user0", {"period": "2025-13"}, (400, "INVALID", "period")),
            ("user0", {"period": "2025-Q5"}, (400, "INVALID", "period")),
            ("user0", {"period": "25"}, (400, "INVALID", "period")),
            ("user0", {"period": "2025-07-01"}, (400, "INVALID", "period")),
            ("user1", {"period": "2025-13", "unit": "U00"}, (400, "INVALID", "period")),  # the period first, whatever the unit
            ("user0", {"unit": "U" * 81}, (400, "INVALID", "unit")),
            ("user0", {"resolution": "R\x000"}, (400, "INVALID", "resolution")),
        ]
        for user, params, want in cases:
            assert problem(await fetch(api, path, user, params)) == want, f"{path} {user} {params}"
    # what the officer may read it gets: its own unit, and the resolutions handed down to it (R0 by U02's task of it)
    for code in ("R0", "R1"):
        assert (await fetch(api, "/reports/warnings.csv", "user2", {"resolution": code})).status_code == 200
        assert (await fetch(api, "/reports/pack.xlsx", "user1", {"resolution": code, "unit": "U02"})).status_code == 200
    response = await fetch(api, "/reports/nothing.csv", "user0", {})
    assert problem(response)[:2] == (404, "NOT_FOUND")
    unknown = await api.client.get(f"/reports/progress.csv?unit={encode_id('Unit', 1)}", headers={"Authorization": f"Bearer {await api.token_for('user0')}"})
    assert problem(unknown) == (404, "NOT_FOUND", "unit")  # a unit is named by its code, not its global id


async def test_texts_that_look_like_formulas_stay_text_in_the_workbook(api: Api) -> None:
    """A unit name, a milestone title, a task or KPI name are typed by users (a commune's manager titles its milestones);
    the workbook must show them as the text they are. xlsxwriter's `write()` turns a string that begins with '=' into a
    formula unless the workbook says strings_to_formulas=False: a title '=HYPERLINK("http://…","…")' becomes a live link
    in the pack every leader above that commune opens. The CSV files carry them behind an apostrophe (OWASP's advice
    against CSV injection), which spreadsheets show as text."""
    pks = await load(api, example_world())
    planted = {"unit": "=1+2", "milestone": '=HYPERLINK("http://example.invalid/?leak","open")', "kpi": "=SUM(1,2)"}
    async with api.engine.begin() as conn:
        await conn.execute(update(Unit).where(Unit.id == pks["Unit"][2]).values(name=planted["unit"]))
        await conn.execute(update(Milestone).values(title=planted["milestone"]))
        await conn.execute(update(Kpi).where(Kpi.id == pks["Kpi"][0]).values(name=planted["kpi"]))
    texts = {cell for table in TABLES for row in parse_csv(await fetch(api, f"/reports/{table}.csv", "user0", {}))[1:] for cell in row}
    assert {"'" + text for text in planted.values()} <= texts  # the files carry them, guarded
    assert not set(planted.values()) & texts, "a CSV cell a spreadsheet would run as a formula"
    response = await fetch(api, "/reports/pack.xlsx", "user0", {})
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    found = {(sheet, c.coordinate): (c.value, c.data_type) for sheet in SHEETS for row in book[sheet].iter_rows() for c in row if c.value in planted.values()}
    assert {value for value, _ in found.values()} == set(planted.values())
    assert {where: kind for where, (_, kind) in found.items() if kind != "s"} == {}, "formulas in the workbook"


async def test_the_warnings_reasons_follow_accept_language_as_the_api_does(api: Api) -> None:
    w = example_world()
    await load(api, w)
    token = await api.token_for("user0")
    reasons: dict[str, list[str]] = {}
    for accept in ("en", "vi"):
        headers = {"Authorization": f"Bearer {token}", "Accept-Language": accept}
        rows = parse_csv(await api.client.get("/reports/warnings.csv", headers=headers))
        listed = (await api.client.post("/graphql", json={"query": "{ warnings(first: 100) { nodes { reason } } }"}, headers=headers)).json()
        assert [r[-1] for r in rows[1:]] == [x["reason"] for x in listed["data"]["warnings"]["nodes"]], accept
        assert rows[0] == list(HEADERS["warnings"])  # column names stay: they are the stable part
        reasons[accept] = [r[-1] for r in rows[1:]]
    assert len(reasons["vi"]) >= 3 and all(v != e for v, e in zip(reasons["vi"], reasons["en"], strict=True))
    assert any(r.startswith("quá hạn") for r in reasons["vi"])
