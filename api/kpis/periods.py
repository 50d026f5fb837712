"""Reporting periods: '2025-07' (monthly), '2025-Q3' (quarterly), '2025' (yearly)."""

from __future__ import annotations

import re
from datetime import date

__all__ = ["period_problem", "period_start"]

_FORMATS = {
    "monthly": (re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"), "YYYY-MM, e.g. 2025-07"),
    "quarterly": (re.compile(r"^(\d{4})-Q([1-4])$"), "YYYY-Qn, e.g. 2025-Q3"),
    "yearly": (re.compile(r"^(\d{4})$"), "YYYY, e.g. 2025"),
}


def period_start(frequency: str, period: str) -> date | None:
    """The first day of the period, or None if it is not a period of that frequency."""
    pattern, _ = _FORMATS[frequency]
    match = pattern.match(period)
    if match is None:
        return None
    year = int(match.group(1))
    if frequency == "monthly":
        return date(year, int(match.group(2)), 1)
    if frequency == "quarterly":
        return date(year, 3 * (int(match.group(2)) - 1) + 1, 1)
    return date(year, 1, 1)


def period_problem(frequency: str, period: str, today: date) -> tuple[str, str] | None:
    """(code, message) if the period does not fit the frequency or lies in the future; None if fine."""
    start = period_start(frequency, period)
    if start is None:
        return "INVALID", f"a {frequency} KPI is measured per period {_FORMATS[frequency][1]}"
    if start > today:
        return "IN_FUTURE", f"period {period} has not started yet"
    return None
