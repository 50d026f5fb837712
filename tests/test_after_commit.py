"""After-commit hooks: `create_app(settings, after_commit=[...])` hands every hook the committed audit events.

The app is built here with recording hooks (tests/support.py's `running_app` takes no hooks), on
an engine of its own as in production: its writes are really committed (a hook must see them
from another connection), and the database is emptied before each test.

- a mutation hands each hook exactly its audit events, as they were committed (id, time, actor,
  action, object type and key, unit, the X-Request-ID the client sent), one call per mutation, in
  commit order, after the commit (another connection already reads them);
- a refused mutation (typed refusal, FORBIDDEN, out of scope) calls no hook; nor does an
  idempotent replay;
- a fan-out taskAssign to 3 units hands over 3 events, one per assignee unit;
- a hook that raises is logged; the answer, the write and the audit chain stand, and the other
  hooks are still called.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from resolute.api.audit.chain import Event, verify_chain
from resolute.api.audit.models import AuditEvent
from resolute.api.db import session_factory
from resolute.schema.ids import decode_any
from resolute.schema.server import create_app
from tests.support import Api, Backend, unit, user

pytestmark = pytest.mark.committing("the hooks run after a real commit, and read it back from another connection")

TODAY = dt.date.today()
ERRORS = "errors { field code message }"
UNIT_CREATE = "mutation($i: UnitCreateInput!, $k: String) { r: unitCreate(input: $i, idempotencyKey: $k) { unit { id code } " + ERRORS + " } }"
UNIT_UPDATE = "mutation($i: UnitUpdateInput!) { r: unitUpdate(input: $i) { unit { id name } " + ERRORS + " } }"
USER_CREATE = "mutation($i: UserCreateInput!) { r: userCreate(input: $i) { user { id username } " + ERRORS + " } }"
ROLE_GRANT = "mutation($i: RoleGrantInput!) { r: roleGrant(input: $i) { grant { id } " + ERRORS + " } }"

UNITS = [
    unit("TW", None, "central", "Ban Chấp hành Trung ương Đảng"),
    unit("P01", "TW", "province", "Thành phố Hà Nội"),
    unit("P02", "TW", "province", "Tỉnh Lào Cai"),
    unit("P03", "TW", "province", "Tỉnh Cao Bằng"),
    unit("P01-C01", "P01", "commune", "Phường Hoàn Kiếm"),
]
USERS = [user("admin", "TW", "admin"), user("tw.manager", "TW", "manager"), user("p01.admin", "P01", "admin"), user("p01.viewer", "P01", "viewer")]


@dataclass
class Recorder:
    """A hook that records what it is handed, and what another connection reads of it at that moment."""

    fail: bool = False
    calls: list[list[Event]] = field(default_factory=list)
    committed: list[list[int]] = field(default_factory=list)  # event ids another connection reads when the hook runs
    engine: Any = None

    async def __call__(self, events: Sequence[Event]) -> None:
        self.calls.append(list(events))
        async with session_factory(self.engine)() as session:
            self.committed.append(list(await session.scalars(select(AuditEvent.id).where(AuditEvent.id.in_([e.id for e in events])).order_by(AuditEvent.id))))
        if self.fail:
            raise RuntimeError("subscriber is down")


@dataclass
class Hooked:
    api: Api
    first: Recorder  # called first; made to raise in one test
    second: Recorder
    ids: dict[str, str] = field(default_factory=dict)  # unit code -> global id

    async def send(self, query: str, variables: dict[str, Any], as_user: str, request_id: str) -> tuple[dict[str, Any], httpx.Response]:
        token = await self.api.token_for(as_user)
        response = await self.api.client.post("/graphql", json={"query": query, "variables": variables},
                                              headers={"Authorization": f"Bearer {token}", "X-Request-ID": request_id})
        body = response.json()
        assert "errors" not in body, body
        assert response.headers["X-Request-ID"] == request_id
        return body["data"]["r"], response

    def clear(self) -> None:
        for r in (self.first, self.second):
            r.calls.clear()
            r.committed.clear()


@pytest.fixture
async def hooked(backend: Backend) -> AsyncIterator[Hooked]:
    """The app with two recording hooks, on its own engine (committed writes), over a small seeded tree."""
    await backend.reset()
    first, second = Recorder(), Recorder()
    app = create_app(backend.settings, after_commit=[first, second])
    try:
        async with app.router.lifespan_context(app):
            first.engine = second.engine = app.state.engine
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://resolute.test") as client:
                h = Hooked(Api(client=client, settings=backend.settings, engine=app.state.engine), first, second)
                await h.api.seed(UNITS, USERS)  # the seed runs outside the app: no hook is called
                nodes = (await h.api.data("{ units(first: 50) { nodes { id code } } }", as_user="admin"))["units"]["nodes"]
                h.ids = {n["code"]: n["id"] for n in nodes}
                assert first.calls == [] and second.calls == []
                yield h
    finally:
        await backend.reset()  # committed: leave the database empty for the next test


def pk(global_id: str) -> int:
    decoded = decode_any(global_id)
    assert decoded is not None
    return decoded[1]


async def rows_of(api: Api, request_id: str) -> list[Event]:
    """The audit rows of one request, read directly, as Events."""
    async with api.engine.connect() as conn:
        rows = await conn.execute(text("SELECT id, occurred_at, actor_id, action, object_type, object_key, unit_id, request_id FROM audit_events"
                                       " WHERE request_id = :r ORDER BY id"), {"r": request_id})
        return [Event(*row) for row in rows]


async def event_ids(api: Api) -> list[int]:
    async with api.engine.connect() as conn:
        return [row[0] for row in await conn.execute(text("SELECT id FROM audit_events ORDER BY id"))]


def same_events(handed: list[Event], stored: list[Event]) -> None:
    """Field by field; times compared as instants (a backend may give them back without a zone)."""
    assert len(handed) == len(stored), (handed, stored)
    for h, s in zip(handed, stored, strict=True):
        assert (h.id, h.actor_id, h.action, h.object_type, str(h.object_key), h.unit_id, h.request_id) == (
            s.id, s.actor_id, s.action, s.object_type, str(s.object_key), s.unit_id, s.request_id)
        stored_at = s.occurred_at if isinstance(s.occurred_at, dt.datetime) else dt.datetime.fromisoformat(str(s.occurred_at))
        handed_at = h.occurred_at.astimezone(dt.UTC).replace(tzinfo=None)
        stored_at = stored_at.astimezone(dt.UTC).replace(tzinfo=None) if stored_at.tzinfo else stored_at
        assert handed_at == stored_at, (h, s)


async def test_each_mutation_hands_its_committed_events_to_every_hook_in_commit_order(hooked: Hooked) -> None:
    h, api = hooked, hooked.api
    admin, p01_admin = await api.user_id("admin"), await api.user_id("p01.admin")
    steps = [
        ("req-unit-create", UNIT_CREATE, {"i": {"parentId": h.ids["P01"], "code": "P01-C09", "name": "Xã mới", "kind": "commune"}}, "p01.admin"),
        ("req-unit-update", UNIT_UPDATE, {"i": {"id": h.ids["P02"], "version": 1, "name": "Tỉnh Lào Cai mới"}}, "admin"),
        ("req-user-create", USER_CREATE, {"i": {"username": "p01.clerk", "fullName": "Cán bộ mới", "unitId": h.ids["P01-C01"]}}, "p01.admin"),
    ]
    seeded = await event_ids(api)  # the seed's own event (written outside the app, no hook)
    answers = []
    for request_id, query, variables, who in steps:
        r, _ = await h.send(query, variables, who, request_id)
        assert r["errors"] == [], r
        answers.append(r)
    assert len(h.first.calls) == len(h.second.calls) == 3  # one call per committed mutation
    assert h.first.calls == h.second.calls  # every hook gets the same list
    new_unit, new_user = pk(answers[0]["unit"]["id"]), pk(answers[2]["user"]["id"])
    expected = [  # (action, object_type, object_key, unit_id, actor_id) of each mutation's events
        [("unitCreate", "unit", str(new_unit), new_unit, p01_admin)],
        [("unitUpdate", "unit", str(pk(h.ids["P02"])), pk(h.ids["P02"]), admin)],
        [("userCreate", "user", str(new_user), pk(h.ids["P01-C01"]), p01_admin)],
    ]
    for (request_id, *_), events, want in zip(steps, h.first.calls, expected, strict=True):
        assert [(e.action, e.object_type, str(e.object_key), e.unit_id, e.actor_id) for e in events] == want, events
        assert {e.request_id for e in events} == {request_id}
        same_events(events, await rows_of(api, request_id))  # exactly the events committed for that request
    handed = [e.id for call in h.first.calls for e in call]
    assert seeded + handed == await event_ids(api) and handed == sorted(handed)  # every event since, once, in commit order
    assert h.first.committed == [[e.id for e in call] for call in h.first.calls]  # already committed when the hook ran


async def test_refused_mutations_and_replays_call_no_hook(hooked: Hooked) -> None:
    h, api = hooked, hooked.api
    create = {"parentId": h.ids["P01"], "code": "P01-C09", "name": "Xã mới", "kind": "commune"}
    key = "6f1c2b9a-8e0d-4c3b-9a7e-1d2f3a4b5c6d"
    r, _ = await h.send(UNIT_CREATE, {"i": create, "k": key}, "p01.admin", "req-first")
    assert r["errors"] == []
    assert [[e.action for e in c] for c in h.first.calls] == [["unitCreate"]]
    h.clear()
    events_before = await event_ids(api)

    replay, _ = await h.send(UNIT_CREATE, {"i": create, "k": key}, "p01.admin", "req-replay")
    assert replay == r  # answered like the first time ...
    refusals = [
        (UNIT_CREATE, {"i": {**create, "code": "P01-C01"}, "k": None}, "p01.admin", ("code", "DUPLICATE")),  # typed refusal
        (UNIT_CREATE, {"i": {**create, "code": "P01-C10"}, "k": None}, "p01.viewer", ("parentId", "FORBIDDEN")),  # no role for it anywhere
        (UNIT_CREATE, {"i": {**create, "parentId": h.ids["P02"], "code": "P02-C10"}, "k": None}, "p01.admin", ("parentId", "NOT_FOUND")),  # out of scope
        (UNIT_UPDATE, {"i": {"id": h.ids["P01-C01"], "version": 1, "name": " "}}, "p01.admin", ("name", "REQUIRED")),
    ]
    for i, (query, variables, who, error) in enumerate(refusals):
        r, _ = await h.send(query, variables, who, f"req-refused-{i}")
        assert [(e["field"], e["code"]) for e in r["errors"]] == [error], r
    assert h.first.calls == [] and h.second.calls == []  # ... and no hook was called for the replay nor the refusals
    assert await event_ids(api) == events_before


async def test_a_fan_out_to_three_units_hands_over_three_events(hooked: Hooked) -> None:
    h, api = hooked, hooked.api
    res = {"code": "57-NQ/TW", "title": "Nghị quyết 57", "kind": "resolution", "issuingUnitId": h.ids["TW"], "issuedOn": "2024-12-22"}
    r, _ = await h.send("mutation($i: ResolutionCreateInput!) { r: resolutionCreate(input: $i) { resolution { id } " + ERRORS + " } }", {"i": res},
                        "tw.manager", "req-res")
    task = {"resolutionId": r["resolution"]["id"], "code": "57-NQ/TW-T001", "title": "Nhiệm vụ 1", "leadUnitId": h.ids["TW"],
            "startOn": (TODAY - dt.timedelta(days=10)).isoformat(), "dueOn": (TODAY + dt.timedelta(days=300)).isoformat()}
    t, _ = await h.send("mutation($i: TaskCreateInput!) { r: taskCreate(input: $i) { task { id } " + ERRORS + " } }", {"i": task}, "tw.manager", "req-task")
    assert t["errors"] == []
    h.clear()
    fan = {"taskId": t["task"]["id"], "assignerUnitId": h.ids["TW"], "assignees": [{"unitId": h.ids[c]} for c in ("P01", "P02", "P03")]}
    a, _ = await h.send("mutation($i: TaskAssignInput!) { r: taskAssign(input: $i) { assignments { id unit { code } } " + ERRORS + " } }", {"i": fan},
                        "tw.manager", "req-fan-out")
    assert a["errors"] == [] and [x["unit"]["code"] for x in a["assignments"]] == ["P01", "P02", "P03"]
    assert len(h.first.calls) == 1, h.first.calls  # one mutation, one call ...
    (events,) = h.first.calls
    manager = await api.user_id("tw.manager")
    assert [(e.action, e.object_type, str(e.object_key), e.unit_id, e.actor_id, e.request_id) for e in events] == [  # ... with three events
        ("taskAssign", "assignment", str(pk(x["id"])), pk(h.ids[x["unit"]["code"]]), manager, "req-fan-out") for x in a["assignments"]]
    same_events(events, await rows_of(api, "req-fan-out"))
    assert h.second.calls == h.first.calls


async def test_a_hook_that_raises_is_logged_and_changes_nothing(hooked: Hooked, caplog: pytest.LogCaptureFixture) -> None:
    h, api = hooked, hooked.api
    variables = {"i": {"parentId": h.ids["P01"], "code": "P01-C09", "name": "Xã mới", "kind": "commune"}, "k": None}
    seeded = len(await event_ids(api))
    h.first.fail = True
    with caplog.at_level(logging.ERROR, logger="resolute.transaction"):
        r, response = await h.send(UNIT_CREATE, variables, "p01.admin", "req-hook-fails")
    assert response.status_code == 200
    assert r["errors"] == [] and r["unit"]["code"] == "P01-C09"  # the answer stands ...
    assert [[e.action for e in c] for c in h.first.calls] == [["unitCreate"]]
    assert h.second.calls == h.first.calls  # ... the next hook is still called ...
    assert any("after-commit hook" in rec.getMessage() and rec.exc_info for rec in caplog.records), caplog.records  # ... the failure is logged
    # ... the write is there, for anyone, and the audit chain verifies
    assert (await api.data("{ unit(code: \"P01-C09\") { code name } }", as_user="admin"))["unit"] == {"code": "P01-C09", "name": "Xã mới"}
    async with session_factory(api.engine)() as session:
        checked, broken = await verify_chain(session)
    assert broken is None and checked == seeded + len(await rows_of(api, "req-hook-fails")) == seeded + 1
    # the app keeps working, and keeps calling its hooks
    h.first.fail = False
    r, _ = await h.send(UNIT_UPDATE, {"i": {"id": r["unit"]["id"], "version": 1, "name": "Xã mới hơn"}}, "p01.admin", "req-after")
    assert r["errors"] == [] and [[e.request_id for e in c] for c in h.first.calls] == [["req-hook-fails"], ["req-after"]]
    async with session_factory(api.engine)() as session:
        assert await verify_chain(session) == (seeded + 2, None)
