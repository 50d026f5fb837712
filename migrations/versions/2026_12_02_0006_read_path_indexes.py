"""Indexes the compiled read path's plans ask for: an assignment's latest report.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_progress_reports_latest", "progress_reports", ["assignment_id", "reported_on", "id"])


def downgrade() -> None:
    op.drop_index("ix_progress_reports_latest", table_name="progress_reports")
