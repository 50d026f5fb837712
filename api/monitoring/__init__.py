"""What leaders look at: progress rollups, rankings, KPI status, warnings and reporting discipline, all in SQL over the caller's scope."""
