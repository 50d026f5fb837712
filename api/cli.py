"""The `resolute` command: serve, migrate, demo, import, create-admin, set-password, audit verify, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import importlib.util
import os
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from resolute.api.settings import ROOT, Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from resolute.api.transaction import Outcome, UnitOfWork

__all__ = ["main"]

T = TypeVar("T")
DEMO_PASSWORD = "resolute-demo"


def _operate(settings: Settings, call: Callable[[UnitOfWork], Awaitable[Outcome[T]]]) -> T:
    """Run one service operation in the system's unit of work (audited as the console), on a
    fresh engine; a refusal is printed field by field and ends the command with exit code 1."""
    from resolute.api.db import create_engine, session_factory
    from resolute.api.transaction import UnitOfWork

    async def run() -> Outcome[T]:
        engine = create_engine(settings)
        try:
            return await call(UnitOfWork(sessions=session_factory(engine), settings=settings, actor_label=f"cli:{getpass.getuser()}"))
        finally:
            await engine.dispose()

    outcome = asyncio.run(run())
    if outcome.errors:
        for error in outcome.errors:
            print(f"refused: {error.field or '(input)'}: {error.code.value}: {error.message}", file=sys.stderr)
        raise SystemExit(1)
    return outcome.value  # type: ignore[return-value]


def _server_implementations() -> dict[str, str]:
    """uvloop's event loop and httptools' HTTP parser where they are installed (both are dependencies,
    but uvloop has no Windows build); else uvicorn's own choice (asyncio, h11)."""
    return {
        "loop": "uvloop" if importlib.util.find_spec("uvloop") else "auto",
        "http": "httptools" if importlib.util.find_spec("httptools") else "auto",
    }


async def _database_problem(settings: Settings) -> str | None:
    """Why the server must not start on this database (it does not answer, or is not at the migrations' head)."""
    from resolute.api.db import create_engine, session_factory
    from resolute.api.readiness import head_revision, readiness

    engine = create_engine(settings)
    try:
        _, body = await readiness(settings.replace(redis_url=""), session_factory(engine), head_revision(settings))
    finally:
        await engine.dispose()
    checks = body["checks"]
    if checks["database"] != "ok":
        return f"the database does not answer: {checks['database']}"
    if checks["migrations"] != "ok":
        return f"the database is {checks['migrations']} (or `resolute serve --migrate`)"
    return None


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from resolute.api.http_timeouts import protocol_class
    from resolute.api.logs import logging_config

    if args.migrate:
        cmd_migrate(argparse.Namespace(revision="head", downgrade=None), settings)
    problem = asyncio.run(_database_problem(settings))
    if problem is not None:
        print(f"resolute: {problem}", file=sys.stderr)
        return 2
    fast = _server_implementations()
    print(
        f"Resolute on http://{args.host}:{args.port}/graphql (GraphiQL in a browser; POST /auth/token for a token);"
        f" {args.workers} worker(s), loop {fast['loop']}, http {fast['http']}"
    )
    # By import string, so that each worker process builds its own app (and its own engine and pool).
    # SIGTERM: stop accepting, let in-flight requests finish within the grace, close websockets, exit 0. uvicorn
    # raises the signal again once it has drained, to the handler it found: this one, which lets `serve` return 0.
    # One access line per request comes from api.metrics, with its request id; uvicorn's own is off.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        uvicorn.run(
            "resolute.schema.server:create_app", factory=True, host=args.host, port=args.port, workers=args.workers, log_level="info",
            log_config=logging_config(settings.log_format), access_log=False, timeout_graceful_shutdown=settings.shutdown_grace_seconds,
            timeout_keep_alive=5, loop=fast["loop"], http=protocol_class(fast["http"]),
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from resolute.api import migrate

    if args.downgrade:
        migrate.downgrade(settings, args.downgrade)
    else:
        migrate.upgrade(settings, args.revision)
    print(f"database at revision {'' if not args.downgrade else args.downgrade}{args.revision if not args.downgrade else ''}")
    return 0


