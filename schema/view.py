"""The GraphQL view: strawberry's ASGI app, for authenticated callers only.

Who the caller is was settled by the authentication middleware (resolute.api.auth.backend), through
the request's RequestDB (resolute.api.request_state; on PostgreSQL its reader pool); this view only
refuses anonymous callers, builds the per-request context from that state, answers a compiled read
sent again without strawberry's pipeline (schema/compiled/ready.py), turns strawberry's refusals of
malformed requests into 4xx answers, and encodes the answers with orjson.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Send
from starlette.types import Scope as AsgiScope
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from resolute.api import clock
from resolute.api.access.scope import Scope
from resolute.api.auth.backend import Caller
from resolute.api.auth.principal import Account, load_account
from resolute.api.auth.tokens import TokenError
from resolute.api.db import RequestDB
from resolute.api.events.broker import Broker
from resolute.api.i18n import language
from resolute.api.metrics import OPERATIONS
from resolute.api.settings import Settings
from resolute.api.tracing import TRACER
from resolute.api.transaction import AfterCommit
from resolute.api.web import graphiql_page
from resolute.schema.compiled.ready import READY, answer, request_of, statement_key
from resolute.schema.context import Context
from resolute.schema.cost import cost_results, spend
from resolute.schema.introspection import without_suggestions
from resolute.schema.live import ConnectionContext, Live

__all__ = ["GraphQLEndpoint"]

MAX_SUBSCRIPTIONS = 20  # per websocket connection


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

    def __init__(self, graphql_schema: BaseSchema, settings: Settings, after_commit: Sequence[AfterCommit], broker: Broker) -> None:
        super().__init__(
            graphql_schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),  # the legacy graphql-ws protocol is off
            keep_alive=True,
            keep_alive_interval=15,
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=MAX_SUBSCRIPTIONS,
            allowed_origins=settings.cors_origins,
        )
        self.settings = settings
        self.after_commit = tuple(after_commit)
        self.broker = broker

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await super().__call__(scope, receive, send)  # subscriptions: the caller is checked at connection_init
            return
        request = Request(scope, receive)
        if request.method == "GET" and "text/html" in request.headers.get("accept", "") and self.graphql_ide:
            await (await self.render_graphql_ide(request))(scope, receive, send)
            return
        if not request.user.is_authenticated:
            await _unauthenticated(request.user.reason)(scope, receive, send)
            return
        body = await request.body()
        if _has_nul(body):
            await _bad_request("text may not contain NUL characters")(scope, receive, send)
            return
        try:
            response = await self._answer_again(request, body) or await self.run(request)
        except HTTPException as exc:  # strawberry's own refusal of a malformed request: a 4xx, never a 500
            response = _bad_request(exc.reason, exc.status_code)
        await response(scope, receive, send)

    async def _answer_again(self, request: Request, body: bytes) -> Response | None:
        """A compiled read this caller sent before, answered without strawberry's pipeline (schema/compiled/ready.py);
        None: strawberry's path answers."""
        if not self.settings.compiled_reads or TRACER.get() is not None or request.method != "POST" or request.state.db.dialect.name != "postgresql":
            return None
        given = request_of(request.headers.get("content-type", ""), body)
        if given is None or self._get_stream_transport_from_headers(request.headers) is not None:  # (a streamed answer: strawberry's)
            return None
        account: Account = request.user.account
        key = statement_key(given.query, given.operation_name, given.variables, account.principal, request.app.state.policy, clock.today())
        ready = READY.get_fresh(key)
        if ready is None or ready.cost > self.settings.max_cost:  # (an app with a lower ceiling in the same process)
            return None
        spent = await spend(request.app.state.rate_limiter, self.settings, account.principal.user_id, ready.cost)  # first, as the cost limit
        data = None
        if spent.refusal is None:
            try:
                data = await answer(request.state.db, ready, lambda: self.get_context(request, Response()))
            except Exception:  # noqa: BLE001 - forgotten; strawberry's executor answers, says what failed or refuses it, spending nothing again
                READY.pop(key, None)
                request.state.spent = spent
                return None
        extensions = cost_results(ready.cost, self.settings.max_cost, spent.rate)
        if spent.refusal is not None:
            result = ExecutionResult(data=None, errors=[spent.refusal], extensions=extensions)
        else:
            result = ExecutionResult(data=data, errors=None, extensions=extensions)
        OPERATIONS.labels("query", ready.field, "ok" if spent.refusal is None else "RATE_LIMITED").inc()
        response = Response(self.encode_json(await self.process_result(request, result)), media_type="application/json")
        if spent.refusal is not None:
            response.status_code = 429
            response.headers["Retry-After"] = str(spent.retry_after)
        return response

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL from the files shipped in the package (api.web), not strawberry's page, which loads them from a CDN."""
        return graphiql_page()

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        """The answer; under the production profile without "Did you mean ...?" in any error (they map the schema)."""
        if self.settings.production and result.errors:
            errors = list(result.errors)
            without_suggestions(errors)
            result = ExecutionResult(data=result.data, errors=errors, extensions=result.extensions)
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> bytes:
        """UTF-8 JSON bytes, several times faster than the standard library's (which would also
        escape every Vietnamese letter as \\uXXXX); the values are JSON's own types by now."""
        return orjson.dumps(data)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Any:
        if isinstance(request, WebSocket):
            return self._websocket_context(request)
        account: Account = request.user.account
        # The caller's own account and grants, as the authentication just read them for this request, go
        # to the loaders when they are made: the scope always lets a caller read both, so
        # `me { user grants }` need not read them again.
        spent = getattr(request.state, "spent", None)  # the second-time path spent the cost, then failed (_answer_again)
        return Context(
            settings=self.settings,
            db=request.state.db,
            scope=Scope(account.principal, request.app.state.policy),
            request_id=request.state.request_id,
            after_commit=self.after_commit,
            caller=account,
            limiter=request.app.state.rate_limiter,
            response=response,
            language=language(request.headers.get("accept-language")),
            spent=spent,
        )


    def _websocket_context(self, websocket: WebSocket) -> ConnectionContext:
        """A connection's context: its own session source (released between events), its caller if the upgrade
        carried a token (else connection_init must), and its live state."""
        user = websocket.user
        caller = user if isinstance(user, Caller) else None
        policy = websocket.app.state.policy
        return ConnectionContext(Context(
            settings=self.settings,
            db=RequestDB(websocket.app.state.sessions),  # not the reader pool's: a connection lives long, and would keep one
            scope=Scope(caller.principal, policy) if caller else None,  # type: ignore[arg-type]  # set at connection_init
            request_id=websocket.state.request_id,
            after_commit=self.after_commit,
            caller=caller.account if caller else None,
            live=Live(broker=self.broker, sessions=websocket.app.state.sessions, policy=policy, settings=self.settings,
                      claims=caller.claims if caller else None, tokens=websocket.app.state.token_backend),
        ))

    async def on_ws_connect(self, context: ConnectionContext) -> UnsetType | dict[str, object] | None:  # type: ignore[override]
        """graphql-transport-ws's connection_init: a caller, from the upgrade's Authorization header or from the
        payload's `Authorization` ("Bearer <token>", browsers cannot set headers on a websocket); else 4403."""
        if context.scope is not None:
            return UNSET
        params = context.connection_params or {}
        given = params.get("Authorization") or params.get("authorization") or ""
        scheme, _, token = given.partition(" ") if isinstance(given, str) else ("", "", "")
        if scheme.lower() != "bearer" or not token.strip():
            raise ConnectionRejectionError()
        async with context.live.sessions() as session:
            try:
                claims = await context.live.tokens.claims(token.strip(), session)
            except TokenError:
                raise ConnectionRejectionError() from None
            account = await load_account(session, claims)
        if account is None:
            raise ConnectionRejectionError()
        context.scope = Scope(account.principal, context.live.policy)
        context.caller = account
        context.live.claims = claims
        return UNSET


def _has_nul(body: bytes) -> bool:
    """NUL cannot be stored in PostgreSQL text; refuse it at the door, for every input alike."""
    return b"\x00" in body or b"\\u0000" in body
