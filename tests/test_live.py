"""Live updates: subscriptions over graphql-transport-ws at /graphql, through real websockets to real servers.

The servers are `resolute serve` subprocesses over copies of one `resolute demo` SQLite database
(built once, in a tmp dir), all with the same RESOLUTE_JWT_SECRET:

- `solo`: one process, no Redis (the broker stays in the process), RESOLUTE_LIVE_RECHECK_SECONDS=1;
- `expiring`: one process, tokens of 3 s (RESOLUTE_TOKEN_TTL_SECONDS=3), recheck every 30 s, so that
  only the token's expiry can end a subscription early;
- `pair`: two processes over the same database sharing Redis (REDIS_DB below); skipped loudly when
  Redis does not answer.

What is checked:

1. in one process, a progress report by a commune officer reaches its province leader's
   assignmentChanged within a second (action, assignment code, new progress and status), and the
   commune's own subscription; a sibling province's leader and a subscription following another
   commune of the same province hear nothing (1.5 s); a red KPI value reaches measurementChanged
   and warningRaised (KPI_LIGHT, RED) in the province and nothing in the sibling; the token works
   both in connection_init and on the upgrade request; several subscriptions started together on
   one connection (as graphql-ws clients multiplex them) all run and all hear the change (each other
   test keeps one subscription per connection, so that it checks its own point only);
2. across two processes through Redis: a report posted to A reaches subscribers on B (and on A)
   within a second, a sibling on B hears nothing; malformed messages on the channel are ignored;
   a burst of more changes than an inbox holds ends a subscription with OVERFLOW, and a new
   subscription works afterwards;
3. a deactivated account, a revoked token (password reset) and an expired token end a
   subscription with UNAUTHENTICATED; revoking the grant that gave the followed unit ends it with
   NOT_FOUND and nothing more is delivered; a healthy subscription survives its rechecks;
4. refusals: connection_init without a token, with a bad one, with a token signed by another key ->
   closed 4403; the legacy graphql-ws subprotocol -> refused; a subscription over HTTP POST -> a
   clear error saying to use the websocket (not a 500, not an opaque one); a subscribe before
   connection_init -> 4401; a unit out of scope -> NOT_FOUND at once, for each of the three;
5. api.events.broker directly: a bounded inbox per subscriber (256), marked overflowed, never growing,
   keeping the oldest changes in order; a finished subscription leaves the broker.

NB: Redis pub/sub channels are global to a Redis server, whatever the database number: the pair
test's OVERFLOW burst (published on the channel as another process would) reaches any other
process listening on that Redis at that moment.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from resolute.api.audit.chain import Event
from resolute.api.events.broker import CHANNEL, QUEUE_SIZE, Broker, Change

SECRET = "live-test-secret-" + "q" * 40
DEMO_PASSWORD = "resolute-demo"
REDIS_DB = 7  # a Redis database number no other test uses: the broker's channel is named after it
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
PAIR_CHANNEL = f"{CHANNEL}:{REDIS_DB}"
PROTOCOL = "graphql-transport-ws"
SETTLE = 0.5  # after `subscribe`, the time the server takes to read the caller and join the broker
DELIVERY = 1.0  # a committed change reaches a subscriber within this (seconds after the mutation answered)
QUIET = 1.5  # how long a subscriber that must hear nothing is listened to

ASSIGNMENT_SUB = (
    "subscription($unit: ID) { assignmentChanged(unit: $unit) "
    "{ action occurredAt assignment { id code status progress unit { code } } } }"
)
MEASUREMENT_SUB = (
    "subscription($unit: ID) { measurementChanged(unit: $unit) "
    "{ action occurredAt measurement { id period value light unit { code } kpi { code } } } }"
)
WARNING_SUB = (
    "subscription($unit: ID) { warningRaised(unit: $unit) "
    "{ kind severity reason period value unit { code } assignment { code } kpi { code } } }"
)
ERRORS = "errors { field code message }"
REPORT = "mutation($i: ProgressReportSubmitInput!) { r: progressReportSubmit(input: $i) { assignment { code progress status } " + ERRORS + " } }"
MEASURE = "mutation($i: MeasurementSubmitInput!) { r: measurementSubmit(input: $i) { measurement { id period value light } " + ERRORS + " } }"
USER_CREATE = "mutation($i: UserCreateInput!) { r: userCreate(input: $i) { user { id } " + ERRORS + " } }"
ROLE_GRANT = "mutation($i: RoleGrantInput!) { r: roleGrant(input: $i) { grant { id } " + ERRORS + " } }"
ROLE_REVOKE = "mutation($i: RoleRevokeInput!) { r: roleRevoke(input: $i) { revokedGrantId " + ERRORS + " } }"
DEACTIVATE = "mutation($i: UserDeactivateInput!) { r: userDeactivate(input: $i) { user { id } " + ERRORS + " } }"
PASSWORD_SET = "mutation($i: UserPasswordSetInput!) { r: userPasswordSet(input: $i) { " + ERRORS + " } }"


# -- servers ----------------------------------------------------------------------------------

def _resolute() -> list[str]:
    script = Path(sys.executable).with_name("resolute")
    return [str(script)] if script.exists() else [sys.executable, "-m", "resolute.api.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(db: Path, **extra: str) -> dict[str, str]:
    """The environment without any RESOLUTE_* of the caller's, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESOLUTE_")}
    env.update({"RESOLUTE_DATABASE_URL": f"sqlite+aiosqlite:///{db}", "RESOLUTE_JWT_SECRET": SECRET, "RESOLUTE_GRAPHIQL": "false"})
    env.update({f"RESOLUTE_{k}": v for k, v in extra.items()})
    return env


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def _start(name: str, workdir: Path, demo_db: Path, **extra: str) -> Server:
    """A `resolute serve` over its own copy of the demo database (or `workdir`'s, if there already)."""
    db = workdir / "var" / "resolute.db"
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(demo_db, db)
    port = _free_port()
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*_resolute(), "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=workdir,
                                env=_env(db, **extra), stdout=out, stderr=subprocess.STDOUT)
    return Server(name=name, port=port, proc=proc, log=log)


