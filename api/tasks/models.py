"""Tasks, milestones, assignments, progress reports, deadline extensions, evaluations.

Overdue is never stored: it is derived from dates at read time. An assignment keeps its
original due date, so "completed late" and "completed within an approved extension" stay
distinct. Its current status and progress are those of its latest report; reports stay.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, query_expression

from resolute.api.db import Base, UtcDateTime, utcnow

__all__ = [
    "ASSIGNMENT_STATUSES", "EXTENSION_STATUSES", "RACI", "RATINGS", "TASK_STATUSES",
    "Assignment", "Evaluation", "Extension", "Milestone", "ProgressReport", "Task", "TaskCoordinator",
]

TASK_STATUSES = ("not_started", "in_progress", "completed", "cancelled")
ASSIGNMENT_STATUSES = ("not_started", "in_progress", "completed", "cancelled")
RACI = ("R", "A", "C", "I")
EXTENSION_STATUSES = ("pending", "approved", "refused")
RATINGS = ("excellent", "good", "satisfactory", "unsatisfactory")


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    search_title: Mapped[str] = mapped_column(String(600))
    description: Mapped[str | None] = mapped_column(Text)
    resolution_id: Mapped[int] = mapped_column(ForeignKey("resolutions.id"), index=True)
    objective_id: Mapped[int | None] = mapped_column(ForeignKey("objectives.id"))
    key_result_id: Mapped[int | None] = mapped_column(ForeignKey("key_results.id"))
    kpi_id: Mapped[int | None] = mapped_column(ForeignKey("kpis.id"))
    parent_task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"), index=True)
    # The assignment this task decomposes (assignment -> subtasks -> sub-assignments).
    origin_assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id", use_alter=True), index=True)
    lead_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    start_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(16))
    completed_on: Mapped[date | None] = mapped_column(Date)
    evaluation_criteria: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, server_default=func.now(), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Derived in SQL by the reads (api.tasks.rules), never stored; None until a read loads it.
    overdue: Mapped[bool] = query_expression()


class TaskCoordinator(Base):
    __tablename__ = "task_coordinators"

    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True, index=True)


class Milestone(Base):
    __tablename__ = "milestones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    due_on: Mapped[date] = mapped_column(Date)
    done_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, server_default=func.now(), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Derived in SQL by the reads (api.tasks.rules), never stored; None until a read loads it.
    overdue: Mapped[bool] = query_expression()


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("task_id", "assignee_unit_id"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress_percent"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str | None] = mapped_column(String(40), unique=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    assigner_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    assignee_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    raci: Mapped[str] = mapped_column(String(1))
    assigned_on: Mapped[date] = mapped_column(Date)
    original_due_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date, index=True)  # moves only with an approved extension
    instructions: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # that of the latest report
    progress: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    completed_on: Mapped[date | None] = mapped_column(Date)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, server_default=func.now(), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Derived in SQL by the reads (api.tasks.rules), never stored; None until a read loads them.
    overdue: Mapped[bool] = query_expression()
    timeliness: Mapped[str | None] = query_expression()
    expected_progress: Mapped[int] = query_expression()
    behind_pace: Mapped[bool] = query_expression()


class ProgressReport(Base):
    __tablename__ = "progress_reports"
    __table_args__ = (
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress_percent"),
        # an assignment's latest report (latestReport, the cycle's lists): one backward step on this index
        Index("ix_progress_reports_latest", "assignment_id", "reported_on", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    reported_on: Mapped[date] = mapped_column(Date)
    progress: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(Text)  # JSON list of links
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, server_default=func.now(), index=True)


class Extension(Base):
    __tablename__ = "extensions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    requested_due_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decision_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, server_default=func.now(), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class Evaluation(Base):
    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), unique=True)
    rating: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    evaluator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    evaluator_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    evaluated_at: Mapped[datetime] = mapped_column(UtcDateTime())
