"""The KPI traffic light, written once as SQL for single measurements and aggregates alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, case

__all__ = ["light"]


def light(kpi: Any, value: Any) -> ColumnElement[str]:
    """green, yellow or red: reaching the yellow threshold is green, the red one yellow, in the KPI's direction.

    `kpi` is the Kpi class, an alias of it, or any columns named direction, yellow_threshold, red_threshold.
    """
    increase = kpi.direction == "increase"
    return case(
        (and_(increase, value >= kpi.yellow_threshold), "green"),
        (and_(increase, value >= kpi.red_threshold), "yellow"),
        (increase, "red"),
        (value <= kpi.yellow_threshold, "green"),
        (value <= kpi.red_threshold, "yellow"),
        else_="red",
    )
