"""Per-request DataLoaders, named by key, all applying the caller's scope.

Built fresh for every request (a module-level cache would leak one caller's rows to the
next). Each batch holds the request's session only for its one statement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from api.access.scope import Scope
from api.accounts import reads as account_reads
from api.accounts.models import Grant, User
from api.audit import reads as audit_reads
from api.audit.models import AuditEvent
from api.db import RequestDB
from api.org import reads as org_reads
from api.org.models import Unit
from api.org.reads import UnitFilter

__all__ = ["Loaders"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _grouped(
    fetch: Callable[[Any, list[int]], Awaitable[dict[int, V]]], default: Callable[[], V]
) -> Callable[[Sequence[tuple[int, Any]]], Awaitable[list[V]]]:
    """A batch function for keys (id, args): one fetch per distinct args, whatever the ids."""

    async def load(keys: Sequence[tuple[int, Any]]) -> list[V]:
        by_args: dict[Any, list[int]] = defaultdict(list)
        for pk, args in keys:
            by_args[args].append(pk)
        found: dict[tuple[int, Any], V] = {}
        for args, ids in by_args.items():
            result = await fetch(args, ids)
            found.update({(pk, args): result.get(pk, default()) for pk in ids})
        return [found[key] for key in keys]

    return load


class Loaders:
    def __init__(self, db: RequestDB, scope: Scope) -> None:
        self._db = db
        self._scope = scope
        self.units_by_id: DataLoader[int, Unit | None] = DataLoader(self._units)
        self.children_by_parent_id: DataLoader[tuple[int, bool], list[Unit]] = DataLoader(_grouped(self._children, list))
        self.ancestors_by_path: DataLoader[str, list[Unit]] = DataLoader(self._ancestors)
        self.descendants_by_unit_id: DataLoader[tuple[int, Any], list[Unit]] = DataLoader(_grouped(self._descendants, list))
        self.descendant_count_by_unit_id: DataLoader[tuple[int, UnitFilter], int] = DataLoader(_grouped(self._descendant_counts, int))
        self.users_by_id: DataLoader[int, User | None] = DataLoader(self._users)
        self.grants_by_user_id: DataLoader[int, list[Grant]] = DataLoader(self._grants)
        self.grants_by_id: DataLoader[int, Grant | None] = DataLoader(self._grants_by_id)
        self.audit_events_by_id: DataLoader[int, AuditEvent | None] = DataLoader(self._audit_events)

    async def _units(self, ids: Sequence[int]) -> list[Unit | None]:
        async with self._db.use() as session:
            found = await org_reads.units_by_ids(session, self._scope, ids)
        return [found.get(pk) for pk in ids]

    async def _children(self, include_archived: bool, ids: list[int]) -> dict[int, list[Unit]]:
        async with self._db.use() as session:
            return await org_reads.children_of(session, self._scope, ids, include_archived=include_archived)

    async def _ancestors(self, paths: Sequence[str]) -> list[list[Unit]]:
        async with self._db.use() as session:
            found = await org_reads.ancestors_of(session, self._scope, paths)
        return [found[path] for path in paths]

    async def _descendants(self, args: tuple[UnitFilter, int, str | None], ids: list[int]) -> dict[int, list[Unit]]:
        flt, first, after = args
        async with self._db.use() as session:
            return await org_reads.descendants_pages(session, self._scope, ids, flt, first=first, after=after)

    async def _descendant_counts(self, flt: UnitFilter, ids: list[int]) -> dict[int, int]:
        async with self._db.use() as session:
            return await org_reads.count_descendants(session, self._scope, ids, flt)

    async def _users(self, ids: Sequence[int]) -> list[User | None]:
        async with self._db.use() as session:
            found = await account_reads.users_by_ids(session, self._scope, ids)
        return [found.get(pk) for pk in ids]

    async def _grants(self, user_ids: Sequence[int]) -> list[list[Grant]]:
        async with self._db.use() as session:
            found = await account_reads.grants_by_user_ids(session, self._scope, user_ids)
        return [found.get(pk, []) for pk in user_ids]

    async def _grants_by_id(self, ids: Sequence[int]) -> list[Grant | None]:
        async with self._db.use() as session:
            found = await account_reads.grants_by_ids(session, self._scope, ids)
        return [found.get(pk) for pk in ids]

    async def _audit_events(self, ids: Sequence[int]) -> list[AuditEvent | None]:
        async with self._db.use() as session:
            found = await audit_reads.events_by_ids(session, self._scope, ids)
        return [found.get(pk) for pk in ids]
