"""The root schema: every domain's queries and mutations merged, plus `node(id)`, its limits and
its extensions (the document cache, masked errors, compiled reads)."""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import AddValidationRules, MaskErrors, MaxAliasesLimiter, QueryDepthLimiter
from strawberry.tools import merge_types

from resolute.api.availability import UNAVAILABLE_MESSAGE, database_unavailable
from resolute.api.tracing import OperationTracing
from resolute.schema.accounts.mutations import AccountsMutation
from resolute.schema.accounts.queries import AccountsQuery
from resolute.schema.approvals.types import DataApprovalQuery, DataApprovalsMutation
from resolute.schema.audit.queries import AuditQuery
from resolute.schema.compiled.extension import CompiledReads
from resolute.schema.context import Info
from resolute.schema.cost import CostLimit
from resolute.schema.documents import DocumentCache, Rules
from resolute.schema.introspection import IntrospectionGate
from resolute.schema.kpis.decomposition import DecompositionMutation
from resolute.schema.kpis.mutations import KpisMutation
from resolute.schema.kpis.queries import KpisQuery
from resolute.schema.live import HttpSubscriptions, LiveSubscription
from resolute.schema.monitoring.queries import MonitoringQuery
from resolute.schema.monitoring.warnings import WarningsQuery
from resolute.schema.node import Node, resolve_node
from resolute.schema.operation_metrics import OperationMetrics
from resolute.schema.org.mutations import OrgMutation
from resolute.schema.org.queries import OrgQuery
from resolute.schema.plans.types import PlansMutation
from resolute.schema.reminders.notifications import NotificationsMutation, NotificationsQuery
from resolute.schema.resolutions.mutations import ResolutionsMutation
from resolute.schema.resolutions.queries import ResolutionsQuery
from resolute.schema.results.mutations import ResultsMutation
from resolute.schema.results.queries import ResultsQuery
from resolute.schema.reviews.mutations import ReviewsMutation
from resolute.schema.tasks.mutations import TasksMutation
from resolute.schema.tasks.queries import TasksQuery
from resolute.schema.text_input import ControlCharacters

__all__ = ["schema"]

log = logging.getLogger("resolute.errors")


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global id; null if it does not exist or is out of your scope.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await resolve_node(info, id)


Query = merge_types("Query", (NodeQuery, OrgQuery, AccountsQuery, ResolutionsQuery, KpisQuery, TasksQuery, MonitoringQuery, WarningsQuery, AuditQuery, ResultsQuery, NotificationsQuery, DataApprovalQuery))
Mutation = merge_types("Mutation", (OrgMutation, AccountsMutation, ResolutionsMutation, KpisMutation, DecompositionMutation, TasksMutation, ResultsMutation, ReviewsMutation, NotificationsMutation, PlansMutation, DataApprovalsMutation))

MAX_QUERY_DEPTH = 12
MAX_ALIASES = 30

# The limits' validation rules, made once per process. Strawberry's limiter extensions make a new
# rule class every time one is built, and so per request: the rules would then differ on every
# request, and no validation result could be reused.
LIMITS: Rules = (
    *QueryDepthLimiter(max_depth=MAX_QUERY_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
)


def _should_mask(error: GraphQLError) -> bool:
    """Hide internal failures; keep our own GraphQL errors (bad ids, bad page sizes) readable."""
    original = getattr(error, "original_error", None)
    return original is not None and not isinstance(original, GraphQLError)


class MaskInternalErrors(MaskErrors):
    """An internal failure reaches the client as a fixed message with the request's id (code INTERNAL), and the log
    as the failure itself with the same id: an operator finds the one from the other, a client learns nothing."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = getattr(self.execution_context.context, "request_id", None) or "unknown"
        if error.original_error is not None and database_unavailable(error.original_error):  # not a bug: the database is away
            log.warning("request %s: database unavailable at %s (%s)", request_id, error.path, error.original_error)
            return GraphQLError(
                message=UNAVAILABLE_MESSAGE, nodes=error.nodes, source=error.source, positions=error.positions, path=error.path,
                extensions={"code": "SERVICE_UNAVAILABLE", "requestId": request_id},
            )
        log.error("request %s: unexpected error at %s", request_id, error.path, exc_info=error.original_error)
        return GraphQLError(
            message=f"Unexpected error (request {request_id}); it has been logged.",
            nodes=error.nodes, source=error.source, positions=error.positions, path=error.path,
            extensions={"code": "INTERNAL", "requestId": request_id},
        )


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=LiveSubscription,
    extensions=[
        lambda: AddValidationRules(list(LIMITS)),
        DocumentCache,
        lambda: MaskInternalErrors(should_mask_error=_should_mask),
        OperationTracing,  # the operation's span, when tracing is on (api.tracing); what follows runs inside it
        OperationMetrics,  # operations by type, root field and outcome (api.metrics)
        ControlCharacters,  # text with control characters is refused before anything runs
        IntrospectionGate,  # production: __schema for admins and integrators only; before the cost is spent
        CostLimit,  # before the compiled reads: a refused query runs nothing
        CompiledReads,
        HttpSubscriptions,
    ],
)
