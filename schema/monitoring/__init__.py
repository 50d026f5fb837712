"""GraphQL for monitoring: progress rollups, per-child tables and rankings."""
