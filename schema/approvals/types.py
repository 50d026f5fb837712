"""GraphQL of data approval: where a unit and its children stand for a resolution's figures of a period, the items
returned under it, and the mutations that approve, accept, un-approve, return and clear."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from graphql import GraphQLError

from resolute.api.approvals import reads, service
from resolute.api.approvals.data import Approved
from resolute.api.approvals.models import OPEN_RETURN_STATES, RETURN_STATES
from resolute.api.approvals.models import DataReturn as ReturnRow
from resolute.api.errors import ErrorCode, FieldError
from resolute.api.kpis.periods import PERIOD_FORMS, is_period
from resolute.api.org.models import Unit
from resolute.schema.accounts.types import UserType
from resolute.schema.context import IdempotencyKeyArg, Info, perform
from resolute.schema.errors import UserError, user_errors
from resolute.schema.filters import unit_or_own
from resolute.schema.ids import decode_any, decode_id, encode_id, input_id
from resolute.schema.kpis.types import MeasurementType
from resolute.schema.org.types import UnitType
from resolute.schema.pagination import MAX_WINDOW, OFFSET_DESCRIPTION, WINDOW_FIRST_DESCRIPTION, check_window, window
from resolute.schema.tasks.types import ProgressReportType

__all__ = ["DataApprovalQuery", "DataApprovalsMutation", "approved_view"]

STATE_DESCRIPTION = (
    "approved (at this level), accepted (by the level above, which alone may then undo it), ready (every sub-unit "
    "holding figures has approved), waiting (some have not), open (the period is not over) or no_data (no figure in its subtree)."
)


async def _user(info: Info, user_id: int | None) -> UserType | None:
    row = await info.context.loaders.users_by_id.load(user_id) if user_id else None
    return UserType.of(row) if row else None


def _period(period: str, field: str = "period") -> str:
    if not is_period(period):
        raise GraphQLError(PERIOD_FORMS, extensions={"code": ErrorCode.INVALID.value, "field": field})
    return period


async def approved_view(info: Info, resolution: strawberry.ID, period: str) -> Approved | None:
    """What the approval of a resolution for a period covers; None if the caller does not read the resolution."""
    pk = decode_id(resolution, "Resolution", "resolution")
    family = await info.context.loaders.family_by_resolution_id.load(pk)
    return Approved.of(pk, family, _period(period)) if family else None


async def _resolution(info: Info, pk: int) -> Annotated[ResolutionType, strawberry.lazy("resolute.schema.resolutions.types")] | None:  # noqa: F821
    from resolute.schema.resolutions.types import ResolutionType

    row = await info.context.loaders.resolutions_by_id.load(pk)
    return ResolutionType.of(row) if row else None


@strawberry.type(name="UnitDataApproval", description="Where one unit stands in a period's data approval.")
class UnitDataApprovalType:
    row: strawberry.Private[reads.UnitApproval]

    @strawberry.field
    def unit(self) -> UnitType:
        return UnitType.of(self.row.unit)

    @strawberry.field(description=STATE_DESCRIPTION)
    def state(self) -> str:
        return self.row.state

    @strawberry.field(description="How many of its direct sub-units hold figures and have not approved yet.")
    def waiting_for(self) -> int:
        return self.row.waiting_for

    @strawberry.field
    def approved_at(self) -> datetime | None:
        return self.row.approved_at

    @strawberry.field
    async def approved_by(self, info: Info) -> UserType | None:
        return await _user(info, self.row.approved_by_id)

    @strawberry.field
    def accepted_at(self) -> datetime | None:
        return self.row.accepted_at

    @strawberry.field
    async def accepted_by(self, info: Info) -> UserType | None:
        return await _user(info, self.row.accepted_by_id)


@strawberry.type(name="DataReturn", description=(
    "One approved figure (a measurement or a progress report) sent back to its reporter with a reason, without "
    "reopening the period: returned, then corrected by the reporter, then cleared by the level above. Until cleared it "
    "is left out of figures asked over approved data."
))
class DataReturnType:
    row: strawberry.Private[ReturnRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("DataReturn", self.row.id))

    @strawberry.field
    def period(self) -> str:
        return self.row.period

    @strawberry.field(description="returned, corrected or cleared.")
    def state(self) -> str:
        return self.row.state

    @strawberry.field
    def reason(self) -> str:
        return self.row.reason

    @strawberry.field(description="measurement or progress_report.")
    def item_kind(self) -> str:
        return self.row.item_kind

    @strawberry.field(description="The measurement returned (null for a progress report).")
    async def measurement(self, info: Info) -> MeasurementType | None:
        if self.row.item_kind != "measurement":
            return None
        row = await info.context.loaders.measurements_by_id.load(self.row.item_id)
        return MeasurementType.of(row) if row else None

    @strawberry.field(description="The progress report returned (null for a measurement); its assignee corrects it with a new report dated in the period.")
    async def progress_report(self, info: Info) -> ProgressReportType | None:
        if self.row.item_kind != "progress_report":
            return None
        row = await info.context.loaders.reports_by_id.load(self.row.item_id)
        return ProgressReportType.of(row) if row else None

    @strawberry.field(description="The unit whose figure it is.")
    async def unit(self, info: Info) -> UnitType | None:
        row = await info.context.loaders.units_by_id.load(self.row.unit_id)
        return UnitType.of(row) if row else None

    @strawberry.field
    def returned_at(self) -> datetime:
        return self.row.returned_at

    @strawberry.field
    async def returned_by(self, info: Info) -> UserType | None:
        return await _user(info, self.row.returned_by_id)

    @strawberry.field
    def corrected_at(self) -> datetime | None:
        return self.row.corrected_at

    @strawberry.field
    async def corrected_by(self, info: Info) -> UserType | None:
        return await _user(info, self.row.corrected_by_id)

    @strawberry.field(description="The resolution whose approval it was returned under.")
    async def resolution(self, info: Info) -> Annotated[ResolutionType, strawberry.lazy("resolute.schema.resolutions.types")] | None:  # noqa: F821
        return await _resolution(info, self.row.resolution_id)

    @strawberry.field
    def cleared_at(self) -> datetime | None:
        return self.row.cleared_at

    @strawberry.field
    async def cleared_by(self, info: Info) -> UserType | None:
        return await _user(info, self.row.cleared_by_id)


def _states(given: list[str] | None) -> tuple[str, ...]:
    if given is None:
        return OPEN_RETURN_STATES
    if unknown := [s for s in given if s not in RETURN_STATES]:
        raise GraphQLError(f"unknown state {unknown[0][:20]!r}: one of {', '.join(RETURN_STATES)}", extensions={"code": ErrorCode.INVALID.value, "field": "state"})
    return tuple(given)


@strawberry.type(name="DataApproval", description=(
    "A resolution's figures (with the programmes implementing it) for a period at one unit: where the unit stands, "
    "where each direct sub-unit holding figures stands, and the items returned under it."
))
class DataApprovalType:
    view: strawberry.Private[Approved]
    head: strawberry.Private[reads.UnitApproval]
    above: strawberry.Private[bool | None]
    every_child: strawberry.Private[list[reads.UnitApproval]]

    @strawberry.field
    def period(self) -> str:
        return self.view.period

    @strawberry.field
    async def resolution(self, info: Info) -> Annotated[ResolutionType, strawberry.lazy("resolute.schema.resolutions.types")] | None:  # noqa: F821
        return await _resolution(info, self.view.resolution_id)

    @strawberry.field
    def unit(self) -> UnitType:
        return UnitType.of(self.head.unit)

    @strawberry.field(description=STATE_DESCRIPTION)
    def state(self) -> str:
        return self.head.state

    @strawberry.field(description="How many direct sub-units hold figures and have not approved yet.")
    def waiting_for(self) -> int:
        return self.head.waiting_for

    @strawberry.field(description="Whether the unit above has approved too (then this approval is undone only after that one); null if you do not read the unit above.")
    def approved_above(self) -> bool | None:
        return self.above

    @strawberry.field
    def approved_at(self) -> datetime | None:
        return self.head.approved_at

    @strawberry.field
    async def approved_by(self, info: Info) -> UserType | None:
        return await _user(info, self.head.approved_by_id)

    @strawberry.field
    def accepted_at(self) -> datetime | None:
        return self.head.accepted_at

    @strawberry.field
    async def accepted_by(self, info: Info) -> UserType | None:
        return await _user(info, self.head.accepted_by_id)

    @strawberry.field(description="Each direct sub-unit that holds figures or has approved, in code order (a slice: see `childCount`).")
    def children(
        self,
        first: Annotated[int, strawberry.argument(description=WINDOW_FIRST_DESCRIPTION)] = MAX_WINDOW,
        offset: Annotated[int, strawberry.argument(description=OFFSET_DESCRIPTION)] = 0,
    ) -> list[UnitDataApprovalType]:
        return [UnitDataApprovalType(row=r) for r in window(self.every_child, first=first, offset=offset)]

    @strawberry.field
    def child_count(self) -> int:
        return len(self.every_child)

    @strawberry.field(description="The items returned under the unit for this period, the latest first (default: those not cleared yet).")
    async def returns(
        self, info: Info, state: list[str] | None = None,
        first: Annotated[int, strawberry.argument(description=WINDOW_FIRST_DESCRIPTION)] = MAX_WINDOW,
        offset: Annotated[int, strawberry.argument(description=OFFSET_DESCRIPTION)] = 0,
    ) -> list[DataReturnType]:
        check_window(first, offset)
        states = _states(state)
        async with info.context.db.use() as session:
            rows = await reads.returns_under(session, self.view, self.head.unit, states, first=first, offset=offset)
        return [DataReturnType(row=r) for r in rows]

    @strawberry.field(description="How many items `returns` (with the same `state`) lists in all.")
    async def return_count(self, info: Info, state: list[str] | None = None) -> int:
        states = _states(state)
        async with info.context.db.use() as session:
            return await reads.count_returns(session, self.view, self.head.unit, states)


async def find_approval(info: Info, view: Approved | None, unit: Unit | None) -> DataApprovalType | None:
    """The approval at a unit, if the caller reads the resolution and the unit's whole subtree."""
    ctx = info.context
    if view is None or unit is None or not reads.readable(ctx.scope, unit):
        return None
    async with ctx.db.use() as session:
        head, above, children = await reads.statuses(session, view, unit, ctx.today)
    above_path = reads.parent_path(unit)
    known = above_path is not None and ctx.scope.covers(above_path, "unit")
    return DataApprovalType(view=view, head=head, above=above if known else None, every_child=children)


