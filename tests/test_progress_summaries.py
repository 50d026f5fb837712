"""Progress summaries and their totals (api/monitoring/summaries.py) always equal a recomputation from the
assignments, on SQLite and PostgreSQL.

1. Property: a random world of test_rollups is written straight into the tables (so the insert triggers build the
   summaries), then a random sequence of changes: an assignment's status, progress, completion date and due date
   rewritten, an assignment handed to another unit, deleted or added, a subtree moved under another unit (the tree
   service's own path rewrite), a task moved to another resolution. After every change the table equals the
   oracle, and after the last one `rebuild` (what a bulk import runs) writes the same rows again.
   The oracle walks the parent links in Python (never a path) to find each assignee's units at depth 1 and 2,
   and counts each assignment by the definitions of README.md ("Leaders' dashboards").
2. Through GraphQL: a unit moved and units merged by an admin's mutations, then the 34-province-style ranking by
   kind (served from the summaries) and the root's rollup still equal the figures over the assignments listed.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, text, update

from resolute.api import clock
from resolute.api.db import session_factory
from resolute.api.monitoring.summaries import STORED, SUMMARY_DEPTH, ProgressSummary, ProgressTotal, rebuild
from resolute.api.org.models import Unit
from resolute.api.org.tree import lies_under, rewrite_subtree
from resolute.api.resolutions.models import Resolution
from resolute.api.tasks.models import ASSIGNMENT_STATUSES, Assignment, Task
from resolute.schema.ids import encode_id
from tests.support import Api, Backend, current_version, running_app, unit, user
from tests.test_rollups import Work, World, fixed_today, load, worlds  # noqa: F401 (fixed_today: the world's today, autouse)
from tests.test_scope_property_cycle import insert_rows

Key = tuple[int, int, date]
DAY = date(2025, 6, 15)


async def summary_rows(api: Api) -> dict[Key, tuple[int, ...]]:
    async with api.engine.begin() as conn:
        rows = (await conn.execute(select(ProgressSummary.__table__))).mappings().all()
    return {(r["unit_id"], r["task_id"], r["due_on"]): (r["resolution_id"], *(r[c] for c in STORED)) for r in rows}


async def recomputed(api: Api) -> dict[Key, tuple[int, ...]]:
    """The oracle: every assignment counted under its assignee's units at depth <= SUMMARY_DEPTH, found by walking
    the parent links."""
    async with api.engine.begin() as conn:
        parents = dict((await conn.execute(select(Unit.id, Unit.parent_id))).all())
        resolution_of = dict((await conn.execute(select(Task.id, Task.resolution_id))).all())
        assignments = (await conn.execute(select(Assignment.__table__))).mappings().all()

    def chain(u: int) -> list[int]:
        found = [u]
        while parents[found[-1]] is not None:
            found.append(parents[found[-1]])
        return found  # the unit, its parent, ..., the root (depth 1)

    sums: dict[Key, Counter[str]] = {}
    for a in assignments:
        ancestors = chain(a["assignee_unit_id"])
        tops = [u for depth, u in enumerate(reversed(ancestors), start=1) if depth <= SUMMARY_DEPTH]
        done = a["status"] == "completed" and a["completed_on"] is not None
        counts = Counter(total=1, progress_sum=0 if a["status"] == "cancelled" else a["progress"])
        counts[a["status"]] += 1
        if done:
            if a["completed_on"] <= a["original_due_on"]:
                counts["completed_on_time"] += 1
            elif a["completed_on"] <= a["due_on"]:
                counts["completed_within_extension"] += 1
            else:
                counts["completed_late"] += 1
        for top in tops:
            sums.setdefault((top, a["task_id"], a["due_on"]), Counter()).update(counts)
    return {k: (resolution_of[k[1]], *(c[name] for name in STORED)) for k, c in sums.items()}


async def total_rows(api: Api) -> dict[tuple[int, int], tuple[int, ...]]:
    async with api.engine.begin() as conn:
        rows = (await conn.execute(select(ProgressTotal.__table__))).mappings().all()
    return {(r["unit_id"], r["resolution_id"]): tuple(r[c] for c in STORED) for r in rows}


def totals_of(summaries: dict[Key, tuple[int, ...]]) -> dict[tuple[int, int], tuple[int, ...]]:
    """The totals the oracle's summaries make: summed per (unit, resolution)."""
    sums: dict[tuple[int, int], list[int]] = {}
    for (unit_id, _task, _due), (resolution_id, *counts) in summaries.items():
        row = sums.setdefault((unit_id, resolution_id), [0] * len(STORED))
        row[:] = [a + b for a, b in zip(row, counts)]
    return {k: tuple(v) for k, v in sums.items()}


