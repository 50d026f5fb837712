"""Property: over random trees, grants and workloads, every WRITE scope of the row-filter registry
(`Scope.visible(Model, act, obj=...)`) equals a per-row, per-grant casbin oracle.

The worlds (tree, users with grants, resolutions, tasks, assignments, reports, KPIs, measurements)
are those of tests/test_scope_property_cycle.py, written the same way (the tree through the
importer, the rest straight into the tables with SQLAlchemy core); this file adds objectives, key
results, milestones and extensions. The oracle never touches the application's SQL, paths or row
filters: it walks the tree in Python and asks its own casbin Enforcer, grant by grant, whether the
grant's role may do (obj, act), and ACCESS.md ("Where an object lives", "Where each verb may be
used") where the row's home unit for that verb is. A row is writable when ONE single grant does
both: grants never add up.

Homes, per verb (ACCESS.md):
- unit (update, move, archive, merge, create; and, for another kind of object, the units where one
  defines a task or a resolution, assigns from, submits a measurement for, creates a user or grants):
  the unit itself
- resolution, objective, key result (define): the issuing unit of the resolution
- KPI (define): the owning resolution's issuing unit, never the lead unit
- measurement (submit): the measured unit
- task (define): the lead unit, never a coordinating or an assignee unit
- milestone (define; and mark done with report rights, obj progress_report): its task's lead unit
- assignment: the assignee side acknowledges, reports progress, asks for time and decomposes (obj
  task, act define); the assigner side decides extensions and evaluates; no other verb acts on one
- extension (decide): its assignment's assigner side
- account (user deactivate / set_password): ONE grant allowing it covers the user's unit and every
  unit over which the user holds a grant (no one takes over an account that holds more than it)
- granting to a user (obj grant, act create, on User): the user's unit
- grant (revoke): ONE grant allowing grant.revoke covers the holder's unit and the grant's unit, and
  the caller holds the grant's role, or admin, over the grant's unit (any grant of the caller)

Sanity: every write scope is a subset of the read scope of the same model (`visible(Model)`): a
caller never writes what it cannot read. That holds for every verb checked here, so none is skipped.

Under the current policy only admin may revoke a grant, so the revoking grant itself already holds
admin over the grant's unit: the "holds the grant's role" clause cannot be told apart from its
absence until another role is given grant.revoke (the oracle keeps it, as ACCESS.md says it).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from resolute.api.access.policy import load_policy
from resolute.api.access.scope import GrantScope, Principal, Scope
from resolute.api.accounts.models import Grant, User
from resolute.api.db import create_engine
from resolute.api.interchange.loader import load_bundle
from resolute.api.interchange.reader import Bundle
from resolute.api.kpis.models import Kpi, Measurement
from resolute.api.org.models import Unit
from resolute.api.resolutions.models import KeyResult, Objective, Resolution
from resolute.api.settings import ROOT
from resolute.api.tasks.models import Assignment, Extension, Milestone, Task
from tests.support import Backend, unit
from tests.test_scope_property_cycle import ORACLE, ROLES, World, insert_rows, insert_workload, worlds

POLICY = load_policy(ROOT / "policies")


@cache
def may(role: str, obj: str, act: str) -> bool:
    """The oracle's own casbin Enforcer (not the app's Policy), asked once per (role, obj, act): its
    answer depends on nothing else, and an enforce() costs most of a millisecond."""
    return bool(ORACLE.enforce(role, obj, act))


DAY, DUE, ASKED = date(2025, 1, 15), date(2030, 1, 1), datetime(2025, 4, 1, tzinfo=UTC)


# -- the world: the cycle test's, plus what only writes need ----------------------------------------
@dataclass(frozen=True)
class WriteWorld:
    base: World
    objectives: tuple[int, ...] = ()  # resolution
    key_results: tuple[int, ...] = ()  # objective
    milestones: tuple[int, ...] = ()  # task
    extensions: tuple[int, ...] = ()  # assignment

    # -- the oracle's building blocks, in Python only ------------------------------------------
    def grants_of(self, user: int) -> tuple[tuple[str, int], ...]:
        return self.base.grants[user][1]

    def under(self, u: int, g: int) -> bool:
        """Unit u lies in the subtree of unit g (walked from the parent links, not from paths)."""
        return u in self.base.subtrees[g]

    @property
    def grant_rows(self) -> list[tuple[int, str, int]]:
        """Every grant of the world as (holder, role, unit), in the order they are listed."""
        return [(n, role, g) for n, (_, grants) in enumerate(self.base.grants) for role, g in grants]

    def homes(self, model: type, rule: str) -> list[int | None]:
        """Per row of `model`, its home unit for a verb of that rule (ACCESS.md "Where an object lives",
        "Where each verb may be used"); None: no unit is its home for such a verb."""
        w = self.base
        issuer = [r[0] for r in w.resolutions]
        if rule == "none":
            return [None] * len(w.assignments)
        if rule in ("assignee", "assigner"):
            side = 2 if rule == "assignee" else 1
            assignments = range(len(w.assignments)) if model is Assignment else self.extensions
            return [w.assignments[a][side] for a in assignments]
        homes: dict[type, list[int]] = {
            Unit: list(range(len(w.parents))),
            User: [own for own, _ in w.grants],  # to grant to: the user's unit
            Resolution: list(issuer),
            Objective: [issuer[r] for r in self.objectives],
            KeyResult: [issuer[self.objectives[o]] for o in self.key_results],
            Kpi: [issuer[r] for r, _lead, _targets, _coordinators in w.kpis],  # never the lead unit
            Measurement: [u for _, u, _ in w.measurements],
            Task: [lead for _, lead, _ in w.tasks],  # never a coordinating or an assignee unit
            Milestone: [w.tasks[t][1] for t in self.milestones],
        }
        return homes[model]  # type: ignore[return-value]

    def homed(self, user: int, obj: str, act: str, homes: list[int | None]) -> set[int]:
        """Rows whose home unit lies under ONE grant of `user` that casbin lets do (obj, act)."""
        return {
            row
            for row, h in enumerate(homes)
            if h is not None and any(may(role, obj, act) and self.under(h, g) for role, g in self.grants_of(user))
        }

    def accounts(self, user: int, act: str) -> set[int]:
        """Users whose unit and every unit they hold a grant over lie under ONE grant allowing (user, act)."""
        held = [{g for _, g in self.grants_of(v)} | {self.base.grants[v][0]} for v in range(len(self.base.grants))]
        return {
            v
            for v in range(len(self.base.grants))
            if any(may(role, "user", act) and all(self.under(u, g) for u in held[v]) for role, g in self.grants_of(user))
        }

    def revocable(self, user: int) -> set[int]:
        """Grants (indices into grant_rows) that one caller grant allowing grant.revoke covers, holder's
        unit and grant's unit both, and whose role (or admin) the caller holds over the grant's unit."""
        mine = self.grants_of(user)
        out = set()
        for i, (holder, role, granted_at) in enumerate(self.grant_rows):
            holder_unit = self.base.grants[holder][0]
            covered = any(may(r, "grant", "revoke") and self.under(holder_unit, g) and self.under(granted_at, g) for r, g in mine)
            held = any(self.under(granted_at, g) and r in (role, "admin") for r, g in mine)
            if covered and held:
                out.add(i)
        return out


@st.composite
def write_worlds(draw: st.DrawFn) -> WriteWorld:
    base = draw(worlds())
    # The cycle test's roles are uniform, so a caller rarely holds two grants that may write: give the
    # first user one or two more (admin mostly). Half the time they are two admin grants, and a new user
    # lives where the first one is and holds a grant where the second one is: where the two subtrees are
    # apart, that is "grants never add up" for accounts and revocations.
    units = st.integers(min_value=0, max_value=len(base.parents) - 1)
    own, held = base.grants[0]
    users = base.grants[1:]
    if draw(st.booleans()):
        extra = [("admin", draw(units)), ("admin", draw(units))]
        users += ((extra[0][1], ((draw(st.sampled_from(ROLES)), extra[1][1]),)),)
    else:
        extra = draw(
            st.lists(st.tuples(st.sampled_from(["admin", "admin", "manager", "officer", "leader"]), units), min_size=1, max_size=2)
        )
    users = ((own, tuple(dict.fromkeys(held + tuple(extra)))),) + users
    base = replace(base, grants=users)
    pick = st.integers(min_value=0, max_value=1000)
    objectives = tuple(r % len(base.resolutions) for r in draw(st.lists(pick, max_size=4)))
    key_results: tuple[int, ...] = ()
    if objectives:
        drawn = [o % len(objectives) for o in draw(st.lists(pick, max_size=6))]
        key_results = tuple(o for i, o in enumerate(drawn) if drawn[: i + 1].count(o) <= 5)  # at most five per objective
    milestones = tuple(t % len(base.tasks) for t in draw(st.lists(pick, max_size=5)))
    extensions = tuple(a % len(base.assignments) for a in draw(st.lists(pick, max_size=5))) if base.assignments else ()
    return WriteWorld(base, objectives, key_results, milestones, extensions)


# -- the verbs: (model, act, obj) and which rule of ACCESS.md the oracle applies --------------------------
# A model's own kind of object in the policy: the oracle's own table, not the registry's.
KIND = {
    Unit: "unit", User: "user", Grant: "grant", Resolution: "resolution", Objective: "objective", KeyResult: "key_result", Kpi: "kpi",
    Measurement: "measurement", Task: "task", Milestone: "milestone", Assignment: "assignment", Extension: "extension",
}  # fmt: skip


@dataclass(frozen=True)
class Verb:
    model: type
    act: str
    obj: str | None  # the kind of object the verb is about, when it is not the row's own
    rule: str  # "home", "assignee" or "assigner" side, "none", "account", "revoke"

    @property
    def name(self) -> str:
        return f"{self.model.__name__}.{self.act}" + (f"[obj={self.obj}]" if self.obj else "")


VERBS = tuple(Verb(*row) for row in (
    # units: the unit itself; for another kind of object, the units where one may define, assign from, ...
    *((Unit, act, None, "home") for act in ("update", "move", "archive", "merge", "create")),
    *((Unit, act, obj, "home") for obj, act in (("task", "define"), ("resolution", "define"), ("assignment", "assign"),
                                                ("measurement", "submit"), ("user", "create"), ("grant", "create"))),
    # resolutions and what hangs off them: the issuing unit
    (Resolution, "define", None, "home"), (Resolution, "define", "objective", "home"), (Resolution, "define", "kpi", "home"),
    (Objective, "define", None, "home"), (Objective, "define", "key_result", "home"), (KeyResult, "define", None, "home"),
    # KPIs: the owning resolution's issuer only, never the lead unit; measurements: the measured unit
    (Kpi, "define", None, "home"), (Measurement, "submit", None, "home"),
    # tasks and milestones: the lead unit, never a coordinating or an assignee unit (also to mark a milestone done)
    (Task, "define", None, "home"), (Task, "define", "milestone", "home"),
    (Milestone, "define", None, "home"), (Milestone, "submit", "progress_report", "home"),
    # assignments: one side per verb; any other verb acts on none
    (Assignment, "acknowledge", None, "assignee"), (Assignment, "submit", "progress_report", "assignee"),
    (Assignment, "request", "extension", "assignee"), (Assignment, "define", "task", "assignee"),
    (Assignment, "decide", "extension", "assigner"), (Assignment, "submit", "evaluation", "assigner"),
    *((Assignment, act, obj, "none") for obj, act in (("assignment", "assign"), ("assignment", "submit"), ("assignment", "decide"),
                                                      ("assignment", "define"), ("extension", "submit"), ("evaluation", "decide"),
                                                      ("kpi", "define"), ("measurement", "submit"))),
    (Extension, "decide", None, "assigner"),
    # accounts and grants
    (User, "deactivate", None, "account"), (User, "set_password", None, "account"), (User, "create", "grant", "home"),
    (Grant, "revoke", None, "revoke"),
))  # fmt: skip


def oracle(world: WriteWorld, verb: Verb, n: int) -> set[int]:
    """The rows (world indices) on which user n may do the verb, per ACCESS.md and the oracle's casbin."""
    if verb.rule == "account":
        return world.accounts(n, verb.act)
    if verb.rule == "revoke":
        return world.revocable(n)
    return world.homed(n, verb.obj or KIND[verb.model], verb.act, world.homes(verb.model, verb.rule))


