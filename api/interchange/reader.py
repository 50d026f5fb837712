"""Reading the interchange format (FORMAT.md): units.csv and users.csv, checked line by line.

Reading only parses and checks each row on its own; rules that need the whole tree (unknown
parent, cycle, second root) are checked by the loader against the database as well.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from resolute.api.accounts.service import USERNAME_PATTERN
from resolute.api.org.service import CODE_PATTERN

__all__ = ["Bundle", "InterchangeError", "Problem", "UnitRecord", "UserRecord", "read_dir", "read_rows"]

UNIT_COLUMNS = ("code", "parent_code", "name", "kind")
USER_COLUMNS = ("username", "unit_code", "role", "full_name")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}" if self.line else f"{self.file}: {self.reason}"


class InterchangeError(Exception):
    """The files cannot be imported; nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s): " + "; ".join(map(str, problems[:5])))
        self.problems = problems


@dataclass(frozen=True)
class UnitRecord:
    code: str
    parent_code: str | None
    name: str
    kind: str
    line: int = 0


@dataclass(frozen=True)
class UserRecord:
    username: str
    unit_code: str
    role: str
    full_name: str
    line: int = 0


@dataclass(frozen=True)
class Bundle:
    units: list[UnitRecord]
    users: list[UserRecord]
    notices: list[str]


def read_rows(path: Path, columns: tuple[str, ...], problems: list[Problem]) -> list[tuple[int, dict[str, str]]]:
    """(line, row) pairs of a CSV file with these columns; problems (encoding, header, short rows) are collected."""
    name = path.name
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problems.append(Problem(name, line, f"not UTF-8 ({exc.reason} at byte {exc.start})"))
        return []
    try:
        with io.StringIO(text.removeprefix("\ufeff"), newline="") as handle:
            reader = csv.DictReader(handle)
            header = tuple(reader.fieldnames or ())
            missing = [c for c in columns if c not in header]
            if missing:
                problems.append(Problem(name, 1, f"missing column(s) {', '.join(missing)}; expected {','.join(columns)}"))
                return []
            rows = []
            for record in reader:
                if None in record or any(value is None for value in record.values()):
                    problems.append(Problem(name, reader.line_num, f"expected {len(header)} fields"))
                    continue
                rows.append((reader.line_num, {k: v for k, v in record.items()}))
            return rows
    except csv.Error as exc:
        problems.append(Problem(name, 0, f"not valid CSV: {exc}"))
    return []


def _read_units(path: Path, problems: list[Problem]) -> list[UnitRecord]:
    units: list[UnitRecord] = []
    first_seen: dict[str, int] = {}
    for line, row in read_rows(path, UNIT_COLUMNS, problems):
        code, parent, name, kind = (row[c].strip() for c in UNIT_COLUMNS)
        reasons = []
        if not CODE_PATTERN.match(code):
            reasons.append(f"bad code '{code}'")
        elif code in first_seen:
            reasons.append(f"duplicate code '{code}' (first at line {first_seen[code]})")
        if parent and parent == code:
            reasons.append(f"unit '{code}' is its own parent")
        if not name:
            reasons.append("empty name")
        elif len(name) > 255:
            reasons.append("name longer than 255 characters")
        if not kind:
            reasons.append("empty kind")
        problems.extend(Problem(path.name, line, reason) for reason in reasons)
        if not reasons:
            first_seen[code] = line
            units.append(UnitRecord(code=code, parent_code=parent or None, name=name, kind=kind, line=line))
    return units


def _read_users(path: Path, problems: list[Problem]) -> list[UserRecord]:
    users: list[UserRecord] = []
    first_seen: dict[str, int] = {}
    for line, row in read_rows(path, USER_COLUMNS, problems):
        username, unit_code, role, full_name = (row[c].strip() for c in USER_COLUMNS)
        reasons = []
        if not USERNAME_PATTERN.match(username):
            reasons.append(f"bad username '{username}' (lower-case ASCII letters, digits, '.', '_', '-')")
        elif username in first_seen:
            reasons.append(f"duplicate username '{username}' (first at line {first_seen[username]})")
        if not unit_code:
            reasons.append("empty unit_code")
        if not full_name:
            reasons.append("empty full_name")
        problems.extend(Problem(path.name, line, reason) for reason in reasons)
        if not reasons:
            first_seen[username] = line
            users.append(UserRecord(username=username, unit_code=unit_code, role=role, full_name=full_name, line=line))
    return users


def read_dir(directory: Path) -> Bundle:
    """Parse and check units.csv and users.csv (each optional); the cycle files are read by api.interchange.cycle."""
    if not directory.is_dir():
        raise InterchangeError([Problem(str(directory), 0, "not a directory")])
    problems: list[Problem] = []
    units_path, users_path = directory / "units.csv", directory / "users.csv"
    if not any(directory.glob("*.csv")):
        raise InterchangeError([Problem(str(directory), 0, "no file of the interchange format (*.csv) is there")])
    units = _read_units(units_path, problems) if units_path.exists() else []
    users = _read_users(users_path, problems) if users_path.exists() else []
    if problems:
        raise InterchangeError(problems)
    return Bundle(units=units, users=users, notices=[])
