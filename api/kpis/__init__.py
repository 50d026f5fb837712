"""KPIs (indicators with thresholds) and their measurements, with corrections kept."""
