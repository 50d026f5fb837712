"""Published results: frozen, versioned, hashed snapshots of a resolution's figures; append-only on PostgreSQL.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "published_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resolution_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["published_by_id"], ["users.id"], name=op.f("fk_published_results_published_by_id_users")),
        sa.ForeignKeyConstraint(["resolution_id"], ["resolutions.id"], name=op.f("fk_published_results_resolution_id_resolutions")),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_published_results_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_published_results")),
        sa.UniqueConstraint("resolution_id", "period", "version", name=op.f("uq_published_results_resolution_id_period_version")),
    )
    op.create_index(op.f("ix_published_results_resolution_id"), "published_results", ["resolution_id"])
    if op.get_bind().dialect.name == "postgresql":  # as the audit events (0009): a snapshot is never rewritten nor removed
        op.execute("""
            CREATE FUNCTION resolute_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
            END $$
        """)
        op.execute("CREATE TRIGGER published_results_append_only BEFORE UPDATE OR DELETE ON published_results FOR EACH ROW EXECUTE FUNCTION resolute_append_only()")
        op.execute("CREATE TRIGGER published_results_no_truncate BEFORE TRUNCATE ON published_results FOR EACH STATEMENT EXECUTE FUNCTION resolute_append_only()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER published_results_no_truncate ON published_results")
        op.execute("DROP TRIGGER published_results_append_only ON published_results")
        op.execute("DROP FUNCTION resolute_append_only()")
    op.drop_index(op.f("ix_published_results_resolution_id"), table_name="published_results")
    op.drop_table("published_results")
