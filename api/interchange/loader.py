"""Writing an interchange bundle: whole-tree checks, then bulk inserts and updates in one transaction.

Idempotent: rows are compared with what is stored and only differences are written, so the
same files imported twice change nothing the second time. Any problem, and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from resolute.api.access.policy import Policy
from resolute.api.accounts.models import Grant, User
from resolute.api.audit.chain import record as record_event
from resolute.api.interchange.reader import Bundle, InterchangeError, Problem, UnitRecord
from resolute.api.interchange.staging import copy_rows
from resolute.api.org.models import Unit, UnitKind
from resolute.api.org.text import fold, user_search_name
from resolute.api.org.tree import ABOVE_ROOT, child_path, lock_tree

__all__ = ["ImportReport", "load_bundle"]


@dataclass
class ImportReport:
    units_created: int = 0
    units_updated: int = 0
    units_unchanged: int = 0
    users_created: int = 0
    users_updated: int = 0
    users_unchanged: int = 0
    grants_created: int = 0
    grants_removed: int = 0
    notices: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: value for name, value in vars(self).items() if isinstance(value, int)}

    def lines(self) -> list[str]:
        return [
            f"units: {self.units_created} created, {self.units_updated} updated, {self.units_unchanged} unchanged",
            f"users: {self.users_created} created, {self.users_updated} updated, {self.users_unchanged} unchanged",
            f"grants: {self.grants_created} created, {self.grants_removed} removed",
            *self.notices,
        ]


@dataclass(slots=True)
class _Stored:
    id: int
    code: str
    parent_id: int | None
    name: str
    kind: str
    path: str
    depth: int
    version: int


def _parents(units: list[UnitRecord], stored: dict[str, _Stored], by_id: dict[int, str]) -> tuple[dict[str, str | None], list[Problem]]:
    """The parent code of every unit after the import (file rows override stored ones)."""
    parents: dict[str, str | None] = {code: (by_id[s.parent_id] if s.parent_id else None) for code, s in stored.items()}
    problems: list[Problem] = []
    in_file = {u.code for u in units}
    for record in units:
        if record.parent_code is not None and record.parent_code not in parents and record.parent_code not in in_file:
            problems.append(Problem("units.csv", record.line, f"unknown parent '{record.parent_code}'"))
        parents[record.code] = record.parent_code
    return parents, problems


def _check_tree(units: list[UnitRecord], parents: dict[str, str | None]) -> list[Problem]:
    lines = {u.code: u.line for u in units}
    problems: list[Problem] = []
    roots = [code for code, parent in parents.items() if parent is None]
    if len(roots) > 1:
        extra = [code for code in roots if code in lines] or roots[1:]
        problems += [Problem("units.csv", lines.get(code, 0), f"'{code}' would be a second root (roots: {', '.join(sorted(roots))})") for code in extra]
    state: dict[str, int] = {}  # 1 = on the current walk, 2 = known to reach the root
    for start in parents:
        walk: list[str] = []
        code: str | None = start
        while code is not None and state.get(code) is None and code in parents:
            state[code] = 1
            walk.append(code)
            code = parents[code]
        if code is not None and state.get(code) == 1:
            cycle = walk[walk.index(code):]
            line = min((lines[c] for c in cycle if c in lines), default=0)
            problems.append(Problem("units.csv", line, f"cycle: {' -> '.join(cycle + [code])}"))
        for c in walk:
            state[c] = 2
    return problems


def _paths(parents: dict[str, str | None], ids: dict[str, int]) -> dict[str, tuple[str, int]]:
    """(path, depth) of every unit, computed top-down from the final parent of each."""
    result: dict[str, tuple[str, int]] = {}

    def resolve(code: str) -> tuple[str, int]:
        chain = []
        node: str | None = code
        while node is not None and node not in result:
            chain.append(node)
            node = parents[node]
        path, depth = result[node] if node is not None else (ABOVE_ROOT, 0)
        for c in reversed(chain):
            path, depth = child_path(path, ids[c]), depth + 1
            result[c] = (path, depth)
        return result[code]

    for code in parents:
        resolve(code)
    return result


async def load_bundle(session: AsyncSession, bundle: Bundle, policy: Policy) -> ImportReport:
    """Check the bundle against the stored tree and write it; raises InterchangeError, writing nothing."""
    report = ImportReport(notices=list(bundle.notices))
    await lock_tree(session, exclusive=True)
    kinds = set(await session.scalars(select(UnitKind.code)))
    stored_rows = (await session.execute(select(Unit.id, Unit.code, Unit.parent_id, Unit.name, Unit.kind, Unit.path, Unit.depth, Unit.version))).all()
    stored = {r.code: _Stored(*r) for r in stored_rows}
    del stored_rows
    by_id = {s.id: s.code for s in stored.values()}

    problems = [Problem("units.csv", u.line, f"unknown kind '{u.kind}' (known: {', '.join(sorted(kinds))})") for u in bundle.units if u.kind not in kinds]
    parents, parent_problems = _parents(bundle.units, stored, by_id)
    problems += parent_problems
    if not parent_problems:
        problems += _check_tree(bundle.units, parents)
    archived = set(await session.scalars(select(Unit.code).where(Unit.archived_at.is_not(None))))
    problems += [Problem("units.csv", u.line, f"parent '{u.parent_code}' is archived") for u in bundle.units if u.parent_code in archived and u.code not in stored]
    problems += [Problem("users.csv", u.line, f"unit '{u.unit_code}' is archived") for u in bundle.users if u.unit_code in archived]
    unit_codes = set(parents)
    problems += [Problem("users.csv", u.line, f"unknown unit '{u.unit_code}'") for u in bundle.users if u.unit_code not in unit_codes]
    problems += [Problem("users.csv", u.line, f"unknown role '{u.role}' (roles: {', '.join(policy.roles)})") for u in bundle.users if not policy.is_role(u.role)]
    if problems:
        raise InterchangeError(sorted(problems, key=lambda p: (p.file, p.line)))

    now = datetime.now(UTC)
    await _write_units(session, bundle.units, stored, parents, report, now)
    del stored, by_id, parents, unit_codes  # at 200,000 units and as many users, memory counts
    await _write_users(session, bundle, report, now)
    if any((report.units_created, report.units_updated, report.users_created, report.users_updated, report.grants_created, report.grants_removed)):
        root_id = await session.scalar(select(Unit.id).where(Unit.parent_id.is_(None)))
        record_event(session, action="import", object_type="import", object_key="units.csv,users.csv", unit_id=root_id, after=report.counts())
    if session.bind.dialect.name == "postgresql" and (report.units_created or report.users_created):
        await session.execute(text("ANALYZE units, users, grants"))  # fresh statistics for the planner
    return report


async def _write_units(
    session: AsyncSession, units: list[UnitRecord], stored: dict[str, _Stored], parents: dict[str, str | None], report: ImportReport, now: datetime
) -> None:
    next_id = (max((s.id for s in stored.values()), default=0)) + 1
    ids = {code: s.id for code, s in stored.items()}
    for record in units:
        if record.code not in ids:
            ids[record.code] = next_id
            next_id += 1
    placed = _paths(parents, ids)
    folded = _Folder()
    inserts: list[tuple[Any, ...]] = []
    updates: list[dict[str, Any]] = []
    for record in units:
        path, depth = placed[record.code]
        parent_id = ids[record.parent_code] if record.parent_code else None
        old = stored.get(record.code)
        if old is None:
            inserts.append((ids[record.code], record.code, record.name, folded(record.name), record.kind, parent_id, path, depth, 1, now, now))
        elif (old.name, old.kind, old.parent_id, old.path, old.depth) != (record.name, record.kind, parent_id, path, depth):
            updates.append({"id": old.id, "search_name": folded(record.name), "updated_at": now, "version": old.version + 1,
                            "code": record.code, "name": record.name, "kind": record.kind, "parent_id": parent_id, "path": path, "depth": depth})
        else:
            report.units_unchanged += 1
    # Units not in the files whose path changed because an ancestor moved.
    in_file = {u.code for u in units}
    for code, old in stored.items():
        if code not in in_file and placed[code] != (old.path, old.depth):
            path, depth = placed[code]
            updates.append({"id": old.id, "path": path, "depth": depth, "updated_at": now, "version": old.version + 1})
    if inserts:
        inserts.sort(key=lambda row: row[7])  # parents before children, whatever the order of the file: each chunk's references resolve
        columns = ("id", "code", "name", "search_name", "kind", "parent_id", "path", "depth", "version", "created_at", "updated_at")
        await copy_rows(session, Unit.__table__, columns, inserts)
        if session.bind.dialect.name == "postgresql":
            await session.execute(text("SELECT setval(pg_get_serial_sequence('units', 'id'), (SELECT max(id) FROM units))"))
    if updates:  # by primary key, in batches (an IN list of every moved unit would outgrow SQLite's bound parameters)
        await session.execute(update(Unit), updates)
    report.units_created, report.units_updated = len(inserts), len(updates)


class _Folder(dict[str, str]):
    """fold() of each distinct name once: an import repeats the same names (cells, villages, people) many times."""

    def __missing__(self, name: str) -> str:
        value = self[name] = fold(name)
        return value

    def __call__(self, name: str) -> str:
        return self[name]

    def user(self, username: str, full_name: str) -> str:
        """user_search_name(), by parts: a username (lower-case ASCII, no space) folds to itself."""
        if not (username.isascii() and username.islower() and " " not in username):
            return user_search_name(username, full_name)
        name = self[full_name]
        return f"{username} {name}" if name else username


async def _write_users(session: AsyncSession, bundle: Bundle, report: ImportReport, now: datetime) -> None:
    if not bundle.users:
        return
    unit_ids = dict((await session.execute(select(Unit.code, Unit.id))).all())
    stored = {u.username: u for u in (await session.execute(select(User.id, User.username, User.full_name, User.unit_id, User.version))).all()}
    folded = _Folder()
    inserts: list[tuple[Any, ...]] = []
    updates: list[dict[str, Any]] = []
    for record in bundle.users:
        unit_id = unit_ids[record.unit_code]
        old = stored.get(record.username)
        if old is None:
            inserts.append((record.username, record.full_name, folded.user(record.username, record.full_name), unit_id, None, True, 1, now, now))
        elif (old.full_name, old.unit_id) != (record.full_name, unit_id):
            updates.append({
                "id": old.id, "full_name": record.full_name, "search_name": folded.user(record.username, record.full_name),
                "unit_id": unit_id, "updated_at": now, "version": old.version + 1,
            })
        else:
            report.users_unchanged += 1
    del stored
    if inserts:
        columns = ("username", "full_name", "search_name", "unit_id", "password_hash", "active", "version", "created_at", "updated_at")
        await copy_rows(session, User.__table__, columns, inserts)
    if updates:
        await session.execute(update(User), updates)
    report.users_created, report.users_updated = len(inserts), len(updates)
    del inserts, updates

    user_ids = dict((await session.execute(select(User.username, User.id))).all())
    wanted = {(user_ids[r.username], r.role, unit_ids[r.unit_code]) for r in bundle.users}
    del user_ids, unit_ids
    # Grants the import made are the file's to decide: a user moved or given another role in
    # users.csv loses its old imported grant; grants made through the API or the CLI stay.
    file_users = {user_id for user_id, _, _ in wanted}
    existing = (await session.execute(select(Grant.id, Grant.user_id, Grant.role, Grant.unit_id, Grant.source))).all()
    present = {(g.user_id, g.role, g.unit_id) for g in existing}
    stale = [g.id for g in existing if g.source == "import" and g.user_id in file_users and (g.user_id, g.role, g.unit_id) not in wanted]
    missing = sorted(wanted - present)
    if stale:
        await session.execute(delete(Grant).where(Grant.id.in_(stale)))
    if missing:
        await copy_rows(session, Grant.__table__, ("user_id", "role", "unit_id", "created_at", "source"), [(u, r, n, now, "import") for u, r, n in missing])
    report.grants_created, report.grants_removed = len(missing), len(stale)
