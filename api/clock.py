"""The date every rule and every write goes by, read in one place (a test moves it here)."""

from __future__ import annotations

from datetime import date

__all__ = ["today"]


def today() -> date:
    """Today's date; each request and each unit of work reads it once."""
    return date.today()
