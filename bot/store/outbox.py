"""The statements behind the status outbox and the instance leases.

A status post is written in the transaction of the change it reports, locked to the instance
that made the change (which delivers it at once), unless the queue still holds earlier posts
that are not this instance's (another instance's, or a stopped one's): then it waits unlocked,
and whoever takes the queue next delivers it after those. An instance whose lease ended holds
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from bot.core import StatusKind, StatusPost
from bot.store.schema import instances, requests, sends, status_outbox

_COLUMNS = (
    status_outbox.c.id,
    status_outbox.c.queue,
    status_outbox.c.kind,
    status_outbox.c.request_id,
    status_outbox.c.send_ids,
    status_outbox.c.detail,
    status_outbox.c.created_at,
    status_outbox.c.next_attempt_at,
    status_outbox.c.attempts,
)
_PENDING = status_outbox.c.done_at.is_(None)
_CLAIM_LOCK = text("SELECT pg_advisory_xact_lock(7346115002)")  # claims one at a time (PG)


def request_queue(request_id: int) -> str:
    return f"request:{request_id}"


def live_instances(now: datetime) -> Select[Any]:
    return select(instances.c.id).where(instances.c.expires_at > now)


def record(
    conn: Connection,
    me: str,
    kind: StatusKind,
    at: datetime,
    *,
    request_id: int,
    send_ids: Sequence[int] = (),
    detail: str | None = None,
) -> StatusPost | None:
    """Write a status post of a request; the post if this instance delivers it."""
    queue = request_queue(request_id)
    mine = kind is StatusKind.OPENED or not _others_before(conn, queue, me)
    values = {
        "queue": queue,
        "kind": kind.value,
        "request_id": request_id,
        "send_ids": ",".join(map(str, send_ids)) or None,
        "detail": detail,
        "created_at": at,
        "next_attempt_at": at,
        "locked_by": me if mine else None,
    }
    row = conn.execute(insert(status_outbox).values(values).returning(*_COLUMNS)).one()
    return to_post(row) if mine else None


def _others_before(conn: Connection, queue: str, me: str) -> bool:
    """Whether the queue holds undelivered posts that are not this instance's to deliver."""
    others = exists().where(
        status_outbox.c.queue == queue,
        _PENDING,
        status_outbox.c.locked_by.is_(None) | (status_outbox.c.locked_by != me),
    )
    return bool(conn.scalar(select(others)))


def claim(conn: Connection, me: str, now: datetime, limit: int) -> list[StatusPost]:
    """Lock the pending posts of up to ``limit`` due queues no live instance holds."""
    if conn.dialect.name == "postgresql":
        conn.execute(_CLAIM_LOCK)
    held = and_(
        status_outbox.c.locked_by.is_not(None),
        status_outbox.c.locked_by.in_(live_instances(now)),
    )
    free_queues = (
        select(status_outbox.c.queue)
        .where(_PENDING)
        .group_by(status_outbox.c.queue)
        .having(func.max(case((held, 1), else_=0)) == 0)
        .having(func.min(status_outbox.c.next_attempt_at) <= now)
        .order_by(func.min(status_outbox.c.id))
        .limit(limit)
    )
    stmt = (
        update(status_outbox)
        .where(_PENDING, status_outbox.c.queue.in_(free_queues.scalar_subquery()))
        .values(locked_by=me)
        .returning(*_COLUMNS)
    )
    return sorted((to_post(row) for row in conn.execute(stmt)), key=lambda post: post.id)


def delivered(
    conn: Connection, ids: Sequence[int], at: datetime, *, undelivered: bool, error: str | None
) -> None:
    stmt = update(status_outbox).where(status_outbox.c.id.in_(list(ids)))
    conn.execute(stmt.values(done_at=at, undelivered=undelivered, last_error=error))


def retry(conn: Connection, queue: str, at: datetime, error: str) -> None:
    stmt = update(status_outbox).where(status_outbox.c.queue == queue, _PENDING)
    conn.execute(
        stmt.values(next_attempt_at=at, last_error=error, attempts=status_outbox.c.attempts + 1)
    )


def use_response_url(conn: Connection, request_id: int) -> bool:
    stmt = (
        update(requests)
        .where(requests.c.id == request_id, requests.c.response_url_used.is_(False))
        .values(response_url_used=True)
    )
    return conn.execute(stmt).rowcount == 1


def renew_lease(conn: Connection, me: str, now: datetime, ttl: timedelta) -> None:
    values = {"id": me, "started_at": now, "renewed_at": now, "expires_at": now + ttl}
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = dialect_insert(instances).values(values)
    renewed = {"renewed_at": stmt.excluded.renewed_at, "expires_at": stmt.excluded.expires_at}
    conn.execute(stmt.on_conflict_do_update(index_elements=[instances.c.id], set_=renewed))


def end_lease(conn: Connection, me: str) -> None:
    conn.execute(delete(instances).where(instances.c.id == me))
    free = update(status_outbox).where(status_outbox.c.locked_by == me, _PENDING)
    conn.execute(free.values(locked_by=None))


def orphaned(now: datetime) -> ColumnElement[bool]:
    """A ``sending`` send's claim belongs to no live instance."""
    return sends.c.claimed_by.is_(None) | sends.c.claimed_by.not_in(live_instances(now))


def to_post(row: Any) -> StatusPost:
    ids = tuple(int(part) for part in row.send_ids.split(",")) if row.send_ids else ()
    return StatusPost(
        id=row.id,
        queue=row.queue,
        kind=StatusKind(row.kind),
        request_id=row.request_id,
        send_ids=ids,
        detail=row.detail,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        attempts=row.attempts,
    )
