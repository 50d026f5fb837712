"""The reminders worker (issue 11, step 5), on SQLite and PostgreSQL: each step reaches the people the README names,
once; a second round, or two workers at once, make nothing twice; a round that fails half-way writes nothing and the
next makes everything once; the outbox delivers each once; a person reads and marks its own notifications only."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from resolute.api import clock
from resolute.api.accounts.models import User
from resolute.api.db import create_engine, session_factory
from resolute.api.reminders import service
from resolute.api.reminders.models import Notification, OutboxMessage
from resolute.api.tasks.models import Assignment
from resolute.api.transaction import UnitOfWork
from resolute.schema.ids import decode_any
from tests.support import Api, unit, user

Json = dict[str, Any]
USERS = [user("admin", "TW", "admin"), user("aud", "TW", "auditor"), user("pm", "P01", "manager"), user("off", "C1", "officer"),
         user("lead", "C1", "leader"), user("other", "C2", "officer"), user("old", "C1", "officer")]  # fmt: skip


async def world(api: Api) -> dict[str, int]:
    """TW > P01 > (C1, C2); a task handed to C1 (40 days overdue) and to C2 (completed); `old`, an officer of C1, deactivated."""
    await api.seed([unit("TW", None, "central"), unit("P01", "TW", "province"), unit("C1", "P01", "commune"), unit("C2", "P01", "commune")], USERS)
    ids = {u["code"]: u["id"] for u in (await api.data("{ units(first: 10) { nodes { id code } } }", as_user="admin"))["units"]["nodes"]}
    r = (await api.data('mutation($u: ID!) { resolutionCreate(input: {code: "R1", title: "Nghị quyết", kind: "resolution", issuingUnitId: $u, '
                        'issuedOn: "2025-01-01"}) { resolution { id } } }', {"u": ids["TW"]}, as_user="admin"))["resolutionCreate"]["resolution"]["id"]  # fmt: skip
    t = (await api.data('mutation($r: ID!, $u: ID!) { taskCreate(input: {resolutionId: $r, code: "T1", title: "Nhiệm vụ", leadUnitId: $u, '
                        'startOn: "2024-01-01", dueOn: "2030-12-31"}) { task { id } } }', {"r": r, "u": ids["TW"]}, as_user="admin"))["taskCreate"]["task"]["id"]  # fmt: skip
    made = (await api.data('mutation($t: ID!, $from: ID!, $a: [AssigneeInput!]!) { taskAssign(input: {taskId: $t, assignerUnitId: $from, assignees: $a}) '
                           '{ assignments { id unit { code } } errors { code } } }', {"t": t, "from": ids["TW"], "a": [{"unitId": ids["C1"]}, {"unitId": ids["C2"]}]},
                           as_user="admin"))["taskAssign"]  # fmt: skip
    assert made["errors"] == [], made
    by_unit = {a["unit"]["code"]: decode_any(a["id"])[1] for a in made["assignments"]}  # type: ignore[index]
    async with api.engine.begin() as conn:
        await conn.execute(update(Assignment).where(Assignment.id == by_unit["C1"]).values(due_on=clock.today() - timedelta(days=40), status="in_progress"))
        await conn.execute(update(Assignment).where(Assignment.id == by_unit["C2"]).values(status="completed", progress=100, completed_on=clock.today()))
        await conn.execute(update(User).where(User.username == "old").values(active=False))
    return {"overdue": by_unit["C1"], "completed": by_unit["C2"]}


def expected(overdue: int) -> set[tuple[str, str, int, int]]:
    """(username, kind, step, assignment) the README's rules give for an assignment of C1 40 days overdue."""
    people = {1: ("off", "lead"), 2: ("lead",), 3: ("pm",), 4: ("aud",)}
    return {(name, "overdue", step, overdue) for step, names in people.items() for name in names}


async def notifications(api: Api) -> set[tuple[str, str, int, int]]:
    async with api.engine.connect() as conn:
        rows = await conn.execute(select(User.username, Notification.kind, Notification.step, Notification.assignment_id).join(User, User.id == Notification.user_id))
        found = [tuple(r) for r in rows.all()]
    assert len(found) == len(set(found)), "a notification made twice"
    return set(found)  # type: ignore[arg-type]


def uow(api: Api) -> UnitOfWork:
    return UnitOfWork(sessions=session_factory(api.engine), settings=api.settings, actor_label="worker")


async def test_each_step_reaches_its_people_once_and_the_outbox_delivers_each_once(api: Api) -> None:
    ids = await world(api)
    first = await service.run_once(uow(api), holder="w1")
    assert first["skipped"] is False and first["made"] == {"overdue:1": 2, "overdue:2": 1, "overdue:3": 1, "overdue:4": 1}, first
    assert await notifications(api) == expected(ids["overdue"])
    assert first["delivered"] == 5
    again = await service.run_once(uow(api), holder="w1")
    assert (again["made"], again["delivered"]) == ({}, 0)  # nothing twice, nothing delivered twice
    async with api.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.delivered_at.is_(None)))).scalar_one() == 0
    steps = [e["after"] for e in (await api.data('{ auditEvents(first: 20, filter: {action: "reminderStep"}) { nodes { after } } }', as_user="admin"))["auditEvents"]["nodes"]]
    assert sorted((s["step"], s["notifications"]) for s in steps) == [(1, 2), (2, 1), (3, 1), (4, 1)]