# -- loading: one transaction, rolled back at the end -------------------------------------------------
async def _load(conn: AsyncConnection, world: WriteWorld) -> dict[type, dict[int, int]]:
    """Write the world inside the connection's transaction: the tree through the importer (which
    writes the paths), everything else straight into the tables. Returns, per model, index -> pk."""
    w = world.base
    units = [unit(w.code(0), None, "central")] + [unit(w.code(i), w.code(p)) for i, p in enumerate(w.parents) if i]
    session = AsyncSession(bind=conn, join_transaction_mode="create_savepoint")
    try:
        await load_bundle(session, Bundle(units=units, users=[], notices=[]), POLICY)
        await session.commit()  # releases the session's savepoint: the connection's transaction stays open
    finally:
        await session.close()
    uid = dict(enumerate((await conn.execute(select(Unit.id).order_by(Unit.code))).scalars()))  # U00, U01, ...
    pks: dict[type, dict[int, int]] = {Unit: uid}
    assert len(uid) == len(w.parents)
    pks[User] = await insert_rows(conn, User, [
        {"username": f"user{n}", "full_name": f"User {n}", "search_name": f"user{n}", "unit_id": uid[own], "active": True, "version": 1}
        for n, (own, _) in enumerate(w.grants)
    ])  # fmt: skip
    pks[Grant] = await insert_rows(conn, Grant, [
        {"user_id": pks[User][holder], "role": role, "unit_id": uid[g]} for holder, role, g in world.grant_rows
    ])  # fmt: skip
    cycle = await insert_workload(conn, w, uid)  # resolutions, tasks, assignments, KPIs, measurements: as the read test writes them
    pks.update({Resolution: cycle["Resolution"], Task: cycle["Task"], Assignment: cycle["Assignment"], Kpi: cycle["Kpi"], Measurement: cycle["Measurement"]})
    pks[Objective] = await insert_rows(conn, Objective, [
        {"code": f"O{i}", "resolution_id": pks[Resolution][r], "title": f"Objective {i}"} for i, r in enumerate(world.objectives)
    ])  # fmt: skip
    positions: dict[int, int] = {}
    key_results = []
    for i, o in enumerate(world.key_results):
        positions[o] = positions.get(o, 0) + 1
        key_results.append({"objective_id": pks[Objective][o], "position": positions[o], "title": f"Key result {i}"})
    pks[KeyResult] = await insert_rows(conn, KeyResult, key_results)
    pks[Milestone] = await insert_rows(conn, Milestone, [
        {"task_id": pks[Task][t], "title": f"Milestone {i}", "due_on": DUE} for i, t in enumerate(world.milestones)
    ])  # fmt: skip
    pks[Extension] = await insert_rows(conn, Extension, [
        {"assignment_id": pks[Assignment][a], "requested_due_on": DUE, "reason": "more time", "status": "pending", "requested_at": ASKED}
        for a in world.extensions
    ])  # fmt: skip
    return pks


