"""The SQL constructs a selection compiles to (PostgreSQL): objects, relations, lists, connections.

Every row source gets its own alias with a name fixed by its place in the selection, so the
same document always gives the same SQL text (PostgreSQL's prepared statements are reused).
Expressions are written once on the mapped classes (the scope's row filters, the rules, the
orders) and moved onto the alias by `Level.adapt`. The database builds the JSON: `json`, not
`jsonb`, so keys keep the order the client asked for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Text, cast, func, literal, select
from sqlalchemy.dialects.postgresql import JSON, aggregate_order_by
from sqlalchemy.sql.util import ClauseAdapter

from resolute.api.access.scope import Scope
from resolute.api.keyset import after_key
from resolute.schema.compiled.plan import Field, NotCovered

__all__ = ["Compiler", "FieldHandler", "Level", "Page", "as_bool", "base64url", "decimal_text", "global_id", "upper_enum"]

# A field's meaning: its JSON value for a row of `level`, from the field's plan.
FieldHandler = Callable[["Compiler", "Level", Field], ColumnElement[Any]]

MAX_PAIRS = 50  # json_build_object takes at most 100 arguments


@dataclass
class Level:
    """A row source in the statement: one alias of a mapped class's table."""

    model: Any
    table: FromClause
    handed_down: Any = None  # for a task or a resolution reached from an assignment: its assignee unit's column

    @property
    def c(self) -> Any:
        return self.table.c

    def adapt(self, expression: Any) -> Any:
        """An expression written on the mapped class, moved onto this alias."""
        if hasattr(expression, "__clause_element__"):  # a mapped attribute such as Assignment.id
            expression = expression.__clause_element__()
        return ClauseAdapter(self.table).traverse(expression)

    def visible(self, scope: Scope, *, probe: bool = False) -> ColumnElement[bool]:
        if self.handed_down is not None:
            return self.adapt(scope.visible_handed_down(self.model, self.handed_down))  # type: ignore[no-any-return]
        return self.adapt(scope.visible(self.model, probe=probe))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Page:
    """What a connection lists: its rows' conditions, order (ending with the primary key) and cursor name."""

    where: Callable[[Level], Sequence[ColumnElement[bool]]]
    keys: Callable[[Level], Sequence[ColumnElement[Any]]]
    cursor_name: str
    first: int
    after: tuple[Any, ...] | None
    composite: bool = True  # a KeyOrdering cursor ([name, [k1, k2]]), else an Ordering one ([name, k])