async def test_a_due_date_coming_reminds_the_unit_and_a_person_reads_only_its_own(api: Api) -> None:
    ids = await world(api)
    async with api.engine.begin() as conn:
        await conn.execute(update(Assignment).where(Assignment.id == ids["overdue"]).values(due_on=clock.today() + timedelta(days=3)))
    made = await service.run_once(uow(api), holder="w1")
    assert made["made"] == {"due_soon:1": 2}
    assert await notifications(api) == {("off", "due_soon", 1, ids["overdue"]), ("lead", "due_soon", 1, ids["overdue"])}
    mine = (await api.data("{ notifications(unread: true) { totalCount nodes { id kind step message assignment { code } } } }", as_user="off"))["notifications"]
    assert mine["totalCount"] == 1 and mine["nodes"][0]["kind"] == "due_soon" and "due on" in mine["nodes"][0]["message"]
    assert (await api.data("{ notifications { totalCount } }", as_user="pm"))["notifications"]["totalCount"] == 0
    theirs = await api.data('mutation($id: ID!) { notificationRead(id: $id) { notification { readAt } errors { field code } } }', {"id": mine["nodes"][0]["id"]}, as_user="lead")
    assert theirs["notificationRead"] == {"notification": None, "errors": [{"field": "id", "code": "NOT_FOUND"}]}
    read = await api.data('mutation($id: ID!) { notificationRead(id: $id) { notification { readAt } errors { code } } }', {"id": mine["nodes"][0]["id"]}, as_user="off")
    assert read["notificationRead"]["errors"] == [] and read["notificationRead"]["notification"]["readAt"]
    assert (await api.data("{ notifications(unread: true) { totalCount } }", as_user="off"))["notifications"]["totalCount"] == 0


async def test_a_round_that_fails_half_way_writes_nothing_and_the_next_makes_everything_once(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = await world(api)
    real = service._step

    async def dies_at_step_3(session: Any, today: date, kind: str, step: int) -> list[int]:
        if step == 3:
            raise RuntimeError("the worker was killed")
        return await real(session, today, kind, step)

    monkeypatch.setattr(service, "_step", dies_at_step_3)
    with pytest.raises(RuntimeError, match="killed"):
        await service.run_once(uow(api), holder="w1")
    assert await notifications(api) == set()  # steps 1 and 2 were rolled back with the rest
    monkeypatch.setattr(service, "_step", real)
    assert (await service.run_once(uow(api), holder="w2"))["skipped"] is False  # the dead worker's lease was let go
    assert await notifications(api) == expected(ids["overdue"])


async def test_a_held_lease_makes_a_second_worker_wait(api: Api) -> None:
    await world(api)
    work = uow(api)
    assert (await work.run("lease", lambda tx: service.acquire_lease(tx.session, holder="w1", seconds=60, now=service.utcnow()))).value is True
    assert await service.run_once(uow(api), holder="w2") == {"skipped": True}
    assert await notifications(api) == set()
    assert (await service.run_once(uow(api), holder="w1"))["skipped"] is False  # its holder goes on


@pytest.mark.committing("two workers, each with its own engine, must see each other's commits")
async def test_two_workers_started_together_make_each_notification_once(api: Api) -> None:
    """Two workers, each with its own engine (two processes' pools), started at once, twice. Each notification exists
    once, whoever made it; the one that found the lease taken waited."""
    ids = await world(api)
    engines = [create_engine(api.settings) for _ in range(2)]
    try:
        works = [UnitOfWork(sessions=session_factory(e), settings=api.settings, actor_label="worker") for e in engines]
        # the lease's economy aside, the keys alone: both batches at once, past the lease
        both = await asyncio.gather(*(w.run("remindersRun", service.remind) for w in works))
        assert all(not b.errors for b in both), both
        assert sum(sum(b.value.values()) for b in both) == len(expected(ids["overdue"]))  # the two made them between them, once
        for _ in range(2):  # and through the lease: whoever holds it finds nothing left to make
            rounds = await asyncio.gather(*(service.run_once(w, holder=f"w{i}") for i, w in enumerate(works)))
            assert all(r["skipped"] or r["made"] == {} for r in rounds), rounds
        assert await notifications(api) == expected(ids["overdue"])
    finally:
        for e in engines:
            await e.dispose()


async def test_a_month_without_a_report_reminds_the_unit_once(api: Api) -> None:
    ids = await world(api)
    today = clock.today()
    async with api.engine.begin() as conn:  # assigned long ago, due later: only the missing report is to be said
        await conn.execute(update(Assignment).where(Assignment.id == ids["overdue"]).values(assigned_on=today - timedelta(days=90), due_on=today + timedelta(days=60)))
    made = await service.run_once(uow(api), holder="w1")
    assert made["made"] == {"report_missing:1": 2}, made
    month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    assert await notifications(api) == {("off", "report_missing", 1, ids["overdue"]), ("lead", "report_missing", 1, ids["overdue"])}
    said = (await api.data("{ notifications { nodes { message } } }", as_user="off"))["notifications"]["nodes"]
    assert said[0]["message"].endswith(f"no progress report for {month} (reminder to the unit)")
    assert (await service.run_once(uow(api), holder="w1"))["made"] == {}  # once a month