@strawberry.type
class DataApprovalQuery:
    @strawberry.field(description=(
        "Where a resolution's figures (with its programmes') for a period stand in data approval at a unit (default: "
        "your own) and its direct sub-units; null if you do not read the unit's whole subtree."
    ))
    async def data_approval(self, info: Info, resolution: strawberry.ID, period: str, unit: strawberry.ID | None = None) -> DataApprovalType | None:
        view = await approved_view(info, resolution, period)
        return await find_approval(info, view, await unit_or_own(info, unit))


@strawberry.type
class DataApprovalPayload:
    approval: DataApprovalType | None
    errors: list[UserError]


@strawberry.type
class DataReturnPayload:
    data_return: DataReturnType | None
    errors: list[UserError]


async def _approval_payload(info: Info, outcome: object, resolution_id: int, period: str, unit_id: int) -> DataApprovalPayload:
    errors = user_errors(getattr(outcome, "errors", []))
    if errors:
        return DataApprovalPayload(approval=None, errors=errors)
    family = await info.context.loaders.family_by_resolution_id.load(resolution_id)
    unit = await info.context.loaders.units_by_id.load(unit_id)
    return DataApprovalPayload(approval=await find_approval(info, Approved.of(resolution_id, family, period) if family else None, unit), errors=[])


