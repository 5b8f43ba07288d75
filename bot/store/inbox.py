"""SMS coming back, in the ledger (the core's ``InboundLedger``).

An incoming SMS is claimed by its history entry id (unique: shown exactly once, across
restarts and instances) in one transaction with everything it changes: its conversation (the
thread of the latest request that texted the number within the conversation days, else the
number's inbox thread while it is young enough, else a new one), an opt-out or opt-in, and its
status post.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, func, insert, select, update

from bot.core import Conversation, Inbound, IncomingSms, Opt, State, StatusKind, StatusPost
from bot.store import optouts
from bot.store.database import Database
from bot.store.outbox import Recorded
from bot.store.queries import dialect_insert
from bot.store.schema import bot_state, conversations, inbound_sms, requests, sends

T = TypeVar("T")

STARTED = "inbox_started_at"
WATERMARK = "inbox_watermark"
_REACHED = (State.ACCEPTED, State.UNKNOWN)  # "an SMS went to that number"
_NUMBER_LOCKS = 73461150  # first key of the (int4, int4) advisory locks routing by number (PG)


class Recorder(Protocol):
    """What the inbox needs of the ledger: its database, clock and status recording."""

    database: Database

    def now(self) -> datetime: ...

    def record(self, conn: Connection, posts: list[StatusPost], post: Recorded) -> None: ...

    async def write_recording(self, work: Callable[[Connection, list[StatusPost]], T]) -> T: ...


class SqlInbox:
    """The ``InboundLedger`` on the ledger's database (its posts go through the ledger)."""

    def __init__(self, ledger: Recorder) -> None:
        self._ledger = ledger
        self._database = ledger.database

    async def start_inbox(self, now: datetime) -> datetime:
        def work(conn: Connection) -> datetime:
            _put(conn, STARTED, now.isoformat(), now, keep=True)
            return datetime.fromisoformat(str(_get(conn, STARTED)))

        return await self._database.write(work)

    async def inbox_watermark(self) -> datetime | None:
        found = await self._database.read(lambda conn: _get(conn, WATERMARK))
        return None if found is None else datetime.fromisoformat(found)

    async def set_inbox_watermark(self, at: datetime) -> None:
        await self._database.write(lambda conn: _put(conn, WATERMARK, at.isoformat(), at))

    async def claimed(self, entry_ids: Sequence[str]) -> set[str]:
        if not entry_ids:
            return set()
        stmt = select(inbound_sms.c.entry_id).where(inbound_sms.c.entry_id.in_(list(entry_ids)))
        return await self._database.read(lambda conn: set(conn.scalars(stmt)))

    async def receive(
        self,
        sms: IncomingSms,
        number: str,
        contact_name: str | None,
        opt: Opt | None,
        *,
        inbox_channel: str,
        conversation_days: int,
    ) -> Inbound | None:
        def work(conn: Connection, posts: list[StatusPost]) -> Inbound | None:
            now = self._ledger.now()
            inbound_id = _claim(conn, sms, number, contact_name, opt, now)
            if inbound_id is None:
                return None
            since = now - timedelta(days=conversation_days)
            conversation = _route(conn, number, inbox_channel, since, now)
            inbound = _shown_in(conn, inbound_id, sms, contact_name, opt, conversation)
            optouts.apply(conn, number, opt, sms.text, now)
            post = Recorded(StatusKind.INBOUND, None, detail=str(inbound.id),
                            conversation_id=conversation.id)  # fmt: skip
            self._ledger.record(conn, posts, post)
            return inbound

        return await self._ledger.write_recording(work)

    async def inbound(self, inbound_id: int) -> Inbound | None:
        return await self._database.read(lambda conn: _inbound(conn, inbound_id))

    async def conversation_at(self, channel_id: str, thread_ts: str) -> Conversation | None:
        where = (conversations.c.channel_id == channel_id) & (
            conversations.c.thread_ts == thread_ts
        )
        stmt = select(conversations).where(where).order_by(conversations.c.id.desc()).limit(1)
        return await self._database.read(lambda conn: _one(conn, stmt))

    async def conversation(self, conversation_id: int) -> Conversation | None:
        stmt = select(conversations).where(conversations.c.id == conversation_id)
        return await self._database.read(lambda conn: _one(conn, stmt))

    async def set_conversation_thread(self, conversation_id: int, thread_ts: str) -> None:
        stmt = (
            update(conversations)
            .where(conversations.c.id == conversation_id)
            .values(thread_ts=thread_ts)
        )
        await self._database.write(lambda conn: conn.execute(stmt))

    async def move_to_inbox(self, conversation_id: int, inbox_channel: str) -> Conversation:
        """In place: later SMS of the same request thread find it in the inbox too."""
        this = conversations.c.id == conversation_id
        moved = update(conversations).where(this).values(channel_id=inbox_channel, thread_ts=None)

        def work(conn: Connection) -> Conversation:
            conn.execute(moved)
            found = _one(conn, select(conversations).where(this))
            if found is None:
                raise LookupError(f"no conversation {conversation_id}")
            return found

        return await self._database.write(work)


def _route(
    conn: Connection, number: str, inbox: str, since: datetime, now: datetime
) -> Conversation:
    """The conversation an SMS from ``number`` goes to (its last activity moved to now)."""
    _lock_number(conn, number)
    thread = _latest_request_thread(conn, number, since)
    found = _request_conversation(conn, thread, number, now) if thread else None
    found = found or _inbox_conversation(conn, number, inbox, since)
    found = found or _new_conversation(conn, number, inbox, None, None, now)
    stmt = update(conversations).where(conversations.c.id == found.id)
    conn.execute(stmt.values(last_activity_at=now))
    return found