async def _principal(conn: AsyncConnection, user_id: int) -> Principal:
    """The caller as the request would see it: its unit's path and its grants, read from the database."""
    row = (
        await conn.execute(
            select(User.id, User.username, User.unit_id, Unit.path).join(Unit, Unit.id == User.unit_id).where(User.id == user_id)
        )
    ).one()
    grants = await conn.execute(
        select(Grant.id, Grant.role, Grant.unit_id, Unit.path)
        .join(Unit, Unit.id == Grant.unit_id)
        .where(Grant.user_id == user_id)
        .order_by(Grant.id)
    )
    return Principal(
        user_id=row.id, username=row.username, unit_id=row.unit_id, unit_path=row.path,
        grants=tuple(GrantScope(id=g.id, role=g.role, unit_id=g.unit_id, path=g.path) for g in grants),
    )  # fmt: skip


# -- the check ----------------------------------------------------------------------------------------
def _describe(world: WriteWorld, n: int) -> str:
    own, grants = world.base.grants[n]
    return f"user{n} at U{own:02d} with grants {[(role, f'U{g:02d}') for role, g in grants]}"


async def _ids(conn: AsyncConnection, model: Any, condition: Any) -> set[int]:
    return set((await conn.execute(select(model.id).where(condition))).scalars())


