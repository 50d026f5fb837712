"""Optional tracing (api/tracing.py): with RESOLUTE_OTEL_ENDPOINT set, a request is a span continuing the caller's
trace, its GraphQL operation a child, each SQL statement a grandchild carrying its text but never its parameters; off,
nothing is traced. The spans are kept in memory here instead of being sent to a collector.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from graphql import parse, print_ast
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from resolute.api import tracing
from resolute.api.settings import SettingsError, load_settings
from tests.support import Api, small_tree, small_users, twin

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
SECRET = "a term nobody else may read"


class _Kept(InMemorySpanExporter):
    """Spans kept across the apps of one test: an app's shutdown (which shuts its exporter down) does not end it."""

    def shutdown(self) -> None:
        pass


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    exporter = _Kept()
    asked: list[tuple[str, str]] = []

    def provider(endpoint: str, service_name: str) -> TracerProvider:
        asked.append((endpoint, service_name))
        made = TracerProvider()
        made.add_span_processor(SimpleSpanProcessor(exporter))
        return made

    monkeypatch.setattr(tracing, "make_provider", provider)
    yield exporter
    assert set(asked) <= {("http://collector.test:4318", "resolute")}


def _by_id(spans: tuple[ReadableSpan, ...]) -> dict[int, ReadableSpan]:
    return {s.context.span_id: s for s in spans}


async def test_a_request_its_operation_and_its_statements_are_one_trace(api: Api, exported: InMemorySpanExporter) -> None:
    await api.seed(small_tree(), small_users())
    query = "query Units($s: String) { units(first: 5, filter: {search: $s}) { totalCount nodes { code children { totalCount } } } }"
    async with twin(api, otel_endpoint="http://collector.test:4318", compiled_reads=False) as traced:
        token = await traced.token_for("p01.manager")
        headers = {"Authorization": f"Bearer {token}", "traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01", "X-Request-ID": "trace-test-1"}
        answer = await traced.client.post("/graphql", json={"query": query, "variables": {"s": SECRET}, "operationName": "Units"}, headers=headers)
    assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
    spans = exported.get_finished_spans()
    assert {f"{s.context.trace_id:032x}" for s in spans} == {TRACE_ID}, "one trace, the caller's"
    (request,) = [s for s in spans if s.name == "POST /graphql"]
    assert f"{request.parent.span_id:016x}" == CALLER_SPAN  # type: ignore[union-attr]
    assert dict(request.attributes or {}) | {"user_agent.original": None} == {
        "http.request.method": "POST", "url.path": "/graphql", "url.scheme": "http", "http.response.status_code": 200,
        "resolute.request_id": "trace-test-1", "user_agent.original": None,
    }  # fmt: skip
    (operation,) = [s for s in spans if s.name == "query Units"]
    assert operation.parent.span_id == request.context.span_id  # type: ignore[union-attr]
    assert operation.attributes["graphql.operation.type"] == "query" and operation.attributes["graphql.document"] == print_ast(parse(query))  # type: ignore[index]
    statements = [s for s in spans if s.attributes and "db.query.text" in s.attributes]
    assert any(s.name == "SELECT" for s in statements), [s.name for s in spans]  # (and the test's own savepoints)
    parents = _by_id(spans)
    for s in statements:  # the caller's account is read before the operation, in the request; the units inside the operation
        assert s.parent is not None and s.parent.span_id in (request.context.span_id, operation.context.span_id), s.name
        assert parents[s.parent.span_id] in (request, operation)
        assert s.attributes["db.system.name"] == api.engine.dialect.name  # type: ignore[index]
    assert any(s.parent.span_id == operation.context.span_id for s in statements)  # type: ignore[union-attr]
    assert not any(SECRET in str(value) for s in spans for value in (s.attributes or {}).values()), "a variable's value reached a span"
    exported.clear()
    async with twin(api, otel_endpoint="http://collector.test:4318", compiled_reads=False) as traced:
        inline = 'mutation { passwordChange(input: {currentPassword: "an old secret", newPassword: "a new secret 1234"}) { errors { code } } }'
        await traced.client.post("/graphql", json={"query": inline}, headers={"Authorization": f"Bearer {token}"})
    (operation,) = [s for s in exported.get_finished_spans() if s.name == "mutation"]
    document = str(operation.attributes["graphql.document"])  # type: ignore[index]
    assert "passwordChange" in document and "secret" not in document, document  # literals written inline are blanked


async def test_errors_are_marked_and_nothing_is_traced_when_tracing_is_off(api: Api, exported: InMemorySpanExporter) -> None:
    await api.seed(small_tree(), small_users())
    async with twin(api, otel_endpoint="http://collector.test:4318") as traced:
        body = await traced.gql("{ units(first: 101) { totalCount } }", as_user="admin")
        assert body["errors"][0]["extensions"]["code"] == "OUT_OF_RANGE"
        token = await traced.token_for("admin")
        refused = await traced.client.post("/graphql", content=b"{not json", headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        assert refused.status_code == 400
    spans = exported.get_finished_spans()
    (operation,) = [s for s in spans if s.name == "query"]
    assert operation.attributes["resolute.graphql.error_codes"] == ("OUT_OF_RANGE",)  # type: ignore[index]
    assert [s.attributes["http.response.status_code"] for s in spans if s.name == "POST /graphql"] == [200, 400]  # type: ignore[index]
    exported.clear()
    body = await api.gql("{ units(first: 3) { totalCount } }", as_user="admin")  # the suite's own app: tracing off
    assert "errors" not in body and exported.get_finished_spans() == () and tracing.TRACER.get() is None


def test_an_endpoint_needs_a_url_and_the_tracing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESOLUTE_OTEL_ENDPOINT", "collector:4318")
    with pytest.raises(SettingsError, match=re.escape("RESOLUTE_OTEL_ENDPOINT='collector:4318': an http:// or https:// URL of an OTLP/HTTP collector")):
        load_settings()
    monkeypatch.setenv("RESOLUTE_OTEL_ENDPOINT", "http://collector.test:4318")
    assert load_settings().otel_endpoint == "http://collector.test:4318"
    monkeypatch.setattr(tracing, "available", lambda: False)
    with pytest.raises(SettingsError, match=re.escape("RESOLUTE_OTEL_ENDPOINT: tracing needs the tracing extra (pip install 'resolute[tracing]')")):
        load_settings()


def test_spans_reach_an_otlp_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real provider (monkeypatch undone): batches are POSTed as OTLP protobuf to <endpoint>/v1/traces."""
    received: list[tuple[str, str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        provider = tracing.make_provider(f"http://127.0.0.1:{server.server_port}/", "resolute-test")
        with provider.get_tracer("test").start_as_current_span("POST /graphql"):
            pass
        assert provider.force_flush(5000)
        provider.shutdown()
    finally:
        server.shutdown()
    ((path, content_type, body),) = received
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    assert b"POST /graphql" in body and b"resolute-test" in body
