"""Packaging: one installed top-level name, `resolute` (pyproject.toml maps it to this folder).

- code: every package under api/ and schema/ (they have an __init__.py), as resolute.api.* and
  resolute.schema.*;
- data: migrations/ (env.py, script.py.mako, versions/*.py, read by alembic by path), policies/
  (the casbin model and policy) and web/ (the page and GraphiQL's files), as the namespace packages
  resolute.migrations, resolute.migrations.versions, resolute.policies, resolute.web and
  resolute.web.vendor; their non-Python files are the package-data of pyproject.toml.

`resolute` itself is deliberately not listed: it is an implicit namespace (the checkout root has no
__init__.py), and listing it would make build_py copy every root-level module (this setup.py) into
the wheel as resolute.setup. Nothing else of the checkout (tests/, bench/, deploy/, var/) ships.
"""

from setuptools import find_namespace_packages, find_packages, setup

CODE = find_packages(include=["api", "api.*", "schema", "schema.*"])
DATA = find_namespace_packages(include=["migrations", "migrations.*", "policies", "web", "web.*"])  # (__pycache__ is always excluded)

setup(packages=[f"resolute.{name}" for name in (*CODE, *DATA)])