def _lock_number(conn: Connection, number: str) -> None:
    """Route one SMS of ``number`` at a time (until the commit), so that two instances
    receiving two SMS of a new number at once find one conversation, not start two.
    (SQLite runs one write transaction at a time anyway.)"""
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(number.encode()) - 2**31  # PostgreSQL's int4
        conn.execute(select(func.pg_advisory_xact_lock(_NUMBER_LOCKS, key)))


def _latest_request_thread(
    conn: Connection, number: str, since: datetime
) -> tuple[int, str, str] | None:
    """The latest request that texted ``number`` since ``since`` and is shown in a thread."""
    thread = func.coalesce(requests.c.thread_ts, requests.c.status_ts)
    stmt = (
        select(requests.c.id, requests.c.status_channel, thread)
        .join_from(sends, requests, sends.c.request_id == requests.c.id)
        .where(
            sends.c.recipient == number,
            sends.c.state.in_(_REACHED),
            sends.c.updated_at >= since,
            requests.c.status_ts.is_not(None),
        )
        .order_by(requests.c.id.desc())
        .limit(1)
    )
    row = conn.execute(stmt).first()
    return None if row is None else (row[0], row[1], row[2])


def _request_conversation(
    conn: Connection, thread: tuple[int, str, str], number: str, now: datetime
) -> Conversation:
    request_id, channel, ts = thread
    stmt = select(conversations).where(
        conversations.c.request_id == request_id, conversations.c.number == number
    )
    return _one(conn, stmt) or _new_conversation(conn, number, channel, ts, request_id, now)


def _inbox_conversation(
    conn: Connection, number: str, inbox: str, since: datetime
) -> Conversation | None:
    stmt = (
        select(conversations)
        .where(
            conversations.c.number == number,
            conversations.c.channel_id == inbox,
            conversations.c.request_id.is_(None),
            conversations.c.started_at >= since,
        )
        .order_by(conversations.c.id.desc())
        .limit(1)
    )
    return _one(conn, stmt)


def _new_conversation(
    conn: Connection,
    number: str,
    channel: str,
    thread_ts: str | None,
    request_id: int | None,
    now: datetime,
) -> Conversation:
    values = {"number": number, "channel_id": channel, "thread_ts": thread_ts,
              "request_id": request_id, "started_at": now, "last_activity_at": now}  # fmt: skip
    new_id = _inserted(conn, conversations, values)
    return Conversation(new_id, number, channel, thread_ts, request_id)


def _inserted(conn: Connection, table: Any, values: dict[str, Any]) -> int:
    """Insert one row; its id."""
    new_id: int = conn.execute(insert(table).values(values).returning(table.c.id)).scalar_one()
    return new_id


def _claim(
    conn: Connection,
    sms: IncomingSms,
    number: str,
    contact_name: str | None,
    opt: Opt | None,
    now: datetime,
) -> int | None:
    """Claim the entry: its row, or None when it was claimed before.

    The claim is the transaction's first write and does nothing on a conflict: an instance
    claiming the same entry at the same time waits for this transaction and then finds it
    taken, instead of failing on the unique entry id.
    """
    values = {
        "entry_id": sms.entry_id,
        "source": number,
        "target": sms.target,
        "text": sms.text,
        "sent_at": sms.sent_at,
        "received_at": now,
        "contact_name": contact_name,
        "opt": opt,
    }
    stmt = dialect_insert(conn)(inbound_sms).values(values)
    stmt = stmt.on_conflict_do_nothing(index_elements=[inbound_sms.c.entry_id])
    found: int | None = conn.execute(stmt.returning(inbound_sms.c.id)).scalar()
    return found


def _shown_in(
    conn: Connection,
    inbound_id: int,
    sms: IncomingSms,
    contact_name: str | None,
    opt: Opt | None,
    conversation: Conversation,
) -> Inbound:
    """The claimed SMS belongs to ``conversation``."""
    stmt = update(inbound_sms).where(inbound_sms.c.id == inbound_id)
    conn.execute(stmt.values(conversation_id=conversation.id))
    number = conversation.number
    return Inbound(inbound_id, number, sms.text, sms.sent_at, contact_name, opt, conversation)


def _inbound(conn: Connection, inbound_id: int) -> Inbound | None:
    row = conn.execute(select(inbound_sms).where(inbound_sms.c.id == inbound_id)).first()
    if row is None:
        return None
    stmt = select(conversations).where(conversations.c.id == row.conversation_id)
    conversation = _one(conn, stmt)
    if conversation is None:
        return None
    return Inbound(row.id, row.source, row.text, row.sent_at, row.contact_name, row.opt,
                   conversation)  # fmt: skip


def _one(conn: Connection, stmt: Any) -> Conversation | None:
    row = conn.execute(stmt).first()
    if row is None:
        return None
    return Conversation(row.id, row.number, row.channel_id, row.thread_ts, row.request_id)


def _get(conn: Connection, key: str) -> str | None:
    found: str | None = conn.scalar(select(bot_state.c.value).where(bot_state.c.key == key))
    return found


def _put(conn: Connection, key: str, value: str, now: datetime, *, keep: bool = False) -> None:
    """Store ``value`` under ``key``; with ``keep``, only if nothing is stored yet."""
    stmt = dialect_insert(conn)(bot_state).values(key=key, value=value, updated_at=now)
    if keep:
        conn.execute(stmt.on_conflict_do_nothing(index_elements=[bot_state.c.key]))
        return
    changed = {"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at}
    conn.execute(stmt.on_conflict_do_update(index_elements=[bot_state.c.key], set_=changed))
