"""A TCP proxy between the app and PostgreSQL, for fault tests: the machine's shared server is never touched.

It can stop listening (new connections refused: a database that is down), cut every connection it
carries, hold all traffic (a database that stopped answering mid-statement), and cut the connection
that sends a given statement (a connection dying mid-mutation).
"""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.cut_on: bytes | None = None  # the next client chunk holding these bytes cuts its connection (once)
        self.cuts = 0

    async def start(self) -> None:
        """Listen (again, on the same port once it has one)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """The database is down: refuse new connections and cut the open ones."""
        if self._server is not None:
            self._server.close()
            self._server = None
        self.cut_all()

    def cut_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def hold(self) -> None:
        self.flowing.clear()

    def release(self) -> None:
        self.flowing.set()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # the test's loop closing: end quietly
            await self._carry(client_reader, client_writer)

    async def _carry(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        pair = (client_writer, server_writer)
        self._writers.update(pair)
        await asyncio.gather(self._pipe(client_reader, server_writer, pair, inspect=True), self._pipe(server_reader, client_writer, pair, inspect=False),
                             return_exceptions=True)
        self._writers.difference_update(pair)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pair: tuple[asyncio.StreamWriter, ...], *, inspect: bool) -> None:
        try:
            while chunk := await reader.read(65536):
                await self.flowing.wait()
                if inspect and self.cut_on is not None and self.cut_on in chunk:
                    self.cut_on = None
                    self.cuts += 1
                    for w in pair:
                        w.transport.abort()
                    return
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()
