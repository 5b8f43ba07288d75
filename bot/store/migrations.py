"""Bringing a database to the current schema version.

A fresh database gets the current tables with ``metadata.create_all`` and is stamped with
``SCHEMA_VERSION``. An existing one is upgraded step by step: ``UPGRADES[n]`` takes a database
at version ``n - 1`` to version ``n``. To change the schema, change the tables in
``schema.py``, raise ``SCHEMA_VERSION`` and add the matching step.

Migration runs in one transaction, serialised across instances: on PostgreSQL by a
transaction-level advisory lock, on SQLite by ``BEGIN IMMEDIATE`` (see ``database.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, Connection, Table, insert, inspect, select, text, update

from bot.store.schema import metadata, requests, schema_version, sends

SCHEMA_VERSION = 2

#: Key of the PostgreSQL advisory lock held while migrating (any fixed 64-bit number).
_MIGRATION_LOCK = 7_346_115_001


def migrate(conn: Connection) -> int:
    """Create or upgrade the tables; return the schema version now in the database.

    Runs inside the caller's write transaction (``Database.write``).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    found = current_version(conn)
    if found is None:
        metadata.create_all(conn)
        conn.execute(insert(schema_version).values(id=1, version=SCHEMA_VERSION))
        return SCHEMA_VERSION
    if found > SCHEMA_VERSION:
        raise RuntimeError(
            f"the database schema is at version {found}, newer than this bot knows "
            f"({SCHEMA_VERSION}): run the newer release or restore a matching backup"
        )
    for version in range(found + 1, SCHEMA_VERSION + 1):
        UPGRADES[version](conn)
        conn.execute(update(schema_version).values(version=version))
    return SCHEMA_VERSION


def current_version(conn: Connection) -> int | None:
    """The schema version recorded in the database, or None if it has no ledger yet."""
    if not inspect(conn).has_table(schema_version.name):
        return None
    version: int | None = conn.scalar(select(schema_version.c.version))
    return version


def _to_2(conn: Connection) -> None:
    """Part two: origins and threads of requests, instance claims, recipients' labels, and
    the new tables."""
    for table, names in ((requests, ("origin", "thread_ts", "response_url_used")),
                         (sends, ("claimed_by", "label"))):  # fmt: skip
        for name in names:
            _add_column(conn, table, table.c[name])
    metadata.create_all(conn, checkfirst=True)  # creates only the tables that are missing
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_sms_requests_created "
                      "ON sms_requests (created_at)"))  # fmt: skip
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_sms_sends_recipient "
                      "ON sms_sends (recipient, updated_at)"))  # fmt: skip


def _add_column(conn: Connection, table: Table, column: Column[Any]) -> None:
    kind = column.type.compile(dialect=conn.dialect)
    null = "" if column.nullable else " NOT NULL"
    default = f" DEFAULT {_sql_default(column)}" if column.server_default is not None else ""
    conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}{null}{default}"))


def _sql_default(column: Column[Any]) -> str:
    arg = getattr(column.server_default, "arg", None)
    return f"'{arg}'" if isinstance(arg, str) else str(arg)


#: Steps keyed by the version they lead to; each gets the connection inside the migration.
UPGRADES: dict[int, Callable[[Connection], None]] = {2: _to_2}
