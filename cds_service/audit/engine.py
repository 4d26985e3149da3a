"""Database engines for the audit store: SQLite (WAL, busy timeout) or PostgreSQL (psycopg 3).

SQLite needs two fixes to behave like a database: WAL so readers never wait for the writer,
and ``BEGIN IMMEDIATE`` for writes so two writers queue at the start of their transactions
instead of failing half-way. pysqlite's own transaction handling is switched off so that
SQLAlchemy's BEGIN is the one SQLite sees.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url

SQLITE_BUSY_TIMEOUT_MS = 10_000
CONNECT_TIMEOUT_S = 2  # a store that cannot be reached fails fast: the caller answers no cards
WRITE = {"audit_write": True}  # execution option: this transaction appends to the chain


def json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(database_url: str) -> Engine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    return create_engine(
        url,
        json_serializer=json_dumps,
        json_deserializer=orjson.loads,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        pool_timeout=CONNECT_TIMEOUT_S,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
    )


def sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL; None for in-memory databases."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database)


def ensure_sqlite_directory(database_url: str) -> None:
    """The default URL points under ./var/, which a fresh checkout does not have."""
    path = sqlite_file(make_url(database_url))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(
        url,
        json_serializer=json_dumps,
        json_deserializer=orjson.loads,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event emits BEGIN itself
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=FULL")  # an answered card's record survives power loss
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get("audit_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
