"""The reminders worker's work: remind before deadlines, escalate silence step by step, deliver through an outbox.

One batch is one transaction, its statements fixed in number whatever the rows:
- **due soon:** an open assignment due within REMINDER_DAYS days reminds the people of its assignee unit;
- **report missing:** an open assignment without a report in the last complete month (as the REPORT_MISSING
  warning) reminds them too, once a month;
- **overdue, escalated by how long:** from 1 day the assignee unit's people (step 1), from 7 days its leaders
  (step 2), from 14 days the parent unit's leaders and managers (step 3), from 30 days the oversight list, the
  auditors whose grant covers the unit (step 4).
Each notification has a unique key (kind, assignment, due date, step, person): a batch run twice, by one worker or
by two at once, makes each one once. Each is written with its outbox row in the same transaction, so a crash loses
nothing (a rolled-back batch wrote nothing; the next makes it) and doubles nothing; delivery marks the outbox row.
Each step that made notifications is audited with how many. A lease in the database lets one worker work at a
time; it is an economy, the keys are the guarantee.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from resolute.api.accounts.models import Grant, User
from resolute.api.db import utcnow
from resolute.api.errors import ErrorCode, fail
from resolute.api.org.models import Unit
from resolute.api.org.tree import under
from resolute.api.reminders.models import Notification, OutboxMessage, WorkerLease
from resolute.api.sqlcalendar import days_between
from resolute.api.tasks.models import Assignment, ProgressReport
from resolute.api.transaction import Tx, UnitOfWork, operation

__all__ = ["LEASE", "REMINDER_DAYS", "STEPS", "acquire_lease", "deliver", "mark_read", "remind", "run_once"]

log = logging.getLogger("resolute.worker")
LEASE = "reminders"
REMINDER_DAYS = 7
STEPS = {1: 1, 2: 7, 3: 14, 4: 30}  # escalation step -> days overdue from which it applies
WHO = {1: "the unit", 2: "the unit's leaders", 3: "the parent unit's leaders and managers", 4: "the oversight list"}
OPEN = ("not_started", "in_progress")
MAX_DELIVERIES = 200  # outbox batches delivered in one round at most (500 each)


def _insert(session: AsyncSession, model: type = Notification) -> Any:
    """An INSERT that can skip what a concurrent batch already made (ON CONFLICT DO NOTHING, on both databases)."""
    return (postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert)(model)


def _last_month(today: date) -> tuple[date, date, str]:
    """The last complete month: its first day, the first day of the next, its name (2026-11)."""
    current = today.replace(day=1)
    last = (current - timedelta(days=1)).replace(day=1)
    return last, current, last.strftime("%Y-%m")


def _text(*parts: Any) -> Any:
    """SQL text concatenation (|| on both databases), every part cast to text."""
    out = literal("")
    for part in parts:
        out = out.op("||")(part if isinstance(part, str) else cast(part, String))
    return out


async def _step(session: AsyncSession, today: Any, kind: str, step: int) -> list[int]:
    """Make the notifications of one step (those not made yet); the assignment of each one made."""
    assignee, granted = aliased(Unit, name="assignee"), aliased(Unit, name="granted")
    late = days_between(Assignment.due_on, today)
    query = select(Assignment.id.label("assignment_id"), User.id.label("user_id")).join(assignee, assignee.id == Assignment.assignee_unit_id)
    month_start, month_end, month = _last_month(today)
    if kind == "due_soon":
        query = query.where(Assignment.due_on >= today, Assignment.due_on <= today + timedelta(days=REMINDER_DAYS))
    elif kind == "report_missing":  # as the REPORT_MISSING warning: assigned before the last complete month, no report in it
        reported = select(ProgressReport.id).where(ProgressReport.assignment_id == Assignment.id, ProgressReport.reported_on >= month_start,
                                                   ProgressReport.reported_on < month_end)  # fmt: skip
        query = query.where(Assignment.assigned_on < month_start, ~reported.exists())
    else:
        query = query.where(late >= STEPS[step])
    if step == 1:
        query = query.join(User, User.unit_id == assignee.id)
    elif step == 2:
        query = query.join(Grant, and_(Grant.unit_id == assignee.id, Grant.role == "leader")).join(User, User.id == Grant.user_id)
    elif step == 3:
        query = query.join(Grant, and_(Grant.unit_id == assignee.parent_id, Grant.role.in_(("leader", "manager")))).join(User, User.id == Grant.user_id)
    else:
        query = (query.join(Grant, Grant.role == "auditor").join(granted, and_(granted.id == Grant.unit_id, under(assignee.path, granted.path)))
                 .join(User, User.id == Grant.user_id))  # fmt: skip
    query = query.where(Assignment.status.in_(OPEN), User.active.is_(True)).distinct()
    wanted = query.subquery("wanted")
    row = aliased(Assignment, name="about")
    name = func.coalesce(row.code, _text("assignment ", row.id))  # an assignment may have no code
    if kind == "due_soon":
        what = _text(name, ": due on ", row.due_on, f" (reminder to {WHO[step]})")
    elif kind == "report_missing":
        what = _text(name, f": no progress report for {month} (reminder to {WHO[step]})")
    else:
        what = _text(name, ": ", days_between(row.due_on, today), " days past its due date ", row.due_on, f" (step {step}: {WHO[step]})")
    when = literal(month) if kind == "report_missing" else row.due_on  # once per month without a report; once per due date
    key = _text(f"{kind}:", wanted.c.assignment_id, ":", when, f":{step}:", wanted.c.user_id)
    source = select(wanted.c.user_id, wanted.c.assignment_id, literal(kind), literal(step), key, what, literal(utcnow())).join(row, row.id == wanted.c.assignment_id)
    insert = _insert(session).from_select(["user_id", "assignment_id", "kind", "step", "key", "message", "created_at"], source)
    result = await session.execute(insert.on_conflict_do_nothing(index_elements=["key"]).returning(Notification.assignment_id))
    return [row[0] for row in result.all()]


async def remind(tx: Tx) -> dict[str, int]:
    """One batch: every step's notifications not made yet, each with its outbox row; each step audited."""
    session, today = tx.session, tx.today
    made: dict[str, int] = {}
    for kind, step in [("due_soon", 1), ("report_missing", 1), *(("overdue", s) for s in STEPS)]:
        about = Counter(await _step(session, today, kind, step))
        if not about:
            continue
        made[f"{kind}:{step}"] = sum(about.values())
        units = dict((await session.execute(select(Assignment.id, Assignment.assignee_unit_id).where(Assignment.id.in_(about)))).all())
        for assignment_id, count in sorted(about.items()):  # each step of each assignment audited, at its assignee unit
            tx.record(action="reminderStep", object_type="assignment", object_key=assignment_id, unit_id=units.get(assignment_id),
                      after={"day": today.isoformat(), "kind": kind, "step": step, "notifications": count})  # fmt: skip
    waiting = select(Notification.id, literal(utcnow())).outerjoin(OutboxMessage, OutboxMessage.notification_id == Notification.id)
    outbox = _insert(session, OutboxMessage)
    await session.execute(outbox.from_select(["notification_id", "created_at"], waiting.where(OutboxMessage.id.is_(None))).on_conflict_do_nothing(index_elements=["notification_id"]))
    return made


