"""Fuzzing from the schema (hypothesis-graphql): 2,040 operations (340 valid queries, 340 mutations and 340 invalid
documents, on each database), sent by callers of several roles. No answer is ever a 5xx, and a caller at P01 never
reads anything of its sibling province P02 (its units' codes, its users' names), whatever the operation asks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, mutations, nodes, queries

from resolute.schema.root import schema
from tests.support import Api, small_tree, small_users

SDL = str(schema)
SCALARS: dict[str, Any] = {
    "Date": st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2040, 12, 31)).map(lambda d: nodes.String(d.isoformat())),
    "DateTime": st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2040, 1, 1), timezones=st.just(dt.UTC)).map(
        lambda t: nodes.String(t.isoformat())),
    "Decimal": st.decimals(min_value=-10**6, max_value=10**6, places=2, allow_nan=False).map(lambda d: nodes.String(str(d))),
    "JSON": st.just(nodes.String("{}")),
}
P01_CALLERS = ("p01.manager", "p01.admin", "p01.c01.officer")
SIBLING = ("P02", "p02.")  # a code and the usernames of the sibling province: never in a P01 caller's answer
SETTINGS = settings(max_examples=340, deadline=None, suppress_health_check=list(HealthCheck))
# graphql-core cancels a failed field's siblings, and SQLAlchemy drops a connection whose statement was cancelled: on
# the app's own pool (committing) that costs a reconnection, where a rolled-back test's one shared connection would die
COMMITTING = pytest.mark.committing("a cancelled sibling field drops its connection: the app needs a pool of its own")


@pytest.fixture
async def world(api: Api) -> Api:
    await api.seed(small_tree(), small_users())
    for user in (*P01_CALLERS, "admin", "p02.manager"):
        await api.token_for(user)
    return api


async def send(api: Api, user: str, query: object) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {api.tokens[user]}"}
    response = await api.client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code < 500, (response.status_code, query, response.text[:2000])
    assert response.headers["content-type"].startswith("application/json"), response.text[:500]
    return response.status_code, response.text


@COMMITTING
@SETTINGS
@given(query=queries(SDL, custom_scalars=SCALARS), user=st.sampled_from(P01_CALLERS))
async def test_generated_queries_never_fail_and_never_leak(world: Api, query: str, user: str) -> None:
    _, text = await send(world, user, query)
    assert not any(mark in text for mark in SIBLING), (user, query, text[:2000])


@COMMITTING
@SETTINGS
@given(query=mutations(SDL, custom_scalars=SCALARS), user=st.sampled_from((*P01_CALLERS, "p02.manager")))
async def test_generated_mutations_never_fail(world: Api, query: str, user: str) -> None:
    await send(world, user, query)


@COMMITTING
@SETTINGS
@given(query=from_schema(SDL, custom_scalars=SCALARS, mode=Mode.NEGATIVE), user=st.sampled_from(("admin", "p01.c01.officer")))
async def test_invalid_documents_are_refused_never_a_server_error(world: Api, query: object, user: str) -> None:
    status, text = await send(world, user, query)
    assert status in (200, 400), (status, text[:500])
    assert '"errors"' in text
