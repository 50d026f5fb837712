"""Answers compressed for clients that accept gzip (slow links in remote communes), at no cost to those that do not.

Starlette's GZipMiddleware wraps every answer in a responder that parses its headers and content type even
when the client takes no gzip: about 3 % of the CPU of a small compiled read. Here such a request goes
straight through; its answer only says `Vary: Accept-Encoding`, so that a cache never hands it to a client
that asked for gzip (nor a compressed one to a client that did not).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Compression"]


class Compression:
    def __init__(self, app: ASGIApp, *, minimum_size: int) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _accepts_gzip(scope):
            await self.gzip(scope, receive, send)
            return

        async def varied(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).add_vary_header("Accept-Encoding")
            await send(message)

        await self.app(scope, receive, varied)


def _accepts_gzip(scope: Scope) -> bool:
    """As GZipMiddleware decides it: "gzip" anywhere in Accept-Encoding."""
    return any(name == b"accept-encoding" and b"gzip" in value for name, value in scope["headers"])
