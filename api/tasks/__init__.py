"""Tasks with milestones, their assignments down the tree, progress reports, extensions and evaluations."""