def _return_payload(outcome: object) -> DataReturnPayload:
    value = getattr(outcome, "value", None)
    return DataReturnPayload(data_return=DataReturnType(row=value) if value else None, errors=user_errors(getattr(outcome, "errors", [])))


@strawberry.type
class DataApprovalsMutation:
    @strawberry.mutation(description=(
        "Approve a unit's figures of a resolution (with its programmes) for a period that is over, at the unit's own "
        "level, once each sub-unit holding figures has approved (leaders and managers, in their scope)."
    ))
    async def data_approve(self, info: Info, resolution_id: strawberry.ID, period: str, unit_id: strawberry.ID,
                           idempotency_key: IdempotencyKeyArg = None) -> DataApprovalPayload:  # fmt: skip
        r, u = input_id(resolution_id, "Resolution", "resolutionId"), input_id(unit_id, "Unit", "unitId")
        outcome = await perform(info, idempotency_key, lambda uow: service.approve(uow, resolution_id=r, period=period, unit_id=u))
        return await _approval_payload(info, outcome, r, period, u)

    @strawberry.mutation(description="Accept a sub-unit's approval (the level above it, not who approved): from then on only the level above may undo it.")
    async def data_accept(self, info: Info, resolution_id: strawberry.ID, period: str, unit_id: strawberry.ID,
                          idempotency_key: IdempotencyKeyArg = None) -> DataApprovalPayload:  # fmt: skip
        r, u = input_id(resolution_id, "Resolution", "resolutionId"), input_id(unit_id, "Unit", "unitId")
        outcome = await perform(info, idempotency_key, lambda uow: service.accept(uow, resolution_id=r, period=period, unit_id=u))
        return await _approval_payload(info, outcome, r, period, u)

    @strawberry.mutation(description=(
        "Un-approve a unit's figures: at its own level while the level above has not accepted them, from above at any "
        "time; never while the unit above has approved (un-approve there first)."
    ))
    async def data_unapprove(self, info: Info, resolution_id: strawberry.ID, period: str, unit_id: strawberry.ID,
                             idempotency_key: IdempotencyKeyArg = None) -> DataApprovalPayload:  # fmt: skip
        r, u = input_id(resolution_id, "Resolution", "resolutionId"), input_id(unit_id, "Unit", "unitId")
        outcome = await perform(info, idempotency_key, lambda uow: service.unapprove(uow, resolution_id=r, period=period, unit_id=u))
        return await _approval_payload(info, outcome, r, period, u)

    @strawberry.mutation(description=(
        "Return ONE approved item (a Measurement, or a ProgressReport dated before the period ended) to its reporters with a "
        "reason, without reopening the period (who may approve data at the unit above the item's unit); they are notified."
    ))
    async def data_item_return(self, info: Info, resolution_id: strawberry.ID, period: str, item_id: strawberry.ID, reason: str,
                          idempotency_key: IdempotencyKeyArg = None) -> DataReturnPayload:  # fmt: skip
        r = input_id(resolution_id, "Resolution", "resolutionId")
        decoded = decode_any(item_id)
        if decoded is None or decoded[0] not in ("Measurement", "ProgressReport"):
            return DataReturnPayload(data_return=None, errors=user_errors([FieldError("itemId", ErrorCode.INVALID_ID, "not a valid Measurement or ProgressReport id")]))
        kind = "measurement" if decoded[0] == "Measurement" else "progress_report"
        outcome = await perform(info, idempotency_key, lambda uow: service.return_item(
            uow, resolution_id=r, period=period, kind=kind, item_id=decoded[1], reason=reason))  # fmt: skip
        return _return_payload(outcome)

    @strawberry.mutation(description="Take a corrected item back into approved figures (who may approve data at the unit above its unit).")
    async def data_return_clear(self, info: Info, id: strawberry.ID, idempotency_key: IdempotencyKeyArg = None) -> DataReturnPayload:
        pk = input_id(id, "DataReturn", "id")
        return _return_payload(await perform(info, idempotency_key, lambda uow: service.clear(uow, return_id=pk)))

