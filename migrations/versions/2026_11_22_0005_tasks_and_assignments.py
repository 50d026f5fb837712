"""Tasks, coordinators, milestones, assignments, progress reports, extensions, evaluations.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ORIGIN_FK = "fk_tasks_origin_assignment_id_assignments"


def _when(name: str, *, default: bool = True, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now() if default else None, nullable=nullable)


def _stamps() -> list[sa.Column]:
    return [_when("created_at"), _when("updated_at"), sa.Column("version", sa.Integer(), server_default="1", nullable=False)]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # tasks <-> assignments refer to each other: SQLite takes the forward reference inline,
    # PostgreSQL gets it once both tables exist.
    origin_fk = [sa.ForeignKeyConstraint(["origin_assignment_id"], ["assignments.id"], name=op.f(ORIGIN_FK))] if sqlite else []
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("search_title", sa.String(length=600), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("resolution_id", sa.Integer(), nullable=False),
        sa.Column("objective_id", sa.Integer(), nullable=True),
        sa.Column("key_result_id", sa.Integer(), nullable=True),
        sa.Column("kpi_id", sa.Integer(), nullable=True),
        sa.Column("parent_task_id", sa.Integer(), nullable=True),
        sa.Column("origin_assignment_id", sa.Integer(), nullable=True),
        sa.Column("lead_unit_id", sa.Integer(), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("evaluation_criteria", sa.Text(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(["key_result_id"], ["key_results.id"], name=op.f("fk_tasks_key_result_id_key_results")),
        sa.ForeignKeyConstraint(["kpi_id"], ["kpis.id"], name=op.f("fk_tasks_kpi_id_kpis")),
        sa.ForeignKeyConstraint(["lead_unit_id"], ["units.id"], name=op.f("fk_tasks_lead_unit_id_units")),
        sa.ForeignKeyConstraint(["objective_id"], ["objectives.id"], name=op.f("fk_tasks_objective_id_objectives")),
        sa.ForeignKeyConstraint(["parent_task_id"], ["tasks.id"], name=op.f("fk_tasks_parent_task_id_tasks")),
        sa.ForeignKeyConstraint(["resolution_id"], ["resolutions.id"], name=op.f("fk_tasks_resolution_id_resolutions")),
        *origin_fk,
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("code", name=op.f("uq_tasks_code")),
    )
    for column in ("resolution_id", "parent_task_id", "origin_assignment_id", "lead_unit_id", "due_on", "updated_at"):
        op.create_index(op.f(f"ix_tasks_{column}"), "tasks", [column])

    op.create_table(
        "task_coordinators",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_task_coordinators_task_id_tasks"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_task_coordinators_unit_id_units")),
        sa.PrimaryKeyConstraint("task_id", "unit_id", name=op.f("pk_task_coordinators")),
    )
    op.create_index(op.f("ix_task_coordinators_unit_id"), "task_coordinators", ["unit_id"])

    op.create_table(
        "milestones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_milestones_task_id_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_milestones")),
    )
    op.create_index(op.f("ix_milestones_task_id"), "milestones", ["task_id"])
    op.create_index(op.f("ix_milestones_updated_at"), "milestones", ["updated_at"])

    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("assigner_unit_id", sa.Integer(), nullable=False),
        sa.Column("assignee_unit_id", sa.Integer(), nullable=False),
        sa.Column("raci", sa.String(length=1), nullable=False),
        sa.Column("assigned_on", sa.Date(), nullable=False),
        sa.Column("original_due_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Integer(), server_default="0", nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=True),
        _when("acknowledged_at", default=False, nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        *_stamps(),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name=op.f("ck_assignments_progress_percent")),
        sa.ForeignKeyConstraint(["acknowledged_by_id"], ["users.id"], name=op.f("fk_assignments_acknowledged_by_id_users")),
        sa.ForeignKeyConstraint(["assignee_unit_id"], ["units.id"], name=op.f("fk_assignments_assignee_unit_id_units")),
        sa.ForeignKeyConstraint(["assigner_unit_id"], ["units.id"], name=op.f("fk_assignments_assigner_unit_id_units")),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_assignments_task_id_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
        sa.UniqueConstraint("code", name=op.f("uq_assignments_code")),
        sa.UniqueConstraint("task_id", "assignee_unit_id", name=op.f("uq_assignments_task_id_assignee_unit_id")),
    )
    for column in ("task_id", "assigner_unit_id", "assignee_unit_id", "due_on", "updated_at"):
        op.create_index(op.f(f"ix_assignments_{column}"), "assignments", [column])
    if not sqlite:
        op.create_foreign_key(op.f(ORIGIN_FK), "tasks", "assignments", ["origin_assignment_id"], ["id"])

    op.create_table(
        "progress_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("reported_on", sa.Date(), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        _when("created_at"),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name=op.f("ck_progress_reports_progress_percent")),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"], name=op.f("fk_progress_reports_assignment_id_assignments")),
        sa.ForeignKeyConstraint(["reporter_id"], ["users.id"], name=op.f("fk_progress_reports_reporter_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_reports")),
    )
    op.create_index(op.f("ix_progress_reports_assignment_id"), "progress_reports", ["assignment_id"])
    op.create_index(op.f("ix_progress_reports_created_at"), "progress_reports", ["created_at"])

    op.create_table(
        "extensions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("requested_due_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        _when("requested_at", default=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        _when("decided_at", default=False, nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        _when("updated_at"),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"], name=op.f("fk_extensions_assignment_id_assignments")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], name=op.f("fk_extensions_decided_by_id_users")),
        sa.ForeignKeyConstraint(["requested_by_id"], ["users.id"], name=op.f("fk_extensions_requested_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extensions")),
    )
    op.create_index(op.f("ix_extensions_assignment_id"), "extensions", ["assignment_id"])
    op.create_index(op.f("ix_extensions_updated_at"), "extensions", ["updated_at"])

    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("evaluator_id", sa.Integer(), nullable=True),
        sa.Column("evaluator_unit_id", sa.Integer(), nullable=False),
        _when("evaluated_at", default=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"], name=op.f("fk_evaluations_assignment_id_assignments")),
        sa.ForeignKeyConstraint(["evaluator_id"], ["users.id"], name=op.f("fk_evaluations_evaluator_id_users")),
        sa.ForeignKeyConstraint(["evaluator_unit_id"], ["units.id"], name=op.f("fk_evaluations_evaluator_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluations")),
        sa.UniqueConstraint("assignment_id", name=op.f("uq_evaluations_assignment_id")),
    )


def downgrade() -> None:
    op.drop_table("evaluations")
    op.drop_table("extensions")
    op.drop_table("progress_reports")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f(ORIGIN_FK), "tasks", type_="foreignkey")
    op.drop_table("assignments")
    op.drop_table("milestones")
    op.drop_table("task_coordinators")
    op.drop_table("tasks")