async def check(api: Api, after: str) -> None:
    got, want = await summary_rows(api), await recomputed(api)
    wrong = {k: (got.get(k), want.get(k)) for k in got.keys() | want.keys() if got.get(k) != want.get(k)}
    assert not wrong, f"after {after}: (stored, recomputed) differ for {len(wrong)} keys, e.g. {sorted(wrong.items())[:3]}"
    got_totals, want_totals = await total_rows(api), totals_of(want)
    wrong_totals = {k: (got_totals.get(k), want_totals.get(k)) for k in got_totals.keys() | want_totals.keys() if got_totals.get(k) != want_totals.get(k)}
    assert not wrong_totals, f"after {after}: totals (stored, recomputed) differ for {len(wrong_totals)} keys, e.g. {sorted(wrong_totals.items())[:3]}"


changes = st.lists(
    st.one_of(
        st.tuples(st.just("report"), st.integers(0, 99), st.sampled_from(ASSIGNMENT_STATUSES), st.integers(0, 100), st.none() | st.integers(-20, 20)),
        st.tuples(st.just("extend"), st.integers(0, 99), st.integers(-3, 30)),
        st.tuples(st.just("reassign"), st.integers(0, 99), st.integers(0, 99)),
        st.tuples(st.just("delete"), st.integers(0, 99)),
        st.tuples(st.just("add"), st.integers(0, 99), st.integers(0, 99), st.sampled_from(ASSIGNMENT_STATUSES)),
        st.tuples(st.just("move"), st.integers(0, 99), st.integers(0, 99)),
        st.tuples(st.just("retask"), st.integers(0, 99), st.integers(0, 99)),
    ),
    min_size=1,
    max_size=8,
)


async def apply(api: Api, pks: dict[str, dict[int, int]], change: tuple[Any, ...]) -> str:
    """One change, straight into the tables (the move through the tree's own path rewrite); what it did, in words."""
    units, tasks, resolutions = list(pks["Unit"].values()), list(pks["Task"].values()), list(pks["Resolution"].values())
    async with api.engine.begin() as conn:
        ids = [a for (a,) in (await conn.execute(select(Assignment.id).order_by(Assignment.id))).all()]
        kind, *args = change
        if kind in ("report", "extend", "reassign", "delete") and not ids:
            return "nothing (no assignment left)"
        if kind == "report":
            a, status, progress, days = ids[args[0] % len(ids)], *args[1:]
            completed = None if days is None else DAY + timedelta(days=days)
            await conn.execute(update(Assignment).where(Assignment.id == a).values(status=status, progress=progress, completed_on=completed))
            return f"assignment {a}: {status}, {progress} %, completed on {completed}"
        if kind == "extend":
            a = ids[args[0] % len(ids)]
            await conn.execute(update(Assignment).where(Assignment.id == a).values(due_on=DAY + timedelta(days=args[1])))
            return f"assignment {a} due {DAY + timedelta(days=args[1])}"
        if kind == "reassign":
            a, to = ids[args[0] % len(ids)], units[args[1] % len(units)]
            task = await conn.scalar(select(Assignment.task_id).where(Assignment.id == a))
            if await conn.scalar(select(Assignment.id).where(Assignment.task_id == task, Assignment.assignee_unit_id == to)) is not None:
                return "nothing (the unit already has that task)"
            await conn.execute(update(Assignment).where(Assignment.id == a).values(assignee_unit_id=to))
            return f"assignment {a} handed to unit {to}"
        if kind == "delete":
            a = ids[args[0] % len(ids)]
            await conn.execute(delete(Assignment).where(Assignment.id == a))
            return f"assignment {a} deleted"
        if kind == "add":
            task, to, status = tasks[args[0] % len(tasks)], units[args[1] % len(units)], args[2]
            if await conn.scalar(select(Assignment.id).where(Assignment.task_id == task, Assignment.assignee_unit_id == to)) is not None:
                return "nothing (the unit already has that task)"
            await conn.execute(insert(Assignment).values(
                task_id=task, assigner_unit_id=units[0], assignee_unit_id=to, raci="R", assigned_on=DAY, original_due_on=DAY, due_on=DAY + timedelta(days=3),
                status=status, progress=50, completed_on=DAY + timedelta(days=2) if status == "completed" else None))  # fmt: skip
            return f"task {task} assigned to unit {to} ({status})"
        if kind == "retask":
            task, resolution = tasks[args[0] % len(tasks)], resolutions[args[1] % len(resolutions)]
            await conn.execute(update(Task).where(Task.id == task).values(resolution_id=resolution))
            return f"task {task} moved to resolution {resolution}"
    moved, parent = units[args[0] % len(units)], units[args[1] % len(units)]
    async with session_factory(api.engine)() as session:
        unit_row, parent_row = await session.get(Unit, moved), await session.get(Unit, parent)
        assert unit_row is not None and parent_row is not None
        if unit_row.parent_id is None or lies_under(parent_row.path, unit_row.path):
            return "nothing (the root, or under itself)"
        await rewrite_subtree(session, unit_row, parent_row)
        await session.commit()
    return f"unit {moved} moved under {parent}"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(world=worlds(), steps=changes)
