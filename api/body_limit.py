"""A bound on request bodies, and the whole body read before anything else runs.

A GraphQL document, its variables or a login fit in a few kilobytes; bulk data arrives through `resolute import`.
So a body announced larger than the limit (Content-Length) is answered 413 before a byte of it is read or the
token is checked, and a body sent without a length (chunked) is cut off with 413 as soon as it passes the limit:
a 30 MB upload costs the server nothing but the refusal. A body within the limit is read whole here, before
authentication takes a database connection: a client that sends its body slowly holds none while it does.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimitMiddleware"]


def _refusal(limit: int) -> tuple[dict[str, object], bytes]:
    body = json.dumps({
        "data": None,
        "errors": [{"message": f"the request body is larger than {limit} bytes", "extensions": {"code": "PAYLOAD_TOO_LARGE", "limit": limit}}],
    }).encode()  # fmt: skip
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return {"type": "http.response.start", "status": 413, "headers": headers}, body


class BodyLimitMiddleware:
    """413 for an HTTP request whose body is, or grows, larger than `limit` bytes; else the app gets it whole."""

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
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: the app is told so at its first read
                first = message
                break
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.limit:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                first = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # (a disconnect, for an app that waits for one)
            replayed = True
            return first

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        start, body = _refusal(self.limit)  # the request state middleware outside adds X-Request-ID
        await send(start)
        await send({"type": "http.response.body", "body": body})
