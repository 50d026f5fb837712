"""Alembic driven from code, so `resolute migrate` needs no alembic.ini and no working directory."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from resolute.api.settings import ROOT, Settings

__all__ = ["alembic_config", "downgrade", "ensure_sqlite_dir", "upgrade"]


def ensure_sqlite_dir(settings: Settings) -> None:
    """Create the folder of a SQLite file database, so the default works on a fresh clone."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    ensure_sqlite_dir(settings)
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(settings), revision)
