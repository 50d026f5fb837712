"""Progress summaries of the top of the tree, kept by triggers (api/monitoring/summaries.py says why).

Each unit at depth 3 or above (the root, provinces and ministries, their communes and departments) keeps, per (task, due date), the counts
of the assignments whose assignee lies in its subtree. Triggers keep them in the writing transaction:
on assignments (insert, delete, and an update of a counted column), on units (a path change that moves
a unit under another top unit) and on tasks (a task moved to another resolution); on PostgreSQL a TRUNCATE
of the assignments (which fires no row trigger) empties the summaries. On PostgreSQL the row triggers
do nothing in a transaction that set `resolute.summaries` to 'deferred' (a bulk import, which then
rebuilds the rows). The existing assignments are summed once here.

The SQL below is frozen with this revision; later changes to the summaries come as new revisions.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

DEPTH = 3
STORED = (
    "total", "not_started", "in_progress", "completed", "cancelled",
    "completed_on_time", "completed_within_extension", "completed_late", "progress_sum",
)
COUNTED = ("assignee_unit_id", "task_id", "due_on", "original_due_on", "status", "progress", "completed_on")


def contribution(r: str, sign: str) -> list[str]:
    """What one assignment row `r` adds (sign 1) to or takes (sign -1) from each stored count."""
    done = f"{r}.status = 'completed' AND {r}.completed_on IS NOT NULL"
    when = {
        "not_started": f"{r}.status = 'not_started'",
        "in_progress": f"{r}.status = 'in_progress'",
        "completed": f"{r}.status = 'completed'",
        "cancelled": f"{r}.status = 'cancelled'",
        "completed_on_time": f"{done} AND {r}.completed_on <= {r}.original_due_on",
        "completed_within_extension": f"{done} AND {r}.completed_on > {r}.original_due_on AND {r}.completed_on <= {r}.due_on",
        "completed_late": f"{done} AND {r}.completed_on > {r}.original_due_on AND {r}.completed_on > {r}.due_on",
    }
    return [sign] + [f"CASE WHEN {when[c]} THEN {sign} ELSE 0 END" for c in STORED[1:-1]] + [f"CASE WHEN {r}.status <> 'cancelled' THEN {sign} * {r}.progress ELSE 0 END"]


COLUMNS = ", ".join(("unit_id", "task_id", "due_on", "resolution_id", *STORED))
ADD = ", ".join(f"{c} = progress_summaries.{c} + excluded.{c}" for c in STORED)


# -- PostgreSQL: one function adds a row's contribution under the top units of a path ---------------------------------

PG_APPLY = f"""
CREATE FUNCTION progress_summaries_apply(unit_path text, a assignments, delta integer) RETURNS void LANGUAGE sql AS $$
INSERT INTO progress_summaries ({COLUMNS})
SELECT CAST(top AS integer), a.task_id, a.due_on, (SELECT t.resolution_id FROM tasks t WHERE t.id = a.task_id), {", ".join(contribution("a", "delta"))}
FROM unnest((string_to_array(btrim(unit_path, '/'), '/'))[1:{DEPTH}]) AS top
ON CONFLICT (unit_id, task_id, due_on) DO UPDATE SET {ADD};
DELETE FROM progress_summaries WHERE delta < 0 AND task_id = a.task_id AND due_on = a.due_on AND total = 0;
$$
"""
PG_ON_ASSIGNMENT = """
CREATE FUNCTION progress_summaries_on_assignment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    PERFORM progress_summaries_apply((SELECT u.path FROM units u WHERE u.id = OLD.assignee_unit_id), OLD, -1);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    PERFORM progress_summaries_apply((SELECT u.path FROM units u WHERE u.id = NEW.assignee_unit_id), NEW, 1);
  END IF;
  RETURN NULL;
END $$
"""
PG_ON_UNIT = """
CREATE FUNCTION progress_summaries_on_unit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM progress_summaries_apply(OLD.path, a, -1), progress_summaries_apply(NEW.path, a, 1)
  FROM assignments a WHERE a.assignee_unit_id = NEW.id;
  RETURN NULL;
