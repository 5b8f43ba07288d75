"""The ledger on SQLite or PostgreSQL (asyncpg), with SQLAlchemy Core.

Each operation is one transaction: a plain function over a connection (``queries.py``) that
``bot.store.database`` runs (SQLite: in a thread, writes group-committed; PostgreSQL: in the
event loop). Concurrency, so that several instances can share one database:

* PostgreSQL: ``open_request`` takes a per-user advisory lock for its count-then-insert;
  ``claim_due`` claims with ``FOR UPDATE SKIP LOCKED``; every other change is one conditional
  ``UPDATE … RETURNING``, so a concurrent change wins or loses cleanly.
* SQLite: every write transaction starts with ``BEGIN IMMEDIATE`` (one writer at a time, also
  across processes on the same file, waiting up to ``database.SQLITE_BUSY_TIMEOUT``);
  reads use a plain deferred ``BEGIN``. The file runs in WAL mode so reads never wait.

The ledger is also the status outbox (``outbox.py``): a change people should hear about
records its status post in its own transaction.

Messages are stored (the audit trail needs them) and never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, func, select, text

from bot.core import (
    INTERRUPTED_KIND,
    AuditPeriod,
    AuditRow,
    CancelOutcome,
    CancelResult,
    Clock,
    Duplicate,
    Event,
    Ledger,
    Listing,
    Opened,
    OpenResult,
    OverLimit,
    RequestDraft,
    SmsRequest,
    State,
    StatusKind,
    StatusListener,
    StatusPost,
    Usage,
    UserCounts,
    over_limit,
    require_aware,
    utc_now,
)
from bot.store import outbox as ob
from bot.store import queries as q
from bot.store import reports
from bot.store.database import Database, connect
from bot.store.export import audit_rows
from bot.store.inbox import SqlInbox
from bot.store.migrations import current_version, migrate
from bot.store.optouts import SqlOptOuts
from bot.store.schema import events, requests, sends
from bot.store.tokens import SqlTokens
from bot.store.url import database_url_for, redact_url

log = logging.getLogger(__name__)

T = TypeVar("T")

#: What ``finish`` may move a ``sending`` send to.
FINISHED_STATES = frozenset({State.ACCEPTED, State.FAILED, State.UNKNOWN, State.CANCELLED})

_USER_LOCK = text("SELECT pg_advisory_xact_lock(hashtext(:key))")

#: One transaction's work that may record status posts (collected in the list it is given).
Recording = Callable[[Connection, list[StatusPost]], T]


async def open_ledger(
    database_url: str | None, *, clock: Clock = utc_now, instance_id: str | None = None
) -> SqlLedger:
    """Connect to ``DATABASE_URL`` (any form people write), create or upgrade the schema.

    Raises ``ValueError`` for a URL it cannot use, ``LedgerUnavailable`` when the database
    cannot be reached or upgraded.
    """
    url = database_url_for(database_url)
    database = connect(url)
    try:
        version = await database.write(migrate)
    except BaseException:
        await database.close()
        raise
    log.info("ledger ready on %s (schema version %d)", redact_url(url), version)
    return SqlLedger(database, clock=clock, instance_id=instance_id)


class SqlLedger(Ledger):
    """The ``Ledger`` on a ``Database`` (it owns the database and closes it)."""

    def __init__(
        self, database: Database, *, clock: Clock = utc_now, instance_id: str | None = None
    ) -> None:
        self.database = database
        self._postgres = database.dialect == "postgresql"
        self._user_locks: dict[str, asyncio.Lock] = {}
        self._clock = clock
        self._me = instance_id or uuid.uuid4().hex[:16]
        self._listeners: list[StatusListener] = []

    @property
    def instance_id(self) -> str:
        return self._me

    @property
    def inbox(self) -> SqlInbox:
        """Incoming SMS and their conversations, kept in the same database."""
        return SqlInbox(self)

    @property
    def opt_outs(self) -> SqlOptOuts:
        """Numbers that asked not to be texted."""
        return SqlOptOuts(self.database)

    @property
    def tokens(self) -> SqlTokens:
        """The sipgate OAuth tokens, kept in the same database."""
        return SqlTokens(self.database, self._clock)

    def on_status(self, listener: StatusListener) -> None:
        self._listeners.append(listener)

    async def write_recording(self, work: Recording[T]) -> T:
        """A write transaction; the posts it recorded go to the listeners after the commit."""
        posts: list[StatusPost] = []

        def run(conn: Connection) -> T:
            posts.clear()  # a group commit may run the work again after a rollback
            return work(conn, posts)

        result = await self.database.write(run)
        if posts:
            for listener in self._listeners:
                listener(tuple(posts))
        return result

    def now(self) -> datetime:
        return self._clock()

    def record(self, conn: Connection, posts: list[StatusPost], post: ob.Recorded) -> None:
        """Write a status post in the transaction of ``conn`` (heard after its commit)."""
        recorded = ob.record(conn, self._me, self._clock(), post)
        if recorded is not None:
            posts.append(recorded)

    async def schema_version(self) -> int | None:
        return await self.database.read(current_version)

    async def open_request(self, draft: RequestDraft, *, hourly_limit: int) -> OpenResult:
        _check_draft(draft)
        try:
            # One user's requests queue here, not while holding a pooled connection: a burst
            # from one user must not take every connection while it waits for the user's lock.
            async with self._user_lock(draft.user_id):
                work = functools.partial(self._insert, draft=draft, limit=hourly_limit)
                return await self.write_recording(work)
        except _OverLimitError as refused:  # the transaction was rolled back: nothing stored
            return refused.result

    def _insert(
        self, conn: Connection, posts: list[StatusPost], *, draft: RequestDraft, limit: int
    ) -> OpenResult:
        # The key first, then the count, then the sends: the insert of the key is the duplicate
        # check (ON CONFLICT), so a duplicate is never told "over the limit" by its own first copy.
        if self._postgres:
            conn.execute(_USER_LOCK, {"key": f"sms-user:{draft.user_id}"})
        now = self._clock()
        request_id = q.insert_request(conn, draft, now)
        if request_id is None:
            return Duplicate(_existing_id(conn, draft.interaction_key))
        used = q.usage(conn, draft.user_id, draft.requested_at)
        refused = over_limit(used, len(draft.recipients), limit)
        if refused is not None:
            raise _OverLimitError(refused)
        state = State.SCHEDULED if draft.held_by_bot else State.SENDING
        created = q.insert_sends(conn, request_id, draft, state, now, claimed_by=self._me)
        request = q.new_request(request_id, draft, created)
        self.record(conn, posts, ob.Recorded(StatusKind.OPENED, request_id, request=request))
        if draft.held_by_bot:
            self.record(conn, posts, ob.Recorded(StatusKind.SCHEDULED, request_id))
        return Opened(request)

    async def record_denied(self, draft: RequestDraft, reason: str) -> None:
        _check_draft(draft)

        def work(conn: Connection) -> None:
            now = self._clock()
            request_id = q.insert_request(conn, draft, now)
            if request_id is not None:
                q.insert_sends(conn, request_id, draft, State.DENIED, now, reason)

        await self.database.write(work)

    async def admission(
        self, user_id: str, interaction_key: str, now: datetime
    ) -> Usage | Duplicate:
        def work(conn: Connection) -> Usage | Duplicate:
            existing = q.request_id_for(conn, interaction_key)
            return Duplicate(existing) if existing is not None else q.usage(conn, user_id, now)

        return await self.database.read(work)

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
        detail = _finish_detail(sipgate_status, error_kind)

        def work(conn: Connection, posts: list[StatusPost]) -> bool:
            at = self._clock()
            changed = q.finish(
                conn, send_id, state, at, status=sipgate_status, kind=error_kind, detail=detail
            )
            for send in changed:
                outcome = ob.Recorded(
                    StatusKind.OUTCOME, send.request_id, (send.id,), sends=(send,)
                )
                self.record(conn, posts, outcome)
            return bool(changed)

        return await self.write_recording(work)

    async def claim_due(self, now: datetime, limit: int) -> list[SmsRequest]:
        if limit <= 0:
            return []
        where = sends.c.id.in_(q.due_ids(now, limit)) & (sends.c.state == State.SCHEDULED)

        def work(conn: Connection) -> list[SmsRequest]:
            claimed = q.transition(
                conn, where, State.SENDING, now, claimed_at=now, claimed_by=self._me
            )
            return q.with_requests(conn, claimed)

        return await self.database.write(work)

    async def expire_overdue(self, now: datetime, grace: timedelta) -> list[SmsRequest]:
        where = (sends.c.state == State.SCHEDULED) & (sends.c.due_at < now - grace)
        detail = f"not sent: overdue by more than {int(grace.total_seconds())} s"

        def work(conn: Connection, posts: list[StatusPost]) -> list[SmsRequest]:
            missed = q.with_requests(
                conn, q.transition(conn, where, State.MISSED, now, detail=detail)
            )
            for request in missed:
                post = ob.Recorded.about(StatusKind.MISSED, request.id, request.sends)
                self.record(conn, posts, post)
            return missed

        return await self.write_recording(work)

    async def cancel(self, request_id: int, *, user_id: str, is_admin: bool) -> CancelResult:
        def work(conn: Connection, posts: list[StatusPost]) -> CancelResult:
            owner = conn.scalar(select(requests.c.user_id).where(requests.c.id == request_id))
            if owner is None:
                return CancelResult(CancelOutcome.NOT_FOUND, None)
            outcome = CancelOutcome.NOT_ALLOWED
            if owner == user_id or is_admin:
                outcome = self._cancel_scheduled(conn, request_id, user_id)
            [request] = q.load_requests(conn, requests.c.id == request_id)
            if outcome is CancelOutcome.CANCELLED:
                post = ob.Recorded(
                    StatusKind.CANCELLED, request_id, detail=user_id, request=request
                )
                self.record(conn, posts, post)
            return CancelResult(outcome, request)

        return await self.write_recording(work)

    def _cancel_scheduled(self, conn: Connection, request_id: int, user_id: str) -> CancelOutcome:
        where = (sends.c.request_id == request_id) & (sends.c.state == State.SCHEDULED)
        detail = f"cancelled by {user_id}"
        cancelled = q.transition(conn, where, State.CANCELLED, self._clock(), detail=detail)
        return CancelOutcome.CANCELLED if cancelled else CancelOutcome.TOO_LATE

    async def get_request(self, request_id: int) -> SmsRequest | None:
        return await self.database.read(lambda conn: q.load_request(conn, request_id))

    async def list_for_user(self, user_id: str, *, recent: int = 10) -> list[SmsRequest]:
        def work(conn: Connection) -> list[SmsRequest]:
            ids = list(conn.scalars(q.listed_ids(user_id, max(0, recent))))
            return q.load_requests(conn, requests.c.id.in_(ids)) if ids else []

        return await self.database.read(work)

    async def pending_count(self) -> int:
        stmt = select(func.count()).select_from(sends).where(sends.c.state == State.SCHEDULED)
        count: int | None = await self.database.read(lambda conn: conn.scalar(stmt))
        return count or 0

    # --- what people and admins look at ------------------------------------------------------

    async def usage(self, user_id: str, now: datetime) -> Usage:
        return await self.database.read(lambda conn: q.usage(conn, user_id, now))

    async def list_everyone(self, *, recent: int, scheduled: int) -> Listing:
        return await self.database.read(
            lambda conn: reports.list_everyone(conn, max(0, recent), max(0, scheduled))
        )

    async def counts_by_user(self, now: datetime) -> list[UserCounts]:
        return await self.database.read(lambda conn: reports.counts_by_user(conn, now))

    async def audit_rows(
        self, period: AuditPeriod, *, after: int | None, limit: int
    ) -> list[AuditRow]:
        return await self.database.read(lambda conn: audit_rows(conn, period, after, limit))

    async def set_flag(self, key: str, value: str) -> bool:
        at = self._clock()
        return await self.database.write(lambda conn: reports.set_flag(conn, key, value, at))

    async def history(self, request_id: int) -> list[Event]:
        stmt = (
            select(*q.EVENT_COLUMNS)
            .join_from(events, sends, events.c.send_id == sends.c.id)
            .where(sends.c.request_id == request_id)
            .order_by(events.c.id)  # insertion order: each send's transitions in causal order
        )
        return await self.database.read(lambda conn: [Event(*row) for row in conn.execute(stmt)])

    # --- instances ---------------------------------------------------------------------------

    async def renew_lease(self, now: datetime, ttl: timedelta) -> None:
        await self.database.write(lambda conn: ob.renew_lease(conn, self._me, now, ttl))

    async def resolve_orphans(self, now: datetime) -> list[SmsRequest]:
        where = (sends.c.state == State.SENDING) & ob.orphaned(now)
        detail = "no answer from sipgate was recorded; it may or may not have been sent"

        def work(conn: Connection, posts: list[StatusPost]) -> list[SmsRequest]:
            cut_off = q.transition(
                conn, where, State.UNKNOWN, now, detail=detail, error_kind=INTERRUPTED_KIND
            )
            orphans = q.with_requests(conn, cut_off)
            for request in orphans:
                post = ob.Recorded.about(StatusKind.OUTCOME, request.id, request.sends)
                self.record(conn, posts, post)
            return orphans

        return await self.write_recording(work)

    async def end_lease(self) -> None:
        await self.database.write(lambda conn: ob.end_lease(conn, self._me))

    # --- the status outbox -------------------------------------------------------------------

    async def claim_statuses(self, now: datetime, limit: int) -> list[StatusPost]:
        if not await self.database.read(lambda conn: ob.any_claimable(conn, now)):
            return []  # the usual case: a read, not a write
        return await self.database.write(lambda conn: ob.claim(conn, self._me, now, limit))

    async def status_delivered(
        self,
        post_ids: Sequence[int],
        *,
        undelivered: bool = False,
        error: str | None = None,
        shown: Sequence[tuple[int, str, str]] = (),
    ) -> None:
        at = self._clock()

        def work(conn: Connection) -> None:
            ob.delivered(conn, post_ids, at, undelivered=undelivered, error=error)
            for request_id, channel_id, ts in shown:
                q.set_status_message(conn, request_id, channel_id, ts)

        await self.database.write(work)

    async def status_retry(self, queue: str, at: datetime, error: str) -> None:
        await self.database.write(lambda conn: ob.retry(conn, queue, at, error))

    async def use_response_url(self, request_id: int) -> bool:
        return await self.database.write(lambda conn: ob.use_response_url(conn, request_id))

    async def close(self) -> None:
        await self.database.close()

    def _user_lock(self, user_id: str) -> AbstractAsyncContextManager[Any]:
        # SQLite: the one writer thread already serialises every write of this process.
        if not self._postgres:
            return contextlib.nullcontext()
        return self._user_locks.setdefault(user_id, asyncio.Lock())


class _OverLimitError(Exception):
    """Raised inside the write transaction so that it rolls back."""

    def __init__(self, result: OverLimit) -> None:
        super().__init__("over the hourly limit")
        self.result = result


def _check_draft(draft: RequestDraft) -> None:
    if not draft.recipients:
        raise ValueError("a request needs at least one recipient")
    require_aware(draft.requested_at, draft.send_at)


def _existing_id(conn: Connection, interaction_key: str) -> int:
    found = q.request_id_for(conn, interaction_key)
    if found is None:
        raise RuntimeError("interaction key conflicted but no request holds it")
    return found


def _finish_detail(sipgate_status: int | None, error_kind: str | None) -> str | None:
    parts = [f"sipgate {sipgate_status}" if sipgate_status is not None else "", error_kind or ""]
    return ", ".join(part for part in parts if part) or None
