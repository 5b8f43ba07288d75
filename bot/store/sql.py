"""The ledger on SQLite (aiosqlite) or PostgreSQL (asyncpg), with SQLAlchemy async Core.

Concurrency, so that several instances can share one database:

* PostgreSQL: ``open_request`` takes a per-user advisory lock for its count-then-insert;
  ``claim_due`` claims with ``FOR UPDATE SKIP LOCKED``; every other change is one conditional
  ``UPDATE … RETURNING``, so a concurrent change wins or loses cleanly.
* SQLite: every write transaction starts with ``BEGIN IMMEDIATE`` (one writer at a time, also
  across processes on the same file, waiting up to ``SQLITE_BUSY_TIMEOUT`` for the lock);
  reads use a plain deferred ``BEGIN``. The file runs in WAL mode so reads never wait.

Messages are stored (the audit trail needs them) and never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, event, func, make_url, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from bot.records import Event, RequestDraft, SmsRequest, State
from bot.store import queries as q
from bot.store.base import (
    CancelOutcome,
    CancelResult,
    Duplicate,
    Ledger,
    Opened,
    OpenResult,
    OverLimit,
    Usage,
)
from bot.store.schema import events, migrate, requests, sends
from bot.store.url import database_url_for, redact_url

log = logging.getLogger(__name__)

#: Seconds a SQLite connection waits for another writer (another instance, the same file).
SQLITE_BUSY_TIMEOUT = 30

#: What ``finish`` may move a ``sending`` send to.
FINISHED_STATES = frozenset({State.ACCEPTED, State.FAILED, State.UNKNOWN, State.CANCELLED})

_READ_ONLY = "ledger_read_only"  # execution option: SQLite reads begin DEFERRED
_USER_LOCK = text("SELECT pg_advisory_xact_lock(hashtext(:key))")


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def open_ledger(
    database_url: str | None, *, clock: Callable[[], datetime] = _utcnow
) -> SqlLedger:
    """Connect to ``DATABASE_URL`` (any form people write), create or upgrade the schema."""
    url = database_url_for(database_url)
    engine = _create_engine(url)
    try:
        version = await migrate(engine)
    except BaseException:
        await engine.dispose()
        raise
    log.info("ledger ready on %s (schema version %d)", redact_url(url), version)
    return SqlLedger(engine, clock=clock)


class SqlLedger(Ledger):
    """The ``Ledger`` on a SQLAlchemy async engine (it owns the engine and disposes it)."""

    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._engine = engine
        self._reader = engine.execution_options(**{_READ_ONLY: True})
        self._postgres = engine.dialect.name == "postgresql"
        # PostgreSQL serialises what must be serialised itself (row locks, advisory locks).
        self._write_lock = contextlib.nullcontext() if self._postgres else asyncio.Lock()
        self._user_locks: dict[str, asyncio.Lock] = {}
        self._clock = clock

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def open_request(self, draft: RequestDraft, *, hourly_limit: int) -> OpenResult:
        _check_draft(draft)
        try:
            # One user's requests queue here, not while holding a pooled connection: a burst
            # from one user must not take every connection while it waits for the user's lock.
            async with self._user_lock(draft.user_id), self._write() as conn:
                if self._postgres:
                    await conn.execute(_USER_LOCK, {"key": f"sms-user:{draft.user_id}"})
                return await self._insert(conn, draft, hourly_limit)
        except _OverLimitError as refused:  # the transaction was rolled back: nothing stored
            return refused.result

    async def _insert(self, conn: AsyncConnection, draft: RequestDraft, limit: int) -> OpenResult:
        # The key first (ON CONFLICT: a duplicate is never told "over the limit" by its own
        # first copy), then the count, then the sends; one round trip fewer than a pre-check.
        now = self._clock()
        request_id = await q.insert_request(conn, draft, now)
        if request_id is None:
            return Duplicate(await _existing_id(conn, draft.interaction_key))
        used = await q.usage(conn, draft.user_id, draft.requested_at)
        if used.count + len(draft.recipients) > limit:
            raise _OverLimitError(OverLimit(max(0, limit - used.count), used.next_free_at))
        state = State.SCHEDULED if draft.held_by_bot else State.SENDING
        created = await q.insert_sends(conn, request_id, draft, state, now)
        return Opened(q.new_request(request_id, draft, created))

    async def record_denied(self, draft: RequestDraft, reason: str) -> None:
        _check_draft(draft)
        async with self._write() as conn:
            now = self._clock()
            request_id = await q.insert_request(conn, draft, now)
            if request_id is not None:
                await q.insert_sends(conn, request_id, draft, State.DENIED, now, reason)

    async def usage(self, user_id: str, now: datetime) -> Usage:
        async with self._read() as conn:
            return await q.usage(conn, user_id, now)

    async def admission(
        self, user_id: str, interaction_key: str, now: datetime
    ) -> Usage | Duplicate:
        async with self._read() as conn:
            existing = await q.request_id_for(conn, interaction_key)
            return (
                Duplicate(existing) if existing is not None else await q.usage(conn, user_id, now)
            )

    async def set_status_message(self, request_id: int, channel_id: str, ts: str) -> None:
        where = requests.c.id == request_id
        stmt = update(requests).where(where).values(status_channel=channel_id, status_ts=ts)
        async with self._write() as conn:
            await conn.execute(stmt)

    async def finish(
        self,
        send_id: int,
        state: State,
        *,
        sipgate_status: int | None = None,
        error_kind: str | None = None,
    ) -> bool:
        if state not in FINISHED_STATES:
            raise ValueError(f"a send cannot finish as {state}")
        where = (sends.c.id == send_id) & (sends.c.state == State.SENDING)
        detail = _finish_detail(sipgate_status, error_kind)
        values = {"sipgate_status": sipgate_status, "error_kind": error_kind}
        async with self._write() as conn:
            changed = await q.transition(conn, where, state, self._clock(), detail=detail, **values)
        return bool(changed)

    async def claim_due(self, now: datetime, limit: int) -> list[SmsRequest]:
        if limit <= 0:
            return []
        where = sends.c.id.in_(q.due_ids(now, limit)) & (sends.c.state == State.SCHEDULED)
        async with self._write() as conn:
            claimed = await q.transition(conn, where, State.SENDING, now, claimed_at=now)
            return await q.with_requests(conn, claimed)

    async def expire_overdue(self, now: datetime, grace: timedelta) -> list[SmsRequest]:
        where = (sends.c.state == State.SCHEDULED) & (sends.c.due_at < now - grace)
        detail = f"not sent: overdue by more than {int(grace.total_seconds())} s"
        async with self._write() as conn:
            missed = await q.transition(conn, where, State.MISSED, now, detail=detail)
            return await q.with_requests(conn, missed)

    async def resolve_orphans(self, claimed_before: datetime) -> list[SmsRequest]:
        where = (sends.c.state == State.SENDING) & (sends.c.claimed_at < claimed_before)
        detail = "no answer from sipgate was recorded; it may or may not have been sent"
        async with self._write() as conn:
            unknown = await q.transition(
                conn, where, State.UNKNOWN, self._clock(), detail=detail, error_kind="interrupted"
            )
            return await q.with_requests(conn, unknown)

    async def cancel(self, request_id: int, *, user_id: str, is_admin: bool) -> CancelResult:
        async with self._write() as conn:
            owner = await conn.scalar(select(requests.c.user_id).where(requests.c.id == request_id))
            if owner is None:
                return CancelResult(CancelOutcome.NOT_FOUND, None)
            outcome = CancelOutcome.NOT_ALLOWED
            if owner == user_id or is_admin:
                outcome = await self._cancel_scheduled(conn, request_id, user_id)
            [request] = await q.load_requests(conn, requests.c.id == request_id)
            return CancelResult(outcome, request)

    async def _cancel_scheduled(
        self, conn: AsyncConnection, request_id: int, user_id: str
    ) -> CancelOutcome:
        where = (sends.c.request_id == request_id) & (sends.c.state == State.SCHEDULED)
        detail = f"cancelled by {user_id}"
        cancelled = await q.transition(conn, where, State.CANCELLED, self._clock(), detail=detail)
        return CancelOutcome.CANCELLED if cancelled else CancelOutcome.TOO_LATE

    async def get_request(self, request_id: int) -> SmsRequest | None:
        async with self._read() as conn:
            found = await q.load_requests(conn, requests.c.id == request_id)
        return found[0] if found else None

    async def list_for_user(self, user_id: str, *, recent: int = 10) -> list[SmsRequest]:
        async with self._read() as conn:
            ids = list(await conn.scalars(q.listed_ids(user_id, max(0, recent))))
            return await q.load_requests(conn, requests.c.id.in_(ids)) if ids else []

    async def pending_count(self) -> int:
        stmt = select(func.count()).select_from(sends).where(sends.c.state == State.SCHEDULED)
        async with self._read() as conn:
            return int(await conn.scalar(stmt) or 0)

    async def history(self, request_id: int) -> list[Event]:
        stmt = (
            select(*q.EVENT_COLUMNS)
            .join_from(events, sends, events.c.send_id == sends.c.id)
            .where(sends.c.request_id == request_id)
            .order_by(events.c.id)  # insertion order: each send's transitions in causal order
        )
        async with self._read() as conn:
            return [Event(*row) for row in await conn.execute(stmt)]

    async def ping(self) -> None:
        """Raise if the database cannot be reached (for ``/healthz``)."""
        async with self._read() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self._engine.dispose()

    def _user_lock(self, user_id: str) -> AbstractAsyncContextManager[Any]:
        # SQLite: the write lock below already serialises every write of this process.
        if not self._postgres:
            return contextlib.nullcontext()
        return self._user_locks.setdefault(user_id, asyncio.Lock())

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        # SQLite has one writer at a time. Queueing this process's writers on an asyncio lock
        # keeps them off SQLite's busy handler, which sleeps up to 100 ms between retries;
        # other processes still wait through the busy timeout.
        async with self._write_lock, self._engine.begin() as conn:
            yield conn

    def _read(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return self._reader.begin()


class _OverLimitError(Exception):
    """Raised inside the write transaction so that it rolls back."""

    def __init__(self, result: OverLimit) -> None:
        super().__init__("over the hourly limit")
        self.result = result


def _check_draft(draft: RequestDraft) -> None:
    if not draft.recipients:
        raise ValueError("a request needs at least one recipient")
    if any(t is not None and t.tzinfo is None for t in (draft.requested_at, draft.send_at)):
        raise ValueError("the ledger stores timezone-aware datetimes only")


async def _existing_id(conn: AsyncConnection, interaction_key: str) -> int:
    found = await q.request_id_for(conn, interaction_key)
    if found is None:
        raise RuntimeError("interaction key conflicted but no request holds it")
    return found


def _finish_detail(sipgate_status: int | None, error_kind: str | None) -> str | None:
    parts = [f"sipgate {sipgate_status}" if sipgate_status is not None else "", error_kind or ""]
    return ", ".join(part for part in parts if part) or None


def _create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(parsed, pool_pre_ping=True)
    options: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT}}
    if parsed.database in (None, "", ":memory:"):
        # One connection *is* the database: callers queue for it instead of sharing it
        # (a shared connection cannot hold two transactions at once).
        options.update(poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0)
    engine = create_async_engine(parsed, **options)
    _serialise_sqlite_writes(engine)
    return engine


def _serialise_sqlite_writes(engine: AsyncEngine) -> None:
    """SQLAlchemy's recipe: the driver stops issuing BEGIN, we issue the kind we need."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        _use_wal(cursor)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _use_wal(cursor: Any) -> None:
    """Switch the file to WAL (readers never wait for the writer); it stays WAL once switched.

    A speed-up, not needed for correctness (``BEGIN IMMEDIATE`` and the busy timeout are): when
    several instances open a new file at once the switch may find the file locked, and then
    whichever switches it wins for everyone.
    """
    cursor.execute("PRAGMA journal_mode")
    if cursor.fetchone()[0] in ("wal", "memory"):
        return
    with contextlib.suppress(sqlite3.OperationalError):
        cursor.execute("PRAGMA journal_mode = WAL")
