"""Optional OpenTelemetry tracing: a span per HTTP request, a child per GraphQL operation, one per SQL statement.

Off unless RESOLUTE_OTEL_ENDPOINT names an OTLP/HTTP collector (Jaeger, Tempo, an OpenTelemetry Collector); it
then needs the `tracing` extra (`pip install 'resolute[tracing]'`), which the settings check at start. Spans are
batched and sent in the background; a collector that is down loses spans, never requests.

- An incoming W3C `traceparent` header continues the caller's trace (a web client, a proxy, an integrator).
- The request's span carries its method, path, status and request id; the operation's its type, name and
  document with every string written in it blanked (and never its variables); a statement's span its SQL text (never its
  parameters): values people typed stay out of traces.
- The tracer is this application's own, not OpenTelemetry's process-wide one, and reaches the GraphQL
  extension and the SQL listener through a context variable set for the request: with tracing off they do
  nothing but read that variable, and two applications in one process (the tests) never share a tracer.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any

from graphql import GraphQLError, StringValueNode, Visitor, parse, print_ast, visit
from sqlalchemy import event
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

__all__ = ["TRACER", "OperationTracing", "TracingMiddleware", "available", "make_provider"]

TRACER: ContextVar[Any] = ContextVar("resolute_tracer", default=None)
MAX_TEXT = 4000  # characters of a document or a statement kept in a span


def available() -> bool:
    """Whether the `tracing` extra is installed (the SDK and the OTLP/HTTP exporter)."""
    try:
        return all(importlib.util.find_spec(m) is not None for m in ("opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http"))
    except ModuleNotFoundError:
        return False


def make_provider(endpoint: str, service_name: str) -> Any:
    """A tracer provider sending batches to the collector at `endpoint` (the tests give one that keeps spans in memory)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces", timeout=5)))
    return provider


class TracingMiddleware:
    """The outermost layer: the request's span, continuing the caller's trace, current while the request runs."""

    def __init__(self, app: ASGIApp, provider: Any) -> None:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.app = app
        self.tracer = provider.get_tracer("resolute")
        self.propagator = TraceContextTextMapPropagator()
        _listen_to_statements()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from opentelemetry.trace import SpanKind, Status, StatusCode

        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope.get("headers", [])}
        seen: dict[str, Any] = {}

        async def traced_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                seen["request_id"] = next((v.decode("latin-1") for k, v in message.get("headers", []) if k.lower() == b"x-request-id"), None)
            await send(message)

        attributes = {"http.request.method": scope["method"], "url.path": scope["path"], "url.scheme": scope.get("scheme", "http")}
        if "user-agent" in headers:
            attributes["user_agent.original"] = headers["user-agent"][:200]
        with self.tracer.start_as_current_span(
            f"{scope['method']} {scope['path']}", context=self.propagator.extract(headers), kind=SpanKind.SERVER, attributes=attributes
        ) as span:
            token = TRACER.set(self.tracer)
            try:
                await self.app(scope, receive, traced_send)
            finally:
                TRACER.reset(token)
                if "status" in seen:
                    span.set_attribute("http.response.status_code", seen["status"])
                    if seen["status"] >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                if seen.get("request_id"):
                    span.set_attribute("resolute.request_id", seen["request_id"])


class _Blanked(Visitor):
    """Every string written in a document blanked: a password or a search typed inline stays out of the trace (numbers,
    such as page sizes, stay: they tell how the operation was asked)."""

    def enter_string_value(self, node: StringValueNode, *_: Any) -> StringValueNode:
        return StringValueNode(value="")


def _shape(query: str) -> str:
    """The document's shape: its fields, arguments and variables, each string blanked."""
    try:
        return print_ast(visit(parse(query, no_location=True), _Blanked()))
    except GraphQLError:
        return ""


class OperationTracing(SchemaExtension):
    """The GraphQL operation's span, inside the request's: its limits, compiled statement or resolvers run in it."""

    async def on_execute(self) -> AsyncIterator[None]:  # type: ignore[override]
        tracer = TRACER.get()
        if tracer is None:
            yield
            return
        execution = self.execution_context
        kind = execution.operation_type.value if execution.operation_type is not None else "operation"
        name = execution.operation_name
        attributes = {"graphql.operation.type": kind, "graphql.document": _shape(execution.query or "")[:MAX_TEXT]}
        if name:
            attributes["graphql.operation.name"] = name
        with tracer.start_as_current_span(f"{kind} {name}" if name else kind, attributes=attributes) as span:
            yield
            result = execution.result
            if result is not None and result.errors:
                codes = sorted({str((e.extensions or {}).get("code", "GRAPHQL")) for e in result.errors})
                span.set_attribute("resolute.graphql.error_codes", codes)


# -- statements ------------------------------------------------------------------------------------------------------

_listening = False


def _listen_to_statements() -> None:
    """Once per process: every engine's statements are spanned while a request's tracer is set (and only then)."""
    global _listening
    if _listening:
        return
    event.listen(Engine, "before_cursor_execute", _statement_begins)
    event.listen(Engine, "after_cursor_execute", _statement_ends)
    event.listen(Engine, "handle_error", _statement_fails)
    _listening = True


def _statement_begins(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    tracer = TRACER.get()
    if tracer is None or context is None:
        return
    from opentelemetry.trace import SpanKind

    words = statement.lstrip().split(None, 1)
    operation = words[0].upper() if words else "SQL"
    context._resolute_span = tracer.start_span(operation, kind=SpanKind.CLIENT, attributes={
        "db.system.name": conn.dialect.name, "db.operation.name": operation, "db.query.text": statement[:MAX_TEXT],
    })  # fmt: skip


def _statement_ends(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    span = getattr(context, "_resolute_span", None)
    if span is not None:
        context._resolute_span = None
        span.end()


def _statement_fails(failure: Any) -> None:
    context = failure.execution_context
    span = getattr(context, "_resolute_span", None)
    if span is not None:
        from opentelemetry.trace import Status, StatusCode

        context._resolute_span = None
        kind = type(failure.original_exception).__name__
        span.set_attribute("error.type", kind)  # not the message: a database's message may quote a value someone typed
        span.set_status(Status(StatusCode.ERROR, kind))
        span.end()
