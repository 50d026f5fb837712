"""The GraphQL view: strawberry's ASGI app, for authenticated callers only.

Who the caller is was settled by the authentication middleware (resolute.api.auth.backend) on
the request's own session (resolute.api.request_state); this view only refuses anonymous callers,
builds the per-request context from that state, turns strawberry's refusals of malformed
requests into 4xx answers, and encodes the answers with orjson.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Send
from starlette.types import Scope as AsgiScope
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema

from resolute.api.access.scope import Scope
from resolute.api.auth.principal import Account
from resolute.api.settings import Settings
from resolute.api.transaction import AfterCommit
from resolute.schema.context import Context

__all__ = ["GraphQLEndpoint"]


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

    def encode_json(self, data: object) -> bytes:
        """UTF-8 JSON bytes, several times faster than the standard library's (which would also
        escape every Vietnamese letter as \\uXXXX); the values are JSON's own types by now."""
        return orjson.dumps(data)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Any:
        account: Account = request.user.account
        # The caller's own account and grants, as the authentication just read them on this session, go
        # to the loaders when they are made: the scope always lets a caller read both, so
        # `me { user grants }` need not read them again.
        return Context(
            settings=self.settings,
            db=request.state.db,
            scope=Scope(account.principal, request.app.state.policy),
            request_id=request.state.request_id,
            after_commit=self.after_commit,
            caller=account,
        )


def _has_nul(body: bytes) -> bool:
    """NUL cannot be stored in PostgreSQL text; refuse it at the door, for every input alike."""
    return b"\x00" in body or b"\\u0000" in body
