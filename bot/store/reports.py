"""The statements behind what the home tab and ``/sms list all`` show, and durable flags.

Every function takes a connection inside a transaction the caller opened; none commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, case, exists, func, select, update

from bot.core import Listing, State, UserCounts
from bot.store.queries import COUNTED, dialect_insert, load_requests
from bot.store.schema import bot_state, requests, sends

DAY = timedelta(days=1)
MONTH = timedelta(days=30)


_WAITING = exists().where(sends.c.request_id == requests.c.id, sends.c.state == State.SCHEDULED)


def list_everyone(conn: Connection, recent: int, scheduled: int) -> Listing:
    """Up to ``scheduled`` requests still waiting (soonest first), then the latest others
    (with ``scheduled`` 0, the latest of all)."""
    latest = select(requests.c.id).order_by(requests.c.id.desc()).limit(recent)
    waiting_ids, total = _soonest_waiting(conn, scheduled) if scheduled > 0 else ([], 0)
    if scheduled > 0:
        latest = latest.where(~_WAITING)
    ids = waiting_ids + list(conn.scalars(latest))
    found = {r.id: r for r in load_requests(conn, requests.c.id.in_(ids))}
    return Listing(tuple(found[i] for i in ids if i in found), total - len(waiting_ids))


def _soonest_waiting(conn: Connection, limit: int) -> tuple[list[int], int]:
    """The ids of the ``limit`` requests due soonest, and how many are waiting in all."""
    soonest = select(requests.c.id).where(_WAITING).order_by(requests.c.send_at, requests.c.id)
    total = conn.scalar(select(func.count()).select_from(requests).where(_WAITING)) or 0
    return list(conn.scalars(soonest.limit(limit))), total


def counts_by_user(conn: Connection, now: datetime) -> list[UserCounts]:
    """Counted sends per user requested in the last 30 days, and of those the last 24 h."""
    day = func.sum(case((sends.c.requested_at > now - DAY, 1), else_=0))
    month = func.count()
    stmt = (
        select(sends.c.user_id, day, month)
        .where(sends.c.requested_at > now - MONTH)
        .where(*COUNTED)  # as the hourly limit counts them
        .group_by(sends.c.user_id)
        .order_by(month.desc(), sends.c.user_id)
    )
    return [UserCounts(user, int(d or 0), int(m)) for user, d, m in conn.execute(stmt)]


def set_flag(conn: Connection, key: str, value: str, at: datetime) -> bool:
    """Set ``bot_state[key]``; True only if this call changed it (so one caller acts on it).

    The UPDATE's condition is checked again after a concurrent writer commits (PostgreSQL) or
    runs under the one write lock (SQLite), and a concurrent first INSERT does nothing.
    """
    changed = conn.scalar(
        update(bot_state)
        .where(bot_state.c.key == key, bot_state.c.value != value)
        .values(value=value, updated_at=at)
        .returning(bot_state.c.key)
    )
    if changed is not None:
        return True
    stmt = dialect_insert(conn)(bot_state).values(key=key, value=value, updated_at=at)
    inserted = conn.scalar(stmt.on_conflict_do_nothing().returning(bot_state.c.key))
    return inserted is not None
