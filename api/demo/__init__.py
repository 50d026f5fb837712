"""Demo data. generator.py is a copy of the project's data set generator (shared/dataset/gen.py),
kept here so that `resolute demo` needs nothing outside the repository."""
