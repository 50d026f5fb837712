"""Settings are checked when a `resolute` command starts: a misspelt name, a value of the wrong type or out of
bounds, a database URL of another driver, an unknown token algorithm, an unreadable key file each stop it with
exit status 2 and one line on stderr that names the variable (never a secret); `serve` refuses a database that does
not answer or is not at the migrations' head, unless `--migrate`.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from resolute.api import cli, migrate
from resolute.api.settings import Settings, SettingsError, load_settings
from tests.support import settings_for
from tests.test_readiness import closed_port

SECRET = "s3cret-value-never-printed"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only the variables a case sets (a migrated SQLite file by default; uvicorn never really starts)."""
    import os

    for name in [n for n in os.environ if n.startswith("RESOLUTE_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: None)


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The one line a command that refuses to start prints (status 2, nothing on stdout)."""
    assert cli.main(list(argv)) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 1 and lines[0].startswith("resolute: "), (out, err)
    assert SECRET not in err
    return lines[0].removeprefix("resolute: ")


CASES: list[tuple[dict[str, str], str]] = [
    ({"RESOLUTE_PROT": "8000"}, "unknown setting RESOLUTE_PROT (did you mean RESOLUTE_PORT?)"),
    ({"RESOLUTE_JWT_SECRT": SECRET}, "unknown setting RESOLUTE_JWT_SECRT (did you mean RESOLUTE_JWT_SECRET?)"),
    ({"RESOLUTE_NOTHING_LIKE_IT": "1"}, "unknown setting RESOLUTE_NOTHING_LIKE_IT"),
    ({"RESOLUTE_PORT": "abc"}, "RESOLUTE_PORT='abc': a whole number is expected"),
    ({"RESOLUTE_PORT": "70000"}, "RESOLUTE_PORT='70000': between 1 and 65535"),
    ({"RESOLUTE_DB_POOL_TIMEOUT": "soon"}, "RESOLUTE_DB_POOL_TIMEOUT='soon': a number is expected"),
    ({"RESOLUTE_TOKEN_TTL_SECONDS": "0"}, "RESOLUTE_TOKEN_TTL_SECONDS='0': between 1 and 2.6784e+06"),
    ({"RESOLUTE_GRAPHIQL": "ture"}, "RESOLUTE_GRAPHIQL='ture': one of true, false (or 1, 0, yes, no, on, off)"),
    ({"RESOLUTE_DATABASE_URL": f"mysql://root:{SECRET}@db/resolute"},
     "RESOLUTE_DATABASE_URL uses 'mysql'; use sqlite+aiosqlite:///path/to/file.db or postgresql+asyncpg://user@host:5432/database"),
    ({"RESOLUTE_DATABASE_URL": f"{SECRET} is no URL"},
     "RESOLUTE_DATABASE_URL is not a database URL; for example sqlite+aiosqlite:///path/to/file.db or postgresql+asyncpg://user@host:5432/database"),
    ({"RESOLUTE_JWT_ALGORITHM": "none"}, "RESOLUTE_JWT_ALGORITHM='none': one of HS256, HS384, HS512, RS256, RS384, RS512, ES256, ES384, ES512, PS256, PS384, PS512, EdDSA"),
    ({"RESOLUTE_JWT_PUBLIC_KEY_FILE": "/nonexistent/key.pem"}, "RESOLUTE_JWT_PUBLIC_KEY_FILE: cannot read /nonexistent/key.pem"),
    ({"RESOLUTE_RATE_LIMIT_COST": "1000"}, "RESOLUTE_RATE_LIMIT_COST=1000: at least RESOLUTE_MAX_COST (500000), or 0 for no rate limit"),
    ({"RESOLUTE_REFRESH_GRACE_SECONDS": "3600"}, "RESOLUTE_REFRESH_GRACE_SECONDS='3600': between 0 and 300"),
    ({"RESOLUTE_DB_POOL_TIMEOUT": "30"}, "RESOLUTE_DB_POOL_TIMEOUT=30: shorter than RESOLUTE_REQUEST_TIMEOUT_SECONDS (30)"),
    ({"RESOLUTE_DB_POOL_RECYCLE_SECONDS": "-5"}, "RESOLUTE_DB_POOL_RECYCLE_SECONDS='-5': between -1 and 86400"),
    ({"RESOLUTE_REQUEST_TIMEOUT_SECONDS": "5"}, "RESOLUTE_DB_POOL_TIMEOUT=10: shorter than RESOLUTE_REQUEST_TIMEOUT_SECONDS (5)"),
    ({"RESOLUTE_DB_STATEMENT_TIMEOUT_MS": "40000"}, "RESOLUTE_DB_STATEMENT_TIMEOUT_MS=40000: at most RESOLUTE_REQUEST_TIMEOUT_SECONDS (30 s)"),
    ({"RESOLUTE_JWKS_URL": "https://idp.example/certs"},
     "RESOLUTE_EXTERNAL_ISSUER and RESOLUTE_JWKS_URL go together: set both for an external identity provider, or neither"),
    ({"RESOLUTE_JWKS_URL": "https://idp.example/certs", "RESOLUTE_EXTERNAL_ISSUER": "resolute"},
     "RESOLUTE_EXTERNAL_ISSUER: another issuer than RESOLUTE_JWT_ISSUER (Resolute's own tokens)"),
    ({"RESOLUTE_JWKS_URL": "https://idp.example/certs", "RESOLUTE_EXTERNAL_ISSUER": "https://idp.example", "RESOLUTE_EXTERNAL_ALGORITHMS": "RS256,HS256"},
     "RESOLUTE_EXTERNAL_ALGORITHMS: 'HS256' is not an asymmetric algorithm (RS256, ES256, PS256, EdDSA, ...)"),
    ({"RESOLUTE_PROFILE": "staging"}, "RESOLUTE_PROFILE='staging': one of development, production"),
    ({"RESOLUTE_PROFILE": "production"}, "RESOLUTE_PROFILE=production: set RESOLUTE_JWT_SECRET (32 characters or more, the same for every process)"),
    ({"RESOLUTE_PROFILE": "production", "RESOLUTE_JWT_SECRET": "short"}, "RESOLUTE_PROFILE=production: set RESOLUTE_JWT_SECRET (32 characters or more, the same for every process)"),
    ({"RESOLUTE_PROFILE": "production", "RESOLUTE_JWT_ALGORITHM": "RS256"}, "RESOLUTE_PROFILE=production: RS256 needs RESOLUTE_JWT_PRIVATE_KEY_FILE and RESOLUTE_JWT_PUBLIC_KEY_FILE"),
    ({"RESOLUTE_PROFILE": "production", "RESOLUTE_JWT_SECRET": SECRET * 3, "RESOLUTE_CORS_ORIGINS": "https://a.example, *"},
     "RESOLUTE_CORS_ORIGINS: name the web clients' origins; '*' is refused in production"),
]  # fmt: skip


@pytest.mark.parametrize(("env", "line"), CASES, ids=[line.split(":")[0].split(" (")[0] for _, line in CASES])
def test_a_bad_setting_stops_every_command_with_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str], line: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match="^" + re.escape(line) + "$"):
        load_settings()
    for argv in (["migrate"], ["serve"], ["export-schema", "--output", "schema.graphql"]):
        assert refused(capsys, *argv) == line


def test_good_settings_and_the_names_read_elsewhere_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"RESOLUTE_PORT": "8080", "RESOLUTE_GRAPHIQL": "off", "RESOLUTE_DB_POOL_TIMEOUT": "2.5", "RESOLUTE_ADMIN_PASSWORD": SECRET,
                        "RESOLUTE_TEST_PG": "postgresql://x@y/z", "RESOLUTE_DATABASE_URL": "postgresql+asyncpg://u@h:5432/d"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert (settings.port, settings.graphiql, settings.db_pool_timeout, settings.database_url) == (8080, False, 2.5, "postgresql+asyncpg://u@h:5432/d")
    assert settings == Settings()


def test_the_production_profile_turns_graphiql_off_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESOLUTE_PROFILE", "Production")
    monkeypatch.setenv("RESOLUTE_JWT_SECRET", SECRET * 3)
    settings = load_settings()
    assert settings.production and not settings.graphiql
    monkeypatch.setenv("RESOLUTE_GRAPHIQL", "true")
    assert load_settings().graphiql
    monkeypatch.delenv("RESOLUTE_PROFILE")
    assert not load_settings().production and Settings().graphiql


def test_serve_refuses_a_database_it_cannot_use_unless_asked_to_migrate(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    calls: list[Any] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: calls.append(kwargs))
    url = f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}"
    monkeypatch.setenv("RESOLUTE_DATABASE_URL", url)
    assert refused(capsys, "serve") == "the database is not migrated: run `resolute migrate` (or `resolute serve --migrate`)"
    asyncio.run(asyncio.to_thread(migrate.upgrade, settings_for(url), "0006"))
    assert refused(capsys, "serve").startswith("the database is at 0006, the code expects ")
    assert calls == []
    assert cli.main(["serve", "--migrate"]) == 0 and len(calls) == 1  # migrated, then served
    assert cli.main(["serve"]) == 0 and len(calls) == 2
    capsys.readouterr()

    monkeypatch.setenv("RESOLUTE_DATABASE_URL", f"postgresql+asyncpg://resolute:{SECRET}@127.0.0.1:{closed_port()}/nowhere")
    assert refused(capsys, "serve").startswith("the database does not answer: unreachable (")
    assert len(calls) == 2


def test_the_pool_recycles_old_connections_and_pings_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A closed connection is replaced at checkout without a ping (api.db._alive); an old one is opened again."""
    from resolute.api.db import create_engine

    monkeypatch.setenv("RESOLUTE_DATABASE_URL", "postgresql+asyncpg://u@127.0.0.1:5432/d")
    engine = create_engine(load_settings())
    assert (engine.pool._recycle, engine.pool._pre_ping) == (300, False)  # type: ignore[attr-defined]
    monkeypatch.setenv("RESOLUTE_DB_POOL_RECYCLE_SECONDS", "-1")
    monkeypatch.setenv("RESOLUTE_DB_PRE_PING", "true")
    engine = create_engine(load_settings())
    assert (engine.pool._recycle, engine.pool._pre_ping) == (-1, True)  # type: ignore[attr-defined]
