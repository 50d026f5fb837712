"""Progress totals: the summaries of the top of the tree summed per (unit, resolution), kept by triggers on the summaries.

A ranking or a dashboard filtered by a resolution family needs, per top unit, the counts of the family's
assignments: summing the per-(task, due date) summaries read 30,000 rows for the 34 provinces of
57-NQ/TW; these totals are 68. Overdue, which depends on the day asked, is the open count of the totals
less the open rows of the summaries due from that day on, read through a partial index of the open
summaries (api/monitoring/summaries.py says why from that day on).

Every change of a summary row (an assignment written, a unit moved, a task moved to another
resolution, a row pruned) adds its difference to the totals in the same transaction; a total that comes
down to no assignment is deleted. On PostgreSQL the trigger does nothing in a transaction that deferred
the summaries (a bulk import), which then rebuilds both. The existing summaries are summed once here.

The SQL below is frozen with this revision.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

STORED = (
    "total", "not_started", "in_progress", "completed", "cancelled",
    "completed_on_time", "completed_within_extension", "completed_late", "progress_sum",
)
COLUMNS = ", ".join(("unit_id", "resolution_id", *STORED))
ADD = ", ".join(f"{c} = progress_totals.{c} + excluded.{c}" for c in STORED)
OPEN = "total > completed + cancelled"  # the partial index's predicate: summary rows with an open assignment


def add(r: str, sign: str) -> str:
    """Add (sign '') or take (sign '-') summary row `r`'s counts to or from its total."""
    values = ", ".join(f"{sign}{r}.{c}" for c in STORED)
    return f"INSERT INTO progress_totals ({COLUMNS}) VALUES ({r}.unit_id, {r}.resolution_id, {values}) ON CONFLICT (unit_id, resolution_id) DO UPDATE SET {ADD};"


def prune(r: str) -> str:
    return f"DELETE FROM progress_totals WHERE unit_id = {r}.unit_id AND resolution_id = {r}.resolution_id AND total = 0;"


PG_ON_SUMMARY = f"""
CREATE FUNCTION progress_totals_on_summary() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    {add("OLD", "-")}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    {add("NEW", "")}
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    {prune("OLD")}
  END IF;
  RETURN NULL;
END $$
"""
PG_ON = "current_setting('resolute.summaries', true) IS DISTINCT FROM 'deferred'"
PG_TRIGGER = (
    f"CREATE TRIGGER progress_totals_summary AFTER INSERT OR UPDATE OR DELETE ON progress_summaries FOR EACH ROW WHEN ({PG_ON}) "
    "EXECUTE FUNCTION progress_totals_on_summary()"
)
PG_ON_TRUNCATE = """
CREATE FUNCTION progress_totals_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM progress_totals;  -- TRUNCATE fires no row trigger: emptying the summaries empties their totals
  RETURN NULL;
END $$
"""
PG_TRUNCATE_TRIGGER = "CREATE TRIGGER progress_totals_truncate AFTER TRUNCATE ON progress_summaries FOR EACH STATEMENT EXECUTE FUNCTION progress_totals_on_truncate()"
PG_DROP = [
    "DROP TRIGGER IF EXISTS progress_totals_summary ON progress_summaries", "DROP TRIGGER IF EXISTS progress_totals_truncate ON progress_summaries",
    "DROP FUNCTION IF EXISTS progress_totals_on_summary()", "DROP FUNCTION IF EXISTS progress_totals_on_truncate()",
]

SQLITE_TRIGGERS = [
    f"CREATE TRIGGER progress_totals_insert AFTER INSERT ON progress_summaries BEGIN {add('NEW', '')} END",
    f"CREATE TRIGGER progress_totals_update AFTER UPDATE ON progress_summaries BEGIN {add('OLD', '-')} {add('NEW', '')} {prune('OLD')} END",
    f"CREATE TRIGGER progress_totals_delete AFTER DELETE ON progress_summaries BEGIN {add('OLD', '-')} {prune('OLD')} END",
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS progress_totals_{name}" for name in ("insert", "update", "delete")]

BACKFILL = f"INSERT INTO progress_totals ({COLUMNS}) SELECT unit_id, resolution_id, {', '.join(f'SUM({c})' for c in STORED)} FROM progress_summaries GROUP BY 1, 2"


def upgrade() -> None:
    op.create_table(
        "progress_totals",
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("resolution_id", sa.Integer(), nullable=False),
        *[sa.Column(c, sa.Integer(), nullable=False) for c in STORED],
        sa.PrimaryKeyConstraint("unit_id", "resolution_id", name=op.f("pk_progress_totals")),
    )
    op.create_index(
        "ix_progress_summaries_open", "progress_summaries", ["unit_id", "resolution_id", "due_on"],
        postgresql_include=["total", "completed", "cancelled"], postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SET LOCAL statement_timeout = 0")  # seconds on a national database: not an API request
        for statement in (PG_ON_SUMMARY, PG_TRIGGER, PG_ON_TRUNCATE, PG_TRUNCATE_TRIGGER):
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
    op.execute(BACKFILL)


def downgrade() -> None:
    for statement in PG_DROP if op.get_bind().dialect.name == "postgresql" else SQLITE_DROP:
        op.execute(statement)
    op.drop_index("ix_progress_summaries_open", table_name="progress_summaries")
    op.drop_table("progress_totals")
