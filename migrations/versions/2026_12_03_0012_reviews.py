"""Review check-ins: reviews of an objective or a KPI, their confidences and their adjustments.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("objective_id", sa.Integer(), nullable=True),
        sa.Column("kpi_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("cadence", sa.String(length=16), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("narrative", sa.Text(), nullable=False),
        sa.Column("decisions", sa.Text(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(objective_id IS NULL) <> (kpi_id IS NULL)", name=op.f("ck_reviews_one_subject")),
        sa.ForeignKeyConstraint(["kpi_id"], ["kpis.id"], name=op.f("fk_reviews_kpi_id_kpis")),
        sa.ForeignKeyConstraint(["objective_id"], ["objectives.id"], name=op.f("fk_reviews_objective_id_objectives")),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["users.id"], name=op.f("fk_reviews_recorded_by_id_users")),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_reviews_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    op.create_index(op.f("ix_reviews_kpi_id"), "reviews", ["kpi_id"])
    op.create_index(op.f("ix_reviews_objective_id"), "reviews", ["objective_id"])
    op.create_index(op.f("ix_reviews_unit_id"), "reviews", ["unit_id"])
    op.create_table(
        "review_confidences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("key_result_id", sa.Integer(), nullable=True),
        sa.Column("confidence", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["key_result_id"], ["key_results.id"], name=op.f("fk_review_confidences_key_result_id_key_results")),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.id"], name=op.f("fk_review_confidences_review_id_reviews"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_confidences")),
    )
    op.create_index(op.f("ix_review_confidences_review_id"), "review_confidences", ["review_id"])
    op.create_table(
        "review_adjustments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("object_type", sa.String(length=16), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("before", sa.String(length=40), nullable=False),
        sa.Column("after", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("approved_by_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["approved_by_id"], ["users.id"], name=op.f("fk_review_adjustments_approved_by_id_users")),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.id"], name=op.f("fk_review_adjustments_review_id_reviews"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_adjustments")),
    )
    op.create_index(op.f("ix_review_adjustments_review_id"), "review_adjustments", ["review_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_review_adjustments_review_id"), table_name="review_adjustments")
    op.drop_table("review_adjustments")
    op.drop_index(op.f("ix_review_confidences_review_id"), table_name="review_confidences")
    op.drop_table("review_confidences")
    op.drop_index(op.f("ix_reviews_unit_id"), table_name="reviews")
    op.drop_index(op.f("ix_reviews_objective_id"), table_name="reviews")
    op.drop_index(op.f("ix_reviews_kpi_id"), table_name="reviews")
    op.drop_table("reviews")
