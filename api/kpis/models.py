"""KPIs, their coordinating units and per-unit targets, measurements and their corrections.

A measurement is one value of a KPI for one unit and one period; correcting it keeps the
earlier value in `measurement_revisions` with who and why, so nothing entered is lost.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Integer, Numeric, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, query_expression

from resolute.api.db import Base, UtcDateTime, utcnow

__all__ = ["DIRECTIONS", "FREQUENCIES", "GROUPS", "DecompositionTarget", "Kpi", "KpiCoordinator", "KpiUnitTarget", "Measurement", "MeasurementRevision", "TargetDecomposition"]

DIRECTIONS = ("increase", "decrease")
GROUPS = ("development", "public_service", "party_building", "anti_corruption")
FREQUENCIES = ("monthly", "quarterly", "yearly")
Amount = Numeric(18, 2)


class Kpi(Base):
    __tablename__ = "kpis"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    resolution_id: Mapped[int] = mapped_column(ForeignKey("resolutions.id"), index=True)
    objective_id: Mapped[int | None] = mapped_column(ForeignKey("objectives.id"), index=True)
    key_result_id: Mapped[int | None] = mapped_column(ForeignKey("key_results.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    search_name: Mapped[str] = mapped_column(String(400))
    unit_of_measure: Mapped[str] = mapped_column(String(40))
    formula: Mapped[str | None] = mapped_column(Text)
    data_source: Mapped[str | None] = mapped_column(String(300))
    direction: Mapped[str] = mapped_column(String(16))
    baseline: Mapped[Decimal] = mapped_column(Amount)
    target: Mapped[Decimal] = mapped_column(Amount)
    yellow_threshold: Mapped[Decimal] = mapped_column(Amount)
    red_threshold: Mapped[Decimal] = mapped_column(Amount)
    kpi_group: Mapped[str] = mapped_column(String(32))
    frequency: Mapped[str] = mapped_column(String(16))
    lead_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, server_default=func.now(), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class KpiCoordinator(Base):
    __tablename__ = "kpi_coordinators"

    kpi_id: Mapped[int] = mapped_column(ForeignKey("kpis.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True, index=True)


class KpiUnitTarget(Base):
    """A unit's own target for a KPI; it also says that unit reports on the KPI."""

    __tablename__ = "kpi_unit_targets"

    kpi_id: Mapped[int] = mapped_column(ForeignKey("kpis.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True, index=True)
    target: Mapped[Decimal | None] = mapped_column(Amount)


class Measurement(Base):
    __tablename__ = "measurements"
    __table_args__ = (UniqueConstraint("kpi_id", "unit_id", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kpi_id: Mapped[int] = mapped_column(ForeignKey("kpis.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    period: Mapped[str] = mapped_column(String(7))  # 2025-07, 2025-Q3 or 2025, as the KPI's frequency says
    value: Mapped[Decimal] = mapped_column(Amount)
    note: Mapped[str | None] = mapped_column(String(1000))
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, server_default=func.now(), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # The traffic light, derived in SQL by the reads (api.kpis.rules); None where the KPI is out of sight.
    light: Mapped[str | None] = query_expression()


class MeasurementRevision(Base):
    """An earlier value of a measurement, kept when it was corrected."""

    __tablename__ = "measurement_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    measurement_id: Mapped[int] = mapped_column(ForeignKey("measurements.id"), index=True)
    value: Mapped[Decimal] = mapped_column(Amount)
    note: Mapped[str | None] = mapped_column(String(1000))
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    replaced_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reason: Mapped[str] = mapped_column(String(1000))


class TargetDecomposition(Base):
    """A KPI's target split over the units below its lead unit for one period (api.kpis.decomposition)."""

    __tablename__ = "target_decompositions"
    __table_args__ = (UniqueConstraint("kpi_id", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kpi_id: Mapped[int] = mapped_column(ForeignKey("kpis.id"), index=True)
    period: Mapped[str] = mapped_column(String(7))
    aggregation: Mapped[str] = mapped_column(String(16))  # how children's targets make their parent's: sum, average, minimum, maximum, share
    status: Mapped[str] = mapped_column(String(16))  # draft (saved as it is) or active (reconciles, locked)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class DecompositionTarget(Base):
    """One unit's target in a decomposition."""

    __tablename__ = "decomposition_targets"

    decomposition_id: Mapped[int] = mapped_column(ForeignKey("target_decompositions.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True, index=True)
    target: Mapped[Decimal] = mapped_column(Amount)
