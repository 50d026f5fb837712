"""Every model, imported once so that metadata (and Alembic) sees the whole schema."""

from api.accounts.models import Grant, User
from api.audit.models import AuditEvent
from api.db import Base
from api.idempotency.models import IdempotencyKey
from api.kpis.models import Kpi, KpiCoordinator, KpiUnitTarget, Measurement, MeasurementRevision
from api.org.models import Unit, UnitKind
from api.resolutions.models import KeyResult, Objective, Resolution
from api.tasks.models import Assignment, Evaluation, Extension, Milestone, ProgressReport, Task, TaskCoordinator

__all__ = [
    "AuditEvent", "Base", "Grant", "IdempotencyKey", "KeyResult", "Kpi", "KpiCoordinator", "KpiUnitTarget", "Measurement",
    "MeasurementRevision", "Objective", "Resolution", "Unit", "UnitKind", "User",
    "Assignment", "Evaluation", "Extension", "Milestone", "ProgressReport", "Task", "TaskCoordinator",
]
