"""The compiled read path: a covered query becomes one SQL statement per root field (PostgreSQL)."""