async def _compare(conn: AsyncConnection, world: WriteWorld) -> list[str]:
    pks = await _load(conn, world)
    index_of = {model: {pk: i for i, pk in by_index.items()} for model, by_index in pks.items()}
    failures: list[str] = []
    for n in range(len(world.base.grants)):
        scope = Scope(await _principal(conn, pks[User][n]), POLICY)
        readable: dict[type, set[int]] = {}
        for verb in VERBS:
            model = verb.model
            if model not in readable:
                readable[model] = await _ids(conn, model, scope.visible(model))
            got_pks = await _ids(conn, model, scope.visible(model, verb.act, obj=verb.obj))
            got, want = {index_of[model][pk] for pk in got_pks}, oracle(world, verb, n)
            if got != want:
                failures.append(f"{verb.name} for {_describe(world, n)}: expected {sorted(want)}, got {sorted(got)} "
                                f"(leaked {sorted(got - want)}, missing {sorted(want - got)})")  # fmt: skip
            if unreadable := sorted(index_of[model][pk] for pk in got_pks - readable[model]):
                failures.append(f"{verb.name} for {_describe(world, n)}: writes rows it cannot read: {unreadable}")
    return failures


async def _check(backend: Backend, world: WriteWorld) -> None:
    """Load the world and compare, in one transaction that is rolled back: nothing is committed."""
    engine = create_engine(backend.settings)
    try:
        async with engine.connect() as conn:
            dirty = await conn.scalar(select(exists(select(Unit.id)) | exists(select(User.id))))
            await conn.rollback()
        if dirty:  # another test committed rows; their codes would collide with the world's
            await backend.reset()
        async with engine.connect() as conn:
            transaction = await conn.begin()
            try:
                failures = await _compare(conn, world)
            finally:
                await transaction.rollback()
    finally:
        await engine.dispose()
    assert not failures, f"in {world}:\n" + "\n".join(failures)


