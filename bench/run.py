"""Benchmark: import the national data set and time scoped GraphQL queries over it.

    .venv/bin/python bench/run.py [--scale national] [--backend sqlite|postgresql|both] [--repeat 20] [--import-only]

Generates the data set (the vendored generator, seed 1) into bench/data/ (git-ignored),
imports it twice into a fresh database (the second import must change nothing; the importer's
progress lines go to stderr), then runs
each query --repeat times in-process over HTTP (httpx ASGI transport) and prints the median
and 95th percentile. Figures go into bench/README.md by hand, with the date and machine.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, update  # noqa: E402

from resolute.api.access.policy import load_policy  # noqa: E402
from resolute.api.accounts.models import User  # noqa: E402
from resolute.api.auth.passwords import hash_password  # noqa: E402
from resolute.api.db import create_engine, session_factory  # noqa: E402
from resolute.api.interchange.importer import import_directory  # noqa: E402
from resolute.api.migrate import upgrade  # noqa: E402
from resolute.api.transaction import UnitOfWork  # noqa: E402
from tests.support import PASSWORD, pg_create_database, pg_drop_database, pg_reachable, pg_url, running_app, settings_for  # noqa: E402

QUERIES = {
    "units(first:100) totalCount, as TW admin": ("admin", "{ units(first: 100) { totalCount nodes { code } } }"),
    "units(first:100) totalCount, as a province manager": ("p03.manager", "{ units(first: 100) { totalCount nodes { code } } }"),
    "units(first:100) totalCount, as a commune officer": ("p03.c005.officer", "{ units(first: 100) { totalCount nodes { code } } }"),
    "search 'ha noi' over the whole tree": ("admin", '{ units(first: 20, filter: {search: "ha noi"}) { totalCount nodes { code name } } }'),
    "units(first:100){parent children ancestors}": ("admin", "{ units(first: 100) { nodes { code parent { code } children { nodes { code } } ancestors { code } } } }"),
    "province descendants(first:100) + totalCount": ("p03.manager", '{ unit(code: "P03") { descendants(first: 100) { totalCount nodes { code } } } }'),
    "communes, 100 with their cells": ("admin", "{ units(first: 100, filter: {kind: \"commune\"}) { nodes { code children { nodes { code } } } } }"),
    "me with grants and ancestors": ("p03.c005.officer", "{ me { user { username } unit { code } ancestors { code } grants { role } permissions { action } } }"),
    "a commune's 20 assignments with task and reports": ("p03.c005.officer", "{ assignments(first: 20, filter: {toMyUnit: true}) { totalCount nodes { status progress overdue task { code resolution { code } } reports { nodes { progress } } } } }"),
    "a province's overdue programme tasks": ("p03.manager", "{ tasks(first: 50, filter: {overdue: true, leadUnder: null}) { totalCount nodes { code dueOn } } }"),
    "coverage summary of 57-NQ/TW": ("admin", '{ resolution(code: "57-NQ/TW") { id coverageSummary { expected onTime } } }'),
}


def dataset(scale: str) -> Path:
    out = ROOT / "bench" / "data" / f"{scale}-seed1"
    if not (out / "units.csv").exists():
        subprocess.run([sys.executable, str(ROOT / "api" / "demo" / "generator.py"), "--scale", scale, "--seed", "1", "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
    return out


def progress(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


async def import_twice(url: str, directory: Path) -> tuple[float, float]:
    settings = settings_for(url)
    engine = create_engine(settings)
    timings = []
    try:
        for attempt in ("first", "again"):
            print(f"import ({attempt}):", file=sys.stderr)
            started = time.perf_counter()
            outcome = await import_directory(UnitOfWork(sessions=session_factory(engine), settings=settings, actor_label="bench"),
                                             directory=directory, policy=load_policy(settings.policy_dir), progress=progress)
            lines = outcome.value
            timings.append(time.perf_counter() - started)
        assert all(" 0 created, 0 updated" in line for line in lines if not line.startswith("grants")), f"the second import changed something: {lines}"
        async with session_factory(engine).begin() as session:
            await session.execute(update(User).values(password_hash=hash_password(settings, PASSWORD)))  # benchmark users only, not audited
            assert await session.scalar(select(User.id).where(User.username == "p03.c005.officer"))
    finally:
        await engine.dispose()
    return timings[0], timings[1]


async def time_queries(url: str, repeat: int) -> dict[str, tuple[float, float]]:
    results = {}
    async with running_app(settings_for(url), committing=True) as api:  # production-like: its own engine and pool
        for label, (username, query) in QUERIES.items():
            await api.data(query, as_user=username)  # warm-up (and a check that it answers)
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                await api.data(query, as_user=username)
                samples.append((time.perf_counter() - started) * 1000)
            samples.sort()
            results[label] = (statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)])
    return results


async def bench(backend: str, directory: Path, repeat: int, import_only: bool) -> None:
    if backend == "postgresql":
        if not await pg_reachable():
            print("PostgreSQL not reachable: skipped")
            return
        name = await pg_create_database()
        url = pg_url(name)
    else:
        path = ROOT / "bench" / "data" / "bench.db"
        path.unlink(missing_ok=True)
        url = f"sqlite+aiosqlite:///{path}"
    try:
        await asyncio.to_thread(upgrade, settings_for(url))
        first, second = await import_twice(url, directory)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\n## {backend}\n\nimport: {first:.1f} s (first), {second:.1f} s (again, nothing changed); peak RSS of the process so far {peak:.0f} MB\n")
        if import_only:
            return
        print("| query | median ms | p95 ms |\n|---|---:|---:|")
        for label, (median, p95) in (await time_queries(url, repeat)).items():
            print(f"| {label} | {median:.1f} | {p95:.1f} |")
    finally:
        if backend == "postgresql":
            await pg_drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="national", choices=("small", "medium", "national"))
    parser.add_argument("--backend", default="both", choices=("sqlite", "postgresql", "both"))
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--import-only", action="store_true", help="time the two imports, not the queries")
    args = parser.parse_args()
    directory = dataset(args.scale)
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        asyncio.run(bench(backend, directory, args.repeat, args.import_only))
    print(f"\npeak RSS of the benchmark process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
