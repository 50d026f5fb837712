"""One settings object, read from RESOLUTE_* environment variables.

Every field has a default that works when nothing is set: a SQLite file under ./var of the
working directory, an HS256 secret kept in ./var/jwt-secret, GraphiQL on.
"""

from __future__ import annotations

import difflib
import functools
import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path

__all__ = ["ROOT", "VAR", "Settings", "SettingsError", "load_settings"]

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


PROFILES = ("development", "production")


def _profile() -> str:
    return _env("PROFILE", "development").strip().lower()


def _production() -> bool:
    return _profile() == "production"


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment, with working defaults."""

    # production: GraphiQL off by default, introspection for admins and integrators only, no field suggestions
    # in errors, HSTS, and `resolute` refuses to start without a real signing key or with a wildcard CORS origin.
    profile: str = field(default_factory=_profile)
    database_url: str = field(default_factory=lambda: _env("DATABASE_URL", f"sqlite+aiosqlite:///{VAR.resolve() / 'resolute.db'}"))
    db_pool_size: int = field(default_factory=lambda: int(_env("DB_POOL_SIZE", "10")))
    # PostgreSQL: the pool of one-statement reads outside transactions (the caller's account, compiled reads; api.db)
    db_read_pool_size: int = field(default_factory=lambda: int(_env("DB_READ_POOL_SIZE", "10")))
    db_pool_timeout: float = field(default_factory=lambda: float(_env("DB_POOL_TIMEOUT", "10")))
    db_statement_timeout_ms: int = field(default_factory=lambda: int(_env("DB_STATEMENT_TIMEOUT_MS", "15000")))
    db_max_overflow: int = field(default_factory=lambda: int(_env("DB_MAX_OVERFLOW", "10")))  # connections beyond the pool in a burst
    db_connect_timeout: float = field(default_factory=lambda: float(_env("DB_CONNECT_TIMEOUT", "5")))  # a new connection, at most
    # PostgreSQL's random_page_cost on Resolute's connections: 1.1 says the data sits in memory or on SSD (the
    # default 4 is for spinning disks, and makes the planner scan a table where a few index probes would do)
    db_random_page_cost: float = field(default_factory=lambda: float(_env("DB_RANDOM_PAGE_COST", "1.1")))
    # A pooled connection older than this is closed and opened again at checkout: a load balancer or NAT that
    # forgets an idle connection without closing it would otherwise fail the first request on it (api.db._alive
    # sees only closed sockets). -1: never. Where even that is not enough, DB_PRE_PING checks every checkout
    # with a round trip (three, with asyncpg), as SQLAlchemy's pool_pre_ping does.
    db_pool_recycle_seconds: int = field(default_factory=lambda: int(_env("DB_POOL_RECYCLE_SECONDS", "300")))
    db_pre_ping: bool = field(default_factory=lambda: _bool(_env("DB_PRE_PING", "false")))
    # The most one GraphQL request may take (TIMEOUT past it); the pool wait and a statement must end before it.
    request_timeout_seconds: float = field(default_factory=lambda: float(_env("REQUEST_TIMEOUT_SECONDS", "30")))
    db_echo: bool = field(default_factory=lambda: _bool(_env("DB_ECHO", "false")))

    jwt_algorithm: str = field(default_factory=lambda: _env("JWT_ALGORITHM", "HS256"))
    jwt_secret: str = field(default_factory=lambda: _env("JWT_SECRET", ""))
    jwt_private_key_file: str = field(default_factory=lambda: _env("JWT_PRIVATE_KEY_FILE", ""))
    jwt_public_key_file: str = field(default_factory=lambda: _env("JWT_PUBLIC_KEY_FILE", ""))
    jwt_issuer: str = field(default_factory=lambda: _env("JWT_ISSUER", "resolute"))
    jwt_audience: str = field(default_factory=lambda: _env("JWT_AUDIENCE", "resolute-api"))
    jwt_leeway_seconds: int = field(default_factory=lambda: int(_env("JWT_LEEWAY_SECONDS", "10")))
    # An access token's life: short, since a refresh token gets the next one.
    token_ttl_seconds: int = field(default_factory=lambda: int(_env("TOKEN_TTL_SECONDS", "900")))
    # A refresh token's life (each is used once), and a login session's whole life, refreshes included.
    refresh_ttl_seconds: int = field(default_factory=lambda: int(_env("REFRESH_TTL_SECONDS", str(14 * 86400))))
    session_ttl_seconds: int = field(default_factory=lambda: int(_env("SESSION_TTL_SECONDS", str(30 * 86400))))
    # A refresh token used again within this many seconds answers the same successor (a lost answer), not a revocation.
    refresh_grace_seconds: int = field(default_factory=lambda: int(_env("REFRESH_GRACE_SECONDS", "10")))

    # An external identity provider (both set, or neither): its tokens are verified with its published keys (api.auth.jwks)
    external_issuer: str = field(default_factory=lambda: _env("EXTERNAL_ISSUER", ""))
    jwks_url: str = field(default_factory=lambda: _env("JWKS_URL", ""))
    external_algorithms: tuple[str, ...] = field(default_factory=lambda: tuple(a.strip() for a in _env("EXTERNAL_ALGORITHMS", "RS256").split(",") if a.strip()))
    external_username_claim: str = field(default_factory=lambda: _env("EXTERNAL_USERNAME_CLAIM", "preferred_username"))
    jwks_timeout_seconds: float = field(default_factory=lambda: float(_env("JWKS_TIMEOUT_SECONDS", "2")))
    jwks_ttl_seconds: float = field(default_factory=lambda: float(_env("JWKS_TTL_SECONDS", "300")))
    jwks_cooldown_seconds: float = field(default_factory=lambda: float(_env("JWKS_COOLDOWN_SECONDS", "30")))

    argon2_time_cost: int = field(default_factory=lambda: int(_env("ARGON2_TIME_COST", "3")))
    argon2_memory_kib: int = field(default_factory=lambda: int(_env("ARGON2_MEMORY_KIB", "65536")))

    policy_dir: Path = field(default_factory=lambda: Path(_env("POLICY_DIR", str(ROOT / "policies"))))
    graphiql: bool = field(default_factory=lambda: _bool(_env("GRAPHIQL", "false" if _production() else "true")))
    # Answer covered queries with one SQL statement per root field (PostgreSQL only); off: strawberry resolves every field.
    compiled_reads: bool = field(default_factory=lambda: _bool(_env("COMPILED_READS", "true")))
    cors_origins: tuple[str, ...] = field(default_factory=lambda: tuple(o.strip() for o in _env("CORS_ORIGINS", "").split(",") if o.strip()))
    redis_url: str = field(default_factory=lambda: _env("REDIS_URL", ""))
    # How often a live subscription re-reads its caller (expiry, deactivation, lost grants end it).
    live_recheck_seconds: float = field(default_factory=lambda: float(_env("LIVE_RECHECK_SECONDS", "30")))
    # The largest request body accepted (GraphQL documents and logins are a few kB; bulk data comes by `resolute import`).
    max_body_bytes: int = field(default_factory=lambda: int(_env("MAX_BODY_BYTES", str(1024 * 1024))))
    # What one request may read at most (schema.cost), and what one caller may read over a window (0: no rate limit).
    max_cost: int = field(default_factory=lambda: int(_env("MAX_COST", "500000")))
    rate_limit_cost: int = field(default_factory=lambda: int(_env("RATE_LIMIT_COST", "5000000")))
    rate_limit_window_seconds: float = field(default_factory=lambda: float(_env("RATE_LIMIT_WINDOW_SECONDS", "60")))
    # Wrong logins one client address may send over a window before it must wait (0: no limit); per account, see api.accounts.
    login_address_failures: int = field(default_factory=lambda: int(_env("LOGIN_ADDRESS_FAILURES", "20")))
    login_address_window_seconds: float = field(default_factory=lambda: float(_env("LOGIN_ADDRESS_WINDOW_SECONDS", "300")))
    # Prometheus metrics at /metrics (keep the port private, or turn them off)
    metrics: bool = field(default_factory=lambda: _bool(_env("METRICS", "true")))
    # Log lines as JSON objects (one per line, with the request id) or as text; JSON under the production profile.
    log_format: str = field(default_factory=lambda: _env("LOG_FORMAT", "json" if _production() else "text").strip().lower())
    # How long a client may take to send a request's line and headers (slowloris), on a new connection or a kept-alive one.
    header_timeout_seconds: float = field(default_factory=lambda: float(_env("HEADER_TIMEOUT_SECONDS", "10")))
    # OpenTelemetry tracing (api/tracing.py): an OTLP/HTTP collector's base URL turns it on (needs the `tracing` extra).
    otel_endpoint: str = field(default_factory=lambda: _env("OTEL_ENDPOINT", "").strip())
    otel_service_name: str = field(default_factory=lambda: _env("OTEL_SERVICE_NAME", "resolute").strip())
    # On SIGTERM, how long in-flight requests may take to finish before the process exits.
    shutdown_grace_seconds: float = field(default_factory=lambda: float(_env("SHUTDOWN_GRACE_SECONDS", "20")))
    host: str = field(default_factory=lambda: _env("HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(_env("PORT", "8000")))

    @property
    def production(self) -> bool:
        return self.profile == "production"

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


# -- checked at start (`resolute ...`): one clear line instead of a traceback, or a setting silently ignored ----------

# RESOLUTE_* names read elsewhere: by create-admin and set-password, and by the test suite
OTHER_NAMES = frozenset({"ADMIN_PASSWORD", "TEST_PG"})
JWT_ALGORITHMS = ("HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA")
DRIVERS = {"sqlite+aiosqlite": "sqlite+aiosqlite:///path/to/file.db", "postgresql+asyncpg": "postgresql+asyncpg://user@host:5432/database"}
_BOOLEANS = {"1", "true", "yes", "on", "0", "false", "no", "off"}
# (lowest, highest) of the numbers that have bounds
_BOUNDS: dict[str, tuple[float, float]] = {
    "port": (1, 65535), "db_pool_size": (1, 1000), "db_read_pool_size": (1, 1000), "db_pool_timeout": (0.001, 3600), "db_statement_timeout_ms": (1, 86_400_000),
    "db_max_overflow": (0, 1000), "db_connect_timeout": (0.1, 600), "db_random_page_cost": (0.1, 100), "db_pool_recycle_seconds": (-1, 86400), "request_timeout_seconds": (0.1, 3600), "shutdown_grace_seconds": (0, 3600),
    "header_timeout_seconds": (0.1, 3600),
    "jwt_leeway_seconds": (0, 3600), "token_ttl_seconds": (1, 31 * 86400),
    "refresh_ttl_seconds": (60, 366 * 86400), "session_ttl_seconds": (60, 366 * 86400), "refresh_grace_seconds": (0, 300), "argon2_time_cost": (1, 100),
    "argon2_memory_kib": (1024, 4 * 1024 * 1024), "live_recheck_seconds": (0.01, 3600), "max_body_bytes": (1024, 1024**3),
    "jwks_timeout_seconds": (0.1, 60), "jwks_ttl_seconds": (1, 86400), "jwks_cooldown_seconds": (0, 3600),
    "max_cost": (1, 10**9), "rate_limit_cost": (0, 10**12), "rate_limit_window_seconds": (1, 86400),
    "login_address_failures": (0, 10**6), "login_address_window_seconds": (1, 86400),
}  # fmt: skip


class SettingsError(ValueError):
    """A setting the process cannot start with; its message is one line naming the variable (never its secret value)."""


def _number(name: str, kind: str, raw: str) -> None:
    variable = f"RESOLUTE_{name.upper()}"
    try:
        value = int(raw) if kind == "int" else float(raw)
    except ValueError:
        raise SettingsError(f"{variable}={raw!r}: {'a whole number' if kind == 'int' else 'a number'} is expected") from None
    low, high = _BOUNDS.get(name, (float("-inf"), float("inf")))
    if not low <= value <= high:
        raise SettingsError(f"{variable}={raw!r}: between {low:g} and {high:g}")


def _database_url(url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        driver = make_url(url).drivername
    except ArgumentError:
        raise SettingsError("RESOLUTE_DATABASE_URL is not a database URL; for example " + " or ".join(DRIVERS.values())) from None
    if driver not in DRIVERS:
        raise SettingsError(f"RESOLUTE_DATABASE_URL uses {driver!r}; use " + " or ".join(DRIVERS.values()))


def _production_checks(settings: Settings) -> None:
    """What the production profile will not start without: a signing key of its own (not the generated development
    secret), and CORS origins that are named."""
    if settings.jwt_algorithm.startswith("HS"):
        if len(settings.jwt_secret) < 32:
            raise SettingsError("RESOLUTE_PROFILE=production: set RESOLUTE_JWT_SECRET (32 characters or more, the same for every process)")
    elif not settings.jwt_private_key_file or not settings.jwt_public_key_file:
        raise SettingsError(f"RESOLUTE_PROFILE=production: {settings.jwt_algorithm} needs RESOLUTE_JWT_PRIVATE_KEY_FILE and RESOLUTE_JWT_PUBLIC_KEY_FILE")
    if "*" in settings.cors_origins:
        raise SettingsError("RESOLUTE_CORS_ORIGINS: name the web clients' origins; '*' is refused in production")


def _tracing(endpoint: str) -> None:
    from resolute.api import tracing

    if not endpoint.startswith(("http://", "https://")):
        raise SettingsError(f"RESOLUTE_OTEL_ENDPOINT={endpoint!r}: an http:// or https:// URL of an OTLP/HTTP collector")
    if not tracing.available():
        raise SettingsError("RESOLUTE_OTEL_ENDPOINT: tracing needs the tracing extra (pip install 'resolute[tracing]')")


def load_settings() -> Settings:
    """The settings of this process, checked: an unknown RESOLUTE_* name (a misspelling would otherwise be ignored),
    a value of the wrong type or out of bounds, a database URL of another driver, an unknown token algorithm or a
    key file that cannot be read each raise SettingsError."""
    env = os.environ
    known = {f.name.upper(): f for f in fields(Settings)}
    for variable in sorted(env):
        if not variable.startswith("RESOLUTE_"):
            continue
        name = variable.removeprefix("RESOLUTE_")
        if name not in known and name not in OTHER_NAMES:
            close = difflib.get_close_matches(name, [*known, *OTHER_NAMES], n=1)
            raise SettingsError(f"unknown setting {variable}" + (f" (did you mean RESOLUTE_{close[0]}?)" if close else ""))
        f = known.get(name)
        if f is None:
            continue
        raw = env[variable].strip()
        if f.type in ("int", "float"):
            _number(f.name, str(f.type), raw)
        elif f.type == "bool" and raw.lower() not in _BOOLEANS:
            raise SettingsError(f"{variable}={raw!r}: one of true, false (or 1, 0, yes, no, on, off)")
    settings = Settings()
    _database_url(settings.database_url)
    if settings.jwt_algorithm not in JWT_ALGORITHMS:
        raise SettingsError(f"RESOLUTE_JWT_ALGORITHM={settings.jwt_algorithm!r}: one of {', '.join(JWT_ALGORITHMS)}")
    if bool(settings.external_issuer) != bool(settings.jwks_url):
        raise SettingsError("RESOLUTE_EXTERNAL_ISSUER and RESOLUTE_JWKS_URL go together: set both for an external identity provider, or neither")
    if settings.external_issuer and settings.external_issuer == settings.jwt_issuer:
        raise SettingsError("RESOLUTE_EXTERNAL_ISSUER: another issuer than RESOLUTE_JWT_ISSUER (Resolute's own tokens)")
    if settings.jwks_url and not settings.jwks_url.startswith(("https://", "http://")):
        raise SettingsError("RESOLUTE_JWKS_URL: an https:// (or http://) URL")
    for algorithm in settings.external_algorithms:
        if algorithm not in JWT_ALGORITHMS or algorithm.startswith("HS"):
            raise SettingsError(f"RESOLUTE_EXTERNAL_ALGORITHMS: {algorithm!r} is not an asymmetric algorithm (RS256, ES256, PS256, EdDSA, ...)")
    if settings.log_format not in ("json", "text"):
        raise SettingsError(f"RESOLUTE_LOG_FORMAT={settings.log_format!r}: json or text")
    if settings.profile not in PROFILES:
        raise SettingsError(f"RESOLUTE_PROFILE={settings.profile!r}: one of {', '.join(PROFILES)}")
    if settings.production:
        _production_checks(settings)
    if settings.db_pool_timeout >= settings.request_timeout_seconds:
        raise SettingsError(f"RESOLUTE_DB_POOL_TIMEOUT={settings.db_pool_timeout:g}: shorter than RESOLUTE_REQUEST_TIMEOUT_SECONDS ({settings.request_timeout_seconds:g})")
    if settings.db_statement_timeout_ms > settings.request_timeout_seconds * 1000:
        raise SettingsError(f"RESOLUTE_DB_STATEMENT_TIMEOUT_MS={settings.db_statement_timeout_ms}: at most RESOLUTE_REQUEST_TIMEOUT_SECONDS ({settings.request_timeout_seconds:g} s)")
    if 0 < settings.rate_limit_cost < settings.max_cost:
        raise SettingsError(f"RESOLUTE_RATE_LIMIT_COST={settings.rate_limit_cost}: at least RESOLUTE_MAX_COST ({settings.max_cost}), or 0 for no rate limit")
    if settings.otel_endpoint:
        _tracing(settings.otel_endpoint)
    for name in ("jwt_private_key_file", "jwt_public_key_file"):
        path = getattr(settings, name)
        if path and not os.access(path, os.R_OK):
            raise SettingsError(f"RESOLUTE_{name.upper()}: cannot read {path}")
    return settings

