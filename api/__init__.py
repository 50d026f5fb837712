"""Resolute: monitoring how resolutions are carried out, unit by unit, down the organisation tree."""