def test_summaries_equal_a_recomputation_after_any_change(backend: Backend, world: World, steps: list[tuple[Any, ...]]) -> None:
    async def run() -> None:
        async with running_app(backend.settings, engine=backend.engine) as api:
            pks = await load(api, world)
            await check(api, "the world was written")
            for change in steps:
                await check(api, await apply(api, pks, change))
            async with session_factory(api.engine)() as session:
                await rebuild(session)
                await session.commit()
            await check(api, "a rebuild")

    asyncio.run(run())


# -- 2. through GraphQL ---------------------------------------------------------------------------------------------

FIGURES = "total notStarted inProgress completed cancelled overdue completedOnTime completedWithinExtension completedLate"


def counted(rows: list[dict[str, Any]], today: date) -> dict[str, int]:
    """The figures of the listed assignments (overdue: open and due before today)."""
    c = Counter(total=len(rows))
    for r in rows:
        c[r["status"]] += 1
        if r["status"] in ("not_started", "in_progress") and date.fromisoformat(r["dueOn"]) < today:
            c["overdue"] += 1
    return {"total": c["total"], "notStarted": c["not_started"], "inProgress": c["in_progress"], "completed": c["completed"],
            "cancelled": c["cancelled"], "overdue": c["overdue"]}  # fmt: skip


