"""KPIs with coordinating units and per-unit targets; measurements and their corrections.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

AMOUNT = sa.Numeric(precision=18, scale=2)


def _when(name: str, *, default: bool = True, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now() if default else None, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "kpis",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("resolution_id", sa.Integer(), nullable=False),
        sa.Column("objective_id", sa.Integer(), nullable=True),
        sa.Column("key_result_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("search_name", sa.String(length=400), nullable=False),
        sa.Column("unit_of_measure", sa.String(length=40), nullable=False),
        sa.Column("formula", sa.Text(), nullable=True),
        sa.Column("data_source", sa.String(length=300), nullable=True),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("baseline", AMOUNT, nullable=False),
        sa.Column("target", AMOUNT, nullable=False),
        sa.Column("yellow_threshold", AMOUNT, nullable=False),
        sa.Column("red_threshold", AMOUNT, nullable=False),
        sa.Column("kpi_group", sa.String(length=32), nullable=False),
        sa.Column("frequency", sa.String(length=16), nullable=False),
        sa.Column("lead_unit_id", sa.Integer(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(["key_result_id"], ["key_results.id"], name=op.f("fk_kpis_key_result_id_key_results")),
        sa.ForeignKeyConstraint(["lead_unit_id"], ["units.id"], name=op.f("fk_kpis_lead_unit_id_units")),
        sa.ForeignKeyConstraint(["objective_id"], ["objectives.id"], name=op.f("fk_kpis_objective_id_objectives")),
        sa.ForeignKeyConstraint(["resolution_id"], ["resolutions.id"], name=op.f("fk_kpis_resolution_id_resolutions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpis")),
        sa.UniqueConstraint("code", name=op.f("uq_kpis_code")),
    )
    for column in ("resolution_id", "objective_id", "key_result_id", "lead_unit_id", "updated_at"):
        op.create_index(op.f(f"ix_kpis_{column}"), "kpis", [column])

    op.create_table(
        "kpi_coordinators",
        sa.Column("kpi_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["kpi_id"], ["kpis.id"], name=op.f("fk_kpi_coordinators_kpi_id_kpis"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_kpi_coordinators_unit_id_units")),
        sa.PrimaryKeyConstraint("kpi_id", "unit_id", name=op.f("pk_kpi_coordinators")),
    )
    op.create_index(op.f("ix_kpi_coordinators_unit_id"), "kpi_coordinators", ["unit_id"])

    op.create_table(
        "kpi_unit_targets",
        sa.Column("kpi_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("target", AMOUNT, nullable=True),
        sa.ForeignKeyConstraint(["kpi_id"], ["kpis.id"], name=op.f("fk_kpi_unit_targets_kpi_id_kpis"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_kpi_unit_targets_unit_id_units")),
        sa.PrimaryKeyConstraint("kpi_id", "unit_id", name=op.f("pk_kpi_unit_targets")),
    )
    op.create_index(op.f("ix_kpi_unit_targets_unit_id"), "kpi_unit_targets", ["unit_id"])

    op.create_table(
        "measurements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kpi_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("value", AMOUNT, nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("reported_by_id", sa.Integer(), nullable=True),
        _when("created_at"),
        _when("updated_at"),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(["kpi_id"], ["kpis.id"], name=op.f("fk_measurements_kpi_id_kpis")),
        sa.ForeignKeyConstraint(["reported_by_id"], ["users.id"], name=op.f("fk_measurements_reported_by_id_users")),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_measurements_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measurements")),
        sa.UniqueConstraint("kpi_id", "unit_id", "period", name=op.f("uq_measurements_kpi_id_unit_id_period")),
    )
    for column in ("kpi_id", "unit_id", "updated_at"):
        op.create_index(op.f(f"ix_measurements_{column}"), "measurements", [column])

    op.create_table(
        "measurement_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("measurement_id", sa.Integer(), nullable=False),
        sa.Column("value", AMOUNT, nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("replaced_by_id", sa.Integer(), nullable=True),
        _when("replaced_at", default=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(["measurement_id"], ["measurements.id"], name=op.f("fk_measurement_revisions_measurement_id_measurements")),
        sa.ForeignKeyConstraint(["replaced_by_id"], ["users.id"], name=op.f("fk_measurement_revisions_replaced_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measurement_revisions")),
    )
    op.create_index(op.f("ix_measurement_revisions_measurement_id"), "measurement_revisions", ["measurement_id"])


def downgrade() -> None:
    op.drop_table("measurement_revisions")
    op.drop_table("measurements")
    op.drop_table("kpi_unit_targets")
    op.drop_table("kpi_coordinators")
    op.drop_table("kpis")
