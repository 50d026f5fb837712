"""A bound on request bodies, enforced before anything reads them whole.

A GraphQL document, its variables or a login fit in a few kilobytes; bulk data arrives through `resolute import`.
So a body announced larger than the limit (Content-Length) is answered 413 before a byte of it is read or the
token is checked, and a body sent without a length (chunked) is cut off with 413 as soon as it passes the limit:
a 30 MB upload costs the server nothing but the refusal.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimitMiddleware", "TooLarge"]


class TooLarge(Exception):
    """The body passed the limit while it was being read."""


def _refusal(limit: int) -> tuple[dict[str, object], bytes]:
    body = json.dumps({
        "data": None,
        "errors": [{"message": f"the request body is larger than {limit} bytes", "extensions": {"code": "PAYLOAD_TOO_LARGE", "limit": limit}}],
    }).encode()  # fmt: skip
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return {"type": "http.response.start", "status": 413, "headers": headers}, body


class BodyLimitMiddleware:
    """413 for an HTTP request whose body is, or grows, larger than `limit` bytes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                announced = int(length)
            except ValueError:
                announced = -1
            if announced > self.limit:
                await self._refuse(send)
                return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        start, body = _refusal(self.limit)  # the request state middleware outside adds X-Request-ID
        await send(start)
        await send({"type": "http.response.body", "body": body})
