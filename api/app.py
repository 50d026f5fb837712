"""The Starlette application of the service: middleware, the token endpoint, health, and a slot
for the GraphQL view.

`api` never imports the GraphQL surface: `resolute.schema.server` (the composition root) builds
the view and hands it in. A request travels: request state (its id, its one session) ->
authentication middleware (token -> principal, fresh from the database) -> the route (the
GraphQL view: scope -> per-request context -> resolvers -> services, each write in a unit of
work, api.transaction).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp

from resolute.api import tracing
from resolute.api.access.policy import load_policy
from resolute.api.auth.backend import TokenBackend
from resolute.api.auth.routes import ROUTES as AUTH_ROUTES
from resolute.api.availability import UnavailableMiddleware
from resolute.api.body_limit import BodyLimitMiddleware
from resolute.api.compression import Compression
from resolute.api.db import create_engine, create_reader, session_factory, session_gate
from resolute.api.deadline import DeadlineMiddleware
from resolute.api.metrics import MetricsMiddleware, metrics_endpoint
from resolute.api.rate_limit import make_limiter
from resolute.api.readiness import head_revision, readiness
from resolute.api.reports.routes import ROUTES as REPORT_ROUTES
from resolute.api.request_state import RequestStateMiddleware
from resolute.api.security_headers import SecurityHeadersMiddleware
from resolute.api.settings import Settings
from resolute.api.web import ROUTES as WEB_ROUTES

__all__ = ["Service", "create_app"]

log = logging.getLogger("resolute")


async def health(request: Request) -> Response:
    """Alive: the process answers (nothing else is checked; see /readyz)."""
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    """Ready for traffic: the database answers, at the migrations' head, and Redis when configured (api.readiness)."""
    state = request.app.state
    ok, body = await readiness(state.settings, state.sessions, state.head_revision)
    return JSONResponse(body, status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})


class Service(Protocol):
    """Something that runs as long as the app does (the live events' Redis listener)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def create_app(
    settings: Settings | None = None,
    *,
    graphql: ASGIApp | None = None,
    sessions: async_sessionmaker[AsyncSession] | None = None,
    services: Sequence[Service] = (),
) -> Starlette:
    """The service's application, with `graphql` (the GraphQL view, see resolute.schema.server) at
    /graphql. `sessions`, if given, replaces the app's own engine, which is then neither created
    nor disposed: the tests bind them to one connection and roll it back. `services` start with the
    app and stop with it.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = reader = None
        if sessions is not None:
            app.state.sessions = sessions
        else:
            engine = create_engine(settings)
            app.state.engine = engine
            app.state.sessions = session_factory(engine)
            reader = app.state.reader = create_reader(settings)  # PostgreSQL: reads outside transactions (api.db)
            app.state.session_gate = session_gate(settings)  # PostgreSQL: the sessions' connections, first come, first served
        for service in services:
            await service.start()
        try:
            yield
        finally:
            for service in reversed(services):
                await service.stop()
            await app.state.rate_limiter.close()
            if engine is not None:
                await engine.dispose()
            if reader is not None:
                await reader.dispose()
            if provider is not None:
                provider.shutdown()  # the last spans sent

    tokens = TokenBackend(settings)  # also checks a websocket's connection_init token (schema.view)
    provider = tracing.make_provider(settings.otel_endpoint, settings.otel_service_name) if settings.otel_endpoint else None
    middleware = [
        *([Middleware(tracing.TracingMiddleware, provider=provider)] if provider is not None else []),  # the request's span, outermost
        Middleware(SecurityHeadersMiddleware, production=settings.production),
        Middleware(Compression, minimum_size=1000),  # slow links in remote communes (api.compression)
    ]
    if settings.cors_origins:
        middleware.append(
            Middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                       allow_headers=["Authorization", "Content-Type", "X-Request-ID"], expose_headers=["X-Request-ID"])
        )
    middleware += [
        Middleware(RequestStateMiddleware),  # the request's id and its one session, for every route
        Middleware(MetricsMiddleware),  # requests by route and status, latency
        Middleware(UnavailableMiddleware),  # a database out of reach: 503 SERVICE_UNAVAILABLE, not a 500
        Middleware(DeadlineMiddleware, seconds=settings.request_timeout_seconds),  # 504 TIMEOUT, its work cancelled and rolled back
        Middleware(BodyLimitMiddleware, limit=settings.max_body_bytes),  # 413 before a large body is read or a token checked
        Middleware(AuthenticationMiddleware, backend=tokens),  # the caller, from that session
    ]
    app = Starlette(
        middleware=middleware,
        routes=[
            *WEB_ROUTES,
            Route("/healthz", health),
            Route("/readyz", ready),
            *([Route("/metrics", metrics_endpoint)] if settings.metrics else []),
            *AUTH_ROUTES,
            *REPORT_ROUTES,
            *([Route("/graphql", graphql, methods=["GET", "POST"]), WebSocketRoute("/graphql", graphql)] if graphql is not None else []),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.reader = app.state.session_gate = None  # set by the lifespan where the app makes its own engine
    app.state.token_backend = tokens
    app.state.rate_limiter = make_limiter(settings.redis_url)  # callers' allowances, shared through Redis when configured
    app.state.policy = load_policy(settings.policy_dir)
    app.state.head_revision = head_revision(settings)  # what /readyz compares the database with
    return app