# -- pinned worlds ------------------------------------------------------------------------------------
def _world(parents: tuple[int, ...], grants: tuple[tuple[int, tuple[tuple[str, int], ...]], ...], **rows: Any) -> World:
    fields: dict[str, Any] = dict.fromkeys(("resolutions", "tasks", "assignments", "reports", "kpis", "measurements", "events"), ())
    fields.update(rows)
    return World(parents=parents, grants=grants, **fields)


# U00 national, U01 and U02 provinces. KPI 0 belongs to a national resolution and is led by U01: the
# manager at U01 reads it but must NOT define it. KPI 1 belongs to U01's resolution and is led by U02:
# the U01 manager defines it (the lead unit is irrelevant either way); the national manager defines both.
KPI_LED_BELOW = WriteWorld(
    _world(
        parents=(0, 0, 0),
        grants=((1, (("manager", 1),)), (0, (("manager", 0),)), (2, (("manager", 2),))),
        resolutions=((0, None, frozenset()), (1, None, frozenset())),
        tasks=((0, 1, frozenset({2})),),
        kpis=((0, 1, frozenset({1}), frozenset()), (1, 2, frozenset({2}), frozenset({0}))),
    ),
    objectives=(0, 1),
    key_results=(0, 1),
)

# An admin at province U01; user1 lives at U01 but holds viewer over the root U00 and officer at U01.
# The admin may revoke the officer grant, never the viewer grant over the root, and may not deactivate
# user1 (it holds more than the admin). user2 (manager at U02) holds an officer grant at U01: the admin
# may revoke it only if it also covered U02, which it does not.
ADMIN_BELOW_ROOT_GRANT = WriteWorld(
    _world(
        parents=(0, 0, 0, 1),
        grants=((1, (("admin", 1),)), (1, (("viewer", 0), ("officer", 1))), (3, (("officer", 3),)), (2, (("manager", 2), ("officer", 1)))),
        resolutions=((0, None, frozenset()),),
        tasks=((0, 0, frozenset()),),
    )
)

# user0: viewer at province U01, admin at commune U04 of province U02. Nothing it does at U01, every
# admin verb at U04 only: grants never add up. user1 lives at U04 and is manager over U01: user0 may
# neither deactivate it nor revoke that grant (its admin grant does not cover U01, its viewer grant
# allows neither).
VIEWER_HERE_ADMIN_THERE = WriteWorld(
    _world(
        parents=(0, 0, 0, 1, 2),
        grants=((4, (("viewer", 1), ("admin", 4))), (4, (("manager", 1),)), (4, (("leader", 4),))),
        resolutions=((1, None, frozenset()), (4, None, frozenset()), (0, None, frozenset())),
        tasks=((0, 1, frozenset({4})), (1, 4, frozenset({1}))),
        assignments=((0, 1, 3), (1, 2, 4), (1, 0, 1)),
        kpis=((0, 4, frozenset({3}), frozenset()), (1, 1, frozenset(), frozenset())),
        measurements=((0, 3, 0), (1, 4, 0), (1, 1, 1)),
    ),
    milestones=(0, 1),
    extensions=(0, 1, 2),
)

