"""A real `resolute serve` process: a client sending its body a byte at a time is cut off at the deadline (408), one
whose headers never end at the header bound (408), and SIGTERM lets an in-flight request finish, refuses new connections, and exits 0."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.test_live import Server, _env, _free_port, _resolute, _wait_healthy

DEADLINE = 1.5


def _request_head(length: int) -> bytes:
    return (b"POST /auth/token HTTP/1.1\r\nHost: resolute.test\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % length)


def _answer(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_slow_clients_are_cut_off_and_sigterm_drains_in_flight_requests(tmp_path: Path) -> None:
    db = tmp_path / "var" / "resolute.db"
    db.parent.mkdir(parents=True)
    port = _free_port()
    log = tmp_path / "serve.log"
    env = _env(db, REQUEST_TIMEOUT_SECONDS=str(DEADLINE), DB_POOL_TIMEOUT="1", DB_STATEMENT_TIMEOUT_MS="1000", SHUTDOWN_GRACE_SECONDS="10",
               HEADER_TIMEOUT_SECONDS="1")
    with log.open("wb") as out:
        proc = subprocess.Popen([*_resolute(), "serve", "--migrate", "--host", "127.0.0.1", "--port", str(port)], cwd=tmp_path, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    server = Server(name="solo", port=port, proc=proc, log=log)
    try:
        _wait_healthy([server])
        body = json.dumps({"username": "nobody.here", "password": "not the password"}).encode()

        # a byte every 0.4 s: the body never arrives within the deadline
        start = time.monotonic()
        with socket.create_connection(("127.0.0.1", port)) as slow:
            slow.sendall(_request_head(len(body)))
            answer = b""
            slow.settimeout(0.01)
            for byte in body:
                try:
                    slow.sendall(bytes([byte]))
                    answer += slow.recv(65536)
                except (TimeoutError, BlockingIOError):
                    pass
                except OSError:
                    break
                if answer:
                    break
                time.sleep(0.4)
            answer += _answer(slow, 5) if not answer.rstrip().endswith(b"}") else b""
        assert answer.startswith(b"HTTP/1.1 408"), (answer, server.output())
        assert b'"TIMEOUT"' in answer and time.monotonic() - start < DEADLINE + 2

        # headers that never end: cut off by the server itself after RESOLUTE_HEADER_TIMEOUT_SECONDS (api.http_timeouts)
        start = time.monotonic()
        with socket.create_connection(("127.0.0.1", port)) as stalled:
            stalled.sendall(b"GET /healthz HTTP/1.1\r\nHost: resolute.test\r\n")
            stalled.settimeout(5)
            answer = b""
            while chunk := stalled.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 408"), (answer, server.output())
        assert time.monotonic() - start < 3

        # SIGTERM while a request is in flight (its body half sent): it still gets its answer, then the process exits 0
        with socket.create_connection(("127.0.0.1", port)) as inflight:
            inflight.sendall(_request_head(len(body)) + body[:10])
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.4)
            assert proc.poll() is None, server.output()  # draining
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                refused = False
            except OSError:
                refused = True
            inflight.sendall(body[10:])
            answer = _answer(inflight, 5)
        assert answer.startswith(b"HTTP/1.1 401"), (answer, server.output())
        assert b"wrong username or password" in answer
        assert refused, "a new connection was accepted after SIGTERM"
        assert proc.wait(timeout=15) == 0, server.output()
    finally:
        server.stop()
