"""What the generated data set lacks, played through the real services as the demo users.

Acknowledgements, an extension approved and one refused, evaluations, key results, a corrected
measurement and a coverage deadline, so that every feature has something to show. Runs once:
a second `resolute demo` finds the scenario done and leaves it alone.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.access.policy import Policy
from resolute.api.access.scope import Scope
from resolute.api.accounts.models import User
from resolute.api.auth.principal import load_principal
from resolute.api.auth.tokens import TokenClaims
from resolute.api.kpis import service as kpis
from resolute.api.kpis.models import Measurement
from resolute.api.resolutions import service as resolutions
from resolute.api.resolutions.models import KeyResult, Objective, Resolution
from resolute.api.tasks import service as tasks
from resolute.api.tasks.models import Assignment, Extension

__all__ = ["play"]


async def _scope(session: AsyncSession, policy: Policy, username: str) -> Scope | None:
    user_id = await session.scalar(select(User.id).where(User.username == username))
    if user_id is None:
        return None
    principal = await load_principal(session, TokenClaims(user_id=user_id, issued_at=9e9, expires_at=9e9))
    return Scope(principal, policy) if principal else None


async def play(session: AsyncSession, policy: Policy) -> list[str]:
    """Run the scenario (inside the caller's write transaction); returns what it did."""
    if await session.scalar(select(func.count()).select_from(Extension)):
        return ["demo scenario already played"]
    done: list[str] = []
    officer, manager, tw = [await _scope(session, policy, n) for n in ("p01.c001.officer", "p01.manager", "admin")]
    if officer is None or manager is None or tw is None:
        return ["demo scenario skipped: demo users missing"]
    today = date.today()
    mine = list(await session.scalars(
        select(Assignment).where(Assignment.assignee_unit_id == officer.principal.unit_id, Assignment.status.in_(("not_started", "in_progress"))).order_by(Assignment.id).limit(4)
    ))
    for assignment in mine[:3]:
        await tasks.acknowledge(session=session, scope=officer, assignment_id=assignment.id)
    done.append(f"{min(3, len(mine))} assignments acknowledged by p01.c001.officer")
    if len(mine) >= 2:
        first = await tasks.request_extension(session=session, scope=officer, assignment_id=mine[0].id,
                                              requested_due_on=max(mine[0].due_on, today) + timedelta(days=60), reason="Chờ bố trí kinh phí")
        await tasks.decide_extension(session=session, scope=manager, extension_id=first.id, approve=True, reason=None)
        second = await tasks.request_extension(session=session, scope=officer, assignment_id=mine[1].id,
                                               requested_due_on=max(mine[1].due_on, today) + timedelta(days=30), reason="Thiếu nhân lực")
        await tasks.decide_extension(session=session, scope=manager, extension_id=second.id, approve=False, reason="Đề nghị huy động lực lượng tại chỗ")
        done.append("one extension approved, one refused by p01.manager")
    if len(mine) >= 3:
        await tasks.submit_report(session=session, scope=officer, assignment_id=mine[2].id, progress=100, status="completed",
                                  note="Đã hoàn thành", evidence=["https://example.gov.vn/bao-cao/1"])
        await tasks.evaluate(session=session, scope=manager, assignment_id=mine[2].id, rating="good", comment="Hoàn thành đúng hạn")
        done.append("one assignment completed by the commune and evaluated by the province")
    objective = await session.scalar(select(Objective).join(Resolution, Resolution.id == Objective.resolution_id).where(Resolution.code == "57-NQ/TW").order_by(Objective.code))
    if objective is not None and not await session.scalar(select(func.count()).select_from(KeyResult).where(KeyResult.objective_id == objective.id)):
        for title in ("100% thủ tục hành chính đủ điều kiện được cung cấp trực tuyến toàn trình", "Kinh tế số đạt 30% GDP"):
            await resolutions.create_key_result(session=session, scope=tw, objective_id=objective.id, title=title)
        done.append(f"two key results under {objective.code}")
    central = await session.scalar(select(Resolution).where(Resolution.code == "57-NQ/TW"))
    if central is not None:
        await resolutions.update_resolution(session=session, scope=tw, resolution_id=central.id, version=None,
                                            changes={"programme_due_on": central.issued_on + timedelta(days=30), "implementer_kinds": ["province"]})
        done.append("57-NQ/TW expects every province's programme within 30 days (see coverage)")
    measurement = await session.scalar(select(Measurement).where(Measurement.unit_id == manager.principal.unit_id).order_by(Measurement.id))
    if measurement is not None:
        await kpis.correct_measurement(session=session, scope=manager, measurement_id=measurement.id, version=None,
                                       value=measurement.value, reason="Đối chiếu lại số liệu", note="Đã kiểm tra")
        done.append("one measurement corrected by p01.manager (history kept)")
    return done