async def deliver(tx: Tx, *, batch: int = 500) -> int:
    """Deliver up to `batch` outbox messages (here: logged, and shown in the API all along) and mark them delivered."""
    session = tx.session
    query = select(OutboxMessage.id, Notification.user_id, Notification.message).join(Notification, Notification.id == OutboxMessage.notification_id)
    query = query.where(OutboxMessage.delivered_at.is_(None)).order_by(OutboxMessage.id).limit(batch)
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=OutboxMessage)  # two deliverers take different rows
    rows = (await session.execute(query)).all()
    for _, user_id, message in rows:
        log.info("notification to user %s: %s", user_id, message)
    if rows:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_([r[0] for r in rows]), OutboxMessage.delivered_at.is_(None)).values(delivered_at=utcnow()))
    return len(rows)


@operation("notificationRead")
async def mark_read(tx: Tx, *, notification_id: int) -> Notification:
    """Mark one of the caller's notifications read (once; another's is NOT_FOUND)."""
    row = await tx.session.scalar(select(Notification).where(Notification.id == notification_id, Notification.user_id == tx.scope.principal.user_id))  # type: ignore[union-attr]
    if row is None:
        raise fail("id", ErrorCode.NOT_FOUND, "no such notification of yours")
    if row.read_at is None:
        row.read_at = utcnow()
        await tx.session.flush()
    return row


async def acquire_lease(session: AsyncSession, *, holder: str, seconds: float, now: datetime) -> bool:
    """Take (or keep) the workers' lease if it is free, run out, or already ours; whether we hold it."""
    values = {"name": LEASE, "holder": holder, "expires_at": now + timedelta(seconds=seconds)}
    insert = _insert(session, WorkerLease).values(**values)
    current = WorkerLease.__table__.c
    taken = insert.on_conflict_do_update(
        index_elements=["name"], set_={"holder": holder, "expires_at": values["expires_at"]}, where=(current.expires_at < now) | (current.holder == holder)
    )
    await session.execute(taken)
    return await session.scalar(select(WorkerLease.holder).where(WorkerLease.name == LEASE)) == holder


async def release_lease(session: AsyncSession, *, holder: str) -> None:
    await session.execute(update(WorkerLease).where(WorkerLease.name == LEASE, WorkerLease.holder == holder).values(expires_at=datetime(2000, 1, 1, tzinfo=utcnow().tzinfo)))


async def run_once(uow: UnitOfWork, *, holder: str, lease_seconds: float = 120, release: bool = True) -> dict[str, Any]:
    """One round: take the lease (or leave it to the worker holding it), make the notifications, deliver them."""

    async def take(tx: Tx) -> bool:
        return await acquire_lease(tx.session, holder=holder, seconds=lease_seconds, now=utcnow())

    held = await uow.run("workerLease", take)
    if not held.value:
        return {"skipped": True}
    try:
        made = await uow.run("remindersRun", remind)
        if made.errors:
            raise RuntimeError(f"reminders refused: {made.errors}")
        delivered = 0
        for _ in range(MAX_DELIVERIES):  # batch by batch (each its own transaction) until the outbox is empty
            batch = await uow.run("remindersDeliver", deliver)
            delivered += batch.value or 0
            if not batch.value:
                break
        return {"skipped": False, "made": made.value, "delivered": delivered}
    finally:
        if release:
            await uow.run("workerLeaseRelease", lambda tx: release_lease(tx.session, holder=holder))


def summary(outcomes: Sequence[dict[str, Any]]) -> int:
    return sum(sum(o.get("made", {}).values()) for o in outcomes if not o.get("skipped"))
