"""A deadline per request (RESOLUTE_REQUEST_TIMEOUT_SECONDS) for the API's routes: past it, what runs is
cancelled and the answer is 504 with code TIMEOUT (408 if the body itself had not arrived: a slow client).

Cancelling rolls the request's transaction back (nothing it wrote is kept) and hands its connection
back to the pool, or drops it when it cannot be trusted (api.db.RequestDB). The pool wait and a
statement's own timeout are shorter (checked at start, api.settings), so a request usually gets their
clearer answer first; the deadline bounds everything else: a database that stopped answering in the
middle of a statement, a slow client, a bug. Websockets (long-lived by nature) and report downloads
(api.reports, which stream) are not bounded here.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from resolute.api.asgi import WatchedSend, send_error

__all__ = ["DeadlineMiddleware"]

log = logging.getLogger("resolute")


class DeadlineMiddleware:
    def __init__(self, app: ASGIApp, *, seconds: float, prefixes: tuple[str, ...] = ("/graphql", "/auth/")) -> None:
        self.app = app
        self.seconds = seconds
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        waiting_for_client = False  # the work is blocked on the client's next body bytes

        async def receiving() -> Message:
            nonlocal waiting_for_client
            waiting_for_client = True
            try:
                return await receive()
            finally:
                waiting_for_client = False

        watched = WatchedSend(send)
        work = asyncio.ensure_future(self.app(scope, receiving, watched))
        try:
            done, _ = await asyncio.wait({work}, timeout=self.seconds)
        except BaseException:
            work.cancel()  # the client went away, or the server is stopping
            raise
        if done:
            work.result()  # its own outcome, its own errors (a connect timeout is not the deadline)
            return
        watched.closed = True  # the 504 goes out now: whatever the cut-off work still sends is dropped
        answered, slow_client = watched.started, waiting_for_client
        work.cancel()
        request_id = scope.get("state", {}).get("request_id")
        log.warning("request %s: stopped after %g s (%s)", request_id, self.seconds, scope["path"])
        if not answered:  # answer at the deadline; the cut-off work cleans up below (a connection may take seconds to drop)
            if slow_client:  # a client sending its body a byte at a time
                status, message = 408, f"the request's body did not arrive within {self.seconds:g} s"
            else:
                status, message = 504, f"the request took longer than {self.seconds:g} s and was stopped; nothing it wrote was kept"
            await send_error(send, status, "TIMEOUT", message, request_id=request_id)
        await asyncio.gather(work, return_exceptions=True)  # its rollback and its connection's release end before the request's session is closed
