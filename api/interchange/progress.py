"""Progress of an import: one line per phase or file, with its counts and times, for whoever listens."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Progress"]


class Progress:
    """Call it with what a phase did ("assignments.csv: 738,888 rows read"); it adds the phase's time
    and the time since the start, and hands the line on (the CLI prints it on stderr)."""

    def __init__(self, emit: Callable[[str], None] | None = None) -> None:
        self._emit = emit
        self._started = self._last = time.perf_counter()

    def __call__(self, what: str) -> None:
        now = time.perf_counter()
        if self._emit is not None:
            self._emit(f"{what}, {now - self._last:.1f} s (at {now - self._started:.1f} s)")
        self._last = now
