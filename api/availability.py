"""When the database cannot be reached: SERVICE_UNAVAILABLE at once, and recovery without a restart.

A database that is down, restarting, refusing connections, or a pool with no free connection
within RESOLUTE_DB_POOL_TIMEOUT: every route answers 503 with code SERVICE_UNAVAILABLE and a
Retry-After, quickly (connections time out after RESOLUTE_DB_CONNECT_TIMEOUT, never asyncpg's
minute), instead of a 500 with a traceback. Nothing is cached about the failure: the pool checks each
connection before use (pre-ping), so the first request after the database returns is served.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Receive, Scope, Send

from resolute.api.asgi import WatchedSend, send_error

__all__ = ["UNAVAILABLE_MESSAGE", "UnavailableMiddleware", "database_unavailable"]

log = logging.getLogger("resolute.availability")

UNAVAILABLE_MESSAGE = "the database is unavailable; retry shortly"
RETRY_AFTER = "5"
# PostgreSQL's classes of "cannot talk now": connection exceptions (08), operator intervention (57P0x: shutdown, starting up)
_SQLSTATES = ("08", "57P01", "57P02", "57P03")


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached (not that a statement was wrong)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PoolTimeout | OSError | TimeoutError):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        sqlstate = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_SQLSTATES):
            return True
        if type(current).__module__.startswith("asyncpg") and type(current).__name__ in (
            "ConnectionDoesNotExistError", "InterfaceError", "ConnectionFailureError", "ClientCannotConnectError",
            "CannotConnectNowError", "AdminShutdownError", "CrashShutdownError", "TooManyConnectionsError",
        ):  # fmt: skip
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


class UnavailableMiddleware:
    """503 SERVICE_UNAVAILABLE for a request that failed because the database could not be reached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watched = WatchedSend(send)
        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            if watched.started or not database_unavailable(exc):
                raise
            log.warning("request %s: database unavailable (%s: %s)", scope.get("state", {}).get("request_id"), type(exc).__name__, exc)
            await send_error(send, 503, "SERVICE_UNAVAILABLE", UNAVAILABLE_MESSAGE, headers={"Retry-After": RETRY_AFTER})
