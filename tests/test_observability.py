"""Operations: Prometheus metrics at /metrics (requests by route and status, operations by root field and outcome,
rate-limit refusals, the pool), and log lines as JSON with the request's id, from the access line to a failure."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from resolute.api.logs import JsonFormatter, RequestIdFilter, logging_config
from tests.support import Api, small_tree, small_users, twin

UNITS = "{ units(first: 2) { nodes { code } } }"


async def scrape(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await api.client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
async def tree(api: Api) -> Api:
    await api.seed(small_tree(), small_users())
    await api.token_for("p01.manager")
    return api


async def test_metrics_count_requests_operations_and_refusals(tree: Api) -> None:
    before = await scrape(tree)
    for _ in range(2):
        assert not (await tree.gql(UNITS, as_user="p01.manager")).get("errors")
    refused = await tree.gql("{ a: units(first: 100) { nodes { children { nodes { children { nodes { code } } } } } } }", as_user="p01.manager")
    assert refused["errors"][0]["extensions"]["code"] == "COST_LIMIT"
    assert (await tree.client.post("/graphql", json={"query": UNITS})).status_code == 401
    after = await scrape(tree)
    operations = "resolute_graphql_operations_total"
    assert value(after, operations, type="query", field="units", outcome="ok") - value(before, operations, type="query", field="units", outcome="ok") == 2
    assert value(after, operations, type="query", field="units", outcome="COST_LIMIT") - value(before, operations, type="query", field="units", outcome="COST_LIMIT") == 1
    requests = "resolute_http_requests_total"
    assert value(after, requests, route="/graphql", status="200") - value(before, requests, route="/graphql", status="200") == 3
    assert value(after, requests, route="/graphql", status="401") - value(before, requests, route="/graphql", status="401") == 1
    assert value(after, "resolute_http_request_duration_seconds_count", route="/graphql") - value(before, "resolute_http_request_duration_seconds_count", route="/graphql") == 4


async def test_rate_limit_refusals_are_counted_and_metrics_can_be_turned_off(tree: Api) -> None:
    async with twin(tree, rate_limit_cost=2) as limited:  # a page of 2 costs 3
        before = await scrape(limited)
        assert (await limited.gql(UNITS, as_user="p01.manager"))["_status"] == 429
        after = await scrape(limited)
        assert value(after, "resolute_rate_limited_total", limit="cost") - value(before, "resolute_rate_limited_total", limit="cost") == 1
    async with twin(tree, metrics=False) as quiet:
        assert (await quiet.client.get("/metrics")).status_code == 404


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """What the `resolute` loggers write, formatted as production writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("resolute")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)


async def test_log_lines_are_json_with_the_request_id(tree: Api, json_log: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("resolute.schema.monitoring.queries.find_rollup", broken)
    headers = {"Authorization": f"Bearer {await tree.token_for('p01.manager')}", "X-Request-ID": "trace-42"}
    answer = await tree.client.post("/graphql", json={"query": "{ progressRollup { unit { code } } me { user { username } } }"}, headers=headers)
    assert answer.headers["x-request-id"] == "trace-42"
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    mine = [line for line in lines if line["request_id"] == "trace-42"]
    access = [line for line in mine if line["logger"] == "resolute.access"]
    assert len(access) == 1 and access[0]["path"] == "/graphql" and access[0]["status"] == 200 and access[0]["method"] == "POST"
    assert access[0]["duration_ms"] >= 0 and access[0]["time"].endswith("+00:00")
    failure = [line for line in mine if line["logger"] == "resolute.errors"]
    assert len(failure) == 1 and failure[0]["level"] == "ERROR" and "RuntimeError: boom" in failure[0]["error"]


def test_the_logging_config_of_serve_is_valid_for_both_formats() -> None:
    import logging.config

    for log_format in ("json", "text"):
        config = logging_config(log_format)
        logging.config.dictConfig(config)
        assert logging.getLogger("uvicorn.access").propagate is False
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False, "root": {"handlers": [], "level": "WARNING"}})
