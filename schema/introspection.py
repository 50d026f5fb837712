"""The production profile's view of the schema: introspection for admins and integrators only, and no
field suggestions in error messages (ACCESS.md "Integrators").

Under the development profile everyone may introspect (GraphiQL needs it) and errors suggest the field
meant. Under production, an attacker learns the schema neither from `__schema`/`__type` nor by probing
names and reading "Did you mean ...?": a caller without the `schema.introspect` permission (policies/)
gets FORBIDDEN before anything runs. `__typename` stays allowed: clients need it for unions.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from graphql import ExecutionResult, GraphQLError, NoSchemaIntrospectionCustomRule, validate
from strawberry.extensions import SchemaExtension

__all__ = ["IntrospectionGate", "without_suggestions"]

_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def without_suggestions(errors: list[GraphQLError]) -> None:
    """Replace, in the list, each error that suggests names by a copy without its suggestion:
    `Cannot query field 'nme' on type 'User'. Did you mean 'name'?` -> its first sentence. The errors themselves
    are never changed: validation errors are cached per document and shared by every request (schema.documents)."""
    for i, error in enumerate(errors):
        message = _SUGGESTION.sub("", error.message)
        if message != error.message:
            errors[i] = GraphQLError(message, nodes=error.nodes, source=error.source, positions=error.positions, path=error.path,
                                     original_error=error.original_error, extensions=error.extensions)


class IntrospectionGate(SchemaExtension):
    """Refuses `__schema` and `__type` to callers who may not introspect, under the production profile, and
    strips suggestions from validation errors there (the HTTP view strips them from every error)."""

    def on_validate(self) -> Iterator[None]:  # type: ignore[override]
        yield
        settings = getattr(self.execution_context.context, "settings", None)
        if settings is not None and settings.production and self.execution_context.pre_execution_errors:
            without_suggestions(self.execution_context.pre_execution_errors)  # the list the answer is made of

    async def on_execute(self) -> AsyncIterator[None]:  # type: ignore[override]
        execution = self.execution_context
        context = execution.context
        settings, scope = getattr(context, "settings", None), getattr(context, "scope", None)
        if (
            settings is not None and settings.production and execution.graphql_document is not None and execution.result is None
            and not (scope is not None and scope.allows("schema", "introspect"))
        ):
            refused = validate(execution.schema._schema, execution.graphql_document, [NoSchemaIntrospectionCustomRule])
            if refused:
                execution.result = ExecutionResult(data=None, errors=[GraphQLError(
                    "introspection is for admins and integrators in production: ask an admin for the schema (resolute export-schema)",
                    nodes=refused[0].nodes, extensions={"code": "FORBIDDEN"},
                )])  # fmt: skip
        yield
