"""The interchange format (FORMAT.md): read, check, and load in bulk."""
