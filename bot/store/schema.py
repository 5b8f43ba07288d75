"""The ledger's tables and how a database is brought up to the current schema version.

A fresh database gets the current tables with ``metadata.create_all`` and is stamped with
``SCHEMA_VERSION``. An existing one is upgraded step by step: ``UPGRADES[n]`` takes a database
at version ``n - 1`` to version ``n``. To change the schema, change the tables below, raise
``SCHEMA_VERSION`` and add the matching step (e.g. ``UPGRADES[2] = _add_some_column``).

Migration runs in one transaction, serialised across instances: on PostgreSQL by a
transaction-level advisory lock, on SQLite by ``BEGIN IMMEDIATE`` (see ``database.py``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    insert,
    inspect,
    select,
    text,
    update,
)

from bot.core import Scheduler, State, require_aware

SCHEMA_VERSION = 1

#: Steps keyed by the version they lead to; each gets the connection inside the migration.
UPGRADES: dict[int, Callable[[Connection], None]] = {}

#: Key of the PostgreSQL advisory lock held while migrating (any fixed 64-bit number).
_MIGRATION_LOCK = 7_346_115_001


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so the value is stored as
    naive UTC text and read back with ``tzinfo=UTC``. Naive datetimes are refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        require_aware(value)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stored: datetime = value
        return stored.replace(tzinfo=UTC) if stored.tzinfo is None else stored.astimezone(UTC)


E = TypeVar("E", bound=enum.StrEnum)


class _StrEnum(TypeDecorator[E]):
    """A ``StrEnum`` stored as its plain string value (no CHECK: new states need no rebuild)."""

    impl = String(16)
    cache_ok = True

    def __init__(self, enum_type: type[E]) -> None:
        super().__init__()
        self.enum_type = enum_type

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum_type(value).value

    def process_result_value(self, value: Any | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum_type(value)


metadata = MetaData()

#: One row per Slack interaction; ``id`` is the ``#id`` users see.
requests = Table(
    "sms_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("interaction_key", String(255), nullable=False, unique=True),
    Column("team_id", String(64), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("channel_id", String(64), nullable=False),
    Column("response_url", Text),
    Column("message", Text, nullable=False),
    Column("sms_id", String(64), nullable=False),
    Column("segments", Integer, nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("send_at", UtcDateTime),
    Column("scheduler", _StrEnum(Scheduler), nullable=False),
    Column("status_channel", String(64)),
    Column("status_ts", String(64)),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_sms_requests_user", "user_id", "id"),
    sqlite_autoincrement=True,  # never hand out an id twice, even after a delete
)

#: One row per recipient of a request.
#:
#: ``user_id`` and ``requested_at`` are copied from the request on purpose, so the hourly
#: count is one indexed query on this table; ``due_at`` is the request's ``send_at`` for sends
#: the bot holds (NULL otherwise), so the scheduler's "what is due" is one indexed query too.
#: All three are written once, when the send is created, and never change.
sends = Table(
    "sms_sends",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", Integer, ForeignKey("sms_requests.id"), nullable=False),
    Column("recipient", String(32), nullable=False),
    Column("state", _StrEnum(State), nullable=False),
    Column("sipgate_status", Integer),
    Column("error_kind", String(64)),
    Column("claimed_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime),
    UniqueConstraint("request_id", "recipient", name="uq_sms_sends_request_recipient"),
    Index("ix_sms_sends_state_due", "state", "due_at"),
    Index("ix_sms_sends_user_requested", "user_id", "requested_at"),
    sqlite_autoincrement=True,
)

#: One row per transition of a send, its creation included: the audit history.
events = Table(
    "sms_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("send_id", Integer, ForeignKey("sms_sends.id"), nullable=False),
    Column("state", _StrEnum(State), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("detail", Text),
    Index("ix_sms_events_send", "send_id", "id"),
    sqlite_autoincrement=True,
)

#: Exactly one row: the schema version the tables are at.
schema_version = Table(
    "schema_version",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
    CheckConstraint("id = 1", name="ck_schema_version_single_row"),
)


def migrate(conn: Connection) -> int:
    """Create or upgrade the tables; return the schema version now in the database.

    Runs inside the caller's write transaction (``Database.write``).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    return _migrate(conn)


def current_version(conn: Connection) -> int | None:
    """The schema version recorded in the database, or None if it has no ledger yet."""
    if not inspect(conn).has_table(schema_version.name):
        return None
    version: int | None = conn.scalar(select(schema_version.c.version))
    return version


def _migrate(conn: Connection) -> int:
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
