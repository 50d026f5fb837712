"""Property: the compiled read path answers byte for byte what strawberry's executor answers.

Random worlds (trees, grants, tasks, assignments, reports, KPIs, measurements: the scope
property test's generator), with random dates, statuses, progress and values on top, are read by
every user through two apps over the same data: one with compiled reads on, one with them off.
Each covered operation (lists in every order with their cursors and counts, a task's page, the
KPI board), with aliases, fragments, `@include`/`@skip` and `__typename`, must give the same
bytes. On PostgreSQL a covered operation costs one statement per root field (tested exactly); on
SQLite the executor answers (compiled reads are PostgreSQL only).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, literal, select, update

from resolute.api.kpis.models import Measurement
from resolute.api.org.models import Unit
from resolute.api.tasks.models import Assignment, Milestone, ProgressReport, Task
from resolute.schema.compiled import catalog
from resolute.schema.compiled.ready import READY
from resolute.schema.ids import encode_id
from resolute.schema.view import GraphQLEndpoint
from tests.support import Api, Backend, StatementCounter, executor_twin, running_app, twin
from tests.test_scope_property_cycle import PERIODS, World, _load, worlds

TODAY = date.today()
STATUSES = ("not_started", "in_progress", "completed", "cancelled")

LIST = """query List($first: Int!, $after: String, $order: AssignmentOrder!, $statuses: [String!], $withTask: Boolean!) {
  __typename
  assignments(first: $first, after: $after, orderBy: $order, filter: {status: $statuses}) {
    __typename totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id } }
    nodes { ...Row task @include(if: $withTask) { code overdue resolution { code title } leadUnit { code name } } }
  }
}
fragment Row on Assignment {
  id code status progress dueOn completedOn overdue timeliness expectedProgress behindPace raci assignedOn originalDueOn
  latest: latestReport { reportedOn progress status note }
  reports(first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id reportedOn } } }
  unit { code } assignerUnit { ... on Unit { code kind } }
}"""

TASK = """query Task($code: String!, $order: AssignmentOrder!, $skipMilestones: Boolean!) {
  task(code: $code) {
    id code title status overdue startOn dueOn description completedOn evaluationCriteria version
    resolution { id code kind status issuedOn issuingUnit { code } }
    lead: leadUnit { code name }
    milestones @skip(if: $skipMilestones) { id title dueOn doneOn overdue }
    coordinatingUnits { code name }
    assignments(first: 3, orderBy: $order) { totalCount pageInfo { hasNextPage endCursor } nodes { code unit { code name } latestReport { reportedOn progress } } }
    again: assignments(first: 50, orderBy: ID) { totalCount nodes { id } }
  }
  byId: task(code: $code) { __typename id }
}"""

KPIS = """query Kpis($code: String!, $lf: Int! = 1000, $lo: Int! = 0) {
  resolution(code: $code) {
    code title
    kpis { code name direction baseline target yellowThreshold redThreshold group frequency leadUnit { code }
      latestByChild { id period value note light unit { code name } }
      part: latestByChild(first: $lf, offset: $lo) { id unit { code } }
    }
  }
}"""


UNITS = """query Units($first: Int!, $after: String, $kind: String, $search: String, $code: String!) {
  units(first: $first, after: $after, filter: {kind: $kind, search: $search}) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor }
    nodes { id code name kind depth archived version parent { code } children { nodes { code depth } } }
  }
  one: unit(code: $code) { __typename code parent { code parent { code } } children(includeArchived: true) { nodes { code archived } }
    paged: children(first: 1) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { code } } } }
}"""


LISTS = """query Lists($first: Int!, $search: String, $overdue: Boolean, $from: String, $tasksAfter: String, $mAfter: String) {
  tasks(first: $first, after: $tasksAfter, filter: {search: $search, overdue: $overdue}) {
    totalCount pageInfo { hasNextPage endCursor } nodes { code title overdue status dueOn resolution { code } }
  }
  kpis(first: $first) { totalCount edges { cursor node { code resolution { code } leadUnit { code } } } }
  measurements(first: $first, after: $mAfter, filter: {periodFrom: $from}) {
    totalCount pageInfo { endCursor hasNextPage } nodes { id period value light kpi { code direction } unit { code } }
  }
  k: kpi(code: "K0") { code name target }
}"""

# answered in Python from the service's rows (schema/compiled/direct.py), not by SQL: the same bytes all the same
MONITORING = """query Monitoring($unit: ID, $res: ID, $group: String, $from: Date, $to: Date, $metric: RankingMetric!, $then: RankingMetric!,
                                 $kind: String, $period: String, $cf: Int! = 1000, $co: Int! = 0) {
  __typename
  own: progressRollup { __typename unit { __typename id code name kind depth archived version } figures { ...F } children { unit { code } figures { ...F } } }
  some: progressRollup(unit: $unit, filter: {resolution: $res, kpiGroup: $group, dueFrom: $from, dueTo: $to}) {
    unit { code } figures { total overdue completionRate } children { __typename unit { code } figures { completedLate averageProgress } } }
  byKind: ranking(metric: $metric, thenBy: $then, kind: $kind, filter: {resolution: $res, dueTo: $to}, period: $period) {
    __typename metric thenBy rankedCount lowerQuartile median upperQuartile
    entries { rank value unit { code } figures { ...F } lights { green yellow red measured greenShare }
              discipline { expected received onTime assigned acknowledged acknowledgedInTime completeness timeliness averageAckDays disciplineIndex } } }
  byParent: ranking(metric: $then, childrenOf: $unit) { metric thenBy entries { rank value unit { code name } } entryCount part: entries(first: $cf, offset: $co) { rank unit { code } } }
  sliced: progressRollup(unit: $unit) { childCount children(first: $cf, offset: $co) { unit { code } figures { total } } }
}
fragment F on ProgressFigures { total notStarted inProgress completed cancelled overdue completedOnTime completedWithinExtension completedLate
                                completionRate onTimeRate averageProgress }"""
METRICS = ("COMPLETION_RATE", "ON_TIME_RATE", "AVERAGE_PROGRESS", "OVERDUE", "COMPLETED", "GREEN_SHARE", "REPORTING_COMPLETENESS",
           "REPORTING_TIMELINESS", "DISCIPLINE_INDEX")


def _vary(seed: int, world: World) -> dict[str, Any]:
    """Random dates, statuses, progress, report days (ties included) and values, from one seed."""
    rnd = random.Random(seed)
    return {
        "assignments": [
            (rnd.choice(STATUSES), rnd.randrange(0, 101), TODAY + timedelta(days=rnd.randrange(-60, 60)), rnd.randrange(-20, 5))
            for _ in world.assignments
        ],
        "reports": [TODAY - timedelta(days=rnd.randrange(0, 4)) for _ in world.reports],
        "measurements": [Decimal(rnd.randrange(0, 10000)) / 100 for _ in world.measurements],
        "milestones": [(TODAY + timedelta(days=rnd.randrange(-30, 30)), rnd.random() < 0.5) for _ in world.tasks],
    }


async def _apply(api: Api, world: World, pks: dict[str, dict[int, int]], variation: dict[str, Any]) -> None:
    async with api.engine.begin() as conn:
        for i, (status, progress, due, completed_shift) in enumerate(variation["assignments"]):
            completed = due + timedelta(days=completed_shift) if status == "completed" else None
            await conn.execute(update(Assignment).where(Assignment.id == pks["Assignment"][i]).values(
                status=status, progress=progress, due_on=due, original_due_on=due - timedelta(days=completed_shift % 3),
                completed_on=completed, assigned_on=TODAY - timedelta(days=90)))
        for i, day in enumerate(variation["reports"]):
            await conn.execute(update(ProgressReport).where(ProgressReport.id == pks["ProgressReport"][i]).values(reported_on=day))
        for i, value in enumerate(variation["measurements"]):
            await conn.execute(update(Measurement).where(Measurement.id == pks["Measurement"][i]).values(value=value))
        for i, (due, done) in enumerate(variation["milestones"]):
            await conn.execute(insert(Milestone).values(task_id=pks["Task"][i], title=f"Mốc {i}", due_on=due, done_on=due if done else None))
        await conn.execute(update(Task).values(due_on=TODAY + timedelta(days=3)).where(Task.id == pks["Task"][0]))


async def _both(api: Api, twin: Api, user: str, query: str, variables: dict[str, Any]) -> bytes:
    """The response bytes of both apps, asserted equal (and free of errors). The compiled app is asked twice: the
    second time a read the statements answered whole skips strawberry's pipeline (schema/compiled/ready.py)."""
    headers = {"Authorization": f"Bearer {await api.token_for(user)}"}
    body = {"query": query, "variables": variables}
    compiled = await api.client.post("/graphql", json=body, headers=headers)
    again = await api.client.post("/graphql", json=body, headers=headers)
    executed = await twin.client.post("/graphql", json=body, headers=headers)
    assert compiled.status_code == again.status_code == executed.status_code == 200
    assert compiled.content == executed.content, f"{user} {json.dumps(variables)}\ncompiled: {compiled.text[:2000]}\nexecutor: {executed.text[:2000]}"
    assert again.content == compiled.content, f"{user} {json.dumps(variables)}\nagain: {again.text[:2000]}\nfirst: {compiled.text[:2000]}"
    assert _headers(again) == _headers(compiled) == _headers(executed)
    assert "errors" not in compiled.json(), compiled.text[:2000]
    return compiled.content


