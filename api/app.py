"""The ASGI application: token endpoint, authenticated GraphQL endpoint, health check.

This is the composition root: the one place in `api` that imports the GraphQL surface
(`schema.root`), so that the rest of `api` never depends on `schema`.

A request travels: Authorization header -> token -> principal (fresh from the database) ->
scope -> per-request context (session, loaders) -> resolvers -> services.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Send
from starlette.types import Scope as AsgiScope
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema

from resolute.api.access.policy import load_policy
from resolute.api.access.scope import Principal, Scope
from resolute.api.accounts.service import authenticate
from resolute.api.auth.principal import load_principal
from resolute.api.auth.tokens import TokenError, decode_token, issue_token
from resolute.api.db import RequestDB, create_engine, session_factory
from resolute.api.settings import Settings
from resolute.api.transaction import write_transaction

__all__ = ["create_app"]

log = logging.getLogger("resolute")

def _unauthenticated(message: str) -> JSONResponse:
    return JSONResponse(
        {"data": None, "errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="resolute"'},
    )


class AuthenticatedGraphQL(GraphQL):
    """Strawberry's ASGI view behind a bearer-token check: no valid token, no GraphQL at all."""

    def __init__(self, graphql_schema: BaseSchema, settings: Settings) -> None:
        super().__init__(graphql_schema, graphql_ide="graphiql" if settings.graphiql else None, allow_queries_via_get=False)
        self.settings = settings

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 4401})
            return
        request = Request(scope, receive)
        app_state = request.app.state
        if request.method == "GET" and "text/html" in request.headers.get("accept", "") and self.graphql_ide:
            await (await self.render_graphql_ide(request))(scope, receive, send)
            return
        if _has_nul(await request.body()):
            await _bad_request("text may not contain NUL characters")(scope, receive, send)
            return
        principal = await self._principal(request)
        if isinstance(principal, str):
            await _unauthenticated(principal)(scope, receive, send)
            return
        db = RequestDB(app_state.sessions)
        context = _make_context(
            settings=self.settings,
            db=db,
            scope=Scope(principal, app_state.policy),
            request_id=_request_id(request.headers.get("x-request-id")),
        )
        try:
            response = await self.run(request, context=context)
        finally:
            await db.close()
        await response(scope, receive, send)

    async def _principal(self, request: Request) -> Principal | str:
        """The caller, or why it is refused (one vague reason for the client, the detail in the log)."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "authentication required: send 'Authorization: Bearer <token>' (POST /auth/token to get one)"
        try:
            claims = decode_token(self.settings, token.strip())
        except TokenError as exc:
            log.info("refused token: %s", exc)
            return "invalid or expired token"
        async with request.app.state.sessions() as session:
            principal = await load_principal(session, claims)
        if principal is None:
            return "invalid or expired token"
        return principal


def _request_id(given: str | None) -> str:
    """The client's X-Request-ID (cut to 64 characters) if it is a plain token, else a fresh one; audit events keep it."""
    if given and all(ch.isascii() and (ch.isalnum() or ch in "-_.:") for ch in given):
        return given[:64]
    return uuid.uuid4().hex


def _has_nul(body: bytes) -> bool:
    """NUL cannot be stored in PostgreSQL text; refuse it at the door, for every input alike."""
    return b"\x00" in body or b"\\u0000" in body


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"data": None, "errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}, status_code=400)


def _make_context(**kwargs: Any) -> Any:
    from resolute.schema.context import Context  # composition root: see the module docstring

    return Context(**kwargs)


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
    async with request.app.state.sessions() as session:
        async with write_transaction(session):  # the failed-login count is a write, audited when it locks
            user = await authenticate(session=session, settings=settings, username=username, password=password)
    if user is None:
        return JSONResponse({"error": "invalid_grant", "error_description": "wrong username or password"}, status_code=401)
    token, ttl = issue_token(settings, user.id)
    return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": ttl}, headers={"Cache-Control": "no-store"})


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def home(request: Request) -> Response:
    return RedirectResponse("/graphql")


def create_app(settings: Settings | None = None, graphql_schema: BaseSchema | None = None) -> Starlette:
    """The application; `resolute serve` calls this with the settings of the environment."""
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
            Middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type", "X-Request-ID"])
        )
    app = Starlette(
        middleware=middleware,
        routes=[
            Route("/", home),
            Route("/healthz", health),
            Route("/auth/token", token_endpoint, methods=["POST"]),
            Route("/graphql", AuthenticatedGraphQL(graphql_schema, settings), methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.policy = load_policy(settings.policy_dir)
    return app
