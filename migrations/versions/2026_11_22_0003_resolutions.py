"""Resolutions and action programmes, objectives, key results (at most five per objective).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "resolutions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("search_title", sa.String(length=600), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("issuing_unit_id", sa.Integer(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("document_url", sa.String(length=500), nullable=True),
        sa.Column("implements_id", sa.Integer(), nullable=True),
        sa.Column("implementer_kinds", sa.String(length=200), nullable=True),
        sa.Column("programme_due_on", sa.Date(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(["implements_id"], ["resolutions.id"], name=op.f("fk_resolutions_implements_id_resolutions")),
        sa.ForeignKeyConstraint(["issuing_unit_id"], ["units.id"], name=op.f("fk_resolutions_issuing_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resolutions")),
        sa.UniqueConstraint("code", name=op.f("uq_resolutions_code")),
    )
    op.create_index(op.f("ix_resolutions_implements_id"), "resolutions", ["implements_id"])
    op.create_index(op.f("ix_resolutions_issuing_unit_id"), "resolutions", ["issuing_unit_id"])
    op.create_index(op.f("ix_resolutions_updated_at"), "resolutions", ["updated_at"])

    op.create_table(
        "objectives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("resolution_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(["resolution_id"], ["resolutions.id"], name=op.f("fk_objectives_resolution_id_resolutions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objectives")),
        sa.UniqueConstraint("code", name=op.f("uq_objectives_code")),
    )
    op.create_index(op.f("ix_objectives_resolution_id"), "objectives", ["resolution_id"])
    op.create_index(op.f("ix_objectives_updated_at"), "objectives", ["updated_at"])

    op.create_table(
        "key_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("objective_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        *_stamps(),
        sa.CheckConstraint("position BETWEEN 1 AND 5", name=op.f("ck_key_results_at_most_five")),
        sa.ForeignKeyConstraint(["objective_id"], ["objectives.id"], name=op.f("fk_key_results_objective_id_objectives")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_results")),
        sa.UniqueConstraint("objective_id", "position", name=op.f("uq_key_results_objective_id_position")),
    )
    op.create_index(op.f("ix_key_results_objective_id"), "key_results", ["objective_id"])
    op.create_index(op.f("ix_key_results_updated_at"), "key_results", ["updated_at"])


def downgrade() -> None:
    op.drop_table("key_results")
    op.drop_table("objectives")
    op.drop_table("resolutions")