def _headers(response: Any) -> list[tuple[str, str]]:
    """An answer's headers but its request id (each request has its own)."""
    return sorted((name, value) for name, value in response.headers.multi_items() if name != "x-request-id")


async def _compare(api: Api, world: World, seed: int) -> None:
    pks = await _load(api, world)
    await _apply(api, world, pks, _vary(seed, world))
    rnd = random.Random(seed)
    async with api.engine.begin() as conn:
        unit_pks = dict(enumerate((await conn.execute(select(Unit.id).order_by(Unit.code))).scalars()))  # U00, U01, ...
    async with executor_twin(api) as twin:
        for n in range(len(world.grants)):
            user = f"user{n}"
            for order in ("ID", "DUE_ON", "PROGRESS", "ASSIGNEE_CODE"):
                statuses = rnd.choice([None, ["in_progress"], ["not_started", "in_progress"], []])
                variables = {"first": rnd.randrange(0, 4), "after": None, "order": order, "statuses": statuses, "withTask": rnd.random() < 0.7}
                for _ in range(3):  # walk a few pages: the cursors each path writes are the other's too
                    page = json.loads(await _both(api, twin, user, LIST, variables))["data"]["assignments"]
                    if not page["pageInfo"]["hasNextPage"] or not page["pageInfo"]["endCursor"]:
                        break
                    variables = {**variables, "after": page["pageInfo"]["endCursor"]}
            for t in range(len(world.tasks)):
                await _both(api, twin, user, TASK, {"code": f"T{t}", "order": rnd.choice(["DUE_ON", "ASSIGNEE_CODE"]), "skipMilestones": rnd.random() < 0.3})
            for r in range(len(world.resolutions)):
                await _both(api, twin, user, KPIS, {"code": f"R{r}", "lf": rnd.randrange(0, 4), "lo": rnd.randrange(0, 4)})
            variables = {"first": rnd.randrange(0, 5), "search": rnd.choice([None, "task", "1"]), "overdue": rnd.choice([None, True, False]),
                         "from": rnd.choice([None, PERIODS[1]]), "tasksAfter": None, "mAfter": None}
            for _ in range(3):
                lists = json.loads(await _both(api, twin, user, LISTS, variables))["data"]
                if not lists["tasks"]["pageInfo"]["hasNextPage"] and not lists["measurements"]["pageInfo"]["hasNextPage"]:
                    break
                variables = {**variables, "tasksAfter": lists["tasks"]["pageInfo"]["endCursor"], "mAfter": lists["measurements"]["pageInfo"]["endCursor"]}
            for _ in range(2):
                variables = {
                    "unit": encode_id("Unit", unit_pks[rnd.randrange(len(world.parents))]),
                    "res": rnd.choice([None, *(encode_id("Resolution", pks["Resolution"][r]) for r in range(len(world.resolutions)))]),
                    "group": rnd.choice([None, "growth"]), "from": rnd.choice([None, (TODAY - timedelta(days=20)).isoformat()]),
                    "to": rnd.choice([None, (TODAY + timedelta(days=10)).isoformat()]), "metric": rnd.choice(METRICS),
                    "then": rnd.choice(METRICS), "kind": rnd.choice(["central", "department", world.kind(rnd.randrange(len(world.parents)))]),
                    "period": rnd.choice([None, TODAY.strftime("%Y-%m")]), "cf": rnd.randrange(0, 4), "co": rnd.randrange(0, 4),
                }  # fmt: skip
                await _both(api, twin, user, MONITORING, variables)
            variables = {"first": rnd.randrange(0, 5), "after": None, "kind": rnd.choice([None, "department"]),
                         "search": rnd.choice([None, "", "u0", "vị u1"]), "code": world.code(rnd.randrange(len(world.parents)))}
            for _ in range(3):
                page = json.loads(await _both(api, twin, user, UNITS, variables))["data"]["units"]
                if not page["pageInfo"]["hasNextPage"]:
                    break
                variables = {**variables, "after": page["pageInfo"]["endCursor"]}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(world=worlds(), seed=st.integers(min_value=0, max_value=2**32))