def _import(settings: Settings, directory: Path) -> int:
    from resolute.api.access.policy import load_policy
    from resolute.api.interchange.importer import import_directory
    from resolute.api.interchange.reader import InterchangeError

    def progress(line: str) -> None:  # one line per phase, as it ends: a national import takes a while
        print(line, file=sys.stderr, flush=True)

    started = time.perf_counter()
    try:
        lines = _operate(settings, lambda uow: import_directory(uow, directory=directory, policy=load_policy(settings.policy_dir), progress=progress))
    except InterchangeError as exc:
        print(f"import refused, nothing written ({len(exc.problems)} problem(s)):", file=sys.stderr)
        for problem in exc.problems[:200]:
            print(f"  {problem}", file=sys.stderr)
        if len(exc.problems) > 200:
            print(f"  ... and {len(exc.problems) - 200} more", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    print(f"imported {directory} in {time.perf_counter() - started:.1f} s")
    committed = time.perf_counter()
    if _vacuum(settings):
        progress(f"VACUUM (ANALYZE) of the imported tables, {time.perf_counter() - committed:.1f} s (at {time.perf_counter() - started:.1f} s)")
    return 0


def _vacuum(settings: Settings) -> bool:
    from resolute.api.db import create_engine
    from resolute.api.interchange.importer import vacuum

    async def run() -> bool:
        engine = create_engine(settings)
        try:
            return await vacuum(engine)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from resolute.api import migrate

    migrate.upgrade(settings)
    return _import(settings, Path(args.directory))


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Build the demo database: migrate, generate a small organisation, import it, set demo passwords."""
    from resolute.api import migrate
    from resolute.api.demo import generator

    migrate.upgrade(settings)
    with tempfile.TemporaryDirectory() as tmp:
        gen = generator.Gen(args.scale, args.seed, tmp)
        gen.gen_units()
        gen.gen_users()
        gen.gen_all()
        gen.close_all()
        code = _import(settings, Path(tmp))
    if code:
        return code
    from resolute.api.access.policy import load_policy
    from resolute.api.demo.scenario import play, set_demo_passwords

    names = _operate(settings, lambda uow: set_demo_passwords(uow, password=DEMO_PASSWORD))
    lines = _operate(settings, lambda uow: play(uow, policy=load_policy(settings.policy_dir)))
    for line in lines:
        print(f"demo: {line}")
    from resolute.api.reminders.service import run_once
    from resolute.api.transaction import Outcome

    async def reminders(uow: UnitOfWork) -> Outcome[dict[str, Any]]:
        return Outcome(value=await run_once(uow, holder="demo"))

    made = _operate(settings, reminders)
    print(f"demo: one round of the reminders worker: {sum(made.get('made', {}).values())} notifications (resolute worker --once does it again)")
    print(f"\ndemo accounts (password '{DEMO_PASSWORD}'), e.g.: {', '.join(names)}")
    return 0


def _password(args: argparse.Namespace) -> str:
    if getattr(args, "password_stdin", False):
        return sys.stdin.readline().rstrip("\n")
    env = os.environ.get("RESOLUTE_ADMIN_PASSWORD")
    if env:
        return env
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("passwords differ")
    return first


def cmd_create_admin(args: argparse.Namespace, settings: Settings) -> int:
    """Create (or re-enable) an admin over a unit's subtree; the way in on a new database."""
    from resolute.api import migrate
    from resolute.api.accounts.service import bootstrap_admin

    migrate.upgrade(settings)
    password = _password(args)
    user, unit = _operate(settings, lambda uow: bootstrap_admin(uow, username=args.username, full_name=args.full_name, unit_code=args.unit, password=password))
    print(f"admin '{user.username}' over {unit.code} and everything below it")
    return 0


def cmd_set_password(args: argparse.Namespace, settings: Settings) -> int:
    from resolute.api.accounts.service import reset_password

    password = _password(args)
    user = _operate(settings, lambda uow: reset_password(uow, username=args.username, password=password))
    print(f"password set for '{user.username}'")
    return 0


def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Recompute the audit hash chain; exit 1 naming the first broken link."""
    from resolute.api.audit.chain import verify_chain
    from resolute.api.db import create_engine, session_factory

    async def run() -> tuple[int, object]:
        engine = create_engine(settings)
        try:
            async with session_factory(engine)() as session:
                return await verify_chain(session)
        finally:
            await engine.dispose()

    count, broken = asyncio.run(run())
    if broken is not None:
        print(f"audit chain BROKEN at event {broken.event_id}: {broken.reason} ({count} events read)", file=sys.stderr)  # type: ignore[attr-defined]
        return 1
    print(f"audit chain intact: {count} events")
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """The reminders worker: one round (--once) or a round every --interval seconds; safe to run twice (a lease)."""
    import os
    import socket

    from resolute.api.db import create_engine, session_factory
    from resolute.api.reminders.service import run_once
    from resolute.api.transaction import UnitOfWork

    holder = f"{socket.gethostname()}:{os.getpid()}"[:64]

    async def run() -> None:
        engine = create_engine(settings)
        try:
            uow = UnitOfWork(sessions=session_factory(engine), settings=settings, actor_label="worker")
            while True:
                outcome = await run_once(uow, holder=holder, lease_seconds=max(60.0, args.interval * 3), release=args.once)
                print(f"worker {holder}: {outcome}", flush=True)
                if args.once:
                    return
                await asyncio.sleep(args.interval)
        finally:
            await engine.dispose()

    asyncio.run(run())
    return 0


def cmd_export_schema(args: argparse.Namespace, settings: Settings) -> int:
    # The CLI reaches the GraphQL surface (the outer layer) by name only, as `serve` does: api never imports it.
    export_sdl = importlib.import_module("resolute.schema.export").export_sdl
    path = Path(args.output)
    path.write_text(export_sdl(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


def build_parser(settings: Settings | None = None) -> argparse.ArgumentParser:
    settings = settings or Settings()
    parser = argparse.ArgumentParser(prog="resolute", description="Resolute: monitor how resolutions are carried out, unit by unit.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the GraphQL API", description="Serve the API (GraphiQL at /graphql, tokens at POST /auth/token).")
    serve.add_argument("--host", default=settings.host)
    serve.add_argument("--port", type=int, default=settings.port)
    serve.add_argument("--workers", type=int, default=1, help="server processes (use PostgreSQL for more than one)")
    serve.add_argument("--migrate", action="store_true", help="apply migrations before serving")
    serve.set_defaults(func=cmd_serve)

    mig = sub.add_parser("migrate", help="apply database migrations", description="Upgrade the database to the latest schema (or to --revision).")
    mig.add_argument("--revision", default="head")
    mig.add_argument("--downgrade", metavar="REVISION", help="downgrade to REVISION instead (e.g. base)")
    mig.set_defaults(func=cmd_migrate)

    demo = sub.add_parser("demo", help="build a demo database", description=f"Migrate, generate a demo organisation and import it; demo accounts get the password '{DEMO_PASSWORD}'. Safe to run twice.")
    demo.add_argument("--scale", choices=("small", "medium", "national"), default="small")
    demo.add_argument("--seed", type=int, default=1)
    demo.set_defaults(func=cmd_demo)

    imp = sub.add_parser("import", help="import an interchange directory", description="Import the interchange format from DIR (units, users, resolutions, objectives, KPIs, tasks, coordinators, milestones, assignments, progress reports, measurements); all or nothing, idempotent. Imported users cannot log in until an admin sets their password (userPasswordSet, or resolute set-password).")
    imp.add_argument("directory", metavar="DIR")
    imp.set_defaults(func=cmd_import)

    admin = sub.add_parser("create-admin", help="create an admin account", description="Create or reset an admin over a unit (default: the root). The password is read from RESOLUTE_ADMIN_PASSWORD, --password-stdin, or a prompt.")
    admin.add_argument("--username", default="admin")
    admin.add_argument("--full-name")
    admin.add_argument("--unit", metavar="CODE", help="the unit the grant covers (default: the root)")
    admin.add_argument("--password-stdin", action="store_true")
    admin.set_defaults(func=cmd_create_admin)

    setpw = sub.add_parser("set-password", help="set a user's password", description="Set a user's password (e.g. an imported account). Read from RESOLUTE_ADMIN_PASSWORD, --password-stdin, or a prompt.")
    setpw.add_argument("username")
    setpw.add_argument("--password-stdin", action="store_true")
    setpw.set_defaults(func=cmd_set_password)

    audit = sub.add_parser("audit", help="audit trail tools", description="Audit trail tools.")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="recompute the hash chain", description="Recompute the audit hash chain from the first event; exit 1 and name the first broken link if any.")
    verify.set_defaults(func=cmd_audit_verify)

    worker = sub.add_parser("worker", help="run the reminders worker", description=(
        "Remind before deadlines and escalate overdue work step by step (notifications through an outbox); "
        "one worker works at a time (a lease in the database), a second waits."))
    worker.add_argument("--once", action="store_true", help="one round, then exit")
    worker.add_argument("--interval", type=float, default=300.0, help="seconds between rounds (default 300)")
    worker.set_defaults(func=cmd_worker)

    export = sub.add_parser("export-schema", help="write the GraphQL SDL", description="Write the SDL of the API (committed as schema/schema.graphql).")
    in_checkout = (ROOT / "pyproject.toml").is_file()  # an installed wheel has no checkout to write into
    export.add_argument("--output", default=str(ROOT / "schema" / "schema.graphql") if in_checkout else "schema.graphql")
    export.set_defaults(func=cmd_export_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:  # one line, not a traceback (the value of a secret is never in it)
        print(f"resolute: {exc}", file=sys.stderr)
        return 2
    args = build_parser(settings).parse_args(argv)
    return int(args.func(args, settings) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