# Officer at commune U02 of province U01. Task 0 is led by U01 (milestone 0), task 1 by U02 (milestone
# 1): the officer marks done milestone 1 only, and defines neither. Task 0 is assigned U01 -> U02: the
# officer acknowledges and reports on it (assignee side) but decides no extension on it.
OFFICER_BELOW_LEAD = WriteWorld(
    _world(
        parents=(0, 0, 1),
        grants=((2, (("officer", 2),)), (1, (("leader", 1),))),
        resolutions=((0, None, frozenset()),),
        tasks=((0, 1, frozenset({2})), (0, 2, frozenset())),
        assignments=((0, 1, 2), (1, 0, 2)),
        measurements=(),
    ),
    milestones=(0, 1),
    extensions=(0, 1),
)

# user0 is admin at U01 and at U02, two provinces. user1 lives at U03 (under U01) and is officer at U04
# (under U02): neither admin grant covers both, so user0 may neither deactivate user1 nor revoke that
# grant, though each of its two units lies under one admin grant or the other (grants never add up).
TWO_ADMINS = WriteWorld(
    _world(
        parents=(0, 0, 0, 1, 2),
        grants=((1, (("admin", 1), ("admin", 2))), (3, (("officer", 4), ("viewer", 3))), (1, (("manager", 3),))),
        resolutions=((0, None, frozenset()),),
        tasks=((0, 0, frozenset()),),
    )
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@example(world=KPI_LED_BELOW)
@example(world=ADMIN_BELOW_ROOT_GRANT)
@example(world=VIEWER_HERE_ADMIN_THERE)
@example(world=OFFICER_BELOW_LEAD)
@example(world=TWO_ADMINS)
@given(world=write_worlds())
def test_write_scopes_equal_per_grant_casbin_oracle(backend: Backend, world: WriteWorld) -> None:
    """For every user and every write verb: visible(Model, act, obj) == the oracle, and within visible(Model)."""
    asyncio.run(_check(backend, world))


def test_pinned_worlds_say_what_they_pin() -> None:
    """The oracle itself on the pinned worlds (no database): each states the case it was written for."""
    by_name = {verb.name: verb for verb in VERBS}

    def expect(name: str, world: WriteWorld, n: int) -> set[int]:
        return oracle(world, by_name[name], n)

    assert expect("Kpi.define", KPI_LED_BELOW, 0) == {1}  # the U01 manager: not the national KPI it leads
    assert expect("Kpi.define", KPI_LED_BELOW, 1) == {0, 1}
    assert expect("Kpi.define", KPI_LED_BELOW, 2) == set()  # leads KPI 1, defines nothing

    rows = ADMIN_BELOW_ROOT_GRANT.grant_rows
    assert {rows[i] for i in expect("Grant.revoke", ADMIN_BELOW_ROOT_GRANT, 0)} == {(0, "admin", 1), (1, "officer", 1), (2, "officer", 3)}
    assert expect("User.deactivate", ADMIN_BELOW_ROOT_GRANT, 0) == {0, 2}

    assert expect("Unit.update", VIEWER_HERE_ADMIN_THERE, 0) == {4}
    assert expect("User.deactivate", VIEWER_HERE_ADMIN_THERE, 0) == {2}  # not user1 (manager over U01), not itself (viewer over U01)
    # grant rows: 0 viewer U01, 1 admin U04 (its own), 2 user1's manager U01, 3 user2's leader U04
    assert expect("Grant.revoke", VIEWER_HERE_ADMIN_THERE, 0) == {1, 3}
    assert expect("Extension.decide", VIEWER_HERE_ADMIN_THERE, 0) == set()  # assigners U01, U02, U00

    rows = TWO_ADMINS.grant_rows
    revocable = {rows[i] for i in expect("Grant.revoke", TWO_ADMINS, 0)}
    assert revocable == {(0, "admin", 1), (1, "viewer", 3), (2, "manager", 3)}  # not its own admin grant at U02, not user1's officer at U04
    assert expect("User.deactivate", TWO_ADMINS, 0) == {2}  # not itself either: neither of its grants covers the other

    assert expect("Milestone.submit[obj=progress_report]", OFFICER_BELOW_LEAD, 0) == {1}
    assert expect("Milestone.define", OFFICER_BELOW_LEAD, 0) == set()
    assert expect("Assignment.submit[obj=progress_report]", OFFICER_BELOW_LEAD, 0) == {0, 1}
    assert expect("Assignment.decide[obj=extension]", OFFICER_BELOW_LEAD, 0) == set()
    assert expect("Extension.decide", OFFICER_BELOW_LEAD, 1) == {0}  # the U01 leader: assigner of assignment 0
