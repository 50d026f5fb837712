"""A client that sends its request line and headers slowly is cut off (408, connection closed) by the server itself,
on a new connection and on a kept-alive one, with either HTTP parser; a prompt client and a websocket are not.

Each case runs a real uvicorn server in this process, on a free port, with the protocol `resolute serve` gives it
(api.http_timeouts), over a small ASGI app; the client is a raw socket in a thread. tests/test_shutdown.py shows
`resolute serve` itself wiring it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from resolute.api import http_timeouts
from resolute.api.http_timeouts import BoundedH11Protocol, BoundedHttpToolsProtocol

BOUND = 0.6
PROTOCOLS = [BoundedH11Protocol, BoundedHttpToolsProtocol]


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        while (message := await receive())["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message.get("text") or ""})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@contextlib.asynccontextmanager
async def _serving(protocol: type, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[int]:
    monkeypatch.setattr(http_timeouts, "header_timeout", lambda: BOUND)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(_app, host="127.0.0.1", port=port, http=protocol, ws="websockets-sansio", log_level="warning", timeout_keep_alive=30))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


def _read_all(sock: socket.socket, timeout: float) -> tuple[bytes, float]:
    """Everything until the server closes (or `timeout`), and when it closed, from now."""
    sock.settimeout(timeout)
    start, data = time.monotonic(), b""
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data, time.monotonic() - start


def _trickle(port: int, head: bytes, prefix: bytes = b"") -> tuple[bytes, float, int]:
    """Send `prefix` at once, then `head` a byte every 0.15 s until the server answers or closes: (answer, seconds
    from the first trickled byte to the close, bytes of `head` sent)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        answer = b""
        if prefix:
            sock.sendall(prefix)
            sock.settimeout(5)
            while not answer.endswith(b"ok"):
                answer += sock.recv(65536)
            answer = b""
        start, sent = time.monotonic(), 0
        sock.settimeout(0.15)
        for byte in head:
            try:
                sock.sendall(bytes([byte]))
                sent += 1
                answer += sock.recv(65536)
                break  # an answer, or the close (b"")
            except TimeoutError:
                continue
            except OSError:
                break
        rest, _ = _read_all(sock, 3)
        return answer + rest, time.monotonic() - start, sent


SLOW = b"GET /healthz HTTP/1.1\r\nHost: resolute.test\r\nUser-Agent: a very slow client indeed\r\n\r\n"


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.__name__)
async def test_slow_headers_on_a_new_connection_get_408_and_the_connection_closes(protocol: type, monkeypatch: pytest.MonkeyPatch) -> None:
    async with _serving(protocol, monkeypatch) as port:
        answer, seconds, sent = await asyncio.to_thread(_trickle, port, SLOW)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert answer.endswith(b"did not arrive in time\n")
    assert sent < len(SLOW) and seconds < BOUND + 1.5, (sent, seconds)


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.__name__)
async def test_a_connection_that_sends_nothing_is_closed(protocol: type, monkeypatch: pytest.MonkeyPatch) -> None:
    async with _serving(protocol, monkeypatch) as port:

        def idle() -> tuple[bytes, float]:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                return _read_all(sock, 5)

        answer, seconds = await asyncio.to_thread(idle)
    assert answer.startswith(b"HTTP/1.1 408 ") and seconds < BOUND + 1.5, (answer, seconds)


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.__name__)
async def test_the_next_request_on_a_kept_alive_connection_is_bounded_too(protocol: type, monkeypatch: pytest.MonkeyPatch) -> None:
    prompt = b"GET /healthz HTTP/1.1\r\nHost: resolute.test\r\n\r\n"
    async with _serving(protocol, monkeypatch) as port:
        answer, seconds, sent = await asyncio.to_thread(_trickle, port, SLOW, prompt)
    assert answer.startswith(b"HTTP/1.1 408 "), answer  # well before uvicorn's keep-alive bound (30 s here)
    assert sent < len(SLOW) and seconds < BOUND + 1.5, (sent, seconds)


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.__name__)
async def test_prompt_requests_and_a_long_websocket_are_not_cut(protocol: type, monkeypatch: pytest.MonkeyPatch) -> None:
    from websockets.asyncio.client import connect

    async with _serving(protocol, monkeypatch) as port:

        def prompt_requests() -> list[bytes]:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                answers = []
                for _ in range(3):  # a kept-alive connection, idle longer than the bound between requests
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: resolute.test\r\n\r\n")
                    sock.settimeout(5)
                    answer = b""
                    while not answer.endswith(b"ok"):
                        answer += sock.recv(65536)
                    answers.append(answer.split(b"\r\n", 1)[0])
                    time.sleep(BOUND * 1.5)
                return answers

        assert await asyncio.to_thread(prompt_requests) == [b"HTTP/1.1 200 OK"] * 3
        async with connect(f"ws://127.0.0.1:{port}/ws") as ws:
            await asyncio.sleep(BOUND * 2)  # past the bound: the upgrade ended the header clock
            await ws.send("still here")
            assert await asyncio.wait_for(ws.recv(), 5) == "still here"
