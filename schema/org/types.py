"""GraphQL types of the tree: Unit (a Node), UnitSummary (the read-only upward view), UnitKind."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from resolute.api.org.models import Unit as UnitRow
from resolute.api.org.models import UnitKind as UnitKindRow
from resolute.api.org.reads import UnitFilter
from resolute.schema.context import Info
from resolute.schema.ids import encode_id
from resolute.schema.node import Node, register_node
from resolute.schema.pagination import (
    AFTER_DESCRIPTION,
    BY_CODE,
    FIRST_DESCRIPTION,
    FULL_PAGE_DESCRIPTION,
    MAX_PAGE,
    Connection,
    build_connection,
    check_first,
)

__all__ = ["DescendantFilterInput", "UnitFilterInput", "UnitKindType", "UnitSummary", "UnitType"]


@strawberry.type(name="UnitSummary", description="What a user may know of its own unit's ancestors: code, name and kind only.")
class UnitSummary:
    code: str
    name: str
    kind: str
    depth: int

    @classmethod
    def of(cls, row: UnitRow) -> "UnitSummary":
        return cls(code=row.code, name=row.name, kind=row.kind, depth=row.depth)


@strawberry.type(name="UnitKind")
class UnitKindType:
    code: str
    label: str

    @classmethod
    def of(cls, row: UnitKindRow) -> "UnitKindType":
        return cls(code=row.code, label=row.label)


@strawberry.input(description="Narrow a list of units. Every condition must hold.")
class UnitFilterInput:
    kind: str | None = strawberry.field(default=None, description="Only units of this kind (e.g. province, commune).")
    under: strawberry.ID | None = strawberry.field(default=None, description="Only this unit and the units below it.")
    search: str | None = strawberry.field(default=None, description="Part of the name or code; case and diacritics are ignored ('ha noi' finds 'Hà Nội'). At most 100 characters.")
    include_archived: bool = strawberry.field(default=False, description="Also list archived units.")
    updated_since: datetime | None = strawberry.field(default=None, description="Only units changed at or after this instant (incremental sync; archiving and moves count).")


@strawberry.input(description="Narrow a unit's descendants.")
class DescendantFilterInput:
    kind: str | None = None
    search: str | None = strawberry.field(default=None, description="Part of the name or code; case and diacritics are ignored. At most 100 characters.")
    include_archived: bool = False

    def to_filter(self) -> UnitFilter:
        return UnitFilter(kind=self.kind, search=(self.search or None) and self.search[:100], include_archived=self.include_archived)


@strawberry.type(name="Unit", description="A node of the organisation tree: central office, agency, ministry, province, department, commune, cell.")
class UnitType(Node):
    row: strawberry.Private[UnitRow]

    @classmethod
    def of(cls, row: UnitRow) -> "UnitType":
        return cls(row=row)  # type: ignore[call-arg]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Unit", self.row.id))

    @strawberry.field(description="Unique identifier from the data dictionary, e.g. P07-C031.")
    def code(self) -> str:
        return self.row.code

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def kind(self) -> str:
        return self.row.kind

    @strawberry.field(description="1 for the root, 2 for its children, and so on.")
    def depth(self) -> int:
        return self.row.depth

    @strawberry.field
    def archived(self) -> bool:
        return self.row.archived_at is not None

    @strawberry.field
    def archived_at(self) -> datetime | None:
        return self.row.archived_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @strawberry.field(description="Changes on every update; pass it back to detect concurrent edits.")
    def version(self) -> int:
        return self.row.version

    @strawberry.field(description="The parent unit, or null at the top of what you may see (see `ancestors`).")
    async def parent(self, info: Info) -> UnitType | None:
        if self.row.parent_id is None:
            return None
        row = await info.context.loaders.units_by_id.load(self.row.parent_id)
        return UnitType.of(row) if row else None

    @strawberry.field(description="Direct sub-units you may see, in code order, paged (a province has over a hundred).")
    async def children(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FULL_PAGE_DESCRIPTION)] = MAX_PAGE,
        after: Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
        include_archived: bool = False,
    ) -> Connection[UnitType]:
        check_first(first)
        loaders = info.context.loaders
        rows = await loaders.child_pages_by_parent_id.load((self.row.id, (("after", BY_CODE.decode(after)), ("first", first), ("include_archived", include_archived))))
        key = (self.row.id, (("include_archived", include_archived),))
        return build_connection(
            rows, first=first, after=after, ordering=BY_CODE, key=lambda row: row.code, wrap=UnitType.of, count=lambda: loaders.child_count_by_parent_id.load(key)
        )

    @strawberry.field(description="The ancestors you may name, root first: those in your scope and your own unit's chain.")
    async def ancestors(self, info: Info) -> list[UnitSummary]:
        rows = await info.context.loaders.ancestors_by_path.load(self.row.path)
        return [UnitSummary.of(row) for row in rows]

    @strawberry.field(description="Every unit below this one that you may see, in code order.")
    async def descendants(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_DESCRIPTION)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)] = None,
        filter: DescendantFilterInput | None = None,
    ) -> Connection[UnitType]:
        check_first(first)
        cursor = BY_CODE.decode(after)
        flt = (filter or DescendantFilterInput()).to_filter()
        loaders = info.context.loaders
        rows = await loaders.descendants_by_unit_id.load((self.row.id, (flt, first, cursor)))
        unit_id = self.row.id
        return build_connection(
            rows,
            first=first,
            after=after,
            ordering=BY_CODE,
            key=lambda row: row.code,
            wrap=UnitType.of,
            count=lambda: loaders.descendant_count_by_unit_id.load((unit_id, flt)),
        )


async def _unit_node(info: Info, pk: int) -> UnitType | None:
    row = await info.context.loaders.units_by_id.load(pk)
    return UnitType.of(row) if row else None


register_node("Unit", _unit_node)