@dataclass
class Compiler:
    """Compiles one root field: the caller's scope and day, the catalog of types, fresh alias names."""

    scope: Scope
    today: date
    types: dict[str, dict[str, FieldHandler]]
    prefix: str = "q"
    _count: int = field(default=0)

    def level(self, model: Any) -> Level:
        self._count += 1
        return Level(model, model.__table__.alias(f"{self.prefix}{self._count}"))

    # -- objects -----------------------------------------------------------------------------
    def object(self, level: Level, type_name: str, fields: Sequence[Field]) -> ColumnElement[Any]:
        """json_build_object of the selected fields, in the client's order."""
        handlers = self.types.get(type_name)
        if handlers is None:
            raise NotCovered(type_name)
        pairs: list[Any] = []
        for selected in fields:
            if selected.name == "__typename":
                value: Any = literal(type_name, Text)
            else:
                handler = handlers.get(selected.name)
                if handler is None:
                    raise NotCovered(f"{type_name}.{selected.name}")
                value = handler(self, level, selected)
            pairs += [literal(selected.key, Text), value]
        if len(pairs) > 2 * MAX_PAIRS:
            raise NotCovered("more than 50 fields in one object")
        return func.json_build_object(*pairs)

    def to_one(self, model: Any, field: Field, join: Callable[[Level], ColumnElement[bool]], *, scoped: bool = True,
               order: Callable[[Level], Sequence[Any]] | None = None, handed_down: Any = None) -> ColumnElement[Any]:
        """The one related row as an object, or null if there is none or the caller may not see it.
        `handed_down`: the assignee unit column of an assignment that hands this row down (its task, that
        task's resolution): the scope then tests it first (Scope.visible_handed_down)."""
        child = self.level(model)
        child.handed_down = handed_down
        conditions = [join(child)] + ([child.visible(self.scope, probe=True)] if scoped else [])  # one row, named by key
        query = select(self.object(child, field.type_name, field.fields)).select_from(child.table).where(*conditions).correlate_except(child.table)
        if order is not None:  # the first of several, e.g. the latest report
            query = query.order_by(*order(child)).limit(1)
        return query.scalar_subquery()

    def list_of(self, model: Any, field: Field, where: Callable[[Level], Sequence[ColumnElement[bool]]], order: Callable[[Level], Sequence[Any]],
                *, joins: Callable[[Level], tuple[Any, Any]] | None = None) -> ColumnElement[Any]:
        """The related rows as a JSON array in `order` ([] for none)."""
        child = self.level(model)
        source: Any = child.table
        if joins is not None:
            other, on = joins(child)
            source = other.table.join(child.table, on)
        obj = self.object(child, field.type_name, field.fields)
        agg = func.json_agg(aggregate_order_by(obj, *order(child)))
        listed = select(agg).select_from(source).where(*where(child)).correlate_except(*_tables(source))
        return func.coalesce(listed.scalar_subquery(), EMPTY_ARRAY)

    # -- connections -------------------------------------------------------------------------
    def connection(self, model: Any, field: Field, page: Page, edge_type: str, node_type: str) -> ColumnElement[Any]:
        """A Relay connection (edges, nodes, pageInfo, totalCount): one page of first+1 rows, numbered, and a count only if asked."""
        if not 0 <= page.first <= 100:
            raise NotCovered("first out of range")
        rows = self.level(model)
        keys = list(page.keys(rows))
        where = list(page.where(rows))
        if page.after is not None:
            where.append(after_key(keys, page.after))
        columns: list[Any] = [func.row_number().over(order_by=keys).label("rn")]
        # one column per `nodes` and per `edges { node }`, in the order the pairs below meet them
        node_fields = [g for f in field.fields for g in ([f] if f.name == "nodes" else f.fields if f.name == "edges" else []) if g.name in ("nodes", "node")]
        for i, selected in enumerate(node_fields):
            columns.append(self.object(rows, node_type, selected.fields).label(f"n{i}"))
        if {g.name for f in field.fields if f.name in ("edges", "pageInfo") for g in f.fields} & {"cursor", "startCursor", "endCursor"}:
            columns.append(_cursor(page.cursor_name, keys, composite=page.composite).label("cursor"))
        listed = select(*columns).select_from(rows.table).where(*where).order_by(*keys).limit(page.first + 1).correlate_except(rows.table).lateral(f"{rows.table.name}p")
        in_page = listed.c.rn <= page.first
        node_index = 0
        pairs: list[Any] = []
        for selected in field.fields:
            pairs.append(literal(selected.key, Text))
            if selected.name == "__typename":
                pairs.append(literal(field.type_name, Text))
            elif selected.name == "totalCount":
                counted = self.level(model)
                pairs.append(select(func.count()).select_from(counted.table).where(*page.where(counted)).correlate_except(counted.table).scalar_subquery())
            elif selected.name == "nodes":
                pairs.append(_array(listed.c[f"n{node_index}"], listed.c.rn, in_page))
                node_index += 1
            elif selected.name == "edges":
                edge_pairs: list[Any] = []
                for sub in selected.fields:
                    edge_pairs.append(literal(sub.key, Text))
                    if sub.name == "node":
                        edge_pairs.append(listed.c[f"n{node_index}"])
                        node_index += 1
                    elif sub.name == "cursor":
                        edge_pairs.append(listed.c.cursor)
                    elif sub.name == "__typename":
                        edge_pairs.append(literal(edge_type, Text))
                    else:
                        raise NotCovered(f"{edge_type}.{sub.name}")
                pairs.append(_array(func.json_build_object(*edge_pairs), listed.c.rn, in_page))
            elif selected.name == "pageInfo":
                pairs.append(self._page_info(selected, listed, in_page, page))
            else:
                raise NotCovered(f"{field.type_name}.{selected.name}")
        if not any(f.name in ("nodes", "edges", "pageInfo") for f in field.fields):
            # nothing aggregates the page's rows: selecting from them would give one row per row (or none at all)
            return select(func.json_build_object(*pairs)).scalar_subquery()
        return select(func.json_build_object(*pairs)).select_from(listed).correlate_except(listed).scalar_subquery()

    def _page_info(self, field: Field, listed: Any, in_page: ColumnElement[bool], page: Page) -> ColumnElement[Any]:
        pairs: list[Any] = []
        for sub in field.fields:
            pairs.append(literal(sub.key, Text))
            if sub.name == "hasNextPage":
                pairs.append(func.count() > page.first)
            elif sub.name == "hasPreviousPage":
                pairs.append(literal(page.after is not None))
            elif sub.name == "startCursor":
                pairs.append(func.array_agg(aggregate_order_by(listed.c.cursor, listed.c.rn)).filter(in_page)[1])
            elif sub.name == "endCursor":
                pairs.append(func.array_agg(aggregate_order_by(listed.c.cursor, listed.c.rn.desc())).filter(in_page)[1])
            elif sub.name == "__typename":
                pairs.append(literal("PageInfo", Text))
            else:
                raise NotCovered(f"PageInfo.{sub.name}")
        return func.json_build_object(*pairs)


