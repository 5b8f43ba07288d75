"""A database written by the first release is upgraded in place, its records kept."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
)

from bot.core import OriginKind, State
from bot.store import open_ledger
from bot.store.database import Database, connect
from bot.store.migrations import SCHEMA_VERSION
from bot.store.types import UtcDateTime
from bot.store.url import database_url_for

V1 = MetaData()
Table(
    "sms_requests",
    V1,
    Column("id", Integer, primary_key=True),
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
    Column("scheduler", String(16), nullable=False),
    Column("status_channel", String(64)),
    Column("status_ts", String(64)),
    Column("created_at", UtcDateTime, nullable=False),
)
Table(
    "sms_sends",
    V1,
    Column("id", Integer, primary_key=True),
    Column("request_id", Integer, ForeignKey("sms_requests.id"), nullable=False),
    Column("recipient", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("sipgate_status", Integer),
    Column("error_kind", String(64)),
    Column("claimed_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime),
    UniqueConstraint("request_id", "recipient"),
)
Table(
    "sms_events",
    V1,
    Column("id", Integer, primary_key=True),
    Column("send_id", Integer, ForeignKey("sms_sends.id"), nullable=False),
    Column("state", String(16), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("detail", Text),
)
Table(
    "schema_version",
    V1,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
    CheckConstraint("id = 1"),
)

WHEN = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


async def write_first_release_database(database: Database) -> None:
    def work(conn: object) -> None:
        V1.create_all(conn)  # type: ignore[arg-type]
        tables = V1.tables
        execute = conn.execute  # type: ignore[attr-defined]
        execute(insert(tables["schema_version"]).values(id=1, version=1))
        execute(insert(tables["sms_requests"]).values(
            id=1, interaction_key="command:T1", team_id="T", user_id="U_ALICE",
            channel_id="C_GENERAL", message="Hello", sms_id="s0", segments=1,
            requested_at=WHEN, scheduler="bot", status_channel="C_GENERAL",
            status_ts="1700000000.000100", created_at=WHEN,
        ))  # fmt: skip
        execute(insert(tables["sms_sends"]).values(
            id=1, request_id=1, recipient="+4915112345678", state="accepted",
            updated_at=WHEN, user_id="U_ALICE", requested_at=WHEN,
        ))  # fmt: skip

    await database.write(work)


async def test_a_first_release_database_is_upgraded_and_keeps_its_records(
    ledger_url: str,
) -> None:
    database = connect(database_url_for(ledger_url))
    await write_first_release_database(database)
    await database.close()

    ledger = await open_ledger(ledger_url)
    try:
        assert await ledger.schema_version() == SCHEMA_VERSION
        request = await ledger.get_request(1)
        assert request is not None
        assert (request.message, request.status_ts) == ("Hello", "1700000000.000100")
        assert (request.origin, request.thread_ts) == (OriginKind.COMMAND, None)
        assert [send.state for send in request.sends] == [State.ACCEPTED]
    finally:
        await ledger.close()
