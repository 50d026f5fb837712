"""The production profile (RESOLUTE_PROFILE=production): introspection for admins and integrators only (FORBIDDEN,
nothing run, for everyone else), no "Did you mean" suggestions in errors, no GraphiQL, security headers and HSTS;
the development profile keeps all of them for a developer."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import Api, StatementCounter, small_tree, small_users, twin, user

SCHEMA = "{ __schema { queryType { name } } }"
TYPE = '{ __type(name: "Unit") { name } }'
TYPENAME = "{ __typename me { __typename } }"
TYPO = "{ me { usr { username } } }"


@pytest.fixture
async def production(api: Api) -> Any:
    """The production profile's app; `api` is the development profile's, over the same data."""
    await api.seed(small_tree(), [*small_users(), user("p01.integrator", "P01", "integrator")])
    async with twin(api, profile="production", graphiql=False) as other:
        yield other


async def test_only_admins_and_integrators_introspect(production: Api) -> None:
    for who in ("p01.manager", "tw.viewer", "p01.c01.officer"):
        await production.token_for(who)
        for query in (SCHEMA, TYPE, "query { units(first: 1) { nodes { code } } ...on Query { __schema { types { name } } } }"):
            counter = StatementCounter(production.engine)
            body = await production.gql(query, as_user=who)
            assert body["data"] is None and [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], (who, query, body)
            assert counter.count == 1  # the caller's account; the query itself never ran
        assert (await production.data(TYPENAME, as_user=who)) == {"__typename": "Query", "me": {"__typename": "Me"}}
    for who in ("admin", "p01.admin", "p01.integrator"):
        assert (await production.data(SCHEMA, as_user=who)) == {"__schema": {"queryType": {"name": "Query"}}}
        assert (await production.data(TYPE, as_user=who)) == {"__type": {"name": "Unit"}}


async def test_an_integrator_reads_like_a_viewer_in_its_scope(production: Api) -> None:
    codes = {n["code"] for n in (await production.data("{ units(first: 100) { nodes { code } } }", as_user="p01.integrator"))["units"]["nodes"]}
    assert codes and all(c == "P01" or c.startswith("P01-") for c in codes)
    body = await production.gql('mutation { unitCreate(input: {code: "P01-X", name: "X", kind: "department", parentId: "x"}) { errors { code } } }', as_user="p01.integrator")
    assert body.get("errors") or body["data"]["unitCreate"]["errors"], body  # it writes nothing


async def test_errors_suggest_nothing_in_production(production: Api, api: Api) -> None:
    development = await api.gql(TYPO, as_user="p01.manager")
    assert "Did you mean" in development["errors"][0]["message"]  # control: the message had a suggestion to strip
    body = await production.gql(TYPO, as_user="p01.manager")
    assert body["errors"][0]["message"] == "Cannot query field 'usr' on type 'Me'."
    enum = await production.gql("query($s: AssignmentStatus) { me { user { username } } }", {"s": "DONEE"}, as_user="p01.manager")
    assert enum["errors"] and not any("Did you mean" in e["message"] for e in enum["errors"]), enum


async def test_production_serves_no_graphiql_and_sends_security_headers(production: Api, api: Api) -> None:
    page = await production.client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code != 200 and "graphiql" not in page.text.lower()
    assert (await api.client.get("/graphql", headers={"accept": "text/html"})).status_code == 200  # control: development serves it
    for path in ("/healthz", "/graphql"):
        headers = (await production.client.get(path)).headers
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert headers["strict-transport-security"].startswith("max-age=")
    development = (await api.client.get("/healthz")).headers
    assert development["x-content-type-options"] == "nosniff" and "strict-transport-security" not in development
