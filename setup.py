"""Packaging: every package under api/ and schema/ is found and installed as resolute.api.* and
resolute.schema.* (pyproject.toml maps the top-level name `resolute` to this folder)."""

from setuptools import find_packages, setup

setup(packages=["resolute", *(f"resolute.{name}" for name in find_packages(include=["api", "api.*", "schema", "schema.*"]))])
