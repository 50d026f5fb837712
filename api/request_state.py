"""Per-request state shared by every route (GraphQL over HTTP and websockets, plain routes): the
request id and the request's one database session.

An outer ASGI middleware, so that authentication (api.auth.backend), the GraphQL view and plain
routes all use the same session and id; the session is closed when the response is sent.
"""

from __future__ import annotations

import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from resolute.api.db import RequestDB
from resolute.api.logs import REQUEST_ID

__all__ = ["RequestStateMiddleware", "request_id_from"]


def request_id_from(given: str | None) -> str:
    """The client's X-Request-ID (cut to 64 characters) if it is a plain token, else a fresh one; audit events keep it."""
    if given and all(ch.isascii() and (ch.isalnum() or ch in "-_.:") for ch in given):
        return given[:64]
    return uuid.uuid4().hex


class RequestStateMiddleware:
    """Puts `db` (a RequestDB) and `request_id` in the request's state; echoes X-Request-ID back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = request_id_from(headers.get(b"x-request-id", b"").decode("latin-1") or None)
        app_state = scope["app"].state
        db = RequestDB(app_state.sessions, app_state.reader, app_state.session_gate)
        state = scope.setdefault("state", {})
        state["db"], state["request_id"] = db, request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        token = REQUEST_ID.set(request_id)  # every log line of this request carries it (api.logs)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            await db.close()
            REQUEST_ID.reset(token)
