"""GraphQL surface of tasks, milestones, assignments, reports, extensions and evaluations."""
