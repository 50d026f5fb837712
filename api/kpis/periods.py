"""Reporting periods: '2025-07' (monthly), '2025-Q3' (quarterly), '2025' (yearly); a period lies within a longer one
(July within Q3 within 2025), which is how an approval of a quarter covers the monthly measurements of its months."""

from __future__ import annotations

import re
from datetime import date, timedelta

__all__ = ["PERIOD_FORMS", "is_period", "period_bounds", "period_problem", "period_start", "periods_containing", "periods_within"]

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


def period_bounds(period: str) -> tuple[date, date] | None:
    """[first day, first day of the next period) of a month, quarter or year; None if it is none of them."""
    for frequency, months in (("monthly", 1), ("quarterly", 3), ("yearly", 12)):
        start = period_start(frequency, period)
        if start is not None:
            index = start.month - 1 + months
            return start, date(start.year + index // 12, index % 12 + 1, 1)
    return None


PERIOD_FORMS = "a month (2025-09), a quarter (2025-Q3) or a year (2025)"  # what a period argument may be


def is_period(text: str) -> bool:
    """A month, a quarter or a year (any frequency's period)."""
    return len(text) <= 7 and period_bounds(text) is not None


def _names(day: date) -> tuple[str, str, str]:
    """The month, quarter and year a day lies in."""
    return f"{day.year:04d}-{day.month:02d}", f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}", f"{day.year:04d}"


def periods_within(period: str) -> tuple[str, ...]:
    """Every period lying within `period`, itself included (2025-Q3: its three months and itself), sorted."""
    bounds = period_bounds(period)
    if bounds is None:
        return ()
    start, end = bounds
    found: set[str] = set()
    day = start
    while day < end:
        for name in _names(day):  # its month, quarter and year, each if it lies wholly within [start, end)
            first, after = period_bounds(name)  # type: ignore[misc]
            if start <= first and after <= end:
                found.add(name)
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return tuple(sorted(found))


def periods_containing(period_or_day: str | date) -> tuple[str, ...]:
    """The periods a day, or a period, lies within, itself included (2025-07: 2025-07, 2025-Q3, 2025)."""
    if isinstance(period_or_day, date):
        return _names(period_or_day)
    bounds = period_bounds(period_or_day)
    if bounds is None:
        return ()
    return tuple(p for p in _names(bounds[0]) if period_bounds(p)[1] >= bounds[1])  # type: ignore[index]
