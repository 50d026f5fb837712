"""Reporting discipline, progress and KPI series, and the rankings by discipline and green share, on SQLite and
PostgreSQL, with today pinned.

1. Property: random small worlds (tests/monitoring_world.py). For every user, with a random period (a month, a quarter,
   a year, or the default: the last complete month) and resolution:
   - reportingDiscipline of every unit and of its own (by default): the subtree's figures and every shown child's;
   - ranking by two random (metric, thenBy) of GREEN_SHARE, REPORTING_COMPLETENESS, REPORTING_TIMELINESS and
     DISCIPLINE_INDEX: the children of every unit that has some, and the units of every kind; values, ranks (ties share
     a rank, the next skips), order, rankedCount, quartiles, and the discipline and lights of every entry;
   - progressSeries of every unit (random granularity, since, until and filter) and kpiSeries of every KPI under every
     unit (random `last`);
   equal the plain-Python oracle over the rows the user may read. Rates are exact fractions: on PostgreSQL the API's
   value is the fraction rounded half away from zero, on SQLite within half a unit of the last place.
2. Examples: periods on their edges (the grace days, the UTC day of an acknowledgement, an assignment completed the day
   before a period), typed errors for bad periods and ranges, what is out of scope; the rates summed in Python round
   half away from zero like every other figure; a ranking's discipline honours its whole filter.
3. Statement counts: reportingDiscipline, progressSeries, kpiSeries and a discipline ranking cost the same number of
   statements under a unit with 2 children as under one with 10 (and 5 times the rows), with and without a resolution.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from resolute.schema.ids import encode_id
from tests.monitoring_world import (
    GROUPS,
    ICT,
    TODAYS,
    Clock,
    KpiDef,
    Persona,
    Reading,
    TaskDef,
    Work,
    World,
    agrees,
    check_discipline_figures,
    check_light_counts,
    discipline_figures,
    gid,
    last_complete_month,
    light_counts,
    load,
    period_bounds,
    pin_today,
    ratio,
    rounded,
    worlds,
)
from tests.support import Api, Backend, StatementCounter, running_app

Json = dict[str, Any]
TODAY = TODAYS[0]
MAX_ALIASES = 24
RANK_METRICS: dict[str, tuple[str, str]] = {  # metric -> (where an entry shows it, the figure)
    "GREEN_SHARE": ("lights", "greenShare"),
    "REPORTING_COMPLETENESS": ("discipline", "completeness"),
    "REPORTING_TIMELINESS": ("discipline", "timeliness"),
    "DISCIPLINE_INDEX": ("discipline", "disciplineIndex"),
}

DISCIPLINE = ("fragment D on DisciplineFigures { expected received onTime assigned acknowledged acknowledgedInTime"
              " completeness timeliness averageAckDays disciplineIndex }")  # fmt: skip
ROLLUP = "fragment R on DisciplineRollup { unit { code } period figures { ...D } children { unit { code } figures { ...D } } }"
RANKING = ("fragment K on Ranking { metric thenBy rankedCount lowerQuartile median upperQuartile entries { rank value unit { code }"
           " lights { green yellow red measured greenShare } discipline { ...D } } }")  # fmt: skip
POINT = "period assigned due completed completedOnTime cumulativeAssigned cumulativeCompleted cumulativeCompletionRate"
KPI_POINT = "period units average lowest highest green yellow red ownValue"


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    pin_today(monkeypatch)
    monkeypatch.setattr(Clock, "current", TODAY)


def exact(api: Api) -> bool:
    return api.engine.dialect.name == "postgresql"


def unit_arg(pks: dict[str, dict[int, int]], u: int | None, name: str = "unit") -> str:
    return "" if u is None else f'{name}: "{gid(pks, "Unit", u)}", '


def chunks(items: list[Any], size: int = MAX_ALIASES) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# -- what a user asks -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ask:
    period: str | None  # None: the default, the last complete month
    resolution: int | None
    orders: tuple[tuple[str, str | None], ...]
    group: str | None  # the rankings' kpiGroup (not with a discipline metric: see test_discipline_rankings_ignore_...)
    granularity: str
    since: date | None
    until: date | None
    due_from: date | None
    due_to: date | None
    last: int

    def bounds(self, today: date) -> tuple[str, date, date]:
        start, _ = last_complete_month(today)
        period = self.period or start.strftime("%Y-%m")
        return (period, *period_bounds(period))


def periods_around(today: date) -> list[str]:
    months = []
    first = today.replace(day=1)
    for _ in range(5):
        months.append(first.strftime("%Y-%m"))
        first = (first - timedelta(days=1)).replace(day=1)
    quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    previous = f"{today.year - 1}-Q4" if today.month <= 3 else f"{today.year}-Q{(today.month - 1) // 3}"
    return months + [quarter, previous, str(today.year), str(today.year - 1)]


@st.composite
def asks(draw: st.DrawFn, w: World) -> Ask:
    maybe = lambda s: st.one_of(st.none(), st.none(), s)
    metrics = sorted(RANK_METRICS)
    orders = tuple((m, draw(st.none() | st.sampled_from(metrics))) for m in draw(st.lists(st.sampled_from(metrics), min_size=2, max_size=2, unique=True)))
    since = draw(maybe(st.integers(0, 400).map(lambda d: w.today - timedelta(days=d))))
    until = draw(maybe(st.integers(-60, 30).map(lambda d: w.today + timedelta(days=d))))
    if since is not None and until is not None and since > until:
        since, until = until, since
    dues = maybe(st.integers(-60, 90).map(lambda d: w.today + timedelta(days=d)))
    due_from, due_to = draw(dues), draw(dues)
    if due_from is not None and due_to is not None and due_from > due_to:
        due_from, due_to = due_to, due_from
    return Ask(
        period=draw(st.none() | st.sampled_from(periods_around(w.today))), resolution=draw(maybe(st.integers(0, len(w.resolutions) - 1))),
        orders=orders, group=draw(maybe(st.sampled_from((*GROUPS, "unused")))), granularity=draw(st.sampled_from(("MONTH", "QUARTER"))),
        since=since, until=until, due_from=due_from, due_to=due_to, last=draw(st.integers(1, 5)),
    )  # fmt: skip


@st.composite
def cases(draw: st.DrawFn) -> tuple[World, tuple[Ask, ...]]:
    w = draw(worlds())
    return w, tuple(draw(asks(w)) for _ in w.personas)


# -- reporting discipline ---------------------------------------------------------------------------------------
async def check_discipline(api: Api, w: World, pks: dict[str, dict[int, int]], n: int, ask: Ask) -> None:
    p, user = w.personas[n], f"user{n}"
    period, start, end = ask.bounds(w.today)
    who = f"user{n} {p} in {period} (today {w.today}), resolution {ask.resolution}"
    asked: list[int | None] = [None, *range(len(w.parents))]
    variables = {"p": ask.period, "r": None if ask.resolution is None else gid(pks, "Resolution", ask.resolution)}
    for chunk in chunks(asked):
        fields = " ".join(f"d{i}: reportingDiscipline({unit_arg(pks, u)}period: $p, resolution: $r) {{ ...R }}" for i, u in enumerate(chunk))
        got = await api.data(f"query($p: String, $r: ID) {{ {fields} }} {ROLLUP} {DISCIPLINE}", variables, as_user=user)
        for i, u in enumerate(chunk):
            unit_ = p.own if u is None else u
            where, found = f"reportingDiscipline(unit: {'default ' if u is None else ''}{w.code(unit_)}) for {who}", got[f"d{i}"]
            if unit_ not in w.readable_units(p):
                assert found is None, f"{where}: out of scope, got {found}"
                continue
            assert found is not None and (found["unit"]["code"], found["period"]) == (w.code(unit_), period), f"{where}: {found}"

            def figures(c: int) -> Json:
                return discipline_figures((work for _, work in w.works_under(p, c, ask.resolution)), start, end)

            want = figures(unit_)
            event(f"discipline: {'nothing expected' if not want['expected'] else 'some received' if want['received'] else 'none received'}")
            check_discipline_figures(found["figures"], want, exact(api), where)
            shown = w.shown_children(p, unit_)
            assert [c["unit"]["code"] for c in found["children"]] == [w.code(c) for c in shown], f"{where}: children"
            for c, child in zip(found["children"], shown, strict=True):
                check_discipline_figures(c["figures"], figures(child), exact(api), f"{where} > {w.code(child)}")


# -- rankings ---------------------------------------------------------------------------------------------------
def canonical(value: Fraction | None, places: int = 4) -> Fraction | None:
    return None if value is None else rounded(value, places)


def check_ranking(got: Json | None, entries: list[tuple[str, Json]] | None, metric: str, then_by: str | None, exact_: bool, where: str) -> None:
    """`entries`: (code, {"discipline": figures, "lights": counts}) of every unit that should be ranked (None: a null ranking)."""
    if entries is None:
        assert got is None, f"{where}: a ranking of the children of a unit out of scope: {got}"
        return
    assert got is not None and (got["metric"], got["thenBy"]) == (metric, then_by), f"{where}: {got}"
    wanted = {RANK_METRICS[m][0] for m in (metric, then_by) if m}
    by_code = dict(entries)
    assert sorted(e["unit"]["code"] for e in got["entries"]) == sorted(by_code), f"{where}: ranked units"
    for e in got["entries"]:
        want, code = by_code[e["unit"]["code"]], e["unit"]["code"]
        source, figure = RANK_METRICS[metric]
        assert agrees(e["value"], want[source][figure], 4, exact_), f"{where} > {code}: value {e['value']}, want {want[source][figure]}"
        for name, check in (("discipline", check_discipline_figures), ("lights", check_light_counts)):
            if name in wanted:
                check(e[name], want[name], exact_, f"{where} > {code} > {name}")
            else:
                assert e[name] is None, f"{where} > {code}: {name} counted though no metric needs it"

    # the order: by value (as the API shows it, checked above), then by thenBy (the oracle's, rounded), then by code
    def key(e: Json) -> tuple[Any, ...]:
        value = None if e["value"] is None else Fraction(repr(e["value"]))
        parts: list[Any] = [value is None, -(value or 0)]
        if then_by:
            source, figure = RANK_METRICS[then_by]
            second = canonical(by_code[e["unit"]["code"]][source][figure])
            parts += [second is None, -(second or 0)]
        return tuple(parts)

    ordered = sorted(got["entries"], key=lambda e: (key(e), e["unit"]["code"]))
    assert [e["unit"]["code"] for e in got["entries"]] == [e["unit"]["code"] for e in ordered], f"{where}: order by {metric} then {then_by}"
    for e in got["entries"]:
        want_rank = None if e["value"] is None else 1 + sum(key(o) < key(e) for o in got["entries"])
        assert e["rank"] == want_rank, f"{where} > {e['unit']['code']}: rank {e['rank']}, want {want_rank}"
    values = sorted(Fraction(repr(e["value"])) for e in got["entries"] if e["value"] is not None)
    assert got["rankedCount"] == len(values), where
    quarts = [values[0] if values else None] * 3 if len(values) < 2 else statistics.quantiles(values, n=4, method="inclusive")
    stats = [got["lowerQuartile"], got["median"], got["upperQuartile"]]
    assert all(agrees(g, q, 4, False) for g, q in zip(stats, quarts, strict=True)), f"{where}: quartiles {stats}, want {[str(q) for q in quarts]}"


async def check_rankings(api: Api, w: World, pks: dict[str, dict[int, int]], n: int, ask: Ask) -> None:
    p, user = w.personas[n], f"user{n}"
    _, start, end = ask.bounds(w.today)
    units = w.readable_units(p)
    parents = sorted(set(w.parents) | {len(w.parents) - 1})  # every unit with children, and a leaf
    kinds = ["central", "province", "commune", "department", "cell"]
    for metric, then_by in ask.orders:
        discipline_wanted = any(RANK_METRICS[m][0] == "discipline" for m in (metric, then_by) if m)
        group = None if discipline_wanted else ask.group
        flt = {"resolution": None if ask.resolution is None else gid(pks, "Resolution", ask.resolution), "kpiGroup": group}
        who = f"user{n} {p}, ranking by {metric} then {then_by}, period {ask.period}, resolution {ask.resolution}, group {group} (today {w.today})"

        def figures(u: int, group: str | None = group) -> Json:
            return {"discipline": discipline_figures((work for _, work in w.works_under(p, u, ask.resolution)), start, end),
                    "lights": light_counts(w, w.latest_readings(p, u, ask.resolution, group))}  # fmt: skip

        fields = [f'c{i}: ranking(metric: $m, thenBy: $t, childrenOf: "{gid(pks, "Unit", u)}", filter: $f, period: $p) {{ ...K }}' for i, u in enumerate(parents)]
        fields += [f'k{i}: ranking(metric: $m, thenBy: $t, kind: "{kind}", filter: $f, period: $p) {{ ...K }}' for i, kind in enumerate(kinds)]
        got: Json = {}
        for chunk in chunks(fields):
            query = f"query($m: RankingMetric!, $t: RankingMetric, $f: ProgressFilterInput, $p: String) {{ {' '.join(chunk)} }} {RANKING} {DISCIPLINE}"
            got |= await api.data(query, {"m": metric, "t": then_by, "f": flt, "p": ask.period}, as_user=user)
        for i, u in enumerate(parents):
            entries = None if u not in units else [(w.code(c), figures(c)) for c in w.shown_children(p, u)]
            check_ranking(got[f"c{i}"], entries, metric, then_by, exact(api), f"ranking(childrenOf: {w.code(u)}) for {who}")
        for i, kind in enumerate(kinds):
            entries = [(w.code(u), figures(u)) for u in sorted(units - w.archived) if w.kinds[u] == kind]
            if len(entries) > 1 and len({e["value"] for e in got[f"k{i}"]["entries"]}) < len(entries):
                event("ranking: ties")
            check_ranking(got[f"k{i}"], entries, metric, then_by, exact(api), f"ranking(kind: {kind}) for {who}")


# -- progress series --------------------------------------------------------------------------------------------
def period_names(since: date, until: date, granularity: str) -> list[tuple[str, date, date]]:
    """(name, first day, first day of the next) of each month or quarter from since's to until's."""
    step = 1 if granularity == "MONTH" else 3
    year, month = since.year, (since.month - 1) // step * step + 1
    names = []
    while date(year, month, 1) <= until:
        start = date(year, month, 1)
        nyear, nmonth = (year + 1, month + step - 12) if month + step > 12 else (year, month + step)
        name = f"{year}-{month:02d}" if step == 1 else f"{year}-Q{(month - 1) // 3 + 1}"
        names.append((name, start, date(nyear, nmonth, 1)))
        year, month = nyear, nmonth
    return names


def series_points(w: World, p: Persona, u: int, ask: Ask) -> list[Json]:
    until = ask.until or w.today
    since = ask.since or date(until.year - 1, until.month, 1)
    rows = [
        work for _, work in w.works_under(p, u, ask.resolution)
        if work.status != "cancelled" and (ask.due_from is None or work.due >= ask.due_from) and (ask.due_to is None or work.due <= ask.due_to)
    ]  # fmt: skip
    done = [work for work in rows if work.status == "completed" and work.completed_on is not None]
    points = []
    for name, start, end in period_names(since, until, ask.granularity):
        completed = [work for work in done if start <= work.completed_on < end]  # type: ignore[operator]
        cum_assigned, cum_completed = sum(work.assigned_on < end for work in rows), sum(work.completed_on < end for work in done)  # type: ignore[operator]
        points.append({
            "period": name, "assigned": sum(start <= work.assigned_on < end for work in rows), "due": sum(start <= work.due < end for work in rows),
            "completed": len(completed), "completedOnTime": sum(work.completed_on <= work.original_due for work in completed),  # type: ignore[operator]
            "cumulativeAssigned": cum_assigned, "cumulativeCompleted": cum_completed, "cumulativeCompletionRate": ratio(cum_completed, cum_assigned),
        })  # fmt: skip
    return points


def check_points(got: list[Json], want: list[Json], exact_: bool, where: str, places: dict[str, int]) -> None:
    assert [g["period"] for g in got] == [x["period"] for x in want], f"{where}: periods {[g['period'] for g in got]}, want {[x['period'] for x in want]}"
    for g, x in zip(got, want, strict=True):
        wrong = [k for k in x if not (agrees(g[k], x[k], places[k], exact_) if k in places else g[k] == x[k])]
        assert not wrong, f"{where} > {x['period']}: {wrong} differ: got {g}, want {x}"


async def check_series(api: Api, w: World, pks: dict[str, dict[int, int]], n: int, ask: Ask) -> None:
    p, user = w.personas[n], f"user{n}"
    who = f"user{n} {p}, {ask} (today {w.today})"
    units = w.readable_units(p)
    flt = {"resolution": None if ask.resolution is None else gid(pks, "Resolution", ask.resolution),
           "dueFrom": ask.due_from and ask.due_from.isoformat(), "dueTo": ask.due_to and ask.due_to.isoformat()}  # fmt: skip
    asked: list[int | None] = [None, *range(len(w.parents))]
    variables = {"f": flt, "g": ask.granularity, "s": ask.since and ask.since.isoformat(), "u": ask.until and ask.until.isoformat()}
    for chunk in chunks(asked):
        fields = " ".join(f"s{i}: progressSeries({unit_arg(pks, u)}filter: $f, granularity: $g, since: $s, until: $u) {{ {POINT} }}" for i, u in enumerate(chunk))
        got = await api.data(f"query($f: ProgressFilterInput, $g: Granularity!, $s: Date, $u: Date) {{ {fields} }}", variables, as_user=user)
        for i, u in enumerate(chunk):
            unit_ = p.own if u is None else u
            where = f"progressSeries(unit: {'default ' if u is None else ''}{w.code(unit_)}) for {who}"
            want = [] if unit_ not in units else series_points(w, p, unit_, ask)
            if want and want[-1]["cumulativeAssigned"]:
                event("progressSeries: some assigned")
            check_points(got[f"s{i}"], want, exact(api), where, {"cumulativeCompletionRate": 4})

    # kpiSeries of every KPI under every unit (and the caller's own)
    pairs = [(k, u) for k in range(len(w.kpis)) for u in [None, *range(len(w.parents))]]
    for chunk in chunks(pairs):
        fields = " ".join(f'k{i}: kpiSeries(kpi: "{gid(pks, "Kpi", k)}", {unit_arg(pks, u)}last: $l) {{ {KPI_POINT} }}' for i, (k, u) in enumerate(chunk))
        got = await api.data(f"query($l: Int!) {{ {fields} }}", {"l": ask.last}, as_user=user)
        for i, (k, u) in enumerate(chunk):
            unit_ = p.own if u is None else u
            where = f"kpiSeries(K{k}, unit: {'default ' if u is None else ''}{w.code(unit_)}, last: {ask.last}) for {who}"
            want = kpi_points(w, p, k, unit_, ask.last)
            if want and any(x["units"] > 1 for x in want):
                event("kpiSeries: several units in a period")
            check_points(got[f"k{i}"], want, exact(api), where, {"average": 2, "lowest": 2, "highest": 2, "ownValue": 2})


def kpi_points(w: World, p: Persona, k: int, u: int, last: int) -> list[Json]:
    if not (w.readable_kpi(p, k) and u in w.readable_units(p)):
        return []
    readings = [r for m, r in enumerate(w.readings) if r.kpi == k and r.unit in w.subtrees[u] and w.readable_reading(p, m)]
    points = []
    for period in sorted({r.period for r in readings})[-last:]:
        values = [r for r in readings if r.period == period]
        lights = [w.light(k, r.value) for r in values]
        own = [r.value for r in values if r.unit == u]
        points.append({
            "period": period, "units": len(values), "average": Fraction(sum(Fraction(str(r.value)) for r in values), len(values)),
            "lowest": min(r.value for r in values), "highest": max(r.value for r in values),
            "green": lights.count("green"), "yellow": lights.count("yellow"), "red": lights.count("red"), "ownValue": own[0] if own else None,
        })  # fmt: skip
    return points


# -- 1. the property --------------------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=cases())
def test_discipline_series_and_rankings_equal_the_oracle_over_what_each_user_may_read(backend: Backend, case: tuple[World, tuple[Ask, ...]]) -> None:
    world, asks_ = case
    Clock.current = world.today

    async def run() -> None:
        async with running_app(backend.settings, engine=backend.engine) as api:
            pks = await load(api, world)
            for n, ask in enumerate(asks_):
                await check_discipline(api, world, pks, n, ask)
                await check_rankings(api, world, pks, n, ask)
                await check_series(api, world, pks, n, ask)

    asyncio.run(run())


# -- 2. examples ------------------------------------------------------------------------------------------------
ADMIN = Persona(0, (("admin", 0),))


def day(n: int) -> date:
    return TODAY + timedelta(days=n)


def on(d: date, **kw: Any) -> Work:
    """An in-progress assignment to U01 from the root, assigned on d, due in 60 days."""
    base = {"task": 0, "assigner": 0, "assignee": 1, "status": "in_progress", "progress": 50, "assigned_on": d, "original_due": day(60),
            "due": day(60), "completed_on": None, "acknowledged_at": None, "reports": ()}  # fmt: skip
    return Work(**{**base, **kw})


def single(works: list[Work], **kw: Any) -> World:
    tasks = tuple(TaskDef(0, 0, frozenset(), None, day(90)) for _ in works)
    base = {"today": TODAY, "parents": (0, 0), "kinds": ("central", "province"), "archived": frozenset(), "personas": (ADMIN,),
            "resolutions": ((0, None),), "tasks": tasks, "milestones": (), "works": tuple(Work(**{**w.__dict__, "task": t}) for t, w in enumerate(works)),
            "kpis": (), "readings": ()}  # fmt: skip
    return World(**{**base, **kw})


MAY = (date(2025, 5, 1), date(2025, 6, 1))
DISCIPLINE_QUERY = f"query($u: ID, $p: String, $r: ID) {{ reportingDiscipline(unit: $u, period: $p, resolution: $r) {{ ...R }} }} {ROLLUP} {DISCIPLINE}"


async def test_discipline_on_the_edges_of_a_period(api: Api) -> None:
    """May 2025 (the default: today is June 15): the grace days, completions the day before it began and on its first day,
    assignments the day after it ended, acknowledgements on the 7th and 8th day, one in Indochina time."""
    before, first, last_day = date(2025, 4, 30), date(2025, 5, 1), date(2025, 5, 31)
    works = {
        "report on its last day": on(before, reports=(last_day,)),  # received and on time
        "report 5 days after": on(before, reports=(date(2025, 6, 5),)),  # received (grace), not on time
        "report 6 days after": on(before, reports=(date(2025, 6, 6),)),  # neither
        "report the day before": on(before, reports=(before,)),  # neither
        "completed the day before": on(before, status="completed", progress=100, completed_on=before, reports=(first,)),  # not expected
        "completed on its first day": on(before, status="completed", progress=100, completed_on=first),  # expected, nothing received
        "cancelled": on(before, status="cancelled", reports=(first,)),  # not expected
        "assigned on its last day": on(last_day, acknowledged_at=datetime(2025, 6, 7, 23, tzinfo=UTC), reports=(last_day,)),  # acked in 7 days
        "acked on the 8th day": on(first, acknowledged_at=datetime(2025, 5, 9, 0, 30, tzinfo=UTC)),  # 8 days: not in time
        "acked in ICT": on(first, acknowledged_at=datetime(2025, 5, 9, 3, tzinfo=ICT)),  # 2025-05-08 20:00 UTC: 7 days, in time
        "assigned the day after": on(date(2025, 6, 1), reports=(date(2025, 6, 2),)),  # not expected, not assigned in May
        "acked the same day": on(date(2025, 5, 20), acknowledged_at=datetime(2025, 5, 20, 8, tzinfo=UTC)),
    }
    w = single(list(works.values()))
    await load(api, w)
    want = discipline_figures(w.works, *MAY)
    assert (want["expected"], want["received"], want["onTime"], want["assigned"], want["acknowledged"], want["acknowledgedInTime"]) == (9, 3, 2, 4, 4, 3)
    got = await api.data(DISCIPLINE_QUERY, {}, as_user="user0")
    assert got["reportingDiscipline"]["period"] == "2025-05"
    check_discipline_figures(got["reportingDiscipline"]["figures"], want, exact(api), "the root in May")
    check_discipline_figures(got["reportingDiscipline"]["children"][0]["figures"], want, exact(api), "U01 in May")
    for period in ("2025-Q2", "2025", "2025-04", "2025-06", "2024"):
        got = await api.data(DISCIPLINE_QUERY, {"p": period}, as_user="user0")
        check_discipline_figures(got["reportingDiscipline"]["figures"], discipline_figures(w.works, *period_bounds(period)), exact(api), period)


async def test_the_index_leaves_out_a_part_with_nothing_to_count(api: Api) -> None:
    # U01: two expected, nothing assigned in May: the index is the mean of completeness (2/2: one report in the grace days)
    # and timeliness (1/2); U02: work assigned on June 1 only, nothing to count in May: no index; U03: all three parts
    works = [on(date(2025, 4, 1), reports=(date(2025, 5, 3),)), on(date(2025, 4, 2), assignee=1, reports=(date(2025, 6, 3),)),
             on(date(2025, 6, 1), assignee=2), on(date(2025, 5, 2), assignee=3, acknowledged_at=datetime(2025, 5, 3, tzinfo=UTC))]  # fmt: skip
    w = single(works, parents=(0, 0, 0, 0), kinds=("central", "province", "province", "province"))
    pks = await load(api, w)
    got = await api.data(DISCIPLINE_QUERY, {}, as_user="user0")
    children = {c["unit"]["code"]: c["figures"] for c in got["reportingDiscipline"]["children"]}
    for u in (1, 2, 3):
        check_discipline_figures(children[w.code(u)], discipline_figures([x for x in w.works if x.assignee == u], *MAY), exact(api), w.code(u))
    assert children["U01"]["disciplineIndex"] == 0.75 and children["U01"]["assigned"] == 0  # (1 + 1/2) / 2: the weights 0.4, 0.4 scaled up
    assert children["U02"]["disciplineIndex"] is None and children["U02"]["completeness"] is None
    ranking = await api.data(f'{{ ranking(metric: DISCIPLINE_INDEX, childrenOf: "{gid(pks, "Unit", 0)}") {{ entries {{ rank unit {{ code }} }} }} }}', as_user="user0")
    assert [(e["unit"]["code"], e["rank"]) for e in ranking["ranking"]["entries"]][-1] == ("U02", None)  # no index: no rank, last


def typed_errors(body: Json) -> list[tuple[str | None, str | None]]:
    return [(e.get("extensions", {}).get("code"), e.get("extensions", {}).get("field")) for e in body.get("errors") or []]


async def test_bad_periods_and_ranges_are_typed_errors_whatever_the_unit(api: Api) -> None:
    w = single([on(day(-40))], personas=(ADMIN, Persona(1, (("viewer", 1),))))
    pks = await load(api, w)
    root, kpi = gid(pks, "Unit", 0), encode_id("Kpi", 10**6)
    for period in ("2025-13", "2025-00", "2025-Q0", "2025-Q5", "202", "2025-7", "2025-07-01", "abcd", "", "2025-q3", "20251", "Q3-2025"):
        for user, unit in (("user0", None), ("user1", root)):  # the root is out of user1's scope: still an error
            body = await api.gql("query($p: String, $u: ID) { reportingDiscipline(unit: $u, period: $p) { period } }", {"p": period, "u": unit}, as_user=user)
            assert (typed_errors(body), body.get("data")) == ([("INVALID", "period")], {"reportingDiscipline": None}), f"{period!r} as {user}: {body}"
            body = await api.gql("query($p: String, $u: ID) { ranking(metric: DISCIPLINE_INDEX, childrenOf: $u, period: $p) { rankedCount } }",
                                 {"p": period, "u": unit or root}, as_user=user)  # fmt: skip
            assert typed_errors(body) == [("INVALID", "period")], f"ranking {period!r} as {user}: {body}"
    cases = [
        ('progressSeries(since: "2025-06-16", until: "2025-06-15")', ("OUT_OF_RANGE", "since")),
        ('progressSeries(since: "2015-06-01", until: "2025-06-15")', ("OUT_OF_RANGE", "since")),  # 121 months
        ('progressSeries(granularity: QUARTER, since: "1995-01-01", until: "2025-06-15")', ("OUT_OF_RANGE", "since")),  # 122 quarters
        ('progressSeries(filter: {dueFrom: "2025-06-02", dueTo: "2025-06-01"})', ("OUT_OF_RANGE", "filter.dueTo")),
        (f'progressSeries(unit: "{root}", filter: {{resolution: "{root}"}})', ("INVALID_ID", "filter.resolution")),
        (f'kpiSeries(kpi: "{kpi}", last: 0)', ("OUT_OF_RANGE", "last")),
        (f'kpiSeries(kpi: "{kpi}", last: 121)', ("OUT_OF_RANGE", "last")),
        (f'kpiSeries(kpi: "{root}")', ("INVALID_ID", "kpi")),
        (f'reportingDiscipline(unit: "{root}", resolution: "{root}")', ("INVALID_ID", "resolution")),
    ]
    for user in ("user0", "user1"):
        for field, want in cases:
            body = await api.gql(f"{{ {field} {{ period }} }}", as_user=user)
            assert typed_errors(body) == [want], f"{field} as {user}: {body}"
    # the edges: 120 months, since = until, a year as a period
    ok = await api.data('{ a: progressSeries(since: "2015-07-01", until: "2025-06-15") { period } b: progressSeries(since: "2025-06-15", until: "2025-06-15") { period }'
                        ' c: reportingDiscipline(period: "2024") { period } }', as_user="user0")  # fmt: skip
    assert (len(ok["a"]), ok["b"], ok["c"]) == (120, [{"period": "2025-06"}], {"period": "2024"})


async def test_what_is_out_of_scope_is_null_empty_or_counts_nothing(api: Api) -> None:
    # R0 at the root, R1 (implements R0) at U01, R2 at U02; U01's viewer reads R1 and R0, not R2; a KPI of R0 measured at U01 and U02
    works = [on(day(-50), reports=(date(2025, 5, 5),)), on(day(-50), assignee=2, reports=(date(2025, 5, 5),))]
    kpis = (KpiDef(0, "increase", Decimal(50), Decimal(20), "growth", 0, "monthly"),)
    readings = (Reading(0, 1, "2025-05", Decimal(60)), Reading(0, 2, "2025-05", Decimal(10)))
    w = single(works, parents=(0, 0, 0), kinds=("central", "province", "province"), personas=(ADMIN, Persona(1, (("viewer", 1),))),
               resolutions=((0, None), (1, 0), (2, None)), kpis=kpis, readings=readings)  # fmt: skip
    w = World(**{**w.__dict__, "tasks": (TaskDef(1, 0, frozenset(), None, day(90)), TaskDef(0, 0, frozenset(), None, day(90)))})
    pks = await load(api, w)
    root, u2 = gid(pks, "Unit", 0), gid(pks, "Unit", 2)
    kpi, r0, r1, r2 = gid(pks, "Kpi", 0), gid(pks, "Resolution", 0), gid(pks, "Resolution", 1), gid(pks, "Resolution", 2)
    for u in (root, u2, encode_id("Unit", 10**6)):
        got = await api.data(f'query($u: ID) {{ reportingDiscipline(unit: $u) {{ period }} progressSeries(unit: $u) {{ period }} kpiSeries(kpi: "{kpi}", unit: $u) {{ period }}'
                             f" ranking(metric: DISCIPLINE_INDEX, childrenOf: $u) {{ rankedCount }} }}", {"u": u}, as_user="user1")  # fmt: skip
        assert got == {"reportingDiscipline": None, "progressSeries": [], "kpiSeries": [], "ranking": None}, got
    # U01's viewer reads R1 (issued at U01) and so its work at U01, and R0 up the chain (R1 implements it): filtering by
    # R0 counts R0's family as U01 sees it, R1's work at U01 (R0's own task went to U02, out of sight); R2, U02's own,
    # it may not read: filtering by it counts nothing
    async def discipline(resolution: str) -> Any:
        query = "query($r: ID) { reportingDiscipline(resolution: $r) { figures { expected received } } }"
        return (await api.data(query, {"r": resolution}, as_user="user1"))["reportingDiscipline"]["figures"]

    assert await discipline(r1) == {"expected": 1, "received": 1}
    assert await discipline(r0) == {"expected": 1, "received": 1}
    assert await discipline(r2) == {"expected": 0, "received": 0}
    # the KPI of R0 is read by U01 (it has a target at U01, the measured unit); its series under U01 counts U01's value only
    series = await api.data(f'{{ kpiSeries(kpi: "{kpi}") {{ period units ownValue }} }}', as_user="user1")
    assert series["kpiSeries"] == [{"period": "2025-05", "units": 1, "ownValue": "60.00"}]
    everything = await api.data(f'{{ kpiSeries(kpi: "{kpi}") {{ units lowest highest ownValue }} }}', as_user="user0")
    assert everything["kpiSeries"] == [{"units": 2, "lowest": "10.00", "highest": "60.00", "ownValue": None}]


async def test_a_series_rounds_its_rate_as_the_rollup_does(api: Api) -> None:
    """32 assignments, one completed: 1/32 = 0.03125. progressRollup's completionRate (SQL) says 0.0313; progressSeries's
    cumulativeCompletionRate for the same assignments (Python's Decimal round, half to even) says 0.0312."""
    works = [on(day(-10 - i), progress=10) for i in range(31)] + [on(day(-5), status="completed", progress=100, completed_on=day(-1))]
    w = single(works)
    await load(api, w)
    got = await api.data('{ progressRollup { figures { completionRate } } progressSeries(since: "2025-06-01") { cumulativeCompletionRate } }', as_user="user0")
    assert rounded(Fraction(1, 32), 4) == Fraction(313, 10000)
    assert got["progressRollup"]["figures"]["completionRate"] == 0.0313
    assert got["progressSeries"] == [{"cumulativeCompletionRate": 0.0313}]


async def test_a_green_share_ranking_entry_agrees_with_itself(api: Api) -> None:
    """32 (KPI, unit) pairs under U01, one green: ranking(GREEN_SHARE).value says 0.0313 (SQL), the same entry's
    lights.greenShare 0.0312 (Python's Decimal round, half to even)."""
    parents = (0, 0) + (1,) * 31
    kpis = (KpiDef(0, "increase", Decimal(50), Decimal(20), "growth", 0, "monthly"),)
    readings = tuple(Reading(0, u, "2025-05", Decimal(60) if u == 1 else Decimal(10)) for u in range(1, 33))
    w = single([], parents=parents, kinds=("central", "province") + ("commune",) * 31, kpis=kpis, readings=readings)
    pks = await load(api, w)
    got = await api.data(f'{{ ranking(metric: GREEN_SHARE, childrenOf: "{gid(pks, "Unit", 0)}") {{ entries {{ value lights {{ green measured greenShare }} }} }} }}', as_user="user0")
    entry = got["ranking"]["entries"][0]
    assert (entry["value"], entry["lights"]["green"], entry["lights"]["measured"]) == (0.0313, 1, 32)
    assert entry["lights"]["greenShare"] == entry["value"]


async def test_discipline_rankings_count_only_the_assignments_the_filter_keeps(api: Api) -> None:
    """ProgressFilterInput: "Which assignments a rollup or a ranking counts. Every condition must hold." A ranking by
    DISCIPLINE_INDEX with filter {dueFrom} counts, in its entries' `discipline`, assignments due before dueFrom (those
    entries' `figures` do leave them out)."""
    works = [on(date(2025, 4, 1), due=day(10), original_due=day(10), reports=(date(2025, 5, 3),)), on(date(2025, 4, 1), due=day(100), original_due=day(100))]
    w = single(works)
    pks = await load(api, w)
    got = await api.data(f'{{ ranking(metric: DISCIPLINE_INDEX, childrenOf: "{gid(pks, "Unit", 0)}", filter: {{dueFrom: "{day(50).isoformat()}"}}) {{'
                         " entries { value figures { total } discipline { expected received } } } }", as_user="user0")  # fmt: skip
    entry = got["ranking"]["entries"][0]
    assert entry["figures"]["total"] == 1  # the progress figures keep only the assignment due after dueFrom
    assert entry["discipline"] == {"expected": 1, "received": 0} and entry["value"] == 0.0


# -- 3. statement counts ----------------------------------------------------------------------------------------
def counting_world() -> World:
    """U01 with 2 communes, U02 with 10; 2 assignments a commune (reported, acknowledged, one completed), 2 KPIs measured
    in 3 periods at each commune; R1 implements R0, both issued at U01; U01's manager also views U02."""
    parents, kinds, works, readings = [0, 0, 0], ["central", "province", "province"], [], []
    for province, n in ((1, 2), (2, 10)):
        for i in range(n):
            c = len(parents)
            parents.append(province)
            kinds.append("commune")
            works.append(on(day(-90 + i), assignee=c, assigner=province, reports=(date(2025, 5, 3 + i),), acknowledged_at=datetime(2025, 3, 20, tzinfo=UTC)))
            works.append(on(day(-60), assignee=c, status="completed", progress=100, completed_on=day(-i), original_due=day(-3), due=day(-3)))
            readings += [Reading(k, c, period, Decimal(10 * (i + k))) for k in (0, 1) for period in ("2025-03", "2025-04", "2025-05")]
    kpis = tuple(KpiDef(0, "increase", Decimal(50), Decimal(20), g, 1, "monthly") for g in GROUPS)
    w = single(works, parents=tuple(parents), kinds=tuple(kinds), personas=(ADMIN, Persona(1, (("manager", 1), ("viewer", 2)))),
               resolutions=((1, None), (1, 0)), kpis=kpis, readings=tuple(readings))  # fmt: skip
    return World(**{**w.__dict__, "tasks": tuple(TaskDef(t % 2, 1, frozenset(), None, day(90)) for t in range(len(works)))})


async def test_statements_do_not_grow_with_the_number_of_children_or_rows(api: Api, statements: StatementCounter) -> None:
    w = counting_world()
    pks = await load(api, w)
    r0, k0 = gid(pks, "Resolution", 0), gid(pks, "Kpi", 0)
    children = lambda field: lambda d: len(d[field]["children"] if field != "ranking" else d[field]["entries"])
    assigned = lambda d: sum(p["assigned"] for p in d["progressSeries"])
    series = "query($u: ID, $r: ID) {{ progressSeries(unit: $u, {}filter: {{resolution: $r}}) {{ {} }} }}"
    ranking = ("query($u: ID, $r: ID) { ranking(metric: DISCIPLINE_INDEX, thenBy: GREEN_SHARE, childrenOf: $u, filter: {resolution: $r})"
               " { entries { value discipline { expected } lights { green } } } }")  # fmt: skip
    # name: (query, variables, statements besides the caller's, how many children, rows or points it answered about)
    queries: dict[str, tuple[str, Json, int, Callable[[Json], int]]] = {
        "reportingDiscipline": (DISCIPLINE_QUERY, {"p": "2025-Q2"}, 2, children("reportingDiscipline")),  # the unit, the figures
        "reportingDiscipline of a resolution": (DISCIPLINE_QUERY, {"p": "2025-05", "r": r0}, 3, children("reportingDiscipline")),  # and the family
        "progressSeries": (series.format('since: "2025-01-01", ', POINT), {}, 2, assigned),  # the unit, the points
        "progressSeries of a resolution": (series.format("granularity: QUARTER, ", POINT), {"r": r0}, 3, assigned),  # and the family
        "kpiSeries": (f'query($u: ID) {{ kpiSeries(kpi: "{k0}", unit: $u) {{ {KPI_POINT} }} }}', {}, 3, lambda d: sum(p["units"] for p in d["kpiSeries"])),  # KPI, unit, points
        # the parent, the family, the ranking (and on PostgreSQL, SET LOCAL plan_cache_mode before it)
        "ranking by discipline": (ranking, {"r": r0}, 3 + int(api.engine.dialect.name == "postgresql"), children("ranking")),
    }
    for user in ("user0", "user1"):
        await api.token_for(user)
        statements.reset()
        await api.data("{ __typename }", as_user=user)
        baseline = statements.count
        for name, (query, variables, extra, size) in queries.items():
            counts, sizes = [], []
            for u in (1, 2):
                statements.reset()
                data = await api.data(query, {**variables, "u": gid(pks, "Unit", u)}, as_user=user)
                counts.append(statements.count - baseline)
                sizes.append(size(data))
            assert sizes[0] < sizes[1] and counts == [extra] * 2, f"{name} as {user}: {counts} statements for {sizes}: {[s[:90] for s in statements.statements]}"
