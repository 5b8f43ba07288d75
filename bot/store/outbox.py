"""The statements behind the status outbox and the instance leases.

A status post is written in the transaction of the change it reports, locked to the instance
that made the change (which delivers it at once), unless the queue still holds earlier posts
that are not this instance's (another instance's, or a stopped one's): then it waits unlocked,
and whoever takes the queue next delivers it after those. An instance whose lease ended holds
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    select,
    text,
    update,
)

from bot.core import SendRecord, SmsRequest, StatusKind, StatusPost
from bot.store.queries import dialect_insert
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


def conversation_queue(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


def live_instances(now: datetime) -> Select[Any]:
    return select(instances.c.id).where(instances.c.expires_at > now)


# The statements every send runs are built once, with bound parameters (building one per call
# costs more CPU than running it).
_BEFORE = status_outbox.alias("before")
_OTHERS_BEFORE = exists().where(
    _BEFORE.c.queue == bindparam("same_queue"),
    _BEFORE.c.done_at.is_(None),
    _BEFORE.c.locked_by.is_(None) | (_BEFORE.c.locked_by != bindparam("me")),
)
#: Locked to this instance unless the queue holds posts that are not its own (one statement).
_INSERT = (
    insert(status_outbox)
    .values(locked_by=case((_OTHERS_BEFORE, None), else_=bindparam("me")))
    .returning(status_outbox.c.id, status_outbox.c.locked_by)
)
_INSERT_FIRST = insert(status_outbox).returning(status_outbox.c.id, status_outbox.c.locked_by)
_DELIVERED = (
    update(status_outbox)
    .where(status_outbox.c.id == bindparam("post_id"))
    .values(
        done_at=bindparam("at"), undelivered=bindparam("gave_up"), last_error=bindparam("error")
    )
)


@dataclass(frozen=True)
class Recorded:
    """A status post to write: what it tells, about which sends, and the ledger's snapshot.

    A post about an incoming SMS has no request: it goes in its conversation's queue.
    """

    kind: StatusKind
    request_id: int | None
    send_ids: tuple[int, ...] = ()
    detail: str | None = None
    request: SmsRequest | None = None
    sends: tuple[SendRecord, ...] = ()
    conversation_id: int | None = None

    @property
    def queue(self) -> str:
        if self.conversation_id is not None:
            return conversation_queue(self.conversation_id)
        return request_queue(self.request_id or 0)

    @classmethod
    def about(cls, kind: StatusKind, request_id: int, sends: Sequence[SendRecord]) -> Recorded:
        """A post about these sends of the request."""
        return cls(kind, request_id, tuple(send.id for send in sends), sends=tuple(sends))


def record(conn: Connection, me: str, at: datetime, post: Recorded) -> StatusPost | None:
    """Write a status post; the post if this instance delivers it."""
    queue = post.queue
    values = {
        "queue": queue,
        "kind": post.kind.value,
        "request_id": post.request_id,
        "send_ids": ",".join(map(str, post.send_ids)) or None,
        "detail": post.detail,
        "created_at": at,
        "next_attempt_at": at,
        "me": me,
        "same_queue": queue,
    }
    if post.kind is StatusKind.OPENED:  # a new queue: nobody else's posts can be in it
        values["locked_by"] = values.pop("me")
        del values["same_queue"]
        post_id, locked_by = conn.execute(_INSERT_FIRST, values).one()
    else:
        post_id, locked_by = conn.execute(_INSERT, values).one()
    if locked_by != me:
        return None
    return StatusPost(post_id, queue, post.kind, post.request_id, post.send_ids, post.detail,
                      at, at, 0, post.request, post.sends)  # fmt: skip


def any_claimable(conn: Connection, now: datetime) -> bool:
    """Whether a due post is held by no live instance (a cheap look before a claim)."""
    free = exists().where(
        _PENDING,
        status_outbox.c.next_attempt_at <= now,
        status_outbox.c.locked_by.is_(None) | status_outbox.c.locked_by.not_in(live_instances(now)),
    )
    return bool(conn.scalar(select(free)))


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
    rows = [{"post_id": i, "at": at, "gave_up": undelivered, "error": error} for i in ids]
    if rows:
        conn.execute(_DELIVERED, rows)


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
    stmt = dialect_insert(conn)(instances).values(values)
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
