"""The cycle files' columns and the field checks every file shares, each naming file, line and field."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from resolute.api.interchange.reader import Problem
from resolute.api.kpis.service import LIMIT

__all__ = ["CYCLE_FILES", "FORMAT_STATUSES", "PROBLEMS_KEPT", "Checker", "CycleReport", "stored_status"]

CYCLE_FILES: dict[str, tuple[str, ...]] = {
    "resolutions.csv": ("code", "title", "issuing_unit_code", "issued_on", "implements_code"),
    "objectives.csv": ("code", "resolution_code", "title"),
    "kpis.csv": ("code", "resolution_code", "objective_code", "name", "unit_of_measure", "direction", "baseline", "target", "yellow_threshold", "red_threshold", "kpi_group", "frequency", "lead_unit_code"),
    "tasks.csv": ("code", "resolution_code", "parent_task_code", "title", "lead_unit_code", "start_on", "due_on", "kpi_code"),
    "task_coordinators.csv": ("task_code", "unit_code"),
    "milestones.csv": ("task_code", "title", "due_on", "done_on"),
    "assignments.csv": ("code", "task_code", "assignee_unit_code", "assigner_unit_code", "raci", "assigned_on", "due_on", "status", "progress", "completed_on"),
    "progress_reports.csv": ("assignment_code", "reported_on", "progress", "status", "note", "reporter_username"),
    "measurements.csv": ("kpi_code", "unit_code", "period", "value"),
}
FORMAT_STATUSES = ("not_started", "in_progress", "completed", "overdue", "cancelled")
PROBLEMS_KEPT = 10_000  # per file: a refusal names the first ones (in line order), never a million


@dataclass
class CycleReport:
    """Rows created and updated per table; its lines are what `resolute import` prints."""

    created: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    updated: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def lines(self) -> list[str]:
        tables = sorted(set(self.created) | set(self.updated))
        return [f"{t}: {self.created.get(t, 0)} created, {self.updated.get(t, 0)} updated" for t in tables]

    def changed(self) -> bool:
        return any(self.created.values()) or any(self.updated.values())


def stored_status(status: str, progress: int) -> str:
    """The format's 'overdue' is derived at read time here, never stored."""
    if status == "overdue":
        return "in_progress" if progress > 0 else "not_started"
    return status


class Checker:
    """Collects file:line problems while converting fields (the first PROBLEMS_KEPT of each file)."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.counts: Counter[str] = Counter()

    def append(self, problem: Problem) -> None:
        """A problem found by the reader (so `stream_rows` may report into a Checker as into a list)."""
        self.add(problem.file, problem.line, problem.reason)

    def add(self, file: str, line: int, reason: str) -> None:
        self.counts[file] += 1
        if self.counts[file] <= PROBLEMS_KEPT:
            self.problems.append(Problem(file, line, reason))

    def date(self, file: str, line: int, value: str, name: str, *, optional: bool = False) -> date | None:
        if not value and optional:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.add(file, line, f"{name} '{value}' is not a date (YYYY-MM-DD)")
            return None

    def decimal(self, file: str, line: int, value: str, name: str) -> Decimal | None:
        try:
            amount = Decimal(value)
            if amount.is_finite() and abs(amount) < LIMIT:
                return amount
        except (InvalidOperation, ValueError):
            pass
        self.add(file, line, f"{name} '{value}' is not a number")
        return None

    def percent(self, file: str, line: int, value: str, name: str) -> int | None:
        if value.isdecimal() and 0 <= int(value) <= 100:  # isdecimal: int() reads every such string
            return int(value)
        self.add(file, line, f"{name} '{value}' is not a whole percentage 0-100")
        return None

    def choice(self, file: str, line: int, value: str, name: str, allowed: Iterable[str]) -> str | None:
        if value in allowed:
            return value
        self.add(file, line, f"{name} '{value}' is not one of {', '.join(allowed)}")
        return None

    def ref(self, file: str, line: int, value: str, name: str, known: dict[str, Any] | set[str], *, optional: bool = False) -> Any:
        if not value:
            if not optional:
                self.add(file, line, f"empty {name}")
            return None
        if value not in known:
            self.add(file, line, f"unknown {name} '{value}'")
            return None
        return known[value] if isinstance(known, dict) else value
