"""Reading the interchange format (FORMAT.md): units.csv and users.csv, checked line by line.

Reading only parses and checks each row on its own; rules that need the whole tree (unknown
parent, cycle, second root) are checked by the loader against the database as well.
"""

from __future__ import annotations

import codecs
import csv
import operator
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from resolute.api.accounts.service import USERNAME_PATTERN
from resolute.api.org.service import CODE_PATTERN

__all__ = ["Bundle", "InterchangeError", "Problem", "ProblemSink", "UnitRecord", "UserRecord", "read_dir", "read_rows", "stream_rows"]

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


class ProblemSink(Protocol):
    """Where a reader puts the problems it finds: a list, or a checker that keeps the first ones of each file."""

    def append(self, problem: Problem, /) -> None: ...


@dataclass(frozen=True, slots=True)
class UnitRecord:
    code: str
    parent_code: str | None
    name: str
    kind: str
    line: int = 0


@dataclass(frozen=True, slots=True)
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


def stream_rows(path: Path, columns: tuple[str, ...], problems: ProblemSink) -> Iterator[tuple[int, Sequence[str]]]:
    """(line, fields in the order of `columns`) for each row of a CSV file, read as it goes, so that a
    file of millions of rows never sits in memory. Problems (encoding, header, rows of the wrong
    length) are collected; a file that is not UTF-8 or not CSV stops at its first bad byte or quote."""
    name = path.name
    with path.open(encoding="utf-8-sig", newline="") as handle:  # utf-8-sig: a leading BOM is dropped
        reader = csv.reader(handle)
        try:
            header = next(reader, [])
            missing = [c for c in columns if c not in header]
            if missing:
                problems.append(Problem(name, 1, f"missing column(s) {', '.join(missing)}; expected {','.join(columns)}"))
                return
            width = len(header)
            pick = None if tuple(header) == columns else operator.itemgetter(*(header.index(c) for c in columns))
            for row in reader:
                if len(row) != width:
                    if row:  # a blank line is no row, as csv.DictReader has it
                        problems.append(Problem(name, reader.line_num, f"expected {width} fields"))
                elif pick is None:
                    yield reader.line_num, row
                else:
                    picked = pick(row)
                    yield reader.line_num, picked if isinstance(picked, tuple) else (picked,)
        except UnicodeDecodeError:
            problems.append(_not_utf8(path))
        except csv.Error as exc:
            problems.append(Problem(name, reader.line_num, f"not valid CSV: {exc}"))


def _not_utf8(path: Path) -> Problem:
    """Where a file stops being UTF-8: read again in binary, a block at a time (the error case only)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines = 0, 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                # the decoder may hold back the bytes of an unfinished character from the block before
                position = max(exc.start - len(exc.object) + len(block), 0)
                line = lines + block.count(b"\n", 0, position) + 1
                return Problem(path.name, line, f"not UTF-8 ({exc.reason} at byte {offset + position})")
            offset += len(block)
            lines += block.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return Problem(path.name, lines + 1, f"not UTF-8 ({exc.reason} at byte {offset})")
    return Problem(path.name, 0, "not UTF-8")


def read_rows(path: Path, columns: tuple[str, ...], problems: list[Problem]) -> list[tuple[int, dict[str, str]]]:
    """(line, row) pairs of a small CSV file with these columns; problems (encoding, header, short rows) are collected."""
    return [(line, dict(zip(columns, fields, strict=True))) for line, fields in stream_rows(path, columns, problems)]


def _read_units(path: Path, problems: list[Problem]) -> list[UnitRecord]:
    units: list[UnitRecord] = []
    first_seen: dict[str, int] = {}
    for line, row in stream_rows(path, UNIT_COLUMNS, problems):
        code, parent, name, kind = (field.strip() for field in row)
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
    for line, row in stream_rows(path, USER_COLUMNS, problems):
        username, unit_code, role, full_name = (field.strip() for field in row)
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
