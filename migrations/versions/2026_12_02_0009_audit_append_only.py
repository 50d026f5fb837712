"""Audit events are append-only on PostgreSQL: a trigger refuses every UPDATE, DELETE and TRUNCATE of them.

The server's role, whatever it may otherwise write, then cannot rewrite or remove the history (the hash
chain would show it, this stops it). Only the table's owner can lift it, knowingly:
`ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only` (and the TRUNCATE one), for a
retention purge; run the server as another role than the migrations' owner (README, PostgreSQL).
SQLite has no roles: a process that can open its file can rewrite it, so nothing is added there.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION resolute_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
        END $$
    """)
    op.execute("CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION resolute_audit_append_only()")
    op.execute("CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION resolute_audit_append_only()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
    op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
    op.execute("DROP FUNCTION resolute_audit_append_only()")
