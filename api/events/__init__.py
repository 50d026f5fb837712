"""Live events: what committed, handed from the unit of work's after-commit hook to the subscribers of every process."""
