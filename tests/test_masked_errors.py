"""An unexpected failure inside a resolver: the client gets a fixed message with its request id (code INTERNAL) and
nothing of the failure; the log has the failure with the same id. Domain errors stay readable."""

from __future__ import annotations

import logging

import pytest

from tests.support import Api, unit, user


async def test_an_internal_failure_is_masked_with_the_request_id(api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    await api.seed([unit("TW", None, "central")], [user("admin", "TW", "admin")])
    headers = {"Authorization": f"Bearer {await api.token_for('admin')}", "X-Request-ID": "req-4711"}
    # a domain error keeps its own message and code
    refused = await api.gql('{ progressRollup(unit: "not-an-id") { unit { code } } }', as_user="admin")
    assert refused["errors"][0]["extensions"]["code"] == "INVALID_ID" and "Unexpected" not in refused["errors"][0]["message"]

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internal detail: password=hunter2")

    monkeypatch.setattr("resolute.schema.monitoring.queries.find_rollup", broken)
    with caplog.at_level(logging.ERROR, logger="resolute.errors"):
        answer = await api.client.post("/graphql", json={"query": "{ progressRollup { unit { code } } me { user { username } } }"}, headers=headers)
    body = answer.json()
    assert answer.status_code == 200 and answer.headers["x-request-id"] == "req-4711"
    assert body["data"] == {"progressRollup": None, "me": {"user": {"username": "admin"}}}  # the other field still answers
    assert body["errors"] == [{"message": "Unexpected error (request req-4711); it has been logged.", "locations": [{"line": 1, "column": 3}],
                               "path": ["progressRollup"], "extensions": {"code": "INTERNAL", "requestId": "req-4711"}}]  # fmt: skip
    assert "hunter2" not in answer.text
    logged = [r for r in caplog.records if r.name == "resolute.errors"]
    assert len(logged) == 1 and "req-4711" in logged[0].getMessage() and "hunter2" in str(logged[0].exc_info[1])  # type: ignore[index]
