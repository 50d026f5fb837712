"""The fixed costs of a request, cut to the bone, and what must not change with them.

1. A document is parsed and validated once per process, not per request; the depth and alias
   limits still refuse, from the cache too. 2. Answers are encoded by orjson: UTF-8, the same
   JSON. 3. The caller (user, unit, grants) is read in one statement, still on every request, and
   `me { user grants }` reads nothing more. 4. `resolute serve` runs on uvloop and httptools,
   with as many workers as asked.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry.schema.schema as strawberry_schema
from sqlalchemy import delete, insert, select

from resolute.api import cli
from resolute.api.accounts.models import Grant
from resolute.api.http_timeouts import BoundedH11Protocol, BoundedHttpToolsProtocol
from resolute.api.logs import logging_config
from resolute.api.org.models import Unit
from resolute.schema.root import MAX_ALIASES
from tests.support import Api, StatementCounter, small_tree, small_users


@pytest.fixture
async def tree(api: Api) -> Api:
    await api.seed(small_tree(), small_users())
    return api


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The text of every document graphql-core validates from now on (strawberry's own call of it)."""
    seen: list[str] = []
    validate = strawberry_schema.validate

    def counting(schema: Any, document: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(document.loc.source.body)
        return validate(schema, document, *args, **kwargs)

    monkeypatch.setattr(strawberry_schema, "validate", counting)
    return seen


def fresh(document: str) -> str:
    """`document` with a comment no other test sends: the process-wide cache has never seen it."""
    return f"# {uuid.uuid4().hex}\n{document}"


def deep(parents: int) -> str:
    return "{ me { unit { " + "parent { " * parents + "code" + " }" * parents + " } } }"


def aliased(count: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


# -- 1. parsed and validated once ------------------------------------------------------------------


async def test_the_same_document_twice_is_validated_once(tree: Api, validations: list[str]) -> None:
    document = fresh("{ me { user { username } } }")
    first = await tree.gql(document, as_user="p01.manager")
    second = await tree.gql(document, as_user="p01.admin")  # another caller: the same document
    assert first == {"_status": 200, "data": {"me": {"user": {"username": "p01.manager"}}}}
    assert second == {"_status": 200, "data": {"me": {"user": {"username": "p01.admin"}}}}
    assert validations.count(document) == 1

    other = fresh("{ me { user { username } } }")  # another text is another document
    await tree.data(other, as_user="p01.manager")
    assert validations.count(other) == 1 and len(validations) == 2


@pytest.mark.parametrize(
    ("refused", "allowed", "message"),
    [
        (deep(11), deep(10), "'anonymous' exceeds maximum operation depth of 12"),
        (aliased(MAX_ALIASES + 1), aliased(MAX_ALIASES), f"{MAX_ALIASES + 1} aliases found. Allowed: {MAX_ALIASES}"),
    ],
    ids=["depth", "aliases"],
)
async def test_limits_still_refuse_and_the_cache_refuses_alike(
    tree: Api, validations: list[str], refused: str, allowed: str, message: str, statements: StatementCounter
) -> None:
    refused = fresh(refused)
    await tree.token_for("admin")
    statements.reset()
    answers = [await tree.gql(refused, as_user="admin") for _ in range(3)]
    assert statements.count == 3  # the caller's account, once a request: the refused document never ran
    assert validations.count(refused) == 1
    for body in answers:
        assert body["data"] is None and [e["message"] for e in body["errors"]] == [message], body
    assert answers[1:] == answers[:1] * 2  # the cached refusal reads exactly as the first

    allowed = fresh(allowed)
    for _ in range(2):
        assert (await tree.gql(allowed, as_user="admin")).get("errors") is None
    assert validations.count(allowed) == 1


async def test_an_invalid_document_is_refused_every_time_with_the_same_errors(tree: Api, validations: list[str]) -> None:
    document = fresh("{ me { user { nosuchfield } } }")
    answers = [await tree.gql(document, as_user="admin") for _ in range(2)]
    assert answers[0] == answers[1]
    assert answers[0]["data"] is None and "nosuchfield" in answers[0]["errors"][0]["message"]
    assert validations.count(document) == 1


async def test_a_syntax_error_is_answered_as_before(tree: Api) -> None:
    document = fresh("{ me { user { username } }")  # a brace short
    answers = [await tree.gql(document, as_user="admin") for _ in range(2)]
    assert answers[0] == answers[1]
    assert answers[0]["data"] is None and answers[0]["errors"][0]["message"].startswith("Syntax Error"), answers[0]


async def test_a_document_past_the_token_limit_is_refused_before_anything_runs(tree: Api, statements: StatementCounter) -> None:
    from resolute.schema.documents import MAX_TOKENS

    await tree.token_for("admin")
    statements.reset()
    body = await tree.gql("{ me { user { " + "username " * MAX_TOKENS + "} } }", as_user="admin")
    assert body["data"] is None and [e["extensions"] for e in body["errors"]] == [{"code": "TOKEN_LIMIT", "limit": MAX_TOKENS}], body
    assert statements.count == 1  # the caller's account: the document was never run
    assert (await tree.gql("{ me { user { " + "username " * 200 + "} } }", as_user="admin")).get("errors") is None


async def test_a_directive_repeated_on_a_field_is_refused(tree: Api) -> None:
    """Directives per field are bounded by the spec's rule (no directive of the schema is repeatable): one of each."""
    body = await tree.gql("{ me @include(if: true) @include(if: true) @skip(if: false) { user { username } } }", as_user="admin")
    assert body["data"] is None and [e["message"] for e in body["errors"]] == ["The directive '@include' can only be used once at this location."]


async def test_variables_and_operation_names_still_apply_to_a_cached_document(tree: Api) -> None:
    document = fresh("query A($c: String!) { unit(code: $c) { code } } query B { me { user { username } } }")
    for code in ("P01", "P02"):
        response = await tree.client.post(
            "/graphql",
            json={"query": document, "variables": {"c": code}, "operationName": "A"},
            headers={"Authorization": f"Bearer {await tree.token_for('admin')}"},
        )
        assert response.json()["data"] == {"unit": {"code": code}} and not response.json().get("errors")
    response = await tree.client.post(
        "/graphql", json={"query": document, "operationName": "B"}, headers={"Authorization": f"Bearer {await tree.token_for('admin')}"}
    )
    assert response.json()["data"] == {"me": {"user": {"username": "admin"}}} and not response.json().get("errors")


# -- 2. orjson ---------------------------------------------------------------------------------------


async def test_answers_are_utf8_json_that_means_the_same(tree: Api) -> None:
    query = '{ unit(code: "P01") { name children { nodes { name } } } me { user { fullName updatedAt } } }'
    response = await tree.client.post(
        "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {await tree.token_for('p01.manager')}"}
    )
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.content
    assert "Thành phố Hà Nội".encode() in body and "Phường Hoàn Kiếm".encode() in body and b"\\u" not in body
    data = json.loads(body.decode("utf-8"))["data"]
    assert data["unit"] == {"name": "Thành phố Hà Nội", "children": {"nodes": [{"name": "Phường Hoàn Kiếm"}, {"name": "Xã Tân Phong"}]}}
    assert data["me"]["user"]["fullName"] == "Người dùng p01.manager"
    assert isinstance(data["me"]["user"]["updatedAt"], str) and data["me"]["user"]["updatedAt"].startswith("20")


# -- 3. the caller in one statement --------------------------------------------------------------------


async def test_the_caller_is_read_in_one_statement(tree: Api, statements: StatementCounter) -> None:
    await tree.token_for("p01.manager")
    statements.reset()
    assert await tree.data("{ __typename }", as_user="p01.manager") == {"__typename": "Query"}
    assert statements.count == 1, statements.statements  # user, unit and grants together


async def test_me_reads_nothing_beyond_the_caller(tree: Api, statements: StatementCounter) -> None:
    """The account and grants the authentication read are the ones `me` answers with."""
    uid = await tree.user_id("p01.c01.officer")
    async with tree.engine.begin() as conn:
        p02 = (await conn.execute(select(Unit.id).where(Unit.code == "P02"))).scalar_one()
        await conn.execute(insert(Grant).values(user_id=uid, role="viewer", unit_id=p02))
    await tree.token_for("p01.c01.officer")
    statements.reset()
    data = await tree.data("{ me { user { username fullName } grants { role user { username } } } }", as_user="p01.c01.officer")
    assert data == {"me": {
        "user": {"username": "p01.c01.officer", "fullName": "Người dùng p01.c01.officer"},
        "grants": [{"role": "officer", "user": {"username": "p01.c01.officer"}}, {"role": "viewer", "user": {"username": "p01.c01.officer"}}],
    }}  # fmt: skip
    assert statements.count == 1, statements.statements


async def test_a_caller_without_grants_is_still_read(tree: Api) -> None:
    uid = await tree.user_id("p01.c01.officer")
    async with tree.engine.begin() as conn:
        await conn.execute(delete(Grant).where(Grant.user_id == uid))
    data = await tree.data(
        "{ me { user { username } grants { role } unit { code } } units(first: 5) { totalCount } }", as_user="p01.c01.officer"
    )
    assert data == {"me": {"user": {"username": "p01.c01.officer"}, "grants": [], "unit": None}, "units": {"totalCount": 0}}


async def test_grants_are_read_afresh_on_every_request(tree: Api) -> None:
    """No cache between requests: a grant removed behind the server's back is gone on the next one."""
    query = "{ me { grants { role unit { code } } } units(first: 10) { totalCount } }"
    before = await tree.data(query, as_user="p01.manager")
    assert before == {"me": {"grants": [{"role": "manager", "unit": {"code": "P01"}}]}, "units": {"totalCount": 4}}
    uid = await tree.user_id("p01.manager")
    async with tree.engine.begin() as conn:
        held = (await conn.execute(select(Grant.id).where(Grant.user_id == uid))).scalars().all()
        await conn.execute(delete(Grant).where(Grant.id.in_(held)))
    assert await tree.data(query, as_user="p01.manager") == {"me": {"grants": []}, "units": {"totalCount": 0}}


# -- 4. resolute serve ---------------------------------------------------------------------------------


def test_serve_runs_uvloop_and_httptools_with_the_workers_asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RESOLUTE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}")
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: calls.append((args, kwargs)))
    assert cli.main(["serve", "--port", "8123", "--workers", "3"]) == 2  # an empty database: refused before serving
    assert cli.main(["serve", "--port", "8123", "--workers", "3", "--migrate"]) == 0
    ((args, kwargs),) = calls
    assert args == ("resolute.schema.server:create_app",)
    assert kwargs.pop("log_config") == logging_config("text")  # every worker logs alike, with the request id (api.logs)
    assert kwargs | {"host": None} == {
        "factory": True,
        "host": None,
        "port": 8123,
        "workers": 3,
        "log_level": "info",
        "loop": "uvloop",
        "http": BoundedHttpToolsProtocol,  # httptools, with a bound on slow headers (api.http_timeouts)
        "access_log": False,  # api.metrics writes the access lines
        "timeout_graceful_shutdown": 20.0,
        "timeout_keep_alive": 5,
    }


def test_serve_falls_back_to_uvicorns_choice_without_uvloop(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RESOLUTE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}")
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: calls.append(kwargs))
    find_spec: Callable[..., Any] = cli.importlib.util.find_spec
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name, *a: None if name in ("uvloop", "httptools") else find_spec(name, *a))
    cli.main(["serve", "--migrate"])
    assert (calls[0]["loop"], calls[0]["http"], calls[0]["workers"]) == ("auto", BoundedH11Protocol, 1)


def test_serve_answers_with_two_workers(tmp_path: Path) -> None:
    """The real thing: two worker processes on uvloop and httptools answer over TCP."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {
        "RESOLUTE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
        "RESOLUTE_JWT_SECRET": "serve-secret-" + "z" * 32,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "resolute.api.cli", "serve", "--port", str(port), "--workers", "2", "--migrate"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert response.status_code == 200 and response.json() == {"status": "ok"}
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "2 worker(s), loop uvloop, http httptools" in output, output
    assert output.count("Started server process") == 2, output