def test_moves_and_merges_through_graphql_keep_the_ranking_equal_to_the_assignments(backend: Backend) -> None:
    async def run() -> None:
        async with running_app(backend.settings, engine=backend.engine) as api:
            await api.seed([unit("TW", None, "central"), unit("P1", "TW", "province"), unit("P2", "TW", "province"), unit("P3", "TW", "province"),
                            unit("C1", "P1", "commune"), unit("C2", "P1", "commune"), unit("C3", "P2", "commune")],
                           [user("admin", "TW", "admin")])  # fmt: skip
            async with api.engine.begin() as conn:
                ids = dict((await conn.execute(select(Unit.code, Unit.id))).all())
                res = (await insert_rows(conn, Resolution, [{"code": "R1", "title": "R1", "search_title": "r1", "kind": "resolution", "issuing_unit_id": ids["TW"],
                                                                 "issued_on": DAY, "status": "in_effect"}]))[0]  # fmt: skip
                tasks = await insert_rows(conn, Task, [
                    {"code": f"T{i}", "title": f"T{i}", "search_title": f"t{i}", "resolution_id": res, "lead_unit_id": ids["TW"], "start_on": DAY,
                     "due_on": date(2030, 1, 1), "status": "in_progress"} for i in range(3)])  # fmt: skip
                rows = []
                for i, (code, status) in enumerate([("C1", "completed"), ("C2", "in_progress"), ("C3", "not_started"), ("P2", "cancelled"), ("P3", "in_progress"), ("C1", "not_started")]):
                    rows.append({"task_id": tasks[i % 3] if i < 5 else tasks[1], "assigner_unit_id": ids["TW"], "assignee_unit_id": ids[code], "raci": "R", "assigned_on": DAY,
                                 "original_due_on": DAY + timedelta(days=i), "due_on": DAY + timedelta(days=i), "status": status, "progress": 10 * i,
                                 "completed_on": DAY if status == "completed" else None})  # fmt: skip
                await insert_rows(conn, Assignment, rows)

            async def same_as_listed(after: str) -> None:
                got = await api.data(f'{{ ranking(metric: COMPLETED, kind: "province") {{ entries {{ unit {{ code }} figures {{ {FIGURES} }} }} }}'
                                     f' progressRollup {{ figures {{ {FIGURES} }} children {{ unit {{ code }} figures {{ {FIGURES} }} }} }} }}', as_user="admin")
                listed = (await api.data("{ assignments(first: 100) { nodes { status dueOn unit { path: ancestors { code } code } } } }", as_user="admin"))["assignments"]["nodes"]
                today = clock.today()  # pinned by fixed_today
                by_top: dict[str, list[dict[str, Any]]] = {}
                for row in listed:
                    chain = [u["code"] for u in row["unit"]["path"]] + [row["unit"]["code"]]
                    if len(chain) >= 2:
                        by_top.setdefault(chain[1], []).append(row)
                for entry in got["ranking"]["entries"]:
                    want = counted(by_top.get(entry["unit"]["code"], []), today)
                    assert {k: entry["figures"][k] for k in want} == want, f"after {after}: ranking of {entry['unit']['code']}"
                for child in got["progressRollup"]["children"]:
                    want = counted(by_top.get(child["unit"]["code"], []), today)
                    assert {k: child["figures"][k] for k in want} == want, f"after {after}: rollup of {child['unit']['code']}"
                whole = got["progressRollup"]["figures"]
                assert {k: whole[k] for k in counted(listed, today)} == counted(listed, today), f"after {after}: the root's rollup"
                await check(api, after)

            await same_as_listed("the world was written")
            c1 = encode_id("Unit", ids["C1"])
            moved = await api.gql("mutation($i: UnitMoveInput!) { unitMove(input: $i) { errors { code } } }",
                                  {"i": {"id": c1, "parentId": encode_id("Unit", ids["P3"]), "version": await current_version(api, c1)}}, as_user="admin")
            assert moved["data"]["unitMove"]["errors"] in (None, []), moved
            await same_as_listed("C1 moved from P1 to P3")
            merged = await api.gql("mutation($i: UnitMergeInput!) { unitMerge(input: $i) { errors { code } } }",
                                   {"i": {"sourceIds": [encode_id("Unit", ids["C2"])], "targetId": encode_id("Unit", ids["C3"])}}, as_user="admin")
            assert merged["data"]["unitMerge"]["errors"] in (None, []), merged
            await same_as_listed("C2 (under P1) merged into C3 (under P2)")

    asyncio.run(run())


def test_a_truncate_of_the_assignments_empties_their_summaries(backend: Backend) -> None:
    """TRUNCATE fires no row trigger: on PostgreSQL a statement trigger empties the summaries with the assignments
    (SQLite has no TRUNCATE; its DELETE runs the row triggers)."""
    work = Work(task=0, assignee=2, status="in_progress", progress=40, original_due=DAY, due=DAY, completed_on=None)
    world = World(parents=(0, 0, 1), kinds=("central", "province", "commune"), personas=(), resolutions=((0, None),), tasks=((0, None),),
                  assignments=((0, work),), kpi_groups=())  # fmt: skip

    async def run() -> None:
        async with running_app(backend.settings, engine=backend.engine) as api:
            await load(api, world)
            assert len(await summary_rows(api)) == 3  # the commune, its province, the root
            assert len(await total_rows(api)) == 3
            if backend.name == "postgresql":  # the summaries truncated by hand empty their totals too
                async with api.engine.begin() as conn:
                    await conn.execute(text("TRUNCATE progress_summaries"))
                assert await total_rows(api) == {}
                async with session_factory(api.engine)() as session:
                    await rebuild(session)
                    await session.commit()
                await check(api, "a truncate of the summaries, then a rebuild")
            async with api.engine.begin() as conn:
                if backend.name == "postgresql":
                    await conn.execute(text("TRUNCATE assignments CASCADE"))
                else:
                    await conn.execute(text("UPDATE tasks SET origin_assignment_id = NULL"))
                    await conn.execute(text("DELETE FROM assignments"))
            assert await summary_rows(api) == {}
            assert await total_rows(api) == {}
            await check(api, "the assignments were emptied")

    asyncio.run(run())
