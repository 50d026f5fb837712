"""A compiled read sent again, answered without strawberry's request pipeline.

Once the compiled path has answered a query by SQL alone (schema/compiled/extension.py), what strawberry's
pipeline would work out again for the same request has one outcome already known: the same text, operation
and variables parse, validate, carry no control character, cost the same (within the ceiling), and, for the
same principal on the same day, compile to the same statements. So when they come again, the view
(schema/view.py) only runs the statements, spends the cost from the caller's allowance and writes the answer
the way strawberry writes it: about a sixth of such a request's CPU was that pipeline (bench/README.md).
tests/test_compiled_reads.py sends every compared document twice and compares the bytes.

A dashboard root answered in Python (schema/compiled/direct.py) runs its resolver's steps again, with a context
made as strawberry's would be. The cost is spent first, as strawberry's cost limit does before anything runs:
a caller past its allowance is refused without a statement. Anything else takes strawberry's path, which
answers as before: another body shape, a streaming transport asked for, tracing on (it spans the operation).
If a statement or a root fails, the entry is forgotten and strawberry's executor answers, the cost not
spent twice.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from strawberry.http.parse_content_type import parse_content_type

from resolute.api.access.scope import Principal
from resolute.api.db import RequestDB
from resolute.api.lru import LRU
from resolute.schema.compiled.direct import DIRECT
from resolute.schema.compiled.plan import Field

__all__ = ["READY", "Part", "Ready", "Request", "answer", "read", "request_of", "statement_key"]

MAX_READY = 2000
BODY_KEYS = frozenset({"query", "variables", "operationName"})


def statement_key(query: str, operation_name: str | None, variables: dict[str, Any] | None, principal: Principal, policy: Any, today: date) -> tuple[Any, ...]:
    """Everything a compiled operation's statements depend on: the document, the operation, the variables, the
    caller's principal and the policy (together they make the scope filters) and the day (overdue and pace)."""
    return (query, operation_name, json.dumps(variables, sort_keys=True, default=str), principal, policy, today)


# A root field: its response key, its SQL (None: `__typename` or a direct root) and parameters, and for a root
# answered in Python its planned field (schema/compiled/direct.py).
Part = tuple[str, str | None, tuple[Any, ...], Field | None]


@dataclass(frozen=True)
class Ready:
    """An operation the compiled path answered whole: its root fields, its cost, and its first root field (the
    operations metric's label)."""

    parts: tuple[Part, ...]
    cost: int
    field: str


READY = LRU(MAX_READY)


@dataclass(frozen=True)
class Request:
    """A GraphQL request body of the plain shape: a query, its variables, its operation's name."""

    query: str
    variables: dict[str, Any] | None
    operation_name: str | None


def request_of(content_type: str, body: bytes) -> Request | None:
    """The body as strawberry would read it, if it is JSON of the plain shape; None for anything else."""
    mime_type, _ = parse_content_type(content_type)
    if "application/json" not in mime_type:  # strawberry's own test (case and all): what it would refuse, it refuses
        return None
    try:
        given = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(given, dict) or not given.keys() <= BODY_KEYS:
        return None
    query, variables, name = given.get("query"), given.get("variables"), given.get("operationName")
    if not isinstance(query, str) or not (variables is None or isinstance(variables, dict)) or not (name is None or isinstance(name, str)):
        return None
    return Request(query, variables, name)


async def read(db: RequestDB, parts: tuple[Part, ...]) -> dict[str, Any]:
    """The data of the root fields in `parts` that are not direct, in their order, each statement on the
    request's reads connection (RequestDB.reads)."""
    parts = tuple(part for part in parts if part[3] is None)
    data: dict[str, Any] = {key: "Query" for key, sql, _, _ in parts if sql is None}
    if len(data) < len(parts):
        async with db.reads(planned_once=True) as connection:
            for key, sql, params, _ in parts:
                if sql is not None:
                    text = (await connection.exec_driver_sql(sql, params)).scalar()
                    data[key] = orjson.loads(text) if text is not None else None
    return {key: data[key] for key, _, _, _ in parts}


async def answer(db: RequestDB, ready: Ready, context: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    """The operation's data: its statements, then its direct roots with the request's context (made by
    `context` only for them); any failure, a refusal included (NotCovered), leaves the answer to strawberry."""
    data = await read(db, ready.parts)
    direct = [(key, field) for key, _, _, field in ready.parts if field is not None]
    if direct:
        made = await context()
        for key, field in direct:
            data[key] = await DIRECT[field.name](made, field)
    return {key: data[key] for key, _, _, _ in ready.parts}
