"""Applying the audit store's migrations (Alembic, shipped inside the package).

``serve`` calls ``upgrade_database`` once before workers start, so workers never race to
create tables; tests call it on a fresh database.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from cds_service.audit.engine import ensure_sqlite_directory

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


def upgrade_database(database_url: str) -> None:
    """Bring the audit schema to the newest revision (creating ./var/ for the default SQLite)."""
    ensure_sqlite_directory(database_url)
    command.upgrade(alembic_config(database_url), "head")
