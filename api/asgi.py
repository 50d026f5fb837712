"""What the pure ASGI middlewares share: watching the answer go out, and sending a JSON error themselves."""

from __future__ import annotations

import json

from starlette.types import Message, Send

__all__ = ["WatchedSend", "send_error"]


class WatchedSend:
    """`send`, noting whether the answer has started and its status; once `closed`, what is sent is dropped."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False
        self.status = 500  # until an answer says otherwise
        self.closed = False

    async def __call__(self, message: Message) -> None:
        if self.closed:
            return
        if message["type"] == "http.response.start":
            self.started, self.status = True, message["status"]
        await self._send(message)


async def send_error(send: Send, status: int, code: str, message: str, *, request_id: str | None = None, headers: dict[str, str] | None = None) -> None:
    """{"data": null, "errors": [{"message", "extensions": {"code", "requestId"?}}]} with `status`, never cached."""
    extensions: dict[str, str] = {"code": code}
    if request_id is not None:
        extensions["requestId"] = request_id
    body = json.dumps({"data": None, "errors": [{"message": message, "extensions": extensions}]}, ensure_ascii=False).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]
    raw += [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
