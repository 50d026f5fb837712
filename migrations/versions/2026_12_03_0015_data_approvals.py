"""Data approval: a unit's approval of a resolution's figures for a period, and the items returned for correction
(whose reporters are notified: a notification may now be about a returned item instead of an assignment).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resolution_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("approved_by_id", sa.Integer(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_by_id", sa.Integer(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["accepted_by_id"], ["users.id"], name=op.f("fk_data_approvals_accepted_by_id_users")),
        sa.ForeignKeyConstraint(["approved_by_id"], ["users.id"], name=op.f("fk_data_approvals_approved_by_id_users")),
        sa.ForeignKeyConstraint(["resolution_id"], ["resolutions.id"], name=op.f("fk_data_approvals_resolution_id_resolutions")),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_data_approvals_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_approvals")),
        sa.UniqueConstraint("resolution_id", "period", "unit_id", name=op.f("uq_data_approvals_resolution_id_period_unit_id")),
    )
    op.create_index(op.f("ix_data_approvals_unit_id"), "data_approvals", ["unit_id"])
    op.create_table(
        "data_returns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resolution_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("item_kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("returned_by_id", sa.Integer(), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("corrected_by_id", sa.Integer(), nullable=True),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_by_id", sa.Integer(), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"], name=op.f("fk_data_returns_assignment_id_assignments")),
        sa.ForeignKeyConstraint(["cleared_by_id"], ["users.id"], name=op.f("fk_data_returns_cleared_by_id_users")),
        sa.ForeignKeyConstraint(["corrected_by_id"], ["users.id"], name=op.f("fk_data_returns_corrected_by_id_users")),
        sa.ForeignKeyConstraint(["resolution_id"], ["resolutions.id"], name=op.f("fk_data_returns_resolution_id_resolutions")),
        sa.ForeignKeyConstraint(["returned_by_id"], ["users.id"], name=op.f("fk_data_returns_returned_by_id_users")),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_data_returns_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_returns")),
    )
    op.create_index(op.f("ix_data_returns_assignment_id"), "data_returns", ["assignment_id"])
    op.create_index("ix_data_returns_unit", "data_returns", ["unit_id", "resolution_id", "period"])
    where = sa.text("state <> 'cleared'")
    op.create_index("uq_data_returns_open_item", "data_returns", ["item_kind", "item_id"], unique=True, sqlite_where=where, postgresql_where=where)
    with op.batch_alter_table("notifications") as batch:  # a returned item's reporters are notified too: no assignment for a measurement
        batch.alter_column("assignment_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("data_return_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_notifications_data_return_id_data_returns"), "data_returns", ["data_return_id"], ["id"])
        batch.create_index(op.f("ix_notifications_data_return_id"), ["data_return_id"])


def downgrade() -> None:
    op.execute("DELETE FROM notification_outbox WHERE notification_id IN (SELECT id FROM notifications WHERE assignment_id IS NULL)")
    op.execute("DELETE FROM notifications WHERE assignment_id IS NULL")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_index(op.f("ix_notifications_data_return_id"))
        batch.drop_constraint(op.f("fk_notifications_data_return_id_data_returns"), type_="foreignkey")
        batch.drop_column("data_return_id")
        batch.alter_column("assignment_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index("uq_data_returns_open_item", table_name="data_returns")
    op.drop_index("ix_data_returns_unit", table_name="data_returns")
    op.drop_index(op.f("ix_data_returns_assignment_id"), table_name="data_returns")
    op.drop_table("data_returns")
    op.drop_index(op.f("ix_data_approvals_unit_id"), table_name="data_approvals")
    op.drop_table("data_approvals")