def test_compiled_reads_answer_what_the_executor_answers(backend: Backend, world: World, seed: int) -> None:
    if backend.name != "postgresql":
        pytest.skip("compiled reads run on PostgreSQL only: on SQLite both apps would be the executor")

    async def run() -> None:
        async with running_app(backend.settings, engine=backend.engine) as api:
            await _compare(api, world, seed)

    asyncio.run(run())


# -- what a covered operation costs ---------------------------------------------------------------


async def _statements(api: Api, counter: StatementCounter, user: str, query: str, variables: dict[str, Any] | None = None) -> int:
    await api.token_for(user)
    counter.reset()
    await api.data(query, variables, as_user=user)
    return counter.count


async def test_one_statement_per_root_field(api: Api, statements: StatementCounter, backend: Backend) -> None:
    """Whatever the rows and the depth of the selection: on PostgreSQL, one statement per root field
    beyond authentication, and one that asks for plans made once (api.db.plan_once); on SQLite the
    executor's batched statements."""
    world = World(
        parents=(0, 0, 1, 1, 0), grants=((0, (("admin", 0),)), (1, (("manager", 1),))), resolutions=((0, None, frozenset()), (1, None, frozenset())),
        tasks=((0, 0, frozenset({1, 4})), (1, 1, frozenset())), assignments=((0, 0, 1), (0, 0, 4), (0, 1, 2), (1, 1, 3)),
        reports=(0, 0, 1, 2, 3), kpis=((0, 0, frozenset({1}), frozenset()), (1, 1, frozenset(), frozenset())),
        measurements=((0, 1, 0), (0, 1, 1), (0, 4, 0), (1, 2, 0)), events=(),
    )
    pks = await _load(api, world)
    await _apply(api, world, pks, _vary(7, world))
    for user in ("user0", "user1"):
        base = await _statements(api, statements, user, "{ __typename }")  # authentication alone
        one = await _statements(api, statements, user, LIST, {"first": 2, "order": "DUE_ON", "withTask": True})
        two = await _statements(api, statements, user, TASK, {"code": "T0", "order": "ASSIGNEE_CODE", "skipMilestones": False})
        three = await _statements(api, statements, user, KPIS, {"code": "R0"})
        four = await _statements(api, statements, user, LISTS, {"first": 3})
        five = await _statements(api, statements, user, UNITS, {"first": 3, "code": "U01"})
        if backend.name == "postgresql":
            assert (one - base, two - base, three - base, four - base, five - base) == (2, 3, 2, 5, 3), statements.statements
            assert sum("plan_cache_mode = force_generic_plan" in s for s in statements.statements) == 1, statements.statements
        else:  # the executor: one statement per list level, batched (connection rows, count, then each relation)
            assert one - base > 1 and two - base > 2 and three - base > 1 and four - base > 4 and five - base > 2


