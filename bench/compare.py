"""Resolute side by side with PostGraphile (the peer in shared/peer), same data, same machine, one run.

    .venv/bin/python bench/compare.py --scale medium           # or: make bench-peer
    .venv/bin/python bench/compare.py --duration 3 --rounds 1 --reuse   # quick, keeping both databases

What it measures, for each of the peer's five operations (shared/peer/ops.js, Q1..Q5, each run as
the persona and with the arguments of its LOAD entry):
- whether Resolute answers the same rows as PostGraphile (bench/operations.py normalises Resolute's
  answer; ops.js's `fromGql` normalises the peer's, through node);
- requests per second, p50 and p99 latency and errors under wrk (the peer's wrk/post.lua, which counts
  non-200 answers and GraphQL errors), at each concurrency (--conc), with one server process and with
  two (--workers), the two servers alternating cell by cell, the median of --rounds rounds; the ratio
  Resolute / PostGraphile;
- the SQL statements one Resolute request runs (in-process, tests.support.StatementCounter);
- each server's peak memory: VmHWM of all its processes, summed, sampled while it runs.

How: it (1) generates the data set with api/demo/generator.py into bench/data/ and checks that
shared/dataset/gen.py writes the same files; (2) sets the peer up in bench/work/peer (setup.sh: copy,
npm ci, wrk), loads it (load.sh: database `peer`) and serves it (pg_start.sh); (3) imports the same
files into the database `resolute_bench` through `import_directory`, gives the personas a known
password and analyses; (4) serves Resolute with `resolute serve`; (5) logs the personas in
(POST /auth/token); then checks the answers and runs wrk. It writes bench/results/compare-<date>.md
(git-ignored) and prints it; --readme also puts it in bench/README.md as a dated section.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust), root (load.sh runs psql as the postgres OS
user), node 20 and npm; setup.sh installs wrk. The project itself never needs shared/ (--shared).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import filecmp
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from operations import INTERIM_Q1, OPERATIONS, PASSWORD, REFERENCE_DATE, Operation, first_difference  # noqa: E402

BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
WORK = BENCH / "work"
SERVERS = ("PostGraphile", "Resolute")
JWT_SECRET = "bench-compare-secret-" + "x" * 32  # Resolute's, for this benchmark only
T = TypeVar("T")

# Turns PostGraphile answers ({op: data}) into ops.js rows; run with the peer's folder as cwd.
NODE_FROM_GQL = """
const { OPS } = require('./ops');
const answers = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const rows = {};
for (const [q, data] of Object.entries(answers)) rows[q] = OPS[q].fromGql(data);
process.stdout.write(JSON.stringify(rows));
"""


def say(message: str) -> None:
    print(f"[compare] {message}", file=sys.stderr, flush=True)


@dataclass
class Config:
    scale: str
    seed: int
    shared: Path
    pg: str  # postgresql://user@host:port, without a database
    db: str
    duration: int
    rounds: int
    conc: list[int]
    workers: list[int]
    ops: list[str]
    reuse: bool
    drop: bool
    readme: bool
    interim_q1: bool
    command: str


@dataclass
class Setup:
    """What the run found and how long each step took, for the report."""

    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        say(f"{name} ...")
        started = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - started
        say(f"{name}: {self.timings[name]:.1f} s")


@dataclass
class Verdict:
    """Does Resolute answer the same rows as the peer? `state`: same, differs, unchecked (the peer
    failed), unavailable (Resolute answered errors), not-yet (no document)."""

    state: str
    detail: str = ""
    peer_rows: str = ""

    @property
    def benchmark_resolute(self) -> bool:
        return self.state in ("same", "differs", "unchecked")

    def text(self) -> str:
        texts = {"same": "same rows", "differs": f"✗ rows differ: {self.detail}", "unchecked": f"✗ not compared: {self.detail}",
                 "unavailable": f"unavailable: {self.detail}"}
        return texts.get(self.state, self.detail)


@dataclass(frozen=True)
class Cell:
    server: str
    workers: int
    op: str
    conc: int
    round: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


# ------------------------------------------------------------------------------------ small tools


def run(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a command to completion and return what it printed; raise with its output if it fails."""
    done = subprocess.run(cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_json(url: str, body: dict[str, Any] | None = None, token: str | None = None, timeout: float = 30) -> tuple[int, Any]:
    """GET (no body) or POST JSON; the status and the decoded answer."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode(errors="replace")


def sql(cfg: Config, database: str, query: str) -> Any:
    """One value from PostgreSQL, as the superuser of --pg."""
    import asyncpg

    async def fetch() -> Any:
        conn = await asyncpg.connect(f"{cfg.pg}/{database}")
        try:
            return await conn.fetchval(query)
        finally:
            await conn.close()

    return asyncio.run(fetch())


def holds_dataset(cfg: Config, database: str, schema: str, setup: Setup) -> bool:
    """Does `database` exist with as many rows in each table as the data set's files? (--reuse)"""
    if not sql(cfg, "postgres", f"SELECT count(*) FROM pg_database WHERE datname = '{database}'"):
        return False
    try:
        return all(sql(cfg, database, f"SELECT count(*) FROM {schema}{name}") == n for name, n in setup.counts.items())
    except Exception:  # noqa: BLE001 -- no such table yet: it does not hold the data
        return False


def csv_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


# ----------------------------------------------------------------------------------- 1. data set


def generate(generator: Path, scale: str, seed: int, out: Path) -> None:
    run([sys.executable, str(generator), "--scale", scale, "--seed", str(seed), "--out", str(out)])


def build_dataset(cfg: Config, setup: Setup) -> Path:
    """The vendored generator's files (as bench/run.py makes them), if shared/dataset/gen.py writes the
    same; otherwise shared's, for both servers."""
    ours = BENCH / "data" / f"{cfg.scale}-seed{cfg.seed}"
    if not (ours / "units.csv").exists():
        generate(ROOT / "api" / "demo" / "generator.py", cfg.scale, cfg.seed, ours)
    theirs_gen = cfg.shared / "dataset" / "gen.py"
    if not theirs_gen.exists():
        setup.notes.append(f"{theirs_gen} not found: the vendored generator's files, unchecked")
        return ours
    with tempfile.TemporaryDirectory() as tmp:
        generate(theirs_gen, cfg.scale, cfg.seed, Path(tmp))
        names = sorted(p.name for p in Path(tmp).glob("*.csv"))
        _, differ, missing = filecmp.cmpfiles(ours, tmp, names, shallow=False)
        if not differ and not missing:
            setup.notes.append("the vendored generator (api/demo/generator.py) and shared/dataset/gen.py write the same files")
            return ours
        used = BENCH / "data" / f"{cfg.scale}-seed{cfg.seed}-shared"
        shutil.rmtree(used, ignore_errors=True)
        shutil.copytree(tmp, used)
    setup.notes.append(f"the vendored generator's files differ from shared/dataset/gen.py's ({', '.join(differ + missing)}): "
                       "both servers got shared's")
    return used


def count_dataset(directory: Path, setup: Setup) -> None:
    for name in ("units", "users", "tasks", "assignments", "progress_reports", "measurements"):
        setup.counts[name] = csv_rows(directory / f"{name}.csv")


# ----------------------------------------------------------------------------------------- 2. peer


@dataclass
class Peer:
    """PostGraphile from shared/peer, run from a writable copy (its README's way)."""

    folder: Path
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    def set_up(self, shared: Path) -> None:
        run([str(shared / "peer" / "setup.sh"), str(self.folder)])
        run(["node", "mkreq.js"], cwd=self.folder)  # results/gen/qN.body.json and qN.token

    def holds(self, cfg: Config, setup: Setup) -> bool:
        return holds_dataset(cfg, "peer", "app.", setup)

    def load(self, directory: Path) -> None:
        run([str(self.folder / "load.sh"), str(directory)])

    def start(self, workers: int) -> int:
        run([str(self.folder / "pg_start.sh"), str(workers)], cwd=self.folder, env={"PEER_PORT": str(self.port)})
        return int((self.folder / "results" / "postgraphile.pid").read_text())

    def stop(self) -> None:
        run([str(self.folder / "pg_stop.sh")], cwd=self.folder)

    def body_file(self, op: str) -> Path:
        return self.folder / "results" / "gen" / f"{op}.body.json"

    def token(self, op: str) -> str:
        return (self.folder / "results" / "gen" / f"{op}.token").read_text().strip()

    def rows(self, ops: list[str]) -> dict[str, Any]:
        """Each operation's answer as ops.js's fromGql rows; an error text where there is none."""
        answers, failed = {}, {}
        for op in ops:
            status, body = http_json(self.url, json.loads(self.body_file(op).read_text()), self.token(op))
            if status != 200 or not isinstance(body, dict) or body.get("errors") or body.get("data") is None:
                failed[op] = f"PostGraphile answered {status}: {str(body)[:300]}"
            else:
                answers[op] = body["data"]
        done = subprocess.run(["node", "-e", NODE_FROM_GQL], cwd=self.folder, input=json.dumps(answers),
                              capture_output=True, text=True, check=True)
        return {**json.loads(done.stdout), **failed}


# ------------------------------------------------------------------------------- 3. Resolute's db


def resolute_url(cfg: Config) -> str:
    return f"{cfg.pg.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{cfg.db}"




def recreate_database(cfg: Config) -> None:
    sql(cfg, "postgres", f'DROP DATABASE IF EXISTS "{cfg.db}" WITH (FORCE)')
    sql(cfg, "postgres", f'CREATE DATABASE "{cfg.db}"')


def bench_settings(cfg: Config) -> Any:
    """Settings for the harness's own connections (the served process gets RESOLUTE_* variables)."""
    from resolute.api.settings import Settings

    return Settings().replace(database_url=resolute_url(cfg), jwt_secret=JWT_SECRET, argon2_time_cost=1, argon2_memory_kib=1024)


def import_data(cfg: Config, directory: Path) -> None:
    """Migrate, then the whole interchange format in one unit of work (`resolute import`'s code)."""
    from resolute.api.access.policy import load_policy
    from resolute.api.db import create_engine, session_factory
    from resolute.api.interchange.importer import import_directory, vacuum
    from resolute.api.migrate import upgrade
    from resolute.api.transaction import UnitOfWork

    settings = bench_settings(cfg)
    upgrade(settings)

    async def work() -> None:
        engine = create_engine(settings)
        try:
            uow = UnitOfWork(sessions=session_factory(engine), settings=settings, actor_label="bench-compare")
            outcome = await import_directory(uow, directory=directory, policy=load_policy(settings.policy_dir))
            if outcome.errors:
                raise RuntimeError(f"import refused: {outcome.errors}")
            await vacuum(engine)  # as `resolute import` does
        finally:
            await engine.dispose()

    asyncio.run(work())


def set_passwords_and_analyze(cfg: Config, usernames: set[str]) -> None:
    """The personas get PASSWORD (nobody else can log in: imported users have none); then ANALYZE."""
    from sqlalchemy import text, update

    from resolute.api.accounts.models import User
    from resolute.api.auth.passwords import hash_password
    from resolute.api.db import create_engine, session_factory

    settings = bench_settings(cfg)

    async def work() -> None:
        engine = create_engine(settings)
        try:
            async with session_factory(engine).begin() as session:
                password_hash = hash_password(settings, PASSWORD)
                done = await session.execute(update(User).where(User.username.in_(usernames)).values(password_hash=password_hash))
                if done.rowcount != len(usernames):  # type: ignore[attr-defined]
                    raise RuntimeError(f"expected the personas {sorted(usernames)}, found {done.rowcount}")  # type: ignore[attr-defined]
            async with engine.connect() as conn:
                await conn.execute(text("ANALYZE"))
                await conn.commit()
        finally:
            await engine.dispose()

    asyncio.run(work())


# ------------------------------------------------------------------------------ 4. Resolute served


@dataclass
class ResoluteServer:
    """`resolute serve` as its own process group, on the benchmark database."""

    cfg: Config
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def command() -> Path:
        return Path(sys.executable).parent / "resolute"

    @classmethod
    def has_workers_option(cls) -> bool:
        return "--workers" in run([str(cls.command()), "serve", "--help"])

    def start(self, workers: int) -> int:
        cmd = [str(self.command()), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if workers > 1:
            cmd += ["--workers", str(workers)]
        env = {**os.environ, "RESOLUTE_DATABASE_URL": resolute_url(self.cfg), "RESOLUTE_JWT_SECRET": JWT_SECRET,
               "RESOLUTE_TOKEN_TTL_SECONDS": "86400", "RESOLUTE_GRAPHIQL": "false",
               "RESOLUTE_RATE_LIMIT_COST": "0"}  # one caller hammering on purpose: the per-caller allowance would answer 429
        WORK.mkdir(parents=True, exist_ok=True)
        with (WORK / f"resolute-w{workers}.log").open("wb") as log:  # uvicorn's log, an access line per request
            self.process = subprocess.Popen(cmd, cwd=WORK, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)  # its own process group: stop() ends it and its workers
        self._wait_healthy(workers)
        return self.process.pid

    def _wait_healthy(self, workers: int) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"resolute serve exited ({self.process.returncode}); see {WORK / f'resolute-w{workers}.log'}")
            try:
                if http_json(f"{self.base}/healthz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError("resolute serve did not answer /healthz within 90 s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # the group this harness created: the server and its workers
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def login(self, username: str) -> str:
        status, body = http_json(f"{self.base}/auth/token", {"username": username, "password": PASSWORD})
        if status != 200:
            raise RuntimeError(f"login of {username} refused ({status}): {body}")
        return str(body["access_token"])


# ------------------------------------------------------------------------------------ 5. memory


def descendants(root: int) -> set[int]:
    """root and every process below it (from /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def vm_hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakMemory:
    """Samples a server's process tree every 0.25 s; peak = the sum of each process's VmHWM."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(0.25)

    def sample(self) -> None:
        for pid in descendants(self.root):
            self.peaks[pid] = max(self.peaks.get(pid, 0), vm_hwm_kib(pid))

    def stop(self) -> tuple[float, int]:
        """(peak MB, processes seen)."""
        self._stop.set()
        self._thread.join()
        self.sample()
        return sum(self.peaks.values()) / 1024, len([p for p in self.peaks.values() if p])


# ------------------------------------------------------------------------------------ 6. answers


def resolute_operations(cfg: Config) -> dict[str, Operation]:
    ops = {name: OPERATIONS[name] for name in cfg.ops}
    if cfg.interim_q1 and "q1" in ops:
        from dataclasses import replace

        ops["q1"] = replace(ops["q1"], document=INTERIM_Q1, title=ops["q1"].title + " (today's interim query)")
    return ops


TABLES = {"Resolution": "resolutions", "Unit": "units", "Task": "tasks", "Kpi": "kpis"}


def with_ids(cfg: Config, ops: dict[str, Operation]) -> dict[str, Operation]:
    """Each operation with the global ids it names by code filled into its variables (after the import)."""
    from dataclasses import replace

    from resolute.schema.ids import encode_id

    filled = {}
    for name, op in ops.items():
        variables = dict(op.variables)
        for variable, (type_name, code) in op.ids.items():
            pk = sql(cfg, cfg.db, f"SELECT id FROM {TABLES[type_name]} WHERE code = '{code}'")
            variables[variable] = encode_id(type_name, pk) if pk is not None else f"missing {code}"
        filled[name] = replace(op, variables=variables)
    return filled


def graphql_error(status: int, body: Any) -> str | None:
    if status != 200 or not isinstance(body, dict):
        return f"HTTP {status}: {str(body)[:200]}"
    if body.get("errors"):
        return "; ".join(str(e.get("message", e)) for e in body["errors"])[:300]
    if body.get("data") is None:
        return "no data"
    return None


def rows_summary(rows: Any) -> str:
    if isinstance(rows, dict):
        return f"1 task, {len(rows.get('assignments', []))} assignments"
    return "null" if rows is None else str(len(rows))


def judge(op: Operation, peer_rows: Any, server: ResoluteServer, token: str, as_of: date | None) -> Verdict:
    """Resolute's rows against the peer's, for one operation."""
    if isinstance(peer_rows, str):
        return Verdict("unchecked", peer_rows)
    summary = rows_summary(peer_rows)
    if op.document is None or op.normalise is None:
        return Verdict("not-yet", op.missing, summary)
    status, body = http_json(f"{server.base}/graphql", op.body(), token)
    error = graphql_error(status, body)
    if error:
        return Verdict("unavailable", error, summary)
    try:
        ours = op.normalise(body["data"], as_of)
    except Exception as exc:  # an answer of another shape than the normaliser expects
        return Verdict("differs", f"normaliser failed: {exc!r}", summary)
    if op.fold is not None:
        peer_rows, ours = op.fold(peer_rows), op.fold(ours)
    difference = first_difference(peer_rows, ours)
    return Verdict("differs", difference, summary) if difference else Verdict("same", "", summary)


# --------------------------------------------------------------------------------- 7. statements


def statement_counts(cfg: Config, ops: dict[str, Operation]) -> dict[str, str]:
    """SQL statements per request, each operation run once in-process after a warm-up."""
    try:
        from tests.support import StatementCounter, running_app
    except Exception as exc:
        return {name: f"n/a ({exc.__class__.__name__})" for name in ops}

    async def count() -> dict[str, str]:
        found: dict[str, str] = {}
        async with running_app(bench_settings(cfg), committing=True) as api:
            counter = StatementCounter(api.engine, api.reader)  # the reader pool too (api.db.create_reader)
            for name, op in ops.items():
                if op.document is None:
                    continue
                await api.gql(op.document, op.variables, as_user=op.persona)
                counter.reset()
                body = await api.gql(op.document, op.variables, as_user=op.persona)
                found[name] = str(counter.count) + (" (errors)" if body.get("errors") else "")
        return found

    try:
        return asyncio.run(count())
    except Exception as exc:
        return {name: f"n/a ({exc!r:.60})" for name in ops}


# ---------------------------------------------------------------------------------------- 8. wrk


def wrk(url: str, body_file: Path, token: str, conc: int, seconds: int, lua: Path) -> dict[str, Any]:
    """One wrk run; post.lua's RESULT line (rps, latency percentiles, errors)."""
    threads = 1 if conc == 1 else 2
    out = run(["wrk", f"-t{threads}", f"-c{conc}", f"-d{seconds}s", "--timeout", "10s", "-s", str(lua), url],
              env={"WRK_BODY": str(body_file), "WRK_TOKEN": token})
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    return dict(json.loads(line[len("RESULT "):]))


@dataclass
class Target:
    """One server's side of an operation: where wrk sends what."""

    server: str
    url: str
    body_file: Path
    token: str


def targets_for(op: Operation, verdict: Verdict, peer: Peer, resolute: ResoluteServer, tokens: dict[str, str]) -> list[Target]:
    found = [Target("PostGraphile", peer.url, peer.body_file(op.name), peer.token(op.name))]
    if verdict.benchmark_resolute:
        body = WORK / "resolute" / f"{op.name}.body.json"
        body.parent.mkdir(parents=True, exist_ok=True)
        body.write_text(json.dumps(op.body()))
        found.append(Target("Resolute", f"{resolute.base}/graphql", body, tokens[op.persona]))
    return found


def measure(cfg: Config, workers: int, targets: dict[str, list[Target]], lua: Path) -> list[Cell]:
    """Warm each target up, then the rounds: per cell, the servers one after the other, alternating who goes first."""
    for name, sides in targets.items():
        for t in sides:
            say(f"warm-up {name} on {t.server} ({workers} process(es))")
            wrk(t.url, t.body_file, t.token, 8, min(2, cfg.duration), lua)
    cells, turn = [], 0
    for rnd in range(1, cfg.rounds + 1):
        for name, sides in targets.items():
            for conc in cfg.conc:
                turn += 1
                for t in (sides if turn % 2 else sides[::-1]):
                    r = wrk(t.url, t.body_file, t.token, conc, cfg.duration, lua)
                    errors = r["graphql_or_http_errors"] + r["socket_errors"]
                    cells.append(Cell(t.server, workers, name, conc, rnd, r["rps"], r["p50_ms"], r["p99_ms"], errors))
                    say(f"round {rnd} {name} c={conc} w={workers} {t.server}: {r['rps']:.0f} req/s, "
                        f"p50 {r['p50_ms']:.1f} ms, errors {errors}")
    return cells


# ------------------------------------------------------------------------------------- 9. report


def machine_facts(cfg: Config, peer: Peer) -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    pg = sql(cfg, "postgres", "SHOW server_version")
    pgraphile = json.loads((peer.folder / "node_modules" / "postgraphile" / "package.json").read_text())["version"]
    node = run(["node", "--version"]).strip()
    wrk_version = output(["wrk", "--version"]).split(" [")[0]  # wrk exits 1 after printing its version
    commit = output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = output(["git", "--no-optional-locks", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])  # read-only
    return [
        f"machine: {os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}",
        f"software: Python {platform.python_version()}, PostgreSQL {pg}, PostGraphile {pgraphile} on Node {node}, {wrk_version}",
        f"Resolute: commit {commit}{' with uncommitted changes in the working tree' if dirty else ''}",
    ]


def output(cmd: list[str]) -> str:
    """What a command prints, whatever its exit code (for version strings)."""
    return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()


def fmt_rps(value: float) -> str:
    return "–" if math.isnan(value) else (f"{value:,.0f}" if value >= 10 else f"{value:.1f}")


def fmt_cell(cells: list[Cell]) -> tuple[str, str, str, float]:
    """(req/s, p50 / p99, errors, req/s as a number) of one server's rounds."""
    if not cells:
        return "–", "–", "–", float("nan")
    rps = median([c.rps for c in cells])
    latency = f"{median([c.p50_ms for c in cells]):.1f} / {median([c.p99_ms for c in cells]):.1f}"
    errors = sum(c.errors for c in cells)
    return fmt_rps(rps) + (" ⚠" if errors else ""), latency, str(errors), rps


def throughput_table(cfg: Config, cells: list[Cell], verdicts: dict[str, Verdict]) -> list[str]:
    lines = ["| op | processes | c | PostGraphile req/s | Resolute req/s | Resolute / PostGraphile "
             "| PostGraphile p50 / p99 ms | Resolute p50 / p99 ms | errors P / R |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for op in cfg.ops:
        for workers in sorted({c.workers for c in cells}):
            for conc in cfg.conc:
                pick = {s: [c for c in cells if (c.server, c.workers, c.op, c.conc) == (s, workers, op, conc)] for s in SERVERS}
                p_rps, p_lat, p_err, p = fmt_cell(pick["PostGraphile"])
                r_rps, r_lat, r_err, r = fmt_cell(pick["Resolute"])
                ratio = "–" if math.isnan(r) or not p else f"{r / p:.2f}" + (" ✗" if verdicts[op].state in ("differs", "unchecked") else "")
                lines.append(f"| {op.upper()} | {workers} | {conc} | {p_rps} | {r_rps} | {ratio} | {p_lat} | {r_lat} | {p_err} / {r_err} |")
    return lines


def answers_table(cfg: Config, ops: dict[str, Operation], verdicts: dict[str, Verdict], statements: dict[str, str]) -> list[str]:
    lines = ["| op | persona | peer rows | Resolute | SQL statements per Resolute request |", "|---|---|---:|---|---:|"]
    for name in cfg.ops:
        op, verdict = ops[name], verdicts[name]
        answer = verdict.text().replace("|", "/")
        lines.append(f"| {name.upper()} {op.title} | {op.persona} | {verdict.peer_rows or '–'} | {answer} | {statements.get(name, '–')} |")
    return lines


def memory_table(memory: dict[tuple[str, int], tuple[float, int]], workers: list[int]) -> list[str]:
    lines = ["| server | " + " | ".join(f"{w} process{'es' if w > 1 else ''}" for w in workers) + " |", "|---|" + "---:|" * len(workers)]
    for server in SERVERS:
        row = [_memory(*memory[(server, w)]) if (server, w) in memory else "–" for w in workers]
        lines.append(f"| {server} | " + " | ".join(row) + " |")
    return lines


def _memory(megabytes: float, processes: int) -> str:
    return f"{megabytes:,.0f} MB ({processes} OS process{'es' if processes > 1 else ''})"


def render(cfg: Config, setup: Setup, facts: list[str], ops: dict[str, Operation], verdicts: dict[str, Verdict],
           statements: dict[str, str], cells: list[Cell], memory: dict[tuple[str, int], tuple[float, int]]) -> str:
    counts = ", ".join(f"{n:,} {name.replace('_', ' ')}" for name, n in setup.counts.items())
    steps = "; ".join(f"{name} {seconds:.1f} s" for name, seconds in setup.timings.items())
    rounds = f"{cfg.rounds} round{'s' if cfg.rounds > 1 else ''} (median)"
    out = [
        f"## Resolute and PostGraphile side by side, {date.today().isoformat()}", "",
        f"`{cfg.command}`", "",
        *[f"- {fact}" for fact in facts],
        f"- data: {cfg.scale}, seed {cfg.seed}: {counts}",
        (f"- load: wrk, {cfg.duration} s a cell, {rounds}, c = {', '.join(map(str, cfg.conc))}; the two servers alternate "
         "cell by cell on 127.0.0.1, sharing the cores with PostgreSQL and wrk; each server on its own database of the same PostgreSQL"),
        f"- setup: {steps}",
        *[f"- {note}" for note in setup.notes],
        "", "### Answers", "",
        *answers_table(cfg, ops, verdicts, statements),
        "", f"### Requests per second, {rounds}", "",
        "A cell is valid only with no errors (⚠: wrk counted non-200 answers or GraphQL errors); "
        "✗: Resolute's rows differ from the peer's.", "",
        *throughput_table(cfg, cells, verdicts),
        "", "### Peak memory of each server (VmHWM of all its processes, summed)", "",
        *memory_table(memory, cfg.workers),
    ]
    return "\n".join(out) + "\n"


def update_readme(markdown: str) -> None:
    """Replace this date's section of bench/README.md, or append it."""
    readme = BENCH / "README.md"
    text = readme.read_text(encoding="utf-8")
    heading = markdown.splitlines()[0]
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(lambda _: markdown.rstrip("\n") + "\n\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + markdown
    readme.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


# -------------------------------------------------------------------------------------- the run


def timed(setup: Setup, name: str, action: Callable[[], T]) -> T:
    with setup.step(name):
        return action()


def prepare(cfg: Config, setup: Setup, peer: Peer, ops: dict[str, Operation]) -> None:
    """Steps 1 to 3: the data set, the peer's database, Resolute's database."""
    directory = timed(setup, "dataset", lambda: build_dataset(cfg, setup))
    count_dataset(directory, setup)
    timed(setup, "peer setup (copy, npm ci, wrk)", lambda: peer.set_up(cfg.shared))
    if cfg.reuse and peer.holds(cfg, setup):
        setup.notes.append("--reuse: database `peer` already held the data set")
    else:
        timed(setup, "peer load (load.sh)", lambda: peer.load(directory))
    if cfg.reuse and holds_dataset(cfg, cfg.db, "", setup):
        setup.notes.append(f"--reuse: database `{cfg.db}` already held the data set")
    else:
        timed(setup, "Resolute database (drop, create)", lambda: recreate_database(cfg))
        timed(setup, "Resolute import (migrate + import_directory)", lambda: import_data(cfg, directory))
    personas = {op.persona for op in ops.values()}
    timed(setup, "Resolute passwords + ANALYZE", lambda: set_passwords_and_analyze(cfg, personas))


def check_answers(ops: dict[str, Operation], peer: Peer, resolute: ResoluteServer, tokens: dict[str, str],
                  as_of: date | None) -> dict[str, Verdict]:
    peer_rows = peer.rows(list(ops))
    return {name: judge(op, peer_rows.get(name), resolute, tokens[op.persona], as_of) for name, op in ops.items()}


def serve_and_measure(cfg: Config, workers: int, peer: Peer, resolute: ResoluteServer, ops: dict[str, Operation], as_of: date | None,
                      verdicts: dict[str, Verdict], memory: dict[tuple[str, int], tuple[float, int]]) -> list[Cell]:
    """Both servers with `workers` processes each: check the answers, then the wrk cells."""
    watches: dict[str, PeakMemory] = {}
    try:
        watches["PostGraphile"] = PeakMemory(peer.start(workers))
        watches["Resolute"] = PeakMemory(resolute.start(workers))
        tokens = {persona: resolute.login(persona) for persona in {op.persona for op in ops.values()}}
        for name, verdict in check_answers(ops, peer, resolute, tokens, as_of).items():
            if name not in verdicts:
                verdicts[name] = verdict
            elif verdict.text() != verdicts[name].text():
                detail = f"{verdicts[name].text()}; with {workers} processes: {verdict.text()}"
                verdicts[name] = Verdict(verdict.state, detail, verdict.peer_rows)
            say(f"{name}: {verdict.text()}")
        targets = {name: targets_for(op, verdicts[name], peer, resolute, tokens) for name, op in ops.items()}
        return measure(cfg, workers, targets, peer.folder / "wrk" / "post.lua")
    finally:
        for server, watch in watches.items():
            memory[(server, workers)] = watch.stop()
        resolute.stop()
        peer.stop()


def drop_databases(cfg: Config) -> None:
    for name in ("peer", cfg.db):
        sql(cfg, "postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    say(f"dropped the databases peer and {cfg.db}")


def main() -> None:
    cfg = parse_args()
    setup, peer, resolute = Setup(), Peer(WORK / "peer"), ResoluteServer(cfg)
    ops = resolute_operations(cfg)
    as_of = None if date.today() == REFERENCE_DATE else REFERENCE_DATE
    if as_of:
        setup.notes.append(f"the data set's statuses are as of {REFERENCE_DATE}: Resolute's overdue is compared as of that date "
                           "(from dueOn), not as of its clock's today")
    prepare(cfg, setup, peer, ops)
    ops = with_ids(cfg, ops)
    statements = timed(setup, "SQL statement counts (in-process)", lambda: statement_counts(cfg, ops))
    verdicts: dict[str, Verdict] = {}
    memory: dict[tuple[str, int], tuple[float, int]] = {}
    cells: list[Cell] = []
    load_before = os.getloadavg()[0]
    for workers in cfg.workers:
        if workers > 1 and not ResoluteServer.has_workers_option():
            setup.notes.append(f"{workers} processes skipped: `resolute serve` has no --workers option")
            continue
        cells += serve_and_measure(cfg, workers, peer, resolute, ops, as_of, verdicts, memory)
    setup.notes.append(f"1-minute load average when the measurements began and ended: {load_before:.1f} and {os.getloadavg()[0]:.1f} "
                       f"({os.cpu_count()} CPUs; other work on the machine moves the absolute figures)")
    markdown = render(cfg, setup, machine_facts(cfg, peer), ops, verdicts, statements, cells, memory)
    write_results(cfg, markdown, cells)
    if cfg.drop:
        drop_databases(cfg)


def write_results(cfg: Config, markdown: str, cells: list[Cell]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"compare-{date.today().isoformat()}.md"
    path.write_text(markdown, encoding="utf-8")
    (RESULTS / f"compare-{date.today().isoformat()}.json").write_text(json.dumps([c.__dict__ for c in cells], indent=1))
    if cfg.readme:
        update_readme(markdown)
        say("bench/README.md updated")
    print(markdown)
    say(f"written to {path.relative_to(ROOT)}")


def int_list(text: str) -> list[int]:
    return [int(part) for part in text.replace(" ", ",").split(",") if part]


def parse_args() -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="medium", choices=("medium", "national"), help="the load personas exist at medium and national")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared", help="shared folder (peer/, dataset/), default ../shared")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL as a superuser, without a database name")
    parser.add_argument("--db", default="resolute_bench", help="Resolute's database (the peer's is always `peer`)")
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per cell")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per cell; the table shows medians")
    parser.add_argument("--conc", type=int_list, default=[1, 8, 32], help="concurrencies, e.g. 1,8,32")
    parser.add_argument("--workers", type=int_list, default=[1, 2], help="server processes, e.g. 1,2")
    parser.add_argument("--ops", default="q1,q2,q3,q4,q5", help="operations, e.g. q1,q4")
    parser.add_argument("--reuse", action="store_true", help="keep each database that already holds the data set")
    parser.add_argument("--drop", action="store_true", help="drop both databases at the end")
    parser.add_argument("--readme", action="store_true", help="also put the results in bench/README.md (a section per date)")
    parser.add_argument("--interim-q1", action="store_true", help="Q1 as Resolute answers it today (checks the pipeline; its rows differ)")
    args = parser.parse_args()
    ops = [op.strip().lower() for op in args.ops.split(",") if op.strip()]
    unknown = [op for op in ops if op not in OPERATIONS]
    if unknown:
        parser.error(f"unknown operations: {unknown}")
    return Config(scale=args.scale, seed=args.seed, shared=args.shared.resolve(), pg=args.pg.rstrip("/"), db=args.db,
                  duration=args.duration, rounds=args.rounds, conc=args.conc, workers=args.workers, ops=ops, reuse=args.reuse,
                  drop=args.drop, readme=args.readme, interim_q1=args.interim_q1, command="bench/compare.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