def _wait_healthy(servers: list[Server], timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    for server in servers:
        while True:
            if server.proc.poll() is not None:
                pytest.fail(f"server {server.name} exited with {server.proc.returncode}:\n{server.output()}")
            try:
                if httpx.get(f"{server.http}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server {server.name} did not answer /healthz within {timeout} s:\n{server.output()}")
            time.sleep(0.1)


def _redis_problem() -> str | None:
    try:
        import redis
    except ImportError as exc:  # pragma: no cover - redis is a dependency
        return f"the redis package is missing ({exc})"
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@dataclass
class Cluster:
    solo: Server
    expiring: Server
    pair: tuple[Server, Server] | None
    redis_problem: str | None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Build the demo database once, then start every server at once (they boot in parallel)."""
    demo_dir = tmp_path_factory.mktemp("live-demo")
    demo_db = demo_dir / "var" / "resolute.db"
    demo = subprocess.run([*_resolute(), "demo"], cwd=demo_dir, env=_env(demo_db), capture_output=True, text=True, timeout=120, check=False)
    assert demo.returncode == 0, f"resolute demo failed:\n{demo.stdout[-3000:]}\n{demo.stderr[-3000:]}"
    redis_problem = _redis_problem()
    servers: list[Server] = []
    try:
        solo = _start("solo", tmp_path_factory.mktemp("live-solo"), demo_db, LIVE_RECHECK_SECONDS="1")
        servers.append(solo)
        expiring = _start("expiring", tmp_path_factory.mktemp("live-expiring"), demo_db, TOKEN_TTL_SECONDS="3", LIVE_RECHECK_SECONDS="30")
        servers.append(expiring)
        pair = None
        if redis_problem is None:
            shared = tmp_path_factory.mktemp("live-pair")  # both processes over this one database
            a = _start("pair-a", shared, demo_db, REDIS_URL=REDIS_URL)
            servers.append(a)
            b = _start("pair-b", shared, demo_db, REDIS_URL=REDIS_URL)
            servers.append(b)
            pair = (a, b)
        _wait_healthy(servers)
        yield Cluster(solo=solo, expiring=expiring, pair=pair, redis_problem=redis_problem)
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def solo(cluster: Cluster) -> Server:
    return cluster.solo


@pytest.fixture
def expiring(cluster: Cluster) -> Server:
    return cluster.expiring


@pytest.fixture
def pair(cluster: Cluster) -> tuple[Server, Server]:
    if cluster.pair is None:
        pytest.skip(f"REDIS NOT REACHABLE at {REDIS_URL} ({cluster.redis_problem}): the two-process live test was SKIPPED")
    return cluster.pair


# -- HTTP -------------------------------------------------------------------------------------

async def login(server: Server, username: str, password: str = DEMO_PASSWORD, *, fresh: bool = False) -> str:
    if fresh or username not in server.tokens:
        async with httpx.AsyncClient(base_url=server.http, timeout=10) as client:
            response = await client.post("/auth/token", json={"username": username, "password": password})
        assert response.status_code == 200, (username, response.text)
        server.tokens[username] = response.json()["access_token"]
    return server.tokens[username]


async def gql(server: Server, token: str | None, query: str, variables: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=server.http, timeout=15) as client:
        response = await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    try:
        body = response.json()
    except ValueError:
        body = {"raw": response.text}
    return response.status_code, body


async def data(server: Server, token: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    status, body = await gql(server, token, query, variables)
    assert status == 200 and not body.get("errors"), (status, body)
    return body["data"]


async def mutate(server: Server, token: str, query: str, input_: dict[str, Any]) -> dict[str, Any]:
    """Run a mutation aliased `r`; fail on any refusal."""
    result = (await data(server, token, query, {"i": input_}))["r"]
    assert result["errors"] == [], result["errors"]
    return result


async def unit_ids(server: Server, token: str, *codes: str) -> dict[str, str]:
    query = "{ " + " ".join(f'u{i}: unit(code: "{code}") {{ id code }}' for i, code in enumerate(codes)) + " }"
    found = await data(server, token, query)
    ids = {}
    for i, code in enumerate(codes):
        assert found[f"u{i}"] is not None, f"unit {code} is not readable"
        ids[code] = found[f"u{i}"]["id"]
    return ids


async def open_assignments(server: Server, officer_token: str) -> list[dict[str, Any]]:
    """The officer's own open assignments (the demo gives P01-C001 several)."""
    query = "{ me { user { unit { id code } } } assignments(first: 50, filter: {status: [\"in_progress\", \"not_started\"]}) { nodes { id code progress status unit { code } } } }"
    found = await data(server, officer_token, query)
    home = found["me"]["user"]["unit"]["code"]
    mine = [a for a in found["assignments"]["nodes"] if a["unit"]["code"] == home]
    assert len(mine) >= 5, f"the demo should give {home} open assignments: {found}"
    return mine


def _next_progress(assignment: dict[str, Any]) -> int:
    return assignment["progress"] + 1 if assignment["progress"] < 99 else 50


async def submit_report(server: Server, officer_token: str, assignment: dict[str, Any]) -> tuple[int, float]:
    """Post a progress report; the new progress and when the answer (after the commit) came."""
    progress = _next_progress(assignment)
    result = await mutate(server, officer_token, REPORT, {"assignmentId": assignment["id"], "progress": progress, "status": "in_progress", "note": "live test"})
    answered = time.monotonic()
    assert result["assignment"] == {"code": assignment["code"], "progress": progress, "status": "in_progress"}
    assignment["progress"] = progress
    return progress, answered


# -- websockets -------------------------------------------------------------------------------

class Live:
    """One graphql-transport-ws connection: subscriptions by id, messages kept in arrival order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.unread: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, server: Server, token: str, *, via: str = "payload") -> Live:
        headers = {"Authorization": f"Bearer {token}"} if via == "header" else None
        ws = await connect(server.ws, subprotocols=[PROTOCOL], additional_headers=headers, open_timeout=5)  # type: ignore[list-item]
        assert ws.subprotocol == PROTOCOL
        init: dict[str, Any] = {"type": "connection_init"}
        if via == "payload":
            init["payload"] = {"Authorization": f"Bearer {token}"}
        await ws.send(json.dumps(init))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert ack["type"] == "connection_ack", ack
        return cls(ws)

    async def subscribe(self, sub_id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        await self.ws.send(json.dumps({"type": "subscribe", "id": sub_id, "payload": {"query": query, "variables": variables or {}}}))

    async def _read(self, timeout: float) -> bool:
        """Read one message (answering pings) into `unread`; False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                raw = await asyncio.wait_for(self.ws.recv(), left)
            except TimeoutError:
                return False
            message = json.loads(raw)
            if message.get("type") == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
                continue
            if message.get("type") == "pong":
                continue
            self.unread.append(message)
            return True

    async def wait(self, sub_id: str, timeout: float) -> dict[str, Any]:
        """The next message of `sub_id` (next, error or complete); fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for i, message in enumerate(self.unread):
                if message.get("id") == sub_id:
                    return self.unread.pop(i)
            if not await self._read(deadline - time.monotonic()):
                pytest.fail(f"nothing for subscription {sub_id!r} within {timeout} s (other messages: {self.unread})")

    async def listen(self, seconds: float) -> list[dict[str, Any]]:
        """Everything that arrives within `seconds` (and was not read yet)."""
        deadline = time.monotonic() + seconds
        while await self._read(deadline - time.monotonic()):
            pass
        messages, self.unread = self.unread, []
        return messages

    async def close(self) -> None:
        await self.ws.close()


async def follow(server: Server, token: str, query: str, variables: dict[str, Any] | None = None, *, via: str = "payload") -> Live:
    """A connection with one subscription, id "s" (several on one connection: see test_several_subscriptions_on_one_connection)."""
    live = await Live.open(server, token, via=via)
    await live.subscribe("s", query, variables)
    return live


def payload_of(message: dict[str, Any], field_name: str) -> dict[str, Any]:
    assert message["type"] == "next" and not message["payload"].get("errors"), message
    return message["payload"]["data"][field_name]


def error_code(message: dict[str, Any]) -> str:
    """The code of the error a subscription ended with (graphql-transport-ws: a `next` with errors, or `error`)."""
    if message["type"] == "next":
        errors = message["payload"].get("errors")
    elif message["type"] == "error":
        errors = message["payload"]
    else:
        errors = None
    assert errors, f"expected the subscription to end with an error, got {message}"
    return str(errors[0].get("extensions", {}).get("code"))


async def ends_with(live: Live, sub_id: str, code: str, timeout: float) -> tuple[dict[str, Any], float]:
    """Wait for `sub_id` to end with error `code` (then `complete`); the error message and how long it took."""
    started = time.monotonic()
    message = await live.wait(sub_id, timeout)
    took = time.monotonic() - started
    assert error_code(message) == code, message
    ending = await live.wait(sub_id, 2)
    assert ending["type"] == "complete", ending
    return message, took


async def closed_with(server: Server, init: dict[str, Any] | None, *, subprotocols: list[str] | None = None) -> int | None:
    """Connect, send `init` (if any), and return the close code (None if the socket stayed open)."""
    try:
        ws = await connect(server.ws, subprotocols=subprotocols or [PROTOCOL], open_timeout=5)  # type: ignore[list-item]
    except InvalidHandshake:
        return -1  # refused at the handshake
    try:
        if init is not None:
            await ws.send(json.dumps(init))
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert message.get("type") != "connection_ack", f"the connection was accepted: {message}"
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None
    except TimeoutError:
        return None
    finally:
        await ws.close()


# -- 1. one process -----------------------------------------------------------------------------

async def test_report_reaches_the_province_and_not_its_sibling(solo: Server) -> None:
    officer = await login(solo, "p01.c001.officer")
    leader, sibling = await login(solo, "p01.leader"), await login(solo, "p02.leader")
    ids = await unit_ids(solo, leader, "P01-C001", "P01-C002")
    assignment = (await open_assignments(solo, officer))[0]

    hearing = {
        "province": await follow(solo, leader, ASSIGNMENT_SUB),  # default: the leader's own unit, P01; token in connection_init
        "commune": await follow(solo, leader, ASSIGNMENT_SUB, {"unit": ids["P01-C001"]}, via="header"),  # token on the upgrade
        "own": await follow(solo, officer, ASSIGNMENT_SUB),
    }
    deaf = {
        "sibling province": await follow(solo, sibling, ASSIGNMENT_SUB, via="header"),
        "other commune": await follow(solo, leader, ASSIGNMENT_SUB, {"unit": ids["P01-C002"]}),
    }
    try:
        await asyncio.sleep(SETTLE)
        before = datetime.now(UTC)
        progress, answered = await submit_report(solo, officer, assignment)

        for name, live in hearing.items():
            message = await live.wait("s", 5)
            took = time.monotonic() - answered
            change = payload_of(message, "assignmentChanged")
            assert change["action"] == "progressReportSubmit"
            assert change["assignment"] == {"id": assignment["id"], "code": assignment["code"], "status": "in_progress", "progress": progress,
                                            "unit": {"code": "P01-C001"}}
            occurred = datetime.fromisoformat(change["occurredAt"])
            assert abs((occurred - before).total_seconds()) < 5, change["occurredAt"]
            assert took < DELIVERY, f"{name}: delivered {took:.2f} s after the mutation answered"

        heard = dict(zip([*hearing, *deaf], await asyncio.gather(*(live.listen(QUIET) for live in [*hearing.values(), *deaf.values()])), strict=True))
        assert heard == {name: [] for name in heard}, f"heard what it should not (a sibling, another commune, or a change twice): {heard}"
    finally:
        for live in [*hearing.values(), *deaf.values()]:
            await live.close()


async def test_several_subscriptions_on_one_connection(solo: Server) -> None:
    """graphql-ws clients multiplex every subscription of a page over one socket and start them together
    (up to 20 per connection, says the README): each must run and hear the change."""
    officer, leader = await login(solo, "p01.c001.officer"), await login(solo, "p01.leader")
    assignment = (await open_assignments(solo, officer))[4]
    live = await Live.open(solo, leader)
    try:
        subscriptions = {f"a{i}": ASSIGNMENT_SUB for i in range(4)} | {f"m{i}": MEASUREMENT_SUB for i in range(2)} | {f"w{i}": WARNING_SUB for i in range(2)}
        for sub_id, query in subscriptions.items():
            await live.subscribe(sub_id, query)
        started = await live.listen(1.0)
        assert started == [], f"subscriptions started together on one connection failed: {started}"

        progress, _ = await submit_report(solo, officer, assignment)
        for sub_id in [s for s in subscriptions if s.startswith("a")]:
            change = payload_of(await live.wait(sub_id, 5), "assignmentChanged")
            assert (change["assignment"]["code"], change["assignment"]["progress"]) == (assignment["code"], progress)
        rest = await live.listen(QUIET)
        assert all(m["id"].startswith("w") and m["type"] == "next" and not m["payload"].get("errors") for m in rest), rest
        assert all(payload_of(m, "warningRaised")["assignment"] == {"code": assignment["code"]} for m in rest), rest
    finally:
        await live.close()


async def test_measurement_and_its_warning_reach_the_province_only(solo: Server) -> None:
    officer = await login(solo, "p01.c001.officer")
    leader, sibling = await login(solo, "p01.leader"), await login(solo, "p02.leader")
    statuses = await data(solo, officer, "{ me { user { unit { id } } } kpiStatuses(first: 50) { nodes { kpi { id code frequency direction redThreshold } unit { id code } period } } }")
    home = statuses["me"]["user"]["unit"]["id"]
    candidates = [s for s in statuses["kpiStatuses"]["nodes"]
                  if s["unit"]["id"] == home and s["kpi"]["frequency"] == "monthly" and s["kpi"]["direction"] == "increase" and Decimal(s["kpi"]["redThreshold"]) > 5]
    assert candidates, f"the demo should give P01-C001 a monthly KPI: {statuses}"
    status = candidates[0]
    year, month = map(int, status["period"].split("-"))
    period = f"{year + month // 12}-{month % 12 + 1:02d}"  # the month after the latest measured one
    assert period <= date.today().strftime("%Y-%m"), f"the demo's latest period {status['period']} leaves no past month to submit"
    kpi_code = status["kpi"]["code"]

    near_m = await follow(solo, leader, MEASUREMENT_SUB, via="header")
    near_w = await follow(solo, leader, WARNING_SUB)
    far = [await follow(solo, sibling, MEASUREMENT_SUB), await follow(solo, sibling, WARNING_SUB, via="header")]
    try:
        await asyncio.sleep(SETTLE)

        submitted = await mutate(solo, officer, MEASURE, {"kpiId": status["kpi"]["id"], "unitId": home, "period": period, "value": "1.00"})
        answered = time.monotonic()
        assert submitted["measurement"]["light"] == "RED", submitted

        change = payload_of(await near_m.wait("s", 5), "measurementChanged")
        took = time.monotonic() - answered
        assert change["action"] == "measurementSubmit"
        assert change["measurement"]["id"] == submitted["measurement"]["id"]
        assert (change["measurement"]["period"], Decimal(change["measurement"]["value"]), change["measurement"]["light"]) == (period, Decimal("1.00"), "RED")
        assert change["measurement"]["unit"] == {"code": "P01-C001"} and change["measurement"]["kpi"] == {"code": kpi_code}
        assert took < DELIVERY, f"measurementChanged delivered {took:.2f} s after the mutation answered"

        warning = payload_of(await near_w.wait("s", 5), "warningRaised")
        assert (warning["kind"], warning["severity"], warning["period"]) == ("KPI_LIGHT", "RED", period), warning
        assert Decimal(warning["value"]) == Decimal("1.00") and warning["unit"] == {"code": "P01-C001"} and warning["kpi"] == {"code": kpi_code}
        assert warning["assignment"] is None

        heard_m, heard_w, *heard_far = await asyncio.gather(near_m.listen(QUIET), near_w.listen(QUIET), *(live.listen(QUIET) for live in far))
        assert heard_far == [[], []], f"a sibling province's leader heard of P01-C001's measurement: {heard_far}"
        assert heard_m == [] and heard_w == [], f"one measurement gave more than one change and one KPI_LIGHT warning: {heard_m} {heard_w}"
    finally:
        for live in (near_m, near_w, *far):
            await live.close()


# -- 2. two processes through Redis ----------------------------------------------------------------

async def test_report_on_one_process_reaches_subscribers_of_the_other(pair: tuple[Server, Server]) -> None:
    import redis.asyncio as aioredis

    a, b = pair
    officer = await login(a, "p01.c001.officer")
    leader, sibling = await login(b, "p01.leader"), await login(b, "p02.leader")
    assignments = await open_assignments(a, officer)

    on_b = await follow(b, leader, ASSIGNMENT_SUB)
    far_b = await follow(b, sibling, ASSIGNMENT_SUB)
    on_a = await follow(a, leader, ASSIGNMENT_SUB)
    redis = aioredis.from_url(REDIS_URL)
    try:
        await asyncio.sleep(SETTLE)

        # What is not a batch of changes on the channel is ignored, and the listeners stay up.
        for junk in (b"not json", b"null", b"{}", b"[1, 2]", json.dumps([{"action": "x"}]).encode()):
            assert await redis.publish(PAIR_CHANNEL, junk) >= 2, "both processes should be listening on the channel"

        progress, answered = await submit_report(a, officer, assignments[1])
        for live, where in ((on_b, "B"), (on_a, "A")):
            message = await live.wait("s", 5)
            took = time.monotonic() - answered
            change = payload_of(message, "assignmentChanged")
            assert change["action"] == "progressReportSubmit"
            assert change["assignment"]["code"] == assignments[1]["code"] and change["assignment"]["progress"] == progress
            assert change["assignment"]["unit"] == {"code": "P01-C001"}
            assert took < DELIVERY, f"the subscriber on {where} got the change {took:.2f} s after A answered"

        heard_far, heard_b, heard_a = await asyncio.gather(far_b.listen(QUIET), on_b.listen(QUIET), on_a.listen(QUIET))
        assert heard_far == [], f"a sibling province's leader on B heard of P01-C001's report: {heard_far}"
        assert heard_b == [] and heard_a == [], f"a change was delivered twice: {heard_b} {heard_a}"

        # A burst of more changes than an inbox holds, as another process would publish it in one batch:
        # the subscriber that cannot keep up is ended with OVERFLOW (it cannot have read them all).
        burst = [{"action": "unitUpdate", "object_type": "unit", "object_key": "1", "unit_id": 1, "occurred_at": datetime.now(UTC).isoformat()}
                 for _ in range(QUEUE_SIZE + 44)]
        await redis.publish(PAIR_CHANNEL, json.dumps(burst))
        message, _ = await ends_with(on_b, "s", "OVERFLOW", 5)
        assert "subscribe again" in message["payload"]["errors"][0]["message"]

        # ... and subscribing again works: the next report is delivered.
        await on_b.subscribe("again", ASSIGNMENT_SUB)
        await asyncio.sleep(SETTLE)
        await on_a.listen(0.2)
        await far_b.listen(0.2)
        progress, answered = await submit_report(a, officer, assignments[2])
        change = payload_of(await on_b.wait("again", 5), "assignmentChanged")
        assert change["assignment"]["code"] == assignments[2]["code"] and change["assignment"]["progress"] == progress
        assert time.monotonic() - answered < DELIVERY
        assert await far_b.listen(QUIET) == []
    finally:
        await redis.aclose()
        for live in (on_b, far_b, on_a):
            await live.close()


# -- 3. the caller read again ----------------------------------------------------------------------

async def _new_user(server: Server, admin: str, username: str, home: str, grants: list[tuple[str, str]]) -> tuple[str, list[str]]:
    """A fresh account (so that no demo user is harmed) with `grants` [(role, unit id)]; its id and grant ids."""
    password = "live-test-password"
    user_id = (await mutate(server, admin, USER_CREATE, {"username": username, "fullName": f"Live {username}", "unitId": home, "password": password}))["user"]["id"]
    grant_ids = [(await mutate(server, admin, ROLE_GRANT, {"userId": user_id, "role": role, "unitId": unit_id}))["grant"]["id"] for role, unit_id in grants]
    await login(server, username, password)
    return user_id, grant_ids


async def test_deactivated_account_ends_its_subscriptions(solo: Server) -> None:
    admin = await login(solo, "admin")
    ids = await unit_ids(solo, admin, "P01")
    user_id, _ = await _new_user(solo, admin, "live.deactivated", ids["P01"], [("leader", ids["P01"])])
    token = solo.tokens["live.deactivated"]
    lives = [await follow(solo, token, ASSIGNMENT_SUB), await follow(solo, token, WARNING_SUB, via="header")]
    try:
        quiet = await asyncio.gather(*(live.listen(1.6) for live in lives))
        assert quiet == [[], []], f"a healthy subscription ended at a recheck (every 1 s here): {quiet}"

        await mutate(solo, admin, DEACTIVATE, {"id": user_id})
        for message, took in await asyncio.gather(*(ends_with(live, "s", "UNAUTHENTICATED", 4) for live in lives)):
            assert "deactivated" in message["payload"]["errors"][0]["message"]
            assert took < 3.5, f"ended {took:.2f} s after the deactivation, with a recheck every second"

        # A new subscription on the same connection is refused at once.
        await lives[0].subscribe("late", ASSIGNMENT_SUB)
        await ends_with(lives[0], "late", "UNAUTHENTICATED", 3)
    finally:
        for live in lives:
            await live.close()


async def test_revoked_token_ends_its_subscription(solo: Server) -> None:
    admin = await login(solo, "admin")
    ids = await unit_ids(solo, admin, "P01")
    user_id, _ = await _new_user(solo, admin, "live.revoked", ids["P01"], [("viewer", ids["P01"])])
    live = await follow(solo, solo.tokens["live.revoked"], ASSIGNMENT_SUB)
    try:
        await asyncio.sleep(SETTLE)
        await mutate(solo, admin, PASSWORD_SET, {"id": user_id, "password": "another-live-password"})  # revokes its tokens; still active
        message, took = await ends_with(live, "s", "UNAUTHENTICATED", 4)
        assert took < 3.5
        assert "revoked" in message["payload"]["errors"][0]["message"]
    finally:
        await live.close()
    # The account itself still works with a new token.
    fresh = await login(solo, "live.revoked", "another-live-password", fresh=True)
    again = await follow(solo, fresh, ASSIGNMENT_SUB)
    try:
        assert await again.listen(1.5) == []
    finally:
        await again.close()


async def test_expired_token_ends_its_subscription_at_expiry(expiring: Server) -> None:
    """Tokens of 3 s, a recheck every 30 s: only the expiry timer can end it within a few seconds."""
    token = await login(expiring, "p01.leader", fresh=True)
    issued = time.monotonic()
    live = await follow(expiring, token, ASSIGNMENT_SUB)
    try:
        message, _ = await ends_with(live, "s", "UNAUTHENTICATED", 6)
        lived = time.monotonic() - issued
        assert 1.0 <= lived < 5.5, f"a 3 s token's subscription ended {lived:.2f} s after the login"
        assert "expired" in message["payload"]["errors"][0]["message"]
        # Subscribing again with the expired token is refused at once.
        await live.subscribe("b", ASSIGNMENT_SUB)
        started = time.monotonic()
        await ends_with(live, "b", "UNAUTHENTICATED", 3)
        assert time.monotonic() - started < 1.5
    finally:
        await live.close()


async def test_revoked_grant_ends_the_subscription_with_not_found(solo: Server) -> None:
    """A user of P02 also given P01: following P01-C001, it hears P01-C001's reports until that grant goes."""
    admin = await login(solo, "admin")
    officer = await login(solo, "p01.c001.officer")
    ids = await unit_ids(solo, admin, "P01", "P02", "P01-C001")
    _, (_, p01_grant) = await _new_user(solo, admin, "live.granted", ids["P02"], [("viewer", ids["P02"]), ("viewer", ids["P01"])])
    assignments = await open_assignments(solo, officer)
    token = solo.tokens["live.granted"]
    live = await follow(solo, token, ASSIGNMENT_SUB, {"unit": ids["P01-C001"]})
    home = await follow(solo, token, ASSIGNMENT_SUB)  # P02, its own unit: untouched by the revocation
    try:
        await asyncio.sleep(SETTLE)
        progress, _ = await submit_report(solo, officer, assignments[2])
        change = payload_of(await live.wait("s", 5), "assignmentChanged")
        assert (change["assignment"]["code"], change["assignment"]["progress"]) == (assignments[2]["code"], progress)

        await mutate(solo, admin, ROLE_REVOKE, {"grantId": p01_grant})
        message, took = await ends_with(live, "s", "NOT_FOUND", 4)
        assert took < 3.5
        assert "no longer in your scope" in message["payload"]["errors"][0]["message"]

        await submit_report(solo, officer, assignments[3])
        heard, heard_home = await asyncio.gather(live.listen(QUIET), home.listen(QUIET))
        assert heard == [], f"after the grant was revoked, still heard: {heard}"
        assert heard_home == [], f"the subscription to its own unit (P02) heard P01-C001, or was ended: {heard_home}"
    finally:
        await live.close()
        await home.close()


# -- 4. refusals -----------------------------------------------------------------------------------

async def test_connection_init_without_a_good_token_is_closed_4403(solo: Server) -> None:
    import jwt

    good = await login(solo, "p01.leader")
    foreign = jwt.encode({"sub": "1", "iss": "resolute", "aud": "resolute-api", "iat": time.time(), "exp": time.time() + 600},
                         "another-secret-" + "k" * 40, algorithm="HS256")
    inits = {
        "no payload": {"type": "connection_init"},
        "empty payload": {"type": "connection_init", "payload": {}},
        "not a token": {"type": "connection_init", "payload": {"Authorization": "Bearer not-a-token"}},
        "no scheme": {"type": "connection_init", "payload": {"Authorization": good}},
        "basic scheme": {"type": "connection_init", "payload": {"Authorization": "Basic YWRtaW46cmVzb2x1dGUtZGVtbw=="}},
        "foreign signature": {"type": "connection_init", "payload": {"Authorization": f"Bearer {foreign}"}},
        "tampered": {"type": "connection_init", "payload": {"Authorization": f"Bearer {good[:-4]}AAAA"}},
    }
    codes = dict(zip(inits, await asyncio.gather(*(closed_with(solo, init) for init in inits.values())), strict=True))
    assert codes == {name: 4403 for name in inits}, codes


async def test_legacy_graphql_ws_subprotocol_is_refused(solo: Server) -> None:
    token = await login(solo, "p01.leader")
    code = await closed_with(solo, {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}, subprotocols=["graphql-ws"])
    assert code in (-1, 4406), f"the legacy graphql-ws protocol was not refused (close code {code})"


async def test_subscription_before_connection_init_is_refused(solo: Server) -> None:
    code = await closed_with(solo, {"type": "subscribe", "id": "1", "payload": {"query": ASSIGNMENT_SUB}})
    assert code == 4401, code


async def test_following_a_unit_out_of_scope_is_not_found(solo: Server) -> None:
    leader = await login(solo, "p01.leader")
    p02 = (await unit_ids(solo, await login(solo, "p02.leader"), "P02"))["P02"]
    live = await Live.open(solo, leader)
    try:
        for sub_id, query in (("a", ASSIGNMENT_SUB), ("m", MEASUREMENT_SUB), ("w", WARNING_SUB)):
            await live.subscribe(sub_id, query, {"unit": p02})
            message, took = await ends_with(live, sub_id, "NOT_FOUND", 3)
            assert took < 1.5
            assert message["payload"]["data"] is None
    finally:
        await live.close()


async def test_subscription_over_http_post_is_a_clear_refusal(solo: Server) -> None:
    token = await login(solo, "p01.leader")
    status, body = await gql(solo, None, ASSIGNMENT_SUB)
    assert status == 401, (status, body)
    for accept in ("application/json", "text/event-stream", 'multipart/mixed;subscriptionSpec="1.0", application/json'):
        async with httpx.AsyncClient(base_url=solo.http, timeout=10) as client:
            response = await client.post("/graphql", json={"query": ASSIGNMENT_SUB}, headers={"Authorization": f"Bearer {token}", "Accept": accept})
        assert response.status_code < 500, (accept, response.status_code, response.text)
        text = response.text
        assert "websocket" in text.lower(), f"Accept {accept}: a subscription over HTTP POST is answered {response.status_code} {text[:300]!r}, which does not say to use the websocket"


# -- 5. the broker itself ------------------------------------------------------------------------

def _events(n: int, start: int = 0) -> list[Event]:
    now = datetime.now(UTC)
    return [Event(id=i, occurred_at=now, actor_id=None, action="progressReportSubmit", object_type="progress_report", object_key=str(i), unit_id=7, request_id=None)
            for i in range(start, start + n)]


async def test_broker_inbox_is_bounded_and_marks_overflow() -> None:
    broker = Broker(queue_size=4)
    await broker.start()  # no Redis: fans out in the process
    try:
        with broker.subscribe() as slow, broker.subscribe() as keeping_up:
            assert broker.subscribers == 2
            for batch in range(5):
                await broker.publish(_events(2, start=batch * 2))
                while not keeping_up.queue.empty():
                    keeping_up.queue.get_nowait()
            assert slow.overflowed and slow.queue.qsize() == 4
            kept = [slow.queue.get_nowait() for _ in range(4)]
            assert [c.object_key for c in kept] == ["0", "1", "2", "3"], "the inbox keeps the oldest changes, in order"
            assert kept[0] == Change(action="progressReportSubmit", object_type="progress_report", object_key="0", unit_id=7, occurred_at=kept[0].occurred_at)
            assert datetime.fromisoformat(kept[0].occurred_at).tzinfo is not None
            assert not keeping_up.overflowed
        assert broker.subscribers == 0, "a finished subscription leaves the broker"
        await broker.publish(_events(3))  # nobody listening: nothing kept anywhere
    finally:
        await broker.stop()


async def test_broker_memory_stays_bounded_with_a_client_that_never_reads() -> None:
    broker = Broker()
    assert broker.queue_size == QUEUE_SIZE == 256
    with broker.subscribe() as stuck:
        for batch in range(40):
            await broker.publish(_events(500, start=batch * 500))
            assert stuck.queue.qsize() <= QUEUE_SIZE
        assert stuck.overflowed and stuck.queue.qsize() == QUEUE_SIZE
    with broker.subscribe() as fresh:  # a new subscriber starts empty and healthy
        assert not fresh.overflowed and fresh.queue.empty()
        await broker.publish(_events(QUEUE_SIZE))
        assert not fresh.overflowed and fresh.queue.qsize() == QUEUE_SIZE  # exactly full is not an overflow
        await broker.publish(_events(1))
        assert fresh.overflowed


async def test_brokers_on_two_redis_databases_hear_only_their_own() -> None:
    """Pub/sub channels ignore Redis database numbers: the broker names its channel after its database, so
    two deployments sharing one Redis server (say /8 and /9) never hear each other's changes."""
    import redis.asyncio as aioredis

    probe = aioredis.from_url("redis://127.0.0.1:6379/8", socket_connect_timeout=1)
    try:
        await probe.ping()
    except Exception as exc:  # noqa: BLE001 - any failure to reach Redis means: skip, loudly
        pytest.skip(f"REDIS NOT REACHABLE ({exc!r}): the channel isolation test was SKIPPED")
    finally:
        await probe.aclose()
    eight, nine = Broker("redis://127.0.0.1:6379/8"), Broker("redis://127.0.0.1:6379/9")
    await eight.start()
    await nine.start()
    try:
        assert eight.channel != nine.channel
        with eight.subscribe() as here, nine.subscribe() as there:
            await eight.publish(_events(1))
            change = await asyncio.wait_for(here.queue.get(), timeout=2)
            assert change.object_key == "0"
            await asyncio.sleep(0.3)
            assert there.queue.empty(), "a change of database 8 reached database 9's subscriber"
    finally:
        await eight.stop()
        await nine.stop()
