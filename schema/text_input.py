"""Text inputs refuse control characters other than newline and tab, before anything runs.

A control character in a name or a report is never what a person meant: it hides text in a
terminal or a spreadsheet (an exported report pack), breaks CSV and logs, and NUL cannot even be
stored in PostgreSQL. So every string a request brings, in its variables or written in the
document, is checked once at the door: one BAD_USER_INPUT error naming where it was (`field`),
and no resolver runs. (NUL is refused even earlier, from the raw body: schema.view.)
"""

from __future__ import annotations

import re
import weakref
from collections.abc import AsyncIterator
from typing import Any

from graphql import DocumentNode, ExecutionResult, GraphQLError, StringValueNode, Visitor, visit
from strawberry.extensions import SchemaExtension

__all__ = ["ControlCharacters", "first_control_character"]

# Unicode's control characters (C0, DEL, C1) but tab and newline
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def first_control_character(value: Any, path: str) -> tuple[str, str] | None:
    """(where, the character) of the first control character in a JSON value, or None."""
    if isinstance(value, str):
        found = _CONTROL.search(value)
        return (path, found.group()) if found else None
    if isinstance(value, dict):
        for key, item in value.items():
            hit = first_control_character(key, path) or first_control_character(item, f"{path}.{key}")
            if hit:
                return hit
    elif isinstance(value, list):
        for i, item in enumerate(value):
            hit = first_control_character(item, f"{path}.{i}")
            if hit:
                return hit
    return None


class _Literals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: tuple[StringValueNode, str] | None = None

    def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
        hit = _CONTROL.search(node.value)
        if hit and self.found is None:
            self.found = (node, hit.group())
            return Visitor.BREAK
        return None


# documents are cached and reused: the answer is kept on the document's identity (hashing a document hashes
# its whole tree, a millisecond per request), dropped with the document
_LITERALS: dict[int, tuple[StringValueNode, str] | None] = {}


def _in_literals(document: DocumentNode) -> tuple[StringValueNode, str] | None:
    key = id(document)
    if key not in _LITERALS:
        visitor = _Literals()
        visit(document, visitor)
        _LITERALS[key] = visitor.found
        weakref.finalize(document, _LITERALS.pop, key, None)
    return _LITERALS[key]


class ControlCharacters(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:  # type: ignore[override]
        execution = self.execution_context
        if execution.graphql_document is not None and execution.result is None:
            error = None
            in_variables = first_control_character(execution.variables or {}, "variables")
            if in_variables is not None:
                where, char = in_variables
                error = GraphQLError(_message(char, where), extensions={"code": "BAD_USER_INPUT", "field": where})
            else:
                literal = _in_literals(execution.graphql_document)
                if literal is not None:
                    node, char = literal
                    error = GraphQLError(_message(char, "the document"), nodes=[node], extensions={"code": "BAD_USER_INPUT", "field": None})
            if error is not None:
                execution.result = ExecutionResult(data=None, errors=[error])
        yield


def _message(char: str, where: str) -> str:
    return f"text may not contain control characters (U+{ord(char):04X} in {where}); only newline and tab are allowed"
