"""Counts each GraphQL operation by type, first root field and outcome (api.metrics): `ok`, or the code of its
first error (UNAUTHENTICATED never gets here: the view refuses it before GraphQL runs)."""

from __future__ import annotations

from typing import Any

from graphql import FieldNode, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

from resolute.api.metrics import OPERATIONS

__all__ = ["OperationMetrics"]


class OperationMetrics(SchemaExtension):
    def get_results(self) -> dict[str, Any]:
        """Called once the answer is made (its errors are the context's by then); adds nothing to it."""
        context = self.execution_context
        kind, field = "unknown", "unknown"
        document = context.graphql_document
        if document is not None:
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            chosen = [o for o in operations if context.operation_name is None or (o.name is not None and o.name.value == context.operation_name)]
            if len(chosen) == 1:
                kind = chosen[0].operation.value
                first = next((s for s in chosen[0].selection_set.selections if isinstance(s, FieldNode)), None)
                if first is not None and context.schema.get_field_for_type(first.name.value, _root(kind)) is not None:
                    field = first.name.value  # a field of the schema: the label's values stay bounded
                elif first is not None and first.name.value.startswith("__"):
                    field = "introspection"
        errors = context.pre_execution_errors or []
        outcome = "ok"
        if errors:
            extensions = getattr(errors[0], "extensions", None) or {}
            outcome = str(extensions.get("code") or "ERROR")  # a validation error has no code
        OPERATIONS.labels(kind, field, outcome).inc()
        return {}


def _root(kind: str) -> str:
    return {"query": "Query", "mutation": "Mutation", "subscription": "Subscription"}.get(kind, "Query")
