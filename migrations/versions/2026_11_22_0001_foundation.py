"""Foundation: unit kinds, units (materialised path), users, grants.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

DEFAULT_KINDS = [
    ("central", "Central committee"),
    ("agency", "Central agency"),
    ("ministry", "Ministry"),
    ("province", "Province or city"),
    ("department", "Department"),
    ("commune", "Commune or ward"),
    ("cell", "Party cell"),
]


def upgrade() -> None:
    kinds = op.create_table(
        "unit_kinds",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_unit_kinds")),
    )
    op.bulk_insert(kinds, [{"code": code, "label": label} for code, label in DEFAULT_KINDS])

    op.create_table(
        "units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("search_name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        # Bytewise collation on PostgreSQL so that a subtree is a range of paths.
        sa.Column("path", sa.String(length=1024).with_variant(sa.String(length=1024, collation="C"), "postgresql"), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("depth >= 1", name=op.f("ck_units_depth_positive")),
        sa.ForeignKeyConstraint(["kind"], ["unit_kinds.code"], name=op.f("fk_units_kind_unit_kinds")),
        sa.ForeignKeyConstraint(["parent_id"], ["units.id"], name=op.f("fk_units_parent_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("code", name=op.f("uq_units_code")),
        sa.UniqueConstraint("path", name=op.f("uq_units_path")),
    )
    op.create_index(op.f("ix_units_parent_id"), "units", ["parent_id"])
    op.create_index(op.f("ix_units_kind"), "units", ["kind"])
    op.create_index(op.f("ix_units_updated_at"), "units", ["updated_at"])

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=255), nullable=False),
        sa.Column("search_name", sa.String(length=330), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("tokens_valid_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_users_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_index(op.f("ix_users_unit_id"), "users", ["unit_id"])
    op.create_index(op.f("ix_users_updated_at"), "users", ["updated_at"])

    op.create_table(
        "grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("granted_by_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), server_default="api", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["granted_by_id"], ["users.id"], name=op.f("fk_grants_granted_by_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_grants_unit_id_units")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_grants_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grants")),
        sa.UniqueConstraint("user_id", "role", "unit_id", name=op.f("uq_grants_user_id_role_unit_id")),
    )
    op.create_index(op.f("ix_grants_unit_id"), "grants", ["unit_id"])
    op.create_index(op.f("ix_grants_user_id"), "grants", ["user_id"])


def downgrade() -> None:
    op.drop_table("grants")
    op.drop_table("users")
    op.drop_table("units")
    op.drop_table("unit_kinds")
