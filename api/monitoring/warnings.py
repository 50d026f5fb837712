"""Early warnings, computed from current data when asked (never a stored flag): one SQL statement.

Each kind is one SELECT over the rows the caller may read, in the subtree of the unit asked
about (the responsible unit lies in it), all of the same columns and joined by UNION ALL:

- OVERDUE (red): an open assignment past its due date; `days` late.
- BEHIND_PACE: an open assignment, not overdue, reporting more than `pace_margin` points less
  progress than the straight line from its assignment date to its due date expects today
  (api.tasks.rules.expected_progress). Red when, going on at its pace so far (progress per day
  since it was assigned), it would finish after its due date (`projected_days` from today; none
  at all when nothing is done yet), else yellow.
- MILESTONE_MISSED (yellow): a milestone not done and due before today; the task's lead unit
  answers for it; `days` late.
- REPORT_MISSING (yellow): an open assignment, assigned before the last complete month began,
  with no progress report dated in that month (reporting is monthly: a month's report is
  missing once the month is over).
- KPI_LIGHT (yellow or red): a (KPI, unit) pair whose latest measurement is yellow or red.
- STALE (yellow): an open assignment with no report for more than `stale_days` days (counted
  from its assignment date when it has none).
- UNACKNOWLEDGED (yellow): an open assignment not acknowledged `unacknowledged_days` days after it
  was assigned.

They are ordered red first, then by kind, then by the object's id (a keyset for paging).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Integer, Numeric, Select, String, and_, case, false, func, literal, null, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from resolute.api.access.scope import Scope
from resolute.api.keyset import after_key
from resolute.api.kpis.models import Kpi
from resolute.api.kpis.rules import light
from resolute.api.monitoring.lights import KpiFilter, latest_lights
from resolute.api.org.models import Unit
from resolute.api.org.tree import in_subtree, under
from resolute.api.reviews.models import Review, ReviewConfidence
from resolute.api.sqlcalendar import days_between
from resolute.api.tasks import rules
from resolute.api.tasks.models import Assignment, Milestone, ProgressReport, Task

__all__ = ["ASSIGNMENT_KINDS", "KINDS", "SEVERITIES", "Thresholds", "Warning", "WarningFilter", "count_warnings", "list_warnings", "reason", "stream_warnings", "warning_counts"]

KINDS = ("overdue", "behind_pace", "milestone_missed", "report_missing", "kpi_light", "stale", "unacknowledged", "confidence_divergence")
ASSIGNMENT_KINDS = ("overdue", "behind_pace", "report_missing", "stale", "unacknowledged")
SEVERITIES = ("red", "yellow")


@dataclass(frozen=True)
class Thresholds:
    """The tunable limits, per request (defaults as documented)."""

    pace_margin: int = rules.BEHIND_PACE_MARGIN  # percentage points
    stale_days: int = 30
    unacknowledged_days: int = 7


@dataclass(frozen=True)
class WarningFilter:
    kinds: tuple[str, ...] = KINDS
    severities: tuple[str, ...] = SEVERITIES
    resolution_ids: tuple[int, ...] | None = None  # a family (rollups.resolution_family)
    thresholds: Thresholds = field(default_factory=Thresholds)
    object_ids: tuple[int, ...] | None = None  # only about these assignments, milestones or latest measurements (live updates)


@dataclass(frozen=True)
class Warning:
    kind: str
    severity: str
    unit_id: int  # the unit that answers for it
    object_id: int  # the assignment, milestone or measurement
    task_id: int | None
    kpi_id: int | None
    due_on: date | None
    days: int | None  # late (overdue, milestone), since the last report (stale), since assigned (unacknowledged)
    progress: int | None
    expected_progress: int | None
    projected_finish_on: date | None  # behind pace: when it would finish at its pace so far
    period: str | None  # the KPI's period, or the month a report is missing for
    value: Decimal | None  # the KPI's latest value
    key: tuple[int, str, int]  # the keyset position


def _columns(**given: Any) -> list[Any]:
    """The union's columns in one order, NULL (typed, for PostgreSQL) where a kind has nothing to say."""
    types = {
        "kind": String(), "severity": String(), "rank": Integer(), "unit_id": Integer(), "object_id": Integer(), "task_id": Integer(),
        "kpi_id": Integer(), "due_on": Date(), "days": Integer(), "progress": Integer(), "expected_progress": Integer(),
        "projected_days": Integer(), "period": String(), "value": Numeric(20, 2),
    }
    return [(given[name] if name in given else null().cast(kind)).label(name) for name, kind in types.items()]


