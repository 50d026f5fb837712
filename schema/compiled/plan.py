"""An operation's selection as a tree of fields, the way an executor would see it.

Fragments (named and inline) are flattened, `@skip`/`@include` are decided with the request's
variables, aliases become response keys, fields asked twice under one key are merged, and each
field's arguments are coerced (defaults and variables applied) exactly as graphql-core coerces
them for the resolvers. Nothing here knows SQL: the catalog decides what a field means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
)
from graphql.execution.values import get_argument_values, get_directive_values, get_variable_values
from graphql.language import ast
from graphql.type.directives import GraphQLIncludeDirective

__all__ = ["Field", "NotCovered", "plan_query"]


class NotCovered(Exception):
    """The operation (or one of its fields) is not one the compiler handles."""


@dataclass(frozen=True)
class Field:
    """One response key: the schema field behind it, its coerced arguments and its sub-selection."""

    key: str
    name: str
    parent: str  # the object type the field is selected on
    type_name: str  # the named type it returns
    args: dict[str, Any]
    fields: tuple[Field, ...]  # empty for a leaf


def plan_query(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, variables: dict[str, Any] | None) -> tuple[Field, ...]:
    """The root fields of the query operation to run; NotCovered for a mutation, a subscription or bad variables."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [op for op in operations if operation_name is None or (op.name is not None and op.name.value == operation_name)]
    if len(chosen) != 1 or chosen[0].operation != OperationType.QUERY or schema.query_type is None:
        raise NotCovered("not a single query operation")
    operation = chosen[0]
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    if isinstance(coerced, list):  # the executor reports bad variables
        raise NotCovered("variables do not coerce")
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return _Planner(schema, fragments, coerced).fields(schema.query_type, operation.selection_set)


class _Planner:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def fields(self, parent: GraphQLObjectType, selection_set: SelectionSetNode) -> tuple[Field, ...]:
        grouped: dict[str, list[FieldNode]] = {}
        self._collect(parent, selection_set, grouped, set())
        return tuple(self._field(parent, key, nodes) for key, nodes in grouped.items())

    def _collect(self, parent: GraphQLObjectType, selection_set: SelectionSetNode, into: dict[str, list[FieldNode]], seen: set[str]) -> None:
        """CollectFields of the spec: response keys in first-seen order, fragments applied to this type only."""
        for selection in selection_set.selections:
            if not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                into.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if self._applies(selection.type_condition, parent):
                    self._collect(parent, selection.selection_set, into, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if name in seen or fragment is None or not self._applies(fragment.type_condition, parent):
                    continue
                seen.add(name)
                self._collect(parent, fragment.selection_set, into, seen)

    def _applies(self, condition: ast.NamedTypeNode | None, parent: GraphQLObjectType) -> bool:
        if condition is None or condition.name.value == parent.name:
            return True
        # an interface or union condition: the executor decides by the runtime type, we don't
        raise NotCovered(f"fragment on {condition.name.value} inside {parent.name}")

    def _included(self, node: ast.SelectionNode) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include and include.get("if") is False)

    def _field(self, parent: GraphQLObjectType, key: str, nodes: list[FieldNode]) -> Field:
        name = nodes[0].name.value
        if name == "__typename":
            return Field(key=key, name=name, parent=parent.name, type_name="String", args={}, fields=())
        definition = parent.fields.get(name)
        if definition is None:  # __schema, __type: introspection is the executor's
            raise NotCovered(f"{parent.name}.{name}")
        named = get_named_type(definition.type)
        if isinstance(named, (GraphQLInterfaceType, GraphQLUnionType)):  # the runtime type decides: the executor's job
            raise NotCovered(f"{parent.name}.{name} is abstract")
        try:
            args = get_argument_values(definition, nodes[0], self.variables)
        except GraphQLError:
            raise NotCovered(f"arguments of {parent.name}.{name}") from None
        if not isinstance(named, GraphQLObjectType):
            return Field(key=key, name=name, parent=parent.name, type_name=named.name, args=args, fields=())
        merged = SelectionSetNode(selections=tuple(s for node in nodes if node.selection_set for s in node.selection_set.selections))
        return Field(key=key, name=name, parent=parent.name, type_name=named.name, args=args, fields=self.fields(named, merged))
