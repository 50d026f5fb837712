"""Every model, imported once so that metadata (and Alembic) sees the whole schema."""

from resolute.api.accounts.models import Grant, User
from resolute.api.approvals.models import DataApproval, DataReturn
from resolute.api.audit.models import AuditEvent
from resolute.api.auth.models import AuthSession, RefreshToken
from resolute.api.db import Base
from resolute.api.idempotency.models import IdempotencyKey
from resolute.api.kpis.models import (
    DecompositionTarget,
    Kpi,
    KpiCoordinator,
    KpiUnitTarget,
    Measurement,
    MeasurementRevision,
    TargetDecomposition,
)
from resolute.api.monitoring.summaries import ProgressSummary, ProgressTotal
from resolute.api.org.models import Unit, UnitKind
from resolute.api.plans.models import PlanRevision
from resolute.api.reminders.models import Notification, OutboxMessage, WorkerLease
from resolute.api.resolutions.models import KeyResult, Objective, Resolution
from resolute.api.results.models import PublishedResult
from resolute.api.reviews.models import Review, ReviewAdjustment, ReviewConfidence
from resolute.api.tasks.models import Assignment, Evaluation, Extension, Milestone, ProgressReport, Task, TaskCoordinator

__all__ = [
    "Assignment",
    "AuditEvent",
    "AuthSession",
    "Base",
    "DataApproval",
    "DataReturn",
    "DecompositionTarget",
    "Evaluation",
    "Extension",
    "Grant",
    "IdempotencyKey",
    "KeyResult",
    "Kpi",
    "KpiCoordinator",
    "KpiUnitTarget",
    "Measurement",
    "MeasurementRevision",
    "Milestone",
    "Notification",
    "Objective",
    "OutboxMessage",
    "PlanRevision",
    "ProgressReport",
    "ProgressSummary",
    "ProgressTotal",
    "PublishedResult",
    "RefreshToken",
    "Resolution",
    "Review",
    "ReviewAdjustment",
    "ReviewConfidence",
    "TargetDecomposition",
    "Task",
    "TaskCoordinator",
    "Unit",
    "UnitKind",
    "User",
    "WorkerLease",
]
