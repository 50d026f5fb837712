"""Target decompositions: a KPI's target split over the units below its lead unit, per period.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "target_decompositions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kpi_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("aggregation", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["kpi_id"], ["kpis.id"], name=op.f("fk_target_decompositions_kpi_id_kpis")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_target_decompositions")),
        sa.UniqueConstraint("kpi_id", "period", name=op.f("uq_target_decompositions_kpi_id_period")),
    )
    op.create_index(op.f("ix_target_decompositions_kpi_id"), "target_decompositions", ["kpi_id"])
    op.create_table(
        "decomposition_targets",
        sa.Column("decomposition_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.ForeignKeyConstraint(["decomposition_id"], ["target_decompositions.id"], name=op.f("fk_decomposition_targets_decomposition_id_target_decompositions"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_decomposition_targets_unit_id_units")),
        sa.PrimaryKeyConstraint("decomposition_id", "unit_id", name=op.f("pk_decomposition_targets")),
    )
    op.create_index(op.f("ix_decomposition_targets_unit_id"), "decomposition_targets", ["unit_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_decomposition_targets_unit_id"), table_name="decomposition_targets")
    op.drop_table("decomposition_targets")
    op.drop_index(op.f("ix_target_decompositions_kpi_id"), table_name="target_decompositions")
    op.drop_table("target_decompositions")