async def test_a_failing_compiled_statement_is_answered_by_the_executor(api: Api, backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever makes a compiled statement fail, the client gets the executor's answer: never the
    database's message, SQL or parameters (here the statement divides by zero)."""
    if backend.name != "postgresql":
        pytest.skip("compiled reads run on PostgreSQL only")
    world = World(parents=(0, 0), grants=((0, (("admin", 0),)),), resolutions=((0, None, frozenset()),), tasks=((0, 0, frozenset()),), assignments=((0, 0, 1),),
                  reports=(0,), kpis=(), measurements=(), events=())
    await _load(api, world)
    query = "{ units(first: 5) { totalCount nodes { code } } }"
    expected = await api.data(query, as_user="user0")
    compiled: list[str] = []

    def failing(compiler: Any, field: Any) -> Any:
        compiled.append(field.key)
        return literal(1) / literal(0)

    monkeypatch.setitem(catalog.ROOTS, "units", failing)
    body = await api.gql(query + " ", as_user="user0")  # another text: not answered from the prepared statements
    assert compiled == ["units"]  # the compiled statement was made (and failed in PostgreSQL)
    assert not body.get("errors") and body["data"] == expected


async def test_dashboards_are_written_directly_and_a_wider_selection_is_the_executors(
    api: Api, backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    """progressRollup and ranking skip the executor (no fallback logged) and answer its bytes; a selection that
    reaches past a unit's own columns (its parent) is the executor's, with the same bytes again."""
    if backend.name != "postgresql":
        pytest.skip("compiled reads run on PostgreSQL only")
    world = World(
        parents=(0, 0, 1, 1, 0), grants=((0, (("admin", 0),)), (1, (("manager", 1),))), resolutions=((0, None, frozenset()), (1, 0, frozenset())),
        tasks=((0, 0, frozenset()), (1, 1, frozenset())), assignments=((0, 0, 1), (0, 0, 4), (0, 1, 2), (1, 1, 3)),
        reports=(0, 1), kpis=((0, 0, frozenset({1}), frozenset()),), measurements=((0, 1, 0), (0, 4, 0)), events=(),
        kinds=("central", "province", "commune", "commune", "province"),
    )
    pks = await _load(api, world)
    await _apply(api, world, pks, _vary(3, world))
    async with api.engine.begin() as conn:
        province = (await conn.execute(select(Unit.id).where(Unit.code == "U01"))).scalar_one()
    variables = {"unit": encode_id("Unit", province), "res": encode_id("Resolution", pks["Resolution"][0]), "group": None, "from": None, "to": None,
                 "metric": "COMPLETION_RATE", "then": "GREEN_SHARE", "kind": "province", "period": None, "cf": 1, "co": 1}  # fmt: skip
    wider = "query($u: ID) { progressRollup(unit: $u) { unit { code parent { code } } figures { total } } }"
    async with executor_twin(api) as twin:
        for user in ("user0", "user1"):
            caplog.clear()
            with caplog.at_level(logging.DEBUG, logger="resolute.compiled"):
                answer = json.loads(await _both(api, twin, user, MONITORING, variables))["data"]
                assert not [r.message for r in caplog.records if r.name == "resolute.compiled"], "the dashboards fell back to the executor"
                assert answer["own"] is not None and answer["byKind"]["entries"], answer
                assert len(answer["sliced"]["children"]) == 1 and answer["sliced"]["childCount"] == 2, answer  # U01's communes, the second
                caplog.clear()
                await _both(api, twin, user, wider, {"u": encode_id("Unit", province)})
                assert any("Unit.parent" in r.message for r in caplog.records), "a unit's parent is not written directly"


async def test_a_connection_asked_only_for_its_count_is_compiled_whatever_its_rows(api: Api, backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    """`units(first: n) { totalCount }` selects nothing of the page: its statement must still give one object, for
    no match, one or many (it once gave a row per page row, failed and fell back, or a null for none)."""
    if backend.name != "postgresql":
        pytest.skip("compiled reads run on PostgreSQL only")
    world = World(parents=(0, 0, 0, 1), grants=((0, (("admin", 0),)),), resolutions=(), tasks=(), assignments=(), reports=(), kpis=(), measurements=(), events=())
    await _load(api, world)
    async with executor_twin(api) as twin:
        for search in ("U0", "U03", "nothing like it"):
            for first in (0, 1, 2, 100):
                query = "query($s: String, $f: Int) { units(first: $f, filter: {search: $s}) { totalCount __typename } }"
                caplog.clear()
                with caplog.at_level(logging.DEBUG, logger="resolute.compiled"):
                    answer = json.loads(await _both(api, twin, "user0", query, {"s": search, "f": first}))
                assert not [r.message for r in caplog.records if r.name == "resolute.compiled"], (search, first, "fell back")
                assert answer["data"]["units"]["totalCount"] == {"U0": 4, "U03": 1, "nothing like it": 0}[search]


async def test_what_an_assignment_hands_down_goes_to_its_assignee_not_to_its_assigner(api: Api, backend: Backend) -> None:
    """The compiled path lets an assignment's task and that task's resolution through when the assignee lies in the
    caller's scope (Scope.visible_handed_down), before the general filter. Here the reader sees two assignments from
    the assigner's side only (their assignee sits beside the assigner, as after a move): the first's task and the
    second's resolution are nobody's in its scope, and both paths must answer null for them."""
    if backend.name != "postgresql":
        pytest.skip("compiled reads run on PostgreSQL only")
    world = World(
        parents=(0, 0, 0), grants=((1, (("manager", 1),)),), resolutions=((2, None, frozenset()),),
        tasks=((0, 2, frozenset()), (0, 1, frozenset())),  # led beside the reader, then by the reader's unit
        assignments=((0, 1, 2), (1, 1, 2)),  # both assigned by the reader's unit to the unit beside it
        reports=(), kpis=(), measurements=(), events=(),
    )
    await _load(api, world)
    query = "{ assignments(first: 10) { nodes { unit { code } task { code resolution { code } } } } }"
    async with executor_twin(api) as twin:
        body = json.loads(await _both(api, twin, "user0", query, {}))
    assert body["data"]["assignments"]["nodes"] == [
        {"unit": None, "task": None},
        {"unit": None, "task": {"code": "T1", "resolution": None}},
    ]


async def test_a_compiled_read_sent_again_skips_strawberry_and_spends_as_it_would(api: Api, backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second time, the view answers from the statements alone (schema/compiled/ready.py): the same bytes, the
    same cost spent from the caller's allowance, the same refusal once it is used up; another caller, other
    variables or a mutation take strawberry's path."""
    if backend.name != "postgresql":
        pytest.skip("compiled reads run on PostgreSQL only")
    world = World(parents=(0, 0, 1), grants=((0, (("admin", 0),)), (1, (("manager", 1),))), resolutions=((0, None, frozenset()),),
                  tasks=((0, 0, frozenset()),), assignments=((0, 0, 1),), reports=(0,), kpis=(), measurements=(), events=())
    await _load(api, world)
    pipelines: list[str] = []
    run = GraphQLEndpoint.run

    async def counted(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        pipelines.append(request.url.path)
        return await run(self, request, *args, **kwargs)

    monkeypatch.setattr(GraphQLEndpoint, "run", counted)
    query = "query Units($n: Int!) { units(first: $n) { totalCount nodes { code } } }"  # named, sent without operationName
    first = await api.gql(query, {"n": 2}, as_user="user0")
    cost = api.last_cost
    assert first == await api.gql(query, {"n": 2}, as_user="user0") and api.last_cost == cost and cost is not None
    assert len(pipelines) == 1
    await api.gql(query, {"n": 3}, as_user="user0")  # other variables
    await api.gql(query, {"n": 2}, as_user="user1")  # another caller
    assert len(pipelines) == 3
    dashboard = "{ progressRollup { figures { total } children { unit { code } figures { total overdue } } } n: __typename }"
    rollup = await api.data(dashboard, as_user="user0")  # a root answered in Python (schema/compiled/direct.py)
    assert await api.data(dashboard, as_user="user0") == rollup and rollup["progressRollup"]["figures"]["total"] == 1
    refused = await api.gql('{ progressRollup(unit: "bad") { figures { total } } }', as_user="user0")
    again = await api.gql('{ progressRollup(unit: "bad") { figures { total } } }', as_user="user0")  # refused both times, by strawberry
    assert again == refused and refused["errors"][0]["extensions"]["code"] == "INVALID_ID"
    assert len(pipelines) == 3 + 1 + 2
    pipelines.clear()
    statements = StatementCounter(api.engine)
    async with twin(api, rate_limit_cost=2 * cost["requested"]) as limited:
        answers, counts = [], []
        for _ in range(3):
            statements.reset()
            answers.append(await limited.client.post("/graphql", json={"query": query, "variables": {"n": 2}},
                                                     headers={"Authorization": f"Bearer {await api.token_for('user0')}"}))
            counts.append(statements.count)
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert counts[2] == 1 < counts[0] == counts[1]  # refused before its statements ran: the caller's account only
        assert [a.json()["extensions"]["rateLimit"]["remaining"] for a in answers] == [cost["requested"], 0, 0]
        refused = await limited.client.post("/graphql", json={"query": query + " ", "variables": {"n": 2}},  # another text: strawberry refuses it
                                            headers={"Authorization": f"Bearer {await api.token_for('user0')}"})
        assert refused.status_code == 429 and refused.headers["retry-after"] == answers[2].headers["retry-after"]
        assert refused.json() == answers[2].json()
    assert len(pipelines) == 1  # only the other text went through strawberry (the policy is the same: so are the statements)
    # a remembered statement that now fails: forgotten, the executor answers, the cost is spent once
    patched = [key for key in READY if key[0] == query]
    for key in patched:
        READY.put(key, dataclasses.replace(READY[key], parts=tuple((k, "SELECT 1/0", (), None) for k, _, _, _ in READY[key].parts)))
    async with twin(api, rate_limit_cost=10 * cost["requested"]) as limited:
        headers = {"Authorization": f"Bearer {await api.token_for('user0')}"}
        failed = await limited.client.post("/graphql", json={"query": query, "variables": {"n": 2}}, headers=headers)
        assert failed.status_code == 200 and failed.json()["data"] == first["data"]
        assert failed.json()["extensions"]["rateLimit"]["remaining"] == 9 * cost["requested"]
        assert [key in READY for key in patched] == [key[2] != '{"n": 2}' or key[3].username != "user0" for key in patched]  # that one forgotten
