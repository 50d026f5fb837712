"""The ASGI application: token endpoint, authenticated GraphQL endpoint, health check.

This is the composition root: the one place in `api` that imports the GraphQL surface
(`schema.root`), so that the rest of `api` never depends on `schema`.

A request travels: request state (its id, its one session) -> authentication middleware (token
-> principal, fresh from the database) -> the GraphQL view (scope -> per-request context:
session, loaders) -> resolvers -> services, each write in a unit of work (api.transaction).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Send
from starlette.types import Scope as AsgiScope
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema

from resolute.api.access.policy import load_policy
from resolute.api.access.scope import Scope
from resolute.api.accounts.service import authenticate
from resolute.api.auth.backend import TokenBackend
from resolute.api.auth.tokens import issue_token
from resolute.api.db import create_engine, session_factory
from resolute.api.request_state import RequestStateMiddleware
from resolute.api.settings import Settings
from resolute.api.transaction import AfterCommit, UnitOfWork

__all__ = ["create_app"]

log = logging.getLogger("resolute")


def _unauthenticated(message: str) -> JSONResponse:
    return JSONResponse(
        {"data": None, "errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="resolute"'},
    )


def _bad_request(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"data": None, "errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}, status_code=status)


class GraphQLEndpoint(GraphQL):
    """Strawberry's ASGI view for authenticated callers only: no caller, no GraphQL at all.

    Who the caller is was settled by the authentication middleware; the context is built from the
    request's state (its session, its id) and the caller's principal.
    """

    def __init__(self, graphql_schema: BaseSchema, settings: Settings, after_commit: Sequence[AfterCommit]) -> None:
        super().__init__(graphql_schema, graphql_ide="graphiql" if settings.graphiql else None, allow_queries_via_get=False)
        self.settings = settings
        self.after_commit = tuple(after_commit)

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 4401})  # subscriptions are not served yet
            return
        request = Request(scope, receive)
        if request.method == "GET" and "text/html" in request.headers.get("accept", "") and self.graphql_ide:
            await (await self.render_graphql_ide(request))(scope, receive, send)
            return
        if not request.user.is_authenticated:
            await _unauthenticated(request.user.reason)(scope, receive, send)
            return
        if _has_nul(await request.body()):
            await _bad_request("text may not contain NUL characters")(scope, receive, send)
            return
        try:
            response = await self.run(request)
        except HTTPException as exc:  # strawberry's own refusal of a malformed request: a 4xx, never a 500
            response = _bad_request(exc.reason, exc.status_code)
        await response(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Any:
        from resolute.schema.context import Context  # composition root: see the module docstring

        return Context(
            settings=self.settings,
            db=request.state.db,
            scope=Scope(request.user.principal, request.app.state.policy),
            request_id=request.state.request_id,
            after_commit=self.after_commit,
        )


def _has_nul(body: bytes) -> bool:
    """NUL cannot be stored in PostgreSQL text; refuse it at the door, for every input alike."""
    return b"\x00" in body or b"\\u0000" in body


def _system_uow(request: Request) -> UnitOfWork:
    """A unit of work with no caller, on the request's session (logins)."""
    return UnitOfWork(sessions=request.state.db.use, settings=request.app.state.settings, request_id=request.state.request_id)


async def token_endpoint(request: Request) -> Response:
    """POST {"username", "password"} -> {"access_token", "token_type", "expires_in"}."""
    settings: Settings = request.app.state.settings
    try:
        body = await request.json()
        username, password = body["username"], body["password"]
        if not isinstance(username, str) or not isinstance(password, str):
            raise TypeError
        if "\x00" in username or "\x00" in password:
            return JSONResponse({"error": "invalid_grant", "error_description": "wrong username or password"}, status_code=401)
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
        return JSONResponse({"error": "invalid_request", "error_description": "send JSON {\"username\": ..., \"password\": ...}"}, status_code=400)
    outcome = await authenticate(_system_uow(request), username=username, password=password)  # a refusal still commits its count
    if outcome.value is None:
        return JSONResponse({"error": "invalid_grant", "error_description": "wrong username or password"}, status_code=401)
    token, ttl = issue_token(settings, outcome.value.id)
    return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": ttl}, headers={"Cache-Control": "no-store"})


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def home(request: Request) -> Response:
    return RedirectResponse("/graphql")


def create_app(settings: Settings | None = None, graphql_schema: BaseSchema | None = None, *, after_commit: Sequence[AfterCommit] = ()) -> Starlette:
    """The application; `resolute serve` calls this with the settings of the environment.

    `after_commit` hooks receive the audit events of every committed mutation (subscriptions and
    rollup maintenance plug in here).
    """
    settings = settings or Settings()
    if graphql_schema is None:
        from resolute.schema.root import schema as graphql_schema  # composition root

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = create_engine(settings)
        app.state.engine = engine
        app.state.sessions = session_factory(engine)
        try:
            yield
        finally:
            await engine.dispose()

    middleware = [Middleware(GZipMiddleware, minimum_size=1000)]  # slow links in remote communes
    if settings.cors_origins:
        middleware.append(
            Middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                       allow_headers=["Authorization", "Content-Type", "X-Request-ID"], expose_headers=["X-Request-ID"])
        )
    middleware += [
        Middleware(RequestStateMiddleware),  # the request's id and its one session, for every route
        Middleware(AuthenticationMiddleware, backend=TokenBackend(settings)),  # the caller, from that session
    ]
    app = Starlette(
        middleware=middleware,
        routes=[
            Route("/", home),
            Route("/healthz", health),
            Route("/auth/token", token_endpoint, methods=["POST"]),
            Route("/graphql", GraphQLEndpoint(graphql_schema, settings, after_commit), methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.policy = load_policy(settings.policy_dir)
    return app