END $$
"""
PG_ON_TRUNCATE = """
CREATE FUNCTION progress_summaries_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM progress_summaries;  -- not TRUNCATE: the statement that fired this may be truncating it too
  RETURN NULL;
END $$
"""
PG_ON_TASK = """
CREATE FUNCTION progress_summaries_on_task() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE progress_summaries SET resolution_id = NEW.resolution_id WHERE task_id = NEW.id;
  RETURN NULL;
END $$
"""
PG_ON = "current_setting('resolute.summaries', true) IS DISTINCT FROM 'deferred'"
PG_TOP = "(string_to_array(btrim({}.path, '/'), '/'))[1:%d]" % DEPTH
PG_TRIGGERS = [
    f"CREATE TRIGGER progress_summaries_insert AFTER INSERT OR DELETE ON assignments FOR EACH ROW WHEN ({PG_ON}) EXECUTE FUNCTION progress_summaries_on_assignment()",
    f"CREATE TRIGGER progress_summaries_update AFTER UPDATE ON assignments FOR EACH ROW "
    f"WHEN (({', '.join('OLD.' + c for c in COUNTED)}) IS DISTINCT FROM ({', '.join('NEW.' + c for c in COUNTED)}) AND {PG_ON}) "
    f"EXECUTE FUNCTION progress_summaries_on_assignment()",
    f"CREATE TRIGGER progress_summaries_unit AFTER UPDATE OF path ON units FOR EACH ROW "
    f"WHEN ({PG_TOP.format('OLD')} IS DISTINCT FROM {PG_TOP.format('NEW')} AND {PG_ON}) EXECUTE FUNCTION progress_summaries_on_unit()",
    # TRUNCATE fires no row trigger: emptying the assignments empties their summaries
    "CREATE TRIGGER progress_summaries_truncate AFTER TRUNCATE ON assignments FOR EACH STATEMENT EXECUTE FUNCTION progress_summaries_on_truncate()",
    f"CREATE TRIGGER progress_summaries_task AFTER UPDATE OF resolution_id ON tasks FOR EACH ROW "
    f"WHEN (OLD.resolution_id IS DISTINCT FROM NEW.resolution_id AND {PG_ON}) EXECUTE FUNCTION progress_summaries_on_task()",
]
PG_DROP = [
    "DROP TRIGGER IF EXISTS progress_summaries_insert ON assignments",
    "DROP TRIGGER IF EXISTS progress_summaries_update ON assignments",
    "DROP TRIGGER IF EXISTS progress_summaries_unit ON units",
    "DROP TRIGGER IF EXISTS progress_summaries_task ON tasks",
    "DROP TRIGGER IF EXISTS progress_summaries_truncate ON assignments",
    "DROP FUNCTION IF EXISTS progress_summaries_on_truncate()",
    "DROP FUNCTION IF EXISTS progress_summaries_on_assignment()",
    "DROP FUNCTION IF EXISTS progress_summaries_on_unit()",
    "DROP FUNCTION IF EXISTS progress_summaries_on_task()",
    "DROP FUNCTION IF EXISTS progress_summaries_apply(text, assignments, integer)",
]


# -- SQLite: the same statements spelt out in each trigger (ids of a path through json_each) --------------------------


def sqlite_apply(r: str, path: str, sign: str, where: str = "") -> str:
    """Add row `r`'s contribution under the top units of `path` (json_each numbers a path's ids from 0)."""
    return (
        f"INSERT INTO progress_summaries ({COLUMNS}) "
        f"SELECT top.value, {r}.task_id, {r}.due_on, (SELECT t.resolution_id FROM tasks t WHERE t.id = {r}.task_id), {', '.join(contribution(r, sign))} "
        f"FROM {where or ''}json_each('[' || replace(trim({path}, '/'), '/', ',') || ']') AS top WHERE top.key < {DEPTH}{' AND ' + r + '.assignee_unit_id = NEW.id' if where else ''} "
        f"ON CONFLICT (unit_id, task_id, due_on) DO UPDATE SET {ADD};"
    )


def sqlite_prune(r: str) -> str:
    return f"DELETE FROM progress_summaries WHERE task_id = {r}.task_id AND due_on = {r}.due_on AND total = 0;"


def _path(r: str) -> str:
    return f"(SELECT u.path FROM units u WHERE u.id = {r}.assignee_unit_id)"


SQLITE_TRIGGERS = [
    f"CREATE TRIGGER progress_summaries_insert AFTER INSERT ON assignments BEGIN {sqlite_apply('NEW', _path('NEW'), '1')} END",
    f"CREATE TRIGGER progress_summaries_delete AFTER DELETE ON assignments BEGIN {sqlite_apply('OLD', _path('OLD'), '-1')} {sqlite_prune('OLD')} END",
    f"CREATE TRIGGER progress_summaries_update AFTER UPDATE ON assignments "
    f"WHEN {' OR '.join(f'OLD.{c} IS NOT NEW.{c}' for c in COUNTED)} "
    f"BEGIN {sqlite_apply('OLD', _path('OLD'), '-1')} {sqlite_prune('OLD')} {sqlite_apply('NEW', _path('NEW'), '1')} END",
    f"CREATE TRIGGER progress_summaries_unit AFTER UPDATE OF path ON units WHEN OLD.path IS NOT NEW.path "
    f"BEGIN {sqlite_apply('a', 'OLD.path', '-1', where='assignments a, ')} "
    f"DELETE FROM progress_summaries WHERE total = 0 AND task_id IN (SELECT a.task_id FROM assignments a WHERE a.assignee_unit_id = NEW.id); "
    f"{sqlite_apply('a', 'NEW.path', '1', where='assignments a, ')} END",
    "CREATE TRIGGER progress_summaries_task AFTER UPDATE OF resolution_id ON tasks WHEN OLD.resolution_id IS NOT NEW.resolution_id "
    "BEGIN UPDATE progress_summaries SET resolution_id = NEW.resolution_id WHERE task_id = NEW.id; END",
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS progress_summaries_{name}" for name in ("insert", "delete", "update", "unit", "task")]

# the existing assignments, summed once: each assignment under the top units of its assignee's path
TOPS = {
    "postgresql": f"unnest((string_to_array(btrim(member.path, '/'), '/'))[1:{DEPTH}]) AS top",
    "sqlite": "json_each('[' || replace(trim(member.path, '/'), '/', ',') || ']') AS top",
}
TOP_ID = {"postgresql": "CAST(top AS integer)", "sqlite": "top.value"}
TOP_WHERE = {"postgresql": "", "sqlite": f"WHERE top.key < {DEPTH}"}


def backfill(dialect: str) -> str:
    return (
        f"INSERT INTO progress_summaries ({COLUMNS}) "
        f"SELECT {TOP_ID[dialect]}, a.task_id, a.due_on, t.resolution_id, {', '.join(f'SUM({c})' for c in contribution('a', '1'))} "
        f"FROM assignments a JOIN units member ON member.id = a.assignee_unit_id JOIN tasks t ON t.id = a.task_id, {TOPS[dialect]} "
        f"{TOP_WHERE[dialect]} GROUP BY 1, 2, 3, 4"
    )


def upgrade() -> None:
    op.create_table(
        "progress_summaries",
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("resolution_id", sa.Integer(), nullable=False),
        *[sa.Column(c, sa.Integer(), nullable=False) for c in STORED],
        sa.PrimaryKeyConstraint("unit_id", "task_id", "due_on", name=op.f("pk_progress_summaries")),
    )
    op.create_index(
        "ix_progress_summaries_unit", "progress_summaries", ["unit_id", "resolution_id"],
        postgresql_include=["task_id", "due_on", *STORED],
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("SET LOCAL statement_timeout = 0")  # seconds on a national database: not an API request
        for statement in (PG_APPLY, PG_ON_ASSIGNMENT, PG_ON_UNIT, PG_ON_TASK, PG_ON_TRUNCATE, *PG_TRIGGERS):
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
    op.execute(backfill(dialect))


def downgrade() -> None:
    for statement in PG_DROP if op.get_bind().dialect.name == "postgresql" else SQLITE_DROP:
        op.execute(statement)
    op.drop_index("ix_progress_summaries_unit", table_name="progress_summaries")
    op.drop_table("progress_summaries")
