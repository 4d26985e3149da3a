"""Alembic environment for the audit store.

Run by ``upgrade_database`` (cli.py), which passes the database URL in
``config.attributes["database_url"]`` so that URLs with ``%`` need no escaping. Uses the store's
own engine factory so SQLite gets WAL and the busy timeout from the first connection.
"""

from __future__ import annotations

from alembic import context

from cds_service.audit.engine import make_engine
from cds_service.audit.schema import metadata

config = context.config


def _database_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: set CDS_DATABASE_URL or sqlalchemy.url")
    return str(url)


def run_migrations_offline() -> None:
    context.configure(url=_database_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_database_url())
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=connection.dialect.name == "sqlite",
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
