"""A bound on how long a client may take to send a request's line and headers, inside the server itself.

uvicorn bounds the idle time between requests (keep-alive) but not a request that arrives a byte at a time: a
client can hold a connection, and a slot, for ever by sending its headers slowly (slowloris). The reverse proxy
cuts such clients (nginx's client_header_timeout, deploy/nginx.conf); these protocols do it too, for a server
reached directly. The clock starts when the connection opens, or when the first byte of the next request on a
kept-alive connection arrives, and stops when the headers are complete; past RESOLUTE_HEADER_TIMEOUT_SECONDS the
client gets 408 and the connection is closed. A slow body is api.deadline's: the request has started by then.

`resolute serve` passes one of these classes to uvicorn as its HTTP protocol (httptools' where it is installed,
else h11's). They are module-level classes, so that uvicorn's worker processes can be given them by name.
"""

from __future__ import annotations

import asyncio
import logging
from functools import cache
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["BoundedH11Protocol", "protocol_class"]

log = logging.getLogger("resolute.http")
_SAID = b"the request's line and headers did not arrive in time\n"
TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_SAID), _SAID)


@cache
def header_timeout() -> float:
    """This process's bound, read once from its settings (a worker process reads its own environment)."""
    from resolute.api.settings import load_settings

    return load_settings().header_timeout_seconds


class _HeaderClock:
    """What both protocols add: a timer armed while a request's headers are awaited."""

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    _header_timer: asyncio.TimerHandle | None = None

    def _arm_header_clock(self) -> None:
        self._stop_header_clock()
        self._header_timer = self.loop.call_later(header_timeout(), self._headers_too_slow)

    def _stop_header_clock(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        peer = self.transport.get_extra_info("peername")
        log.info("closed a connection whose request headers took over %g s (client %s)", header_timeout(), peer)
        self.transport.write(TIMED_OUT)
        self.transport.close()


class BoundedH11Protocol(_HeaderClock, H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_clock()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self.cycle is not None and self.cycle.response_complete:
            self._arm_header_clock()  # the first bytes of the next request on a kept-alive connection
        super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and not self.cycle.response_complete:
            self._stop_header_clock()  # h11 has parsed the request's line and headers: the request has begun

    def handle_websocket_upgrade(self, event: Any) -> None:
        self._stop_header_clock()  # the connection is the websocket protocol's from now on
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_clock()
        super().connection_lost(exc)


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is not installed: h11 serves
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

if HttpToolsProtocol is not None:

    class BoundedHttpToolsProtocol(_HeaderClock, HttpToolsProtocol):  # type: ignore[misc,valid-type]
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_header_clock()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._header_timer is None:
                self._arm_header_clock()  # the first bytes of the next request on a kept-alive connection

        def on_headers_complete(self) -> None:
            self._stop_header_clock()
            super().on_headers_complete()

        def handle_websocket_upgrade(self) -> None:
            self._stop_header_clock()  # the connection is the websocket protocol's from now on
            super().handle_websocket_upgrade()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_header_clock()
            super().connection_lost(exc)

    __all__ += ["BoundedHttpToolsProtocol"]


def protocol_class(name: str) -> Any:
    """The bounded protocol for uvicorn's `http` choice ("httptools", or anything else: h11)."""
    if name == "httptools" and HttpToolsProtocol is not None:
        return BoundedHttpToolsProtocol
    return BoundedH11Protocol
