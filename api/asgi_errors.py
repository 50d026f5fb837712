"""A GraphQL-shaped JSON error sent straight on an ASGI channel, for middleware that answers before any route."""

from __future__ import annotations

import json

from starlette.types import Send

__all__ = ["send_error"]


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
