"""The computed cost of a query: how many objects it may read at most, refused above a ceiling before anything runs.

Depth and alias limits bound a document's shape, not what it reads: `units(first: 100) { children { children
{ ... } } }` stays shallow and reads millions. So each operation is costed, as GitHub and Shopify count it, by
the objects it may return: an object field counts once per parent object; a connection (a field taking `first`)
counts itself once and `first` objects for its `nodes` or `edges` (`first` as the request gives it, a variable
included, or its default); a list taking `first` (a dashboard's per-child rows, a ranking's entries) counts
`first` objects; a list without `first` counts UNPAGED_LIST objects per parent, or the bound the domain sets
(5 key results an objective, 50 milestones a task). Scalars are free. Fragments count where they apply (an interface or union's fragments
all count: an over-estimate is safe). Mutations cost like queries, subscriptions are not costed here (a
subscription reads per event).

An operation above the ceiling (RESOLUTE_MAX_COST, MAX_COST by default) is refused with COST_LIMIT (the cost and
the ceiling in `extensions`) and no resolver runs; every answer carries `extensions.cost` = {requested, limit}.

The cost is then spent from the caller's allowance over a window (RESOLUTE_RATE_LIMIT_COST per
RESOLUTE_RATE_LIMIT_WINDOW_SECONDS, api.rate_limit): past it, the operation is refused with RATE_LIMITED, HTTP 429
and Retry-After, and nothing runs; other callers are not affected. `extensions.rateLimit` = {limit, window,
remaining} tells a client where it stands.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    value_from_ast,
)
from strawberry.extensions import SchemaExtension

from resolute.api.errors import ErrorCode
from resolute.api.kpis.service import MAX_COORDINATORS
from resolute.api.lru import LRU
from resolute.api.metrics import RATE_LIMITED
from resolute.api.plans.reads import MAX_REVISIONS
from resolute.api.rate_limit import cost_allowance
from resolute.api.resolutions.models import MAX_KEY_RESULTS
from resolute.api.reviews.service import MAX_ADJUSTMENTS
from resolute.api.tasks.service import MAX_MILESTONES
from resolute.schema.documents import chosen_operation
from resolute.schema.pagination import MAX_PAGE, MAX_WINDOW

__all__ = ["MAX_COST", "UNPAGED_LIST", "CostLimit", "PageBound", "Spent", "cached_cost", "cost_results", "operation_cost", "spend"]

MAX_COST = 500_000  # objects one request may read at most by default (GitHub's ceiling, 500,000 nodes)
UNPAGED_LIST = 100  # objects assumed for a list field that takes no `first`, unless the domain bounds it:
BOUNDED_LISTS = {
    ("Objective", "keyResults"): MAX_KEY_RESULTS, ("Task", "milestones"): MAX_MILESTONES,
    ("Task", "coordinatingUnits"): MAX_COORDINATORS, ("Kpi", "coordinatingUnits"): MAX_COORDINATORS,
    ("Review", "confidences"): MAX_KEY_RESULTS + 1, ("Review", "adjustments"): MAX_ADJUSTMENTS, ("Resolution", "planRevisions"): MAX_REVISIONS,
}  # fmt: skip
log = logging.getLogger("resolute.rate_limit")
PAGE_ITEMS = frozenset({"nodes", "edges"})


def _is_list(field: GraphQLField) -> bool:
    kind = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    return isinstance(kind, GraphQLList)


def _fields(named: GraphQLNamedType) -> Mapping[str, GraphQLField]:
    return named.fields if isinstance(named, (GraphQLObjectType, GraphQLInterfaceType)) else {}


class PageBound(GraphQLError):
    """A `first` or an `offset` out of its bounds, found while costing: the operation is refused as it stands."""


class _Coster:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def _argument(self, node: FieldNode, field: GraphQLField, name: str) -> Any:
        """The value the request gives an argument (a literal or a variable), or the argument's default; None without one."""
        argument = field.args.get(name)
        if argument is None:
            return None
        given = next((a.value for a in node.arguments or () if a.name.value == name), None)
        return value_from_ast(given, argument.type, self.variables) if given is not None else argument.default_value

    def _first(self, node: FieldNode, field: GraphQLField) -> int | None:
        """The field's `first`, None without one; OUT_OF_RANGE past its bound (MAX_PAGE for a connection, MAX_WINDOW for
        a sliced list) or for a negative `offset`, so that a bad page size is refused before anything runs."""
        for name in ("first", "offset"):
            value = self._argument(node, field, name)
            top = None if name == "offset" else MAX_WINDOW if _is_list(field) else MAX_PAGE
            if isinstance(value, int) and (value < 0 or (top is not None and value > top)):
                bounds = f"between 0 and {top}" if top is not None else "0 or more"
                raise PageBound(
                    f"'{name}' must be {bounds} (got {value})",
                    extensions={"code": ErrorCode.OUT_OF_RANGE.value, "field": name, **({"limit": top} if top is not None else {})},
                )
        value = self._argument(node, field, "first")
        if "first" not in field.args:
            return None
        return value if isinstance(value, int) and value >= 0 else 0

    def _selected(self, selection_set: SelectionSetNode, seen: frozenset[str]) -> list[FieldNode]:
        """The field nodes of a selection, fragments flattened (a fragment inside itself counts once)."""
        found: list[FieldNode] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                found += self._selected(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:
                    found += self._selected(fragment.selection_set, seen | {name})
        return found

    def _lookup(self, parent: GraphQLNamedType, name: str) -> GraphQLField | None:
        """The field on the parent type, or on any member of a union or implementation of an interface."""
        field = _fields(parent).get(name)
        if field is not None:
            return field
        members = parent.types if isinstance(parent, GraphQLUnionType) else self.schema.get_possible_types(parent) if isinstance(parent, GraphQLInterfaceType) else []
        return next((_fields(m)[name] for m in members if name in _fields(m)), None)

    def cost(self, selection_set: SelectionSetNode, parent: GraphQLNamedType, multiplier: int, page: int | None = None) -> int:
        """Objects read below `parent`, itself read `multiplier` times; `page`: the parent is a connection of that size."""
        total = 0
        for node in self._selected(selection_set, frozenset()):
            if node.name.value.startswith("__") or node.selection_set is None:
                continue  # scalars, __typename; introspection is bounded by the schema's size
            field = self._lookup(parent, node.name.value)
            if field is None:
                continue
            named = get_named_type(field.type)
            first = self._first(node, field)
            if page is not None and node.name.value in PAGE_ITEMS:
                count = multiplier * page  # a connection's items: its `first`
            elif first is not None and _is_list(field):
                count, first = multiplier * first, None  # a list sliced by `first`: its items are the list itself
            elif first is not None:
                count = multiplier  # the connection object; its items count below
            elif _is_list(field):
                count = multiplier * BOUNDED_LISTS.get((parent.name, node.name.value), UNPAGED_LIST)
            else:
                count = multiplier
            total += count + self.cost(node.selection_set, named, count, first)
            if total > 10**10:
                return total  # far past the ceiling: no need to count the rest
        return total


_COSTS = LRU(2000)  # (schema, document text, operation, variables) -> cost, or the PageBound refusal
_MAX_KEPT_TEXT = 16_384  # characters of document and variables kept per entry: at most about 32 MB in all


def cached_cost(schema: GraphQLSchema, query: str | None, document: DocumentNode, operation_name: str | None, variables: dict[str, Any] | None) -> int:
    """`operation_cost`, kept per document text, operation and variables: walking a document costs a fraction of
    a millisecond every request, and clients send the same few documents again and again. A refusal (PageBound)
    is kept too; variables that do not coerce (GraphQLError) are not."""
    given = json.dumps(variables, sort_keys=True, default=str)
    if not query or len(query) + len(given) > _MAX_KEPT_TEXT:  # no text to know the document by, or too large to keep
        return operation_cost(schema, document, operation_name, variables)
    key = (id(schema), query, operation_name, given)
    found = _COSTS.get_fresh(key)
    if found is None:
        try:
            found = operation_cost(schema, document, operation_name, variables)
        except PageBound as refused:
            found = refused
        _COSTS.put(key, found)
    if isinstance(found, PageBound):
        raise PageBound(found.message, nodes=found.nodes, extensions=found.extensions)  # a fresh error each time (tracebacks)
    return found


def operation_cost(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, variables: dict[str, Any] | None) -> int:
    """The objects the operation may read at most (0 for a subscription, or when the operation cannot be told)."""
    operation = chosen_operation(document, operation_name)
    if operation is None or operation.operation == OperationType.SUBSCRIPTION:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return _Coster(schema, fragments, variables or {}).cost(operation.selection_set, root, 1)


class CostLimit(SchemaExtension):
    """Costs each operation before it executes; refuses it above the ceiling or past the caller's allowance;
    reports the cost (and the allowance left) with every answer."""

    cost: int | None = None
    limit: int = MAX_COST
    rate: dict[str, Any] | None = None

    async def on_execute(self) -> AsyncIterator[None]:  # type: ignore[override]
        execution = self.execution_context
        context = execution.context
        settings = getattr(context, "settings", None)
        self.cost, self.rate = None, None
        self.limit = settings.max_cost if settings is not None else MAX_COST
        if execution.graphql_document is not None and execution.result is None and execution.operation_type != OperationType.SUBSCRIPTION:
            try:
                self.cost = cached_cost(execution.schema._schema, execution.query, execution.graphql_document, execution.operation_name, execution.variables)
            except PageBound as refused:
                execution.result = ExecutionResult(data=None, errors=[refused])
                yield
                return
            except GraphQLError:
                self.cost = None  # variables that do not coerce: the executor reports them
            if self.cost is not None and self.cost > self.limit:
                execution.result = ExecutionResult(data=None, errors=[GraphQLError(
                    f"this query may read up to {self.cost:,} objects; the limit is {self.limit:,}: ask for smaller pages (first) or fewer nested lists",
                    extensions={"code": "COST_LIMIT", "cost": self.cost, "limit": self.limit},
                )])  # fmt: skip
            elif self.cost is not None:
                await self._spend(context, settings)
        yield

    async def _spend(self, context: Any, settings: Any) -> None:
        """Spend the cost from the caller's allowance, or refuse the operation (RATE_LIMITED, 429, Retry-After)."""
        limiter, scope = getattr(context, "limiter", None), getattr(context, "scope", None)
        if limiter is None or scope is None or settings is None:
            return
        spent = getattr(context, "spent", None)  # already spent by the view for this request (schema/compiled/ready.py)
        if spent is None:
            spent = await spend(limiter, settings, scope.principal.user_id, self.cost or 0)
        self.rate = spent.rate
        if spent.refusal is None:
            return
        self.execution_context.result = ExecutionResult(data=None, errors=[spent.refusal])
        response = getattr(context, "response", None)
        if response is not None:
            response.status_code = 429
            response.headers["Retry-After"] = str(spent.retry_after)

    def get_results(self) -> dict[str, Any]:
        return cost_results(self.cost, self.limit, self.rate)


def cost_results(cost: int | None, limit: int, rate: dict[str, Any] | None) -> dict[str, Any]:
    """What every answer says of its cost and of the caller's allowance (`extensions`)."""
    results: dict[str, Any] = {} if cost is None else {"cost": {"requested": cost, "limit": limit}}
    if rate is not None:
        results["rateLimit"] = rate
    return results


@dataclass(frozen=True)
class Spent:
    rate: dict[str, Any] | None = None  # the allowance as it stands ({limit, window, remaining}); None: no limit
    refusal: GraphQLError | None = None  # RATE_LIMITED: the operation must not run
    retry_after: int = 0  # seconds, with a refusal


async def spend(limiter: Any, settings: Any, user_id: int, cost: int) -> Spent:
    """Spend `cost` from the caller's allowance (also the view's, for a compiled read answered again:
    schema/compiled/ready.py); a refusal is counted and logged here."""
    allowance = cost_allowance(settings, user_id)
    if allowance is None:
        return Spent()
    key, rate = allowance
    verdict = await limiter.spend(key, max(1, cost), rate)
    left = {"limit": rate.amount, "window": rate.per, "remaining": verdict.remaining}
    if verdict.allowed:
        return Spent(left)
    wait = max(1, math.ceil(verdict.retry_after))
    refusal = GraphQLError(
        f"this caller has used its allowance of {rate.amount:,} objects per {rate.per:g} s; retry in {wait} s",
        extensions={"code": "RATE_LIMITED", "retryAfter": wait, "limit": rate.amount, "window": rate.per},
    )
    RATE_LIMITED.labels("cost").inc()
    log.info("rate limited: user %s, cost %s, retry after %s s", user_id, cost, wait)
    return Spent(left, refusal, wait)
