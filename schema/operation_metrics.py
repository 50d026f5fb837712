"""Counts each GraphQL operation by type, first root field and outcome (api.metrics): `ok`, or the code of its
first error (UNAUTHENTICATED never gets here: the view refuses it before GraphQL runs)."""

from __future__ import annotations

from typing import Any

from graphql import DocumentNode, FieldNode, GraphQLSchema
from strawberry.extensions import SchemaExtension

from resolute.api.metrics import OPERATIONS
from resolute.schema.documents import chosen_operation

__all__ = ["OperationMetrics", "operation_labels"]


def operation_labels(schema: GraphQLSchema, document: DocumentNode | None, operation_name: str | None) -> tuple[str, str]:
    """The operation's type and first root field, as the metric labels them ("unknown" where it cannot be told)."""
    kind, field = "unknown", "unknown"
    operation = chosen_operation(document, operation_name) if document is not None else None
    if operation is not None:
        kind = operation.operation.value
        root = schema.get_root_type(operation.operation)
        first = next((s for s in operation.selection_set.selections if isinstance(s, FieldNode)), None)
        if first is not None and root is not None and first.name.value in root.fields:
            field = first.name.value  # a field of the schema: the label's values stay bounded
        elif first is not None and first.name.value.startswith("__"):
            field = "introspection"
    return kind, field


class OperationMetrics(SchemaExtension):
    def get_results(self) -> dict[str, Any]:
        """Called once the answer is made (its errors are the context's by then); adds nothing to it."""
        context = self.execution_context
        kind, field = operation_labels(context.schema._schema, context.graphql_document, context.operation_name)
        errors = context.pre_execution_errors or []
        outcome = "ok"
        if errors:
            extensions = getattr(errors[0], "extensions", None) or {}
            outcome = str(extensions.get("code") or "ERROR")  # a validation error has no code
        OPERATIONS.labels(kind, field, outcome).inc()
        return {}