# -- values the way strawberry writes them -------------------------------------------------------

EMPTY_ARRAY = literal("[]").cast(JSON)


def _tables(source: Any) -> list[Any]:
    """The aliases a FROM clause is made of (a join's both sides)."""
    if hasattr(source, "left"):
        return _tables(source.left) + _tables(source.right)
    return [source]


def _array(value: Any, rank: Any, in_page: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.json_agg(aggregate_order_by(value, rank)).filter(in_page), EMPTY_ARRAY)


def base64url(text: ColumnElement[str]) -> ColumnElement[str]:
    """URL-safe base64 without padding of a text's UTF-8 bytes (PostgreSQL wraps base64 at 76 characters: drop the newlines)."""
    return func.translate(func.encode(func.convert_to(text, "UTF8"), "base64"), "+/=\n", "-_")


def global_id(type_name: str, pk: Any) -> ColumnElement[str]:
    """schema.ids.encode_id in SQL: base64url("Type:pk")."""
    return base64url(literal(f"{type_name}:", Text) + cast(pk, Text))


def _cursor(name: str, keys: Sequence[Any], *, composite: bool) -> ColumnElement[str]:
    """schema.pagination's cursors in SQL: base64url of json.dumps([name, [k1, k2, ...]]) (KeyOrdering),
    or of json.dumps([name, k]) (Ordering, one key)."""
    if not composite:
        (key,) = keys
        return base64url(literal(f"[{json.dumps(name)}, ", Text) + cast(func.to_json(key), Text) + literal("]", Text))
    text: Any = literal(json.dumps(name) + ", [", Text)
    for i, key in enumerate(keys):
        text = text + (literal(", ", Text) if i else literal("", Text)) + cast(func.to_json(key), Text)
    return base64url(literal("[", Text) + text + literal("]]", Text))


def decimal_text(column: Any) -> ColumnElement[str | None]:
    """A Decimal the way strawberry writes it (str(Decimal)): PostgreSQL's numeric text is the same digits."""
    return cast(column, Text)


def upper_enum(value: Any) -> ColumnElement[str | None]:
    """An enum stored as its lower-case value, written as its GraphQL name."""
    return func.upper(value)


def as_bool(condition: Any) -> ColumnElement[bool]:
    """A boolean expression that is never NULL in JSON (false where SQL would say unknown)."""
    return func.coalesce(condition, literal(False))

