"""One settings object, read from RESOLUTE_* environment variables.

Every field has a default that works when nothing is set: a SQLite file under ./var of the
working directory, an HS256 secret kept in ./var/jwt-secret, GraphiQL on.
"""

from __future__ import annotations

import functools
import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path

__all__ = ["ROOT", "VAR", "Settings"]

# The folder holding api/, schema/, migrations/ and policies/: the checkout, or site-packages/resolute
# in an installed wheel (both ship as data there). Nothing is ever written under it.
ROOT = Path(__file__).resolve().parent.parent
# Where the defaults keep what they write (the SQLite file, a development secret): ./var under the
# directory the command runs from.
VAR = Path("var")


def _env(name: str, default: str) -> str:
    return os.environ.get(f"RESOLUTE_{name}", default)


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment, with working defaults."""

    database_url: str = field(default_factory=lambda: _env("DATABASE_URL", f"sqlite+aiosqlite:///{VAR.resolve() / 'resolute.db'}"))
    db_pool_size: int = field(default_factory=lambda: int(_env("DB_POOL_SIZE", "10")))
    db_pool_timeout: float = field(default_factory=lambda: float(_env("DB_POOL_TIMEOUT", "10")))
    db_statement_timeout_ms: int = field(default_factory=lambda: int(_env("DB_STATEMENT_TIMEOUT_MS", "15000")))
    db_echo: bool = field(default_factory=lambda: _bool(_env("DB_ECHO", "false")))

    jwt_algorithm: str = field(default_factory=lambda: _env("JWT_ALGORITHM", "HS256"))
    jwt_secret: str = field(default_factory=lambda: _env("JWT_SECRET", ""))
    jwt_private_key_file: str = field(default_factory=lambda: _env("JWT_PRIVATE_KEY_FILE", ""))
    jwt_public_key_file: str = field(default_factory=lambda: _env("JWT_PUBLIC_KEY_FILE", ""))
    jwt_issuer: str = field(default_factory=lambda: _env("JWT_ISSUER", "resolute"))
    jwt_audience: str = field(default_factory=lambda: _env("JWT_AUDIENCE", "resolute-api"))
    jwt_leeway_seconds: int = field(default_factory=lambda: int(_env("JWT_LEEWAY_SECONDS", "10")))
    token_ttl_seconds: int = field(default_factory=lambda: int(_env("TOKEN_TTL_SECONDS", "3600")))

    argon2_time_cost: int = field(default_factory=lambda: int(_env("ARGON2_TIME_COST", "3")))
    argon2_memory_kib: int = field(default_factory=lambda: int(_env("ARGON2_MEMORY_KIB", "65536")))

    policy_dir: Path = field(default_factory=lambda: Path(_env("POLICY_DIR", str(ROOT / "policies"))))
    graphiql: bool = field(default_factory=lambda: _bool(_env("GRAPHIQL", "true")))
    # Answer covered queries with one SQL statement per root field (PostgreSQL only); off: strawberry resolves every field.
    compiled_reads: bool = field(default_factory=lambda: _bool(_env("COMPILED_READS", "true")))
    cors_origins: tuple[str, ...] = field(default_factory=lambda: tuple(o.strip() for o in _env("CORS_ORIGINS", "").split(",") if o.strip()))
    redis_url: str = field(default_factory=lambda: _env("REDIS_URL", ""))
    # How often a live subscription re-reads its caller (expiry, deactivation, lost grants end it).
    live_recheck_seconds: float = field(default_factory=lambda: float(_env("LIVE_RECHECK_SECONDS", "30")))
    host: str = field(default_factory=lambda: _env("HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(_env("PORT", "8000")))

    def signing_key(self) -> str:
        """The key tokens are signed with: a private key file, the secret, or a local generated secret."""
        if self.jwt_private_key_file:
            return _key_file(self.jwt_private_key_file)
        return self.jwt_secret or _local_secret()

    def verifying_key(self) -> str:
        if self.jwt_public_key_file:
            return _key_file(self.jwt_public_key_file)
        return self.jwt_secret or _local_secret()

    def replace(self, **changes: object) -> "Settings":
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)  # type: ignore[arg-type]


def _key_file(path: str) -> str:
    """A key file's text, read again only when the file changes (every request verifies a token)."""
    return _read_text(path, os.stat(path).st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _read_text(path: str, _mtime_ns: int) -> str:
    return Path(path).read_text()


def _local_secret() -> str:
    """A development secret shared by the processes of one checkout (never for production)."""
    path = VAR.resolve() / "jwt-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process of this checkout made it first
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
    return _key_file(str(path)).strip()
