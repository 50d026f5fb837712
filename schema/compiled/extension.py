"""The hook: a query the compiler covers is answered by SQL, and graphql-core's execution is skipped.

strawberry still parses and validates the document (and caches both); at execution, this
extension plans the selection, compiles each root field to one statement, runs them on the
request's session and hands strawberry the finished data. Anything not covered (a mutation,
an introspection field, an interface fragment, a field the catalog does not know, an argument
the resolver would refuse) is left to the executor, which answers exactly as before.

Compiled statements are kept as SQL text and parameters, keyed by everything they depend on:
the document, the operation, the variables, the caller's principal (its grants decide the
scope filters) and the day (the rules date overdue and pace). A revocation changes the
principal, so it can never be answered from an older entry. They run outside any transaction on
PostgreSQL's reader pool, whose connections plan each statement once (api.db.RequestDB.reads): planning
one cost more than running it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from graphql import ExecutionResult, GraphQLError
from sqlalchemy import Text, cast, select
from sqlalchemy.engine import Dialect
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from resolute.api.db import driver_sql, plan_as_usual
from resolute.api.lru import LRU
from resolute.schema.compiled.builder import Compiler
from resolute.schema.compiled.catalog import ROOTS, TYPES
from resolute.schema.compiled.direct import DIRECT
from resolute.schema.compiled.plan import Field, NotCovered, plan_query
from resolute.schema.compiled.ready import READY, Part, Ready, read, statement_key
from resolute.schema.cost import cached_cost
from resolute.schema.operation_metrics import operation_labels

__all__ = ["CompiledReads", "Prepared", "compile_operation"]

log = logging.getLogger("resolute.compiled")

MAX_PREPARED = 2000


@dataclass(frozen=True)
class Prepared:
    """One root field's answer: SQL text and its positional parameters (no SQL for `__typename`), or a root
    answered in Python (`direct`: its planned field, schema/compiled/direct.py)."""

    key: str
    sql: str | None
    params: tuple[Any, ...] = ()
    direct: Field | None = None


def compile_operation(context: Any, fields: tuple[Field, ...], dialect: Dialect) -> tuple[Prepared, ...]:
    """One statement per root field, rendered for `dialect`; NotCovered if any field is not covered."""
    prepared: list[Prepared] = []
    for number, field in enumerate(fields):
        if field.name == "__typename":
            prepared.append(Prepared(field.key, None))
            continue
        if field.name in DIRECT:
            prepared.append(Prepared(field.key, None, direct=field))
            continue
        root = ROOTS.get(field.name)
        if root is None:
            raise NotCovered(f"Query.{field.name}")
        compiler = Compiler(scope=context.scope, today=context.today, types=TYPES, prefix=f"r{number}_")
        sql, params = driver_sql(select(cast(root(compiler, field), Text)), dialect)
        prepared.append(Prepared(field.key, sql, params))
    return tuple(prepared)


_NOT_COVERED = object()
_prepared = LRU(MAX_PREPARED)


class CompiledReads(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:  # type: ignore[override]
        execution = self.execution_context
        context = execution.context
        answered = execution.result is not None  # refused before (the cost limit): nothing to run
        if not answered and execution.graphql_document is not None and execution.operation_type == OperationType.QUERY and getattr(context, "compiled_reads", False):
            data = await self._answer(execution, context)
            if data is not None:
                execution.result = ExecutionResult(data=data, errors=None)
        yield

    async def _answer(self, execution: Any, context: Any) -> dict[str, Any] | None:
        # the operation's name as the request gave it (strawberry's `operation_name` fills in a lone operation's own
        # name): the view looks a repeated request up by its body alone (schema/compiled/ready.py)
        given_name = getattr(execution, "_provided_operation_name", execution.operation_name)
        key = statement_key(execution.query, given_name, execution.variables, context.scope.principal, context.scope.policy, context.today)
        prepared = _prepared.get_fresh(key)
        if prepared is _NOT_COVERED:
            return None
        dialect = context.db.dialect
        if dialect.name != "postgresql":  # SQLite: the executor answers (compiled reads are PostgreSQL's)
            return None
        if prepared is None:
            try:
                fields = plan_query(execution.schema._schema, execution.graphql_document, execution.operation_name, execution.variables)
                prepared = compile_operation(context, fields, dialect)
            except NotCovered as reason:
                log.debug("executor: %s", reason)
                _prepared.put(key, _NOT_COVERED)
                return None
            _prepared.put(key, prepared)
        parts = tuple((part.key, part.sql, part.params, part.direct) for part in prepared)
        try:
            answered = await read(context.db, parts)
        except Exception:
            log.warning("compiled read failed; the executor answers instead", exc_info=True)
            return None
        # in the document's order; a direct root is answered below, once the connection is back (its steps take the session)
        data = {part.key: None if part.direct is not None else answered[part.key] for part in prepared}
        for part in prepared:
            if part.direct is None:
                continue
            try:
                data[part.key] = await DIRECT[part.direct.name](context, part.direct)
            except NotCovered as reason:
                log.debug("executor: %s", reason)
                _prepared.put(key, _NOT_COVERED)
                READY.pop(key, None)
                return await self._hand_over(context)
            except Exception:
                log.warning("direct answer failed; the executor answers instead", exc_info=True)
                return await self._hand_over(context)
        _remember(execution, key, parts)
        return data

    @staticmethod
    async def _hand_over(context: Any) -> None:
        """The executor answers after all: in a transaction PostgreSQL plans as it chooses again (not plan_once's way)."""
        async with context.db.use() as session:
            await plan_as_usual(session)


def _remember(execution: Any, key: tuple[Any, ...], parts: tuple[Part, ...]) -> None:
    """An operation the compiled path answered whole: the view answers it again without strawberry's pipeline
    (schema/compiled/ready.py), with the cost the cost limit computed and the metric's label."""
    try:
        cost = cached_cost(execution.schema._schema, execution.query, execution.graphql_document, execution.operation_name, execution.variables)
    except GraphQLError:  # (the cost limit would have refused it before)
        return
    _, field = operation_labels(execution.schema._schema, execution.graphql_document, execution.operation_name)
    READY.put(key, Ready(parts, cost, field))
