"""Prometheus metrics at GET /metrics: requests by route and status with their latency, GraphQL operations by
root field and outcome, the database pool, and rate-limit refusals.

Labels are bounded: a route group (never a raw path), an operation's first root field (never the client's
operation name), an outcome that is `ok` or an error code. Each server process counts its own requests: with
`--workers N`, scrape each process (or run one worker per container, as docker-compose.yml does).
"""

from __future__ import annotations

import logging
import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from resolute.api.asgi import WatchedSend

__all__ = ["OPERATIONS", "RATE_LIMITED", "MetricsMiddleware", "metrics_endpoint", "route_group"]

REQUESTS = Counter("resolute_http_requests_total", "HTTP requests answered, by route and status", ["route", "status"])
LATENCY = Histogram(
    "resolute_http_request_duration_seconds", "Time to answer an HTTP request, by route", ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
OPERATIONS = Counter("resolute_graphql_operations_total", "GraphQL operations, by type, first root field and outcome", ["type", "field", "outcome"])
RATE_LIMITED = Counter("resolute_rate_limited_total", "Requests refused by a rate limit", ["limit"])
POOL = Gauge("resolute_db_pool_connections", "Database pool connections of this process, by pool (sessions, reads) and state", ["pool", "state"])

access = logging.getLogger("resolute.access")

_ROUTES = ("/graphql", "/auth/token", "/auth/logout", "/reports/", "/healthz", "/readyz", "/metrics")


def route_group(path: str) -> str:
    for route in _ROUTES:
        if path == route or (route.endswith("/") and path.startswith(route)):
            return route.rstrip("/")
    return "other"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, route = time.perf_counter(), route_group(scope["path"])
        watched = WatchedSend(send)
        try:
            await self.app(scope, receive, watched)
        finally:
            elapsed, status = time.perf_counter() - start, watched.status
            REQUESTS.labels(route, str(status)).inc()
            LATENCY.labels(route).observe(elapsed)
            client = scope.get("client")
            access.info("%s %s %s %.1f ms", scope["method"], scope["path"], status, elapsed * 1000, extra={
                "method": scope["method"], "path": scope["path"], "status": status, "duration_ms": round(elapsed * 1000, 1),
                "client": client[0] if client else None})  # fmt: skip


async def metrics_endpoint(request: Request) -> Response:
    """This process's metrics in Prometheus's text format."""
    reader = getattr(request.app.state, "reader", None)
    for name, engine in (("sessions", getattr(request.app.state, "engine", None)), ("reads", getattr(reader, "engine", None))):
        pool = getattr(engine, "pool", None)
        if pool is not None and hasattr(pool, "checkedout"):
            POOL.labels(name, "checked_out").set(pool.checkedout())
            POOL.labels(name, "idle").set(pool.checkedin())
            POOL.labels(name, "overflow").set(max(0, pool.overflow()))
    for name, gate in (("sessions", getattr(request.app.state, "session_gate", None)), ("reads", getattr(reader, "gate", None))):
        if gate is not None:
            POOL.labels(name, "waiting").set(gate.waiting)  # requests waiting for a place at the pool's gate (api.db.Gate)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