def _severity(condition_red: Any) -> dict[str, Any]:
    return {"severity": case((condition_red, "red"), else_="yellow"), "rank": case((condition_red, 0), else_=1)}


def _fixed(severity: str) -> dict[str, Any]:
    return {"severity": literal(severity), "rank": literal(SEVERITIES.index(severity))}


def _month_bounds(today: date) -> tuple[date, date, str]:
    """The last complete month: its first day, the first day of the next (the current month), its name."""
    current = today.replace(day=1)
    last = (current - timedelta(days=1)).replace(day=1)
    return last, current, last.strftime("%Y-%m")


def _assignment_kinds(scope: Scope, flt: WarningFilter, unit: Unit, today: date) -> list[Select[Any]]:
    """Every assignment kind reads one set, computed once: the open assignments the caller may read under `unit`
    (each kind is about an open one)."""
    member = aliased(Unit, name="member")
    t = flt.thresholds
    conds = [in_subtree(member.path, unit.path), scope.visible_assignments(member.path, under=unit.path), rules.is_open(Assignment)]
    if flt.object_ids is not None:
        conds.append(Assignment.id.in_(flt.object_ids))
    if flt.resolution_ids is not None:
        conds.append(Assignment.task_id.in_(select(Task.id).where(Task.resolution_id.in_(flt.resolution_ids))) if flt.resolution_ids else false())
    fields = ("id", "assignee_unit_id", "task_id", "status", "assigned_on", "due_on", "progress", "acknowledged_at")
    a = (
        select(*[getattr(Assignment, name) for name in fields])
        .join(member, member.id == Assignment.assignee_unit_id)
        .where(*conds)
        .cte("open_assignments")
        .c
    )

    def of(kind: str, extra: dict[str, Any], *conditions: Any) -> Select[Any]:
        cols = {"kind": literal(kind), "unit_id": a.assignee_unit_id, "object_id": a.id, "task_id": a.task_id, "due_on": a.due_on, "progress": a.progress, **extra}
        return select(*_columns(**cols)).where(*conditions)

    last_report = select(func.max(ProgressReport.reported_on)).where(ProgressReport.assignment_id == a.id).scalar_subquery()
    month_start, month_end, month = _month_bounds(today)
    reported_in_month = (
        select(ProgressReport.id)
        .where(ProgressReport.assignment_id == a.id, ProgressReport.reported_on >= month_start, ProgressReport.reported_on < month_end)
        .exists()
    )
    expected = rules.expected_progress(today, a)
    elapsed = days_between(a.assigned_on, today)
    # whole days to finish at the pace so far (ceiling), none when nothing is done
    projected = case((a.progress > 0, ((100 - a.progress) * elapsed + a.progress - 1) // a.progress), else_=null())
    late_at_pace = or_(a.progress <= 0, projected > days_between(today, a.due_on))
    since_report = days_between(func.coalesce(last_report, a.assigned_on), today)
    overdue = rules.overdue(a, today)
    selects = {
        "overdue": lambda: of("overdue", {**_fixed("red"), "days": days_between(a.due_on, today)}, overdue),
        "behind_pace": lambda: of(
            "behind_pace", {**_severity(late_at_pace), "expected_progress": expected, "projected_days": projected}, ~overdue, a.progress < expected - t.pace_margin
        ),
        "report_missing": lambda: of("report_missing", {**_fixed("yellow"), "period": literal(month)}, a.assigned_on < month_start, ~reported_in_month),
        "stale": lambda: of("stale", {**_fixed("yellow"), "days": since_report}, since_report > t.stale_days),
        "unacknowledged": lambda: of("unacknowledged", {**_fixed("yellow"), "days": elapsed}, a.acknowledged_at.is_(None), elapsed > t.unacknowledged_days),
    }
    return [build() for kind, build in selects.items() if kind in flt.kinds]


def _milestones(scope: Scope, flt: WarningFilter, unit: Unit, today: date) -> Select[Any]:
    lead = aliased(Unit, name="lead")
    conds = [in_subtree(lead.path, unit.path), scope.visible(Milestone), rules.milestone_overdue(today)]
    if flt.object_ids is not None:
        conds.append(Milestone.id.in_(flt.object_ids))
    if flt.resolution_ids is not None:
        conds.append(Task.resolution_id.in_(flt.resolution_ids) if flt.resolution_ids else false())
    cols = {"kind": literal("milestone_missed"), **_fixed("yellow"), "unit_id": Task.lead_unit_id, "object_id": Milestone.id, "task_id": Task.id,
            "due_on": Milestone.due_on, "days": days_between(Milestone.due_on, today)}
    return select(*_columns(**cols)).select_from(Milestone).join(Task, Task.id == Milestone.task_id).join(lead, lead.id == Task.lead_unit_id).where(*conds)


def _kpi_lights(scope: Scope, flt: WarningFilter, unit: Unit) -> Select[Any]:
    ranked = latest_lights(scope, KpiFilter(resolution_ids=flt.resolution_ids), unit.path)
    colour = light(Kpi, ranked.c.value)
    cols = {"kind": literal("kpi_light"), "severity": colour, "rank": case((colour == "red", 0), else_=1), "unit_id": ranked.c.unit_id,
            "object_id": ranked.c.id, "kpi_id": ranked.c.kpi_id, "period": ranked.c.period, "value": ranked.c.value}
    chosen = [ranked.c.id.in_(flt.object_ids)] if flt.object_ids is not None else []
    return select(*_columns(**cols)).select_from(ranked).join(Kpi, Kpi.id == ranked.c.kpi_id).where(ranked.c.rank == 1, colour != "green", *chosen)


def _divergences(scope: Scope, flt: WarningFilter, unit: Unit, today: date) -> Select[Any]:
    """A KPI whose latest review (held under `unit`) reads otherwise than its latest values under the reviewing unit:
    on track while some are red (red) or yellow (yellow), or off track while all are green (yellow)."""
    held = aliased(Unit, name="held")
    # each KPI's latest review, whatever it said and wherever it was held: only then is it asked about
    latest = select(Review.id, func.row_number().over(partition_by=Review.kpi_id, order_by=(Review.held_on.desc(), Review.id.desc())).label("rn"))
    latest = latest.where(Review.kpi_id.is_not(None)).subquery("latest")
    conds = [latest.c.rn == 1, in_subtree(held.path, unit.path), scope.visible(Kpi)]
    if flt.resolution_ids is not None:
        conds.append(Kpi.resolution_id.in_(flt.resolution_ids) if flt.resolution_ids else false())
    if flt.object_ids is not None:
        conds.append(Review.id.in_(flt.object_ids))
    reviewed = (
        select(
            Review.id.label("review_id"), Review.kpi_id, Review.unit_id, Review.held_on, held.path.label("held_path"), ReviewConfidence.confidence,
            latest.c.rn,
        )
        .join(latest, latest.c.id == Review.id)
        .join(ReviewConfidence, and_(ReviewConfidence.review_id == Review.id, ReviewConfidence.key_result_id.is_(None)))  # a KPI review's own
        .join(held, held.id == Review.unit_id)
        .join(Kpi, Kpi.id == Review.kpi_id)
        .where(*conds)
        .subquery("reviewed")
    )
    ranked = latest_lights(scope, KpiFilter(resolution_ids=flt.resolution_ids), unit.path)
    colour = light(Kpi, ranked.c.value)
    lit = (
        select(
            reviewed.c.review_id, func.sum(case((colour == "red", 1), else_=0)).label("reds"), func.sum(case((colour == "yellow", 1), else_=0)).label("yellows"),
            func.count().label("measured"),
        )
        .select_from(reviewed)
        .join(ranked, and_(ranked.c.kpi_id == reviewed.c.kpi_id, ranked.c.rank == 1, under(ranked.c.unit_path, reviewed.c.held_path)))
        .join(Kpi, Kpi.id == reviewed.c.kpi_id)
        .where(reviewed.c.rn == 1)
        .group_by(reviewed.c.review_id)
        .subquery("lit")
    )
    optimistic = and_(reviewed.c.confidence == "on_track", lit.c.reds + lit.c.yellows > 0)
    pessimistic = and_(reviewed.c.confidence == "off_track", lit.c.reds + lit.c.yellows == 0)
    red = and_(reviewed.c.confidence == "on_track", lit.c.reds > 0)
    cols = {"kind": literal("confidence_divergence"), **_severity(red), "unit_id": reviewed.c.unit_id, "object_id": reviewed.c.review_id,
            "kpi_id": reviewed.c.kpi_id, "due_on": reviewed.c.held_on, "days": days_between(reviewed.c.held_on, today), "period": reviewed.c.confidence,
            "value": case((red, lit.c.reds), (optimistic, lit.c.yellows), else_=lit.c.measured)}  # fmt: skip
    return select(*_columns(**cols)).select_from(reviewed).join(lit, lit.c.review_id == reviewed.c.review_id).where(reviewed.c.rn == 1, or_(optimistic, pessimistic))


def _union(scope: Scope, flt: WarningFilter, unit: Unit, today: date) -> Any | None:
    parts = _assignment_kinds(scope, flt, unit, today)
    if "milestone_missed" in flt.kinds:
        parts.append(_milestones(scope, flt, unit, today))
    if "kpi_light" in flt.kinds:
        parts.append(_kpi_lights(scope, flt, unit))
    if "confidence_divergence" in flt.kinds:
        parts.append(_divergences(scope, flt, unit, today))
    if not parts:
        return None
    return (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("warnings")


def _kept(warnings: Any, flt: WarningFilter) -> list[Any]:
    return [warnings.c.severity.in_(flt.severities)] if set(flt.severities) != set(SEVERITIES) else []


async def list_warnings(
    session: AsyncSession, scope: Scope, unit: Unit, flt: WarningFilter, *, today: date, first: int, after: tuple[int, str, int] | None
) -> list[Warning]:
    """Up to first+1 warnings under `unit` (one the caller may read), red first, after the keyset `after`."""
    warnings = _union(scope, flt, unit, today)
    if warnings is None:
        return []
    keys = (warnings.c.rank, warnings.c.kind, warnings.c.object_id)
    query = select(warnings).where(*_kept(warnings, flt))
    if after is not None:
        query = query.where(after_key(keys, after))
    rows = (await session.execute(query.order_by(*keys).limit(first + 1))).all()
    return [_warning(r, today) for r in rows]


def _warning(r: Any, today: date) -> Warning:
    return Warning(
        kind=r.kind, severity=r.severity, unit_id=r.unit_id, object_id=r.object_id, task_id=r.task_id, kpi_id=r.kpi_id,
        due_on=_date(r.due_on), days=r.days, progress=r.progress, expected_progress=r.expected_progress,
        projected_finish_on=None if r.projected_days is None else today + timedelta(days=int(r.projected_days)),
        period=r.period, value=None if r.value is None else Decimal(str(r.value)), key=(int(r.rank), r.kind, int(r.object_id)),
    )


@dataclass(frozen=True)
class Labels:
    """What a report prints of a warning's objects: codes and names, not ids."""

    unit_code: str
    unit_name: str
    object_label: str | None  # the assignment's code, the milestone's title or the KPI's code
    task_code: str | None


async def stream_warnings(session: AsyncSession, scope: Scope, unit: Unit, flt: WarningFilter, *, today: date) -> AsyncIterator[tuple[Warning, Labels]]:
    """Every warning under `unit`, in the list's order, with its labels, streamed from one statement (a report of
    the whole nation never holds them all)."""
    warnings = _union(scope, flt, unit, today)
    if warnings is None:
        return
    responsible, assignment, milestone, task, kpi = (aliased(m) for m in (Unit, Assignment, Milestone, Task, Kpi))
    is_assignment = warnings.c.kind.not_in(("milestone_missed", "kpi_light", "confidence_divergence"))
    query = (
        select(warnings, responsible.code, responsible.name, assignment.code, milestone.title, task.code, kpi.code)
        .join(responsible, responsible.id == warnings.c.unit_id)
        .outerjoin(assignment, and_(is_assignment, assignment.id == warnings.c.object_id))
        .outerjoin(milestone, and_(warnings.c.kind == "milestone_missed", milestone.id == warnings.c.object_id))
        .outerjoin(task, task.id == warnings.c.task_id)
        .outerjoin(kpi, kpi.id == warnings.c.kpi_id)
        .where(*_kept(warnings, flt))
        .order_by(warnings.c.rank, warnings.c.kind, warnings.c.object_id)
    )
    result = await session.stream(query)
    async for row in result:
        *_, unit_code, unit_name, assignment_code, milestone_title, task_code, kpi_code = row
        label = assignment_code or milestone_title or kpi_code
        yield _warning(row, today), Labels(unit_code=unit_code, unit_name=unit_name, object_label=label, task_code=task_code)


def _date(value: Any) -> date | None:
    """A date column read through a UNION (SQLite hands back its ISO text)."""
    return date.fromisoformat(value) if isinstance(value, str) else value


async def count_warnings(session: AsyncSession, scope: Scope, unit: Unit, flt: WarningFilter, *, today: date) -> int:
    warnings = _union(scope, flt, unit, today)
    if warnings is None:
        return 0
    return int(await session.scalar(select(func.count()).select_from(warnings).where(*_kept(warnings, flt))) or 0)


async def warning_counts(session: AsyncSession, scope: Scope, unit: Unit, flt: WarningFilter, *, today: date) -> list[tuple[str, str, int]]:
    """(kind, severity, count) of the warnings under `unit`, for the kinds and severities that have any: one statement."""
    warnings = _union(scope, flt, unit, today)
    if warnings is None:
        return []
    query = (
        select(warnings.c.kind, warnings.c.severity, func.count())
        .where(*_kept(warnings, flt))
        .group_by(warnings.c.kind, warnings.c.severity, warnings.c.rank)
        .order_by(warnings.c.rank, warnings.c.kind)
    )
    return [(kind, severity, int(n)) for kind, severity, n in (await session.execute(query)).all()]


# the words of each kind of warning, by language; the figures fill them in (`reason`)
_WORDS = {
    "en": {
        "overdue": "{days} days past its due date {due_on}, at {progress}%",
        "behind_pace": "reports {progress}% where a steady pace would reach {expected}% today",
        "nothing_done": "; nothing is done yet",
        "late_finish": "; at its pace so far it would finish on {projected}, after its due date {due_on}",
        "in_time": "; at its pace so far it would still finish on {projected}, by its due date {due_on}",
        "milestone_missed": "milestone due {due_on} is not done ({days} days late)",
        "report_missing": "no progress report for {period}",
        "kpi_light": "latest value {value} for {period} is {colour}",
        "stale": "no progress report for {days} days",
        "unacknowledged": "not acknowledged {days} days after it was assigned",
        "confidence_divergence": "reviewed on {due_on} as {confidence}",
        "optimistic": ", but {value} of its latest values are {colour}",
        "pessimistic": ", but all {value} of its latest values are green",
        "red": "red", "yellow": "yellow", "on_track": "on track", "off_track": "off track",
    },
    "vi": {
        "overdue": "quá hạn {days} ngày (hạn {due_on}), mới đạt {progress}%",
        "behind_pace": "báo cáo {progress}% trong khi theo tiến độ đều thì hôm nay phải đạt {expected}%",
        "nothing_done": "; chưa làm được gì",
        "late_finish": "; với tốc độ hiện nay sẽ xong vào {projected}, sau hạn {due_on}",
        "in_time": "; với tốc độ hiện nay vẫn xong vào {projected}, kịp hạn {due_on}",
        "milestone_missed": "mốc hạn {due_on} chưa hoàn thành (trễ {days} ngày)",
        "report_missing": "chưa có báo cáo tiến độ kỳ {period}",
        "kpi_light": "giá trị mới nhất {value} kỳ {period} ở mức {colour}",
        "stale": "không có báo cáo tiến độ trong {days} ngày",
        "unacknowledged": "chưa xác nhận đã nhận sau {days} ngày kể từ khi được giao",
        "confidence_divergence": "họp đánh giá ngày {due_on} nhận định {confidence}",
        "optimistic": ", nhưng {value} giá trị mới nhất đang ở mức {colour}",
        "pessimistic": ", nhưng cả {value} giá trị mới nhất đều đạt (xanh)",
        "red": "đỏ", "yellow": "vàng", "on_track": "đúng tiến độ", "off_track": "chệch hướng",
    },
}  # fmt: skip


def reason(w: Warning, lang: str = "en") -> str:
    """The warning in words, in English or Vietnamese (api.i18n); the codes are the stable part."""
    words = _WORDS.get(lang, _WORDS["en"])
    figures = {"days": w.days, "due_on": w.due_on, "progress": w.progress, "expected": w.expected_progress, "projected": w.projected_finish_on,
               "period": w.period, "value": w.value, "colour": words.get(w.severity, w.severity), "confidence": words.get(w.period or "", w.period)}  # fmt: skip
    text = words[w.kind].format(**figures)
    if w.kind == "behind_pace":
        text += words["nothing_done" if w.progress == 0 else "late_finish" if w.severity == "red" else "in_time"].format(**figures)
    if w.kind == "confidence_divergence":
        text += words["optimistic" if w.period == "on_track" else "pessimistic"].format(**figures)
    return text
