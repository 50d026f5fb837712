"""Request bodies are bounded: 413 for a body announced (Content-Length) or streamed (chunked) past the limit, before
the token is checked and with no SQL statement run; everything under the limit is answered as before."""

from __future__ import annotations

from collections.abc import AsyncIterator

from tests.support import Api, StatementCounter, running_app, unit, user

LIMIT = 4096


def document(size: int) -> bytes:
    """A GraphQL request body of exactly `size` bytes (padding in a variable)."""
    head, tail = b'{"query": "{ __typename }", "variables": {"pad": "', b'"}}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


async def chunks(total: int, size: int = 1000) -> AsyncIterator[bytes]:
    body = document(total)
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_a_body_past_the_limit_is_refused_before_anything_reads_it(api: Api, statements: StatementCounter) -> None:
    settings = api.settings.replace(max_body_bytes=LIMIT)
    async with running_app(settings, engine=None) as small:
        await small.seed([unit("TW", None, "central")], [user("admin", "TW", "admin")])
        token = {"Authorization": f"Bearer {await small.token_for('admin')}", "Content-Type": "application/json"}
        at_limit = await small.client.post("/graphql", content=document(LIMIT), headers=token)
        assert (at_limit.status_code, at_limit.json()["data"]) == (200, {"__typename": "Query"})

        for name, headers, body in [
            ("announced, with a token", token, document(LIMIT + 1)),
            ("announced, without a token (413 before 401)", {"Content-Type": "application/json"}, document(30 * 1024 * 1024)),
            ("streamed without a length", token, chunks(LIMIT * 3)),
            ("a login", {"Content-Type": "application/json"}, document(LIMIT + 500)),
        ]:
            path = "/auth/token" if name == "a login" else "/graphql"
            answer = await small.client.post(path, content=body, headers=headers)
            assert answer.status_code == 413, (name, answer.status_code, answer.text[:200])
            assert answer.json() == {"data": None, "errors": [{"message": f"the request body is larger than {LIMIT} bytes",
                                                                "extensions": {"code": "PAYLOAD_TOO_LARGE", "limit": LIMIT}}]}, name  # fmt: skip
            assert answer.headers["x-request-id"], name

    # the default limit (1 MiB): a refusal runs no statement, not even the caller's (which a request under it does)
    await api.seed([unit("TW", None, "central")], [user("admin", "TW", "admin")])
    token = {"Authorization": f"Bearer {await api.token_for('admin')}", "Content-Type": "application/json"}
    statements.reset()
    refused = await api.client.post("/graphql", content=document(api.settings.max_body_bytes + 1), headers=token)
    assert (refused.status_code, statements.count) == (413, 0)
    answered = await api.client.post("/graphql", content=document(api.settings.max_body_bytes), headers=token)
    assert (answered.status_code, answered.json()["data"]) == (200, {"__typename": "Query"}) and statements.count > 0
