"""What the generated data set lacks, played through the real services as the demo users.

Acknowledgements, an extension approved and one refused, evaluations, key results, a corrected
measurement, a coverage deadline, a decomposed target, a review, an approved plan, published results
and a quarter's figures approved up to the province, so that every feature has something to show. Each step is
its own unit of work as the user who would do it (audited as them). Runs once: a second
`resolute demo` finds the scenario done and leaves it alone.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from resolute.api.access.policy import Policy
from resolute.api.access.scope import Scope
from resolute.api.accounts.models import User
from resolute.api.approvals import service as approvals
from resolute.api.approvals.data import Approved, participates
from resolute.api.auth.passwords import hash_password
from resolute.api.auth.principal import load_principal
from resolute.api.auth.tokens import TokenClaims
from resolute.api.errors import ServiceError
from resolute.api.kpis import decomposition
from resolute.api.kpis import service as kpis
from resolute.api.kpis.models import Kpi, Measurement
from resolute.api.kpis.periods import period_bounds
from resolute.api.monitoring.rollups import resolution_family
from resolute.api.org.models import Unit
from resolute.api.org.tree import in_subtree
from resolute.api.plans import service as plans
from resolute.api.resolutions import service as resolutions
from resolute.api.resolutions.models import KeyResult, Objective, Resolution
from resolute.api.results import service as results
from resolute.api.reviews import service as reviews
from resolute.api.tasks import service as tasks
from resolute.api.tasks.models import Assignment, Extension
from resolute.api.transaction import Outcome, Tx, UnitOfWork, operation

__all__ = ["play", "set_demo_passwords"]


@operation("demoPasswords")
async def set_demo_passwords(tx: Tx, *, password: str) -> list[str]:
    """Give every account without a password the demo password; returns a few usernames to show."""
    await tx.session.execute(update(User).where(User.password_hash.is_(None)).values(password_hash=hash_password(tx.settings, password)))
    tx.record(action="demoPasswords", object_type="user", object_key="*", unit_id=None, after={"password": "the demo password, for accounts that had none"})
    return list(await tx.session.scalars(select(User.username).order_by(User.id).limit(8)))


async def _as(uow: UnitOfWork, policy: Policy, username: str) -> UnitOfWork | None:
    """A unit of work acting as `username` (None if the demo user is missing)."""
    async with uow.sessions() as session:
        user_id = await session.scalar(select(User.id).where(User.username == username))
        principal = await load_principal(session, TokenClaims(user_id=user_id, issued_at=9e9, expires_at=9e9)) if user_id else None
    return uow.acting_as(Scope(principal, policy)) if principal else None


def _done(outcome: Outcome[object]) -> object:
    if outcome.errors:
        raise ServiceError(outcome.errors)
    return outcome.value


async def play(uow: UnitOfWork, *, policy: Policy) -> Outcome[list[str]]:
    """Run the scenario; returns what it did (or the first refusal)."""
    try:
        return Outcome(value=await _play(uow, policy))
    except ServiceError as exc:
        return Outcome(errors=exc.errors)


async def _play(uow: UnitOfWork, policy: Policy) -> list[str]:
    async with uow.sessions() as session:
        if await session.scalar(select(func.count()).select_from(Extension)):
            return ["demo scenario already played"]
    done: list[str] = []
    officer, manager, tw, leader = [await _as(uow, policy, n) for n in ("p01.c001.officer", "p01.manager", "admin", "p01.leader")]
    if officer is None or manager is None or tw is None or leader is None:
        return ["demo scenario skipped: demo users missing"]
    async with uow.sessions() as session:
        mine = list(await session.scalars(
            select(Assignment).where(Assignment.assignee_unit_id == officer.scope.principal.unit_id, Assignment.status.in_(("not_started", "in_progress")))  # type: ignore[union-attr]
            .order_by(Assignment.id).limit(4)
        ))
        objective = await session.scalar(select(Objective).join(Resolution, Resolution.id == Objective.resolution_id).where(Resolution.code == "57-NQ/TW").order_by(Objective.code))
        has_key_results = objective is not None and bool(await session.scalar(select(func.count()).select_from(KeyResult).where(KeyResult.objective_id == objective.id)))
        central = await session.scalar(select(Resolution).where(Resolution.code == "57-NQ/TW"))
        measurement = await session.scalar(select(Measurement).where(Measurement.unit_id == manager.scope.principal.unit_id).order_by(Measurement.id))  # type: ignore[union-attr]
        programme = await session.scalar(
            select(Resolution).where(Resolution.issuing_unit_id == manager.scope.principal.unit_id, Resolution.kind == "action_programme").order_by(Resolution.code)  # type: ignore[union-attr]
        )
        programme_kpi = await session.scalar(
            select(Kpi).join(Resolution, Resolution.id == Kpi.resolution_id).where(Resolution.issuing_unit_id == manager.scope.principal.unit_id).order_by(Kpi.code)  # type: ignore[union-attr]
        )
        below = select(Unit.id).where(Unit.parent_id == Kpi.lead_unit_id, Unit.archived_at.is_(None)).exists()
        split_kpi = await session.scalar(select(Kpi).where(below).order_by(Kpi.code))  # a KPI whose lead unit has units below it
        parts = list(await session.scalars(select(Unit).where(Unit.parent_id == split_kpi.lead_unit_id, Unit.archived_at.is_(None)).order_by(Unit.code).limit(10))) if split_kpi else []
    today = officer.today
    for assignment in mine[:3]:
        _done(await tasks.acknowledge(officer, assignment_id=assignment.id))
    done.append(f"{min(3, len(mine))} assignments acknowledged by p01.c001.officer")
    if len(mine) >= 2:
        first = _done(await tasks.request_extension(officer, assignment_id=mine[0].id, requested_due_on=max(mine[0].due_on, today) + timedelta(days=60), reason="Chờ bố trí kinh phí"))
        _done(await tasks.decide_extension(manager, extension_id=first.id, approve=True, reason=None))  # type: ignore[attr-defined]
        second = _done(await tasks.request_extension(officer, assignment_id=mine[1].id, requested_due_on=max(mine[1].due_on, today) + timedelta(days=30), reason="Thiếu nhân lực"))
        _done(await tasks.decide_extension(manager, extension_id=second.id, approve=False, reason="Đề nghị huy động lực lượng tại chỗ"))  # type: ignore[attr-defined]
        done.append("one extension approved, one refused by p01.manager")
    if len(mine) >= 3:
        _done(await tasks.submit_report(officer, assignment_id=mine[2].id, progress=100, status="completed", note="Đã hoàn thành", evidence=["https://example.gov.vn/bao-cao/1"]))
        _done(await tasks.evaluate(manager, assignment_id=mine[2].id, rating="good", comment="Hoàn thành đúng hạn"))
        done.append("one assignment completed by the commune and evaluated by the province")
    if objective is not None and not has_key_results:
        for title in ("100% thủ tục hành chính đủ điều kiện được cung cấp trực tuyến toàn trình", "Kinh tế số đạt 30% GDP"):
            _done(await resolutions.create_key_result(tw, objective_id=objective.id, title=title))
        done.append(f"two key results under {objective.code}")
    if central is not None:
        _done(await resolutions.update_resolution(tw, resolution_id=central.id, version=None,
                                                  changes={"programme_due_on": central.issued_on + timedelta(days=30), "implementer_kinds": ["province"]}))
        done.append("57-NQ/TW expects every province's programme within 30 days (see coverage)")
    if measurement is not None:
        _done(await kpis.correct_measurement(manager, measurement_id=measurement.id, version=None, value=measurement.value, reason="Đối chiếu lại số liệu", note="Đã kiểm tra"))
        done.append("one measurement corrected by p01.manager (history kept)")
    if split_kpi is not None and parts:
        year = str(today.year + 1)  # next year's targets: each unit below the lead unit holds its target (an average)
        targets = [(u.id, split_kpi.target) for u in parts]
        draft = _done(await decomposition.save(tw, kpi_id=split_kpi.id, period=year, aggregation="average", targets=targets, version=None))
        _done(await decomposition.activate(tw, kpi_id=split_kpi.id, period=year, version=draft.version))  # type: ignore[attr-defined]
        done.append(f"{split_kpi.code}'s target for {year} decomposed over the {len(parts)} units below its lead unit, and activated")
    if programme_kpi is not None:
        step = 1 if programme_kpi.direction == "increase" else -1  # a little further, in its direction: its thresholds still hold
        review = _done(await reviews.record_review(
            manager, objective_id=None, kpi_id=programme_kpi.id, cadence="monthly", held_on=today, narrative="Giao ban tháng: các xã báo cáo đủ, hai xã chậm",
            decisions="Nâng chỉ tiêu năm; đôn đốc hai xã chậm", confidences=[reviews.Confidence(None, "at_risk", "hai xã chậm tiến độ")],
            adjustments=[reviews.Adjustment(programme_kpi.id, None, programme_kpi.target + step, None, "Kết quả quý trước vượt kế hoạch")],
            approved_by_id=tw.scope.principal.user_id,  # type: ignore[union-attr]
        ))  # fmt: skip
        done.append(f"a monthly review of {programme_kpi.code} by p01.manager, its target adjusted with admin's approval (review {review.id})")  # type: ignore[attr-defined]
    if programme is not None:  # P01's programme: submitted to the centre, returned, submitted again, approved
        _done(await plans.submit(manager, resolution_id=programme.id))
        _done(await plans.decide(tw, resolution_id=programme.id, approve=False, reason="Bổ sung chỉ tiêu cho các xã"))
        _done(await plans.submit(manager, resolution_id=programme.id))
        _done(await plans.decide(tw, resolution_id=programme.id, approve=True, reason=None))
        done.append(f"{programme.code}'s plan submitted by p01.manager, returned by admin with a reason, submitted again and approved (locked)")
    if central is not None:
        quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
        _done(await results.publish_results(tw, resolution_id=central.id, period=quarter))
        _done(await results.publish_results(tw, resolution_id=central.id, period=quarter, reason="Bổ sung số liệu báo cáo muộn của các tỉnh"))
        done.append(f"57-NQ/TW's results for {quarter} published, then corrected (version 2; see publishedResults)")
        done.append(await _approve_data(uow, leader, manager, tw, central))
    return done


async def _approve_data(uow: UnitOfWork, leader: UnitOfWork, manager: UnitOfWork, tw: UnitOfWork, central: Resolution) -> str:
    """P01's figures of 57-NQ/TW for the last quarter it measured pass up level by level (p01.leader approves each unit
    holding figures, from the bottom), admin accepts P01's approval and returns one of P01's measurements with a
    reason, and p01.manager corrects it: admin has it to clear (dataReturnClear)."""
    p01 = leader.scope.principal.unit_id  # type: ignore[union-attr]
    async with uow.sessions() as session:
        province = await session.get_one(Unit, p01)
        family = await resolution_family(session, tw.scope, central.id)
        quarters = await session.scalars(
            select(Measurement.period).join(Kpi, Kpi.id == Measurement.kpi_id)
            .where(Kpi.resolution_id.in_(family), Measurement.unit_id == p01, Measurement.period.like("%-Q%")).distinct()
        )  # fmt: skip
        ended = sorted(q for q in quarters if (period_bounds(q) or (leader.today, leader.today))[1] <= leader.today)
        if not ended:
            return "data approval skipped: P01 measured no quarter of 57-NQ/TW"
        view = Approved.of(central.id, family, ended[-1])
        taking_part = select(Unit).where(in_subtree(Unit.path, province.path), Unit.archived_at.is_(None), participates(Unit, view))
        units = list(await session.scalars(taking_part.order_by(Unit.depth.desc(), Unit.code)))  # P01 and each unit below holding figures
        returned = await session.scalar(
            select(Measurement).join(Kpi, Kpi.id == Measurement.kpi_id)
            .where(Kpi.resolution_id.in_(family), Measurement.unit_id == p01, Measurement.period.in_(view.within)).order_by(Measurement.id)
        )  # fmt: skip
    for unit in units:
        _done(await approvals.approve(leader, resolution_id=central.id, period=view.period, unit_id=unit.id))
    _done(await approvals.accept(tw, resolution_id=central.id, period=view.period, unit_id=p01))
    if returned is not None:
        _done(await approvals.return_item(tw, resolution_id=central.id, period=view.period, kind="measurement", item_id=returned.id,
                                          reason="Số liệu quý chưa khớp báo cáo của Sở"))  # fmt: skip
        _done(await kpis.correct_measurement(manager, measurement_id=returned.id, version=None, value=returned.value, reason="Đã đối chiếu với báo cáo của Sở", note=None))
    return (f"57-NQ/TW's figures for {view.period} approved at {len(units)} units of P01 from the bottom up by p01.leader and accepted by admin; "
            "one measurement returned by admin and corrected by p01.manager (dataApproval; admin clears it with dataReturnClear)")
