"""The process's cache of GraphQL documents: each distinct text parsed and validated once.

strawberry's own caches key validation by the parsed document (a structural hash on every
request) and its limiter extensions make new rule classes per request, which no cache can
reuse; this one keys by the text and takes the limit rules made once (schema.root.LIMITS).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, OperationDefinitionNode, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

__all__ = ["DOCUMENTS", "MAX_TOKENS", "DocumentCache", "Documents", "Rules", "chosen_operation"]

MAX_TOKENS = 5_000  # lexical tokens of one document: a large dashboard query has some 1,500; parsing stops past it

Rules = tuple[type[ASTValidationRule], ...]


@dataclass
class _Document:
    document: DocumentNode
    validated_for: tuple[GraphQLSchema, Rules] | None = None  # one set of rules kept: rules made per request could not pile up
    errors: list[GraphQLError] = field(default_factory=list)


class Documents:
    """Parsed documents by their text, each with its validation errors, the least recently used
    dropped first: at most `max_documents` texts and `max_chars` characters of text in all (a
    syntax tree takes some 125 bytes a character, so the memory they hold stays bounded)."""

    def __init__(self, *, max_documents: int, max_chars: int) -> None:
        self.max_documents = max_documents
        self.max_chars = max_chars
        self._entries: OrderedDict[str, _Document] = OrderedDict()
        self._chars = 0

    def parsed(self, text: str) -> DocumentNode:
        """The document of `text`; a syntax error is raised, and nothing kept."""
        entry = self._entries.get(text)
        if entry is not None:
            self._entries.move_to_end(text)
            return entry.document
        document = parse(text, max_tokens=MAX_TOKENS)
        if len(text) <= self.max_chars:
            self._entries[text] = _Document(document)
            self._chars += len(text)
            while len(self._entries) > self.max_documents or self._chars > self.max_chars:
                dropped, _ = self._entries.popitem(last=False)
                self._chars -= len(dropped)
        return document

    def validated(self, graphql_schema: GraphQLSchema, text: str, document: DocumentNode, rules: Rules) -> list[GraphQLError]:
        """The validation errors of `document` (what `parsed(text)` gave), worked out once."""
        entry = self._entries.get(text)
        if entry is None or entry.document is not document:  # dropped meanwhile, or too long to keep
            return validate_document(graphql_schema, document, rules)
        if entry.validated_for != (graphql_schema, rules):
            entry.errors = validate_document(graphql_schema, document, rules)
            entry.validated_for = (graphql_schema, rules)
        return list(entry.errors)


def chosen_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    """The operation a request runs: the one named, or the document's only one; None if that cannot be told."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [op for op in operations if operation_name is None or (op.name is not None and op.name.value == operation_name)]
    return chosen[0] if len(chosen) == 1 else None


DOCUMENTS = Documents(max_documents=1_000, max_chars=1_000_000)


class DocumentCache(SchemaExtension):
    """Parse and validate each distinct document once per process (see `Documents`), not on every
    request. Anything unusual (parse options, a syntax error) takes strawberry's own path."""

    _document: DocumentNode | None = None

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        if isinstance(ctx.query, str) and not ctx.parse_options and ctx.graphql_document is None:
            try:
                ctx.graphql_document = self._document = DOCUMENTS.parsed(ctx.query)
            except GraphQLError as error:
                if "tokens. Parsing aborted" in error.message:  # the token limit: refused here, with its code and value
                    raise GraphQLError(f"the document has more than {MAX_TOKENS:,} tokens: send a smaller one",
                                       extensions={"code": "TOKEN_LIMIT", "limit": MAX_TOKENS}) from None
                # any other syntax error: strawberry parses it again and reports it its own way
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if self._document is not None and ctx.graphql_document is self._document and ctx.pre_execution_errors is None:
            assert ctx.query is not None
            ctx.pre_execution_errors = DOCUMENTS.validated(ctx.schema._schema, ctx.query, self._document, ctx.validation_rules)
        yield
