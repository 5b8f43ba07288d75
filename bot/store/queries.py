"""The statements behind ``SqlLedger``: SQLAlchemy Core, the same on SQLite and PostgreSQL.

Every function takes a connection inside a transaction the caller opened; none commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Row,
    Select,
    bindparam,
    exists,
    func,
    insert,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from bot.core import (
    UNCOUNTED_STATES,
    RequestDraft,
    SendRecord,
    SmsRequest,
    State,
    Usage,
    require_aware,
)
from bot.store.schema import events, requests, sends

HOUR = timedelta(hours=1)

AnyRow: TypeAlias = Row[*tuple[Any, ...]]

#: The sends the hourly limit counts (not NOT IN (…): its "expanding" parameter is rendered
#: anew on every execution).
COUNTED = tuple(sends.c.state != state for state in sorted(UNCOUNTED_STATES))

SEND_COLUMNS = (
    sends.c.id,
    sends.c.request_id,
    sends.c.recipient,
    sends.c.state,
    sends.c.sipgate_status,
    sends.c.error_kind,
    sends.c.updated_at,
    sends.c.label,
)

EVENT_COLUMNS = (events.c.send_id, sends.c.recipient, events.c.state, events.c.at, events.c.detail)


# The statements every quick send runs are built once, with bound parameters: building a
# statement per call (coercion, cache key) cost more CPU than executing it.
_COUNTED = select(func.count(), func.min(sends.c.requested_at)).where(
    sends.c.user_id == bindparam("user_id"),
    sends.c.requested_at > bindparam("since"),
    *COUNTED,
)
_REQUEST_ID_FOR = select(requests.c.id).where(requests.c.interaction_key == bindparam("key"))
_INSERTS: dict[str, Callable[..., Any]] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
_INSERT_REQUEST = {
    name: make(requests)
    .on_conflict_do_nothing(index_elements=[requests.c.interaction_key])
    .returning(requests.c.id)
    for name, make in _INSERTS.items()
}
_INSERT_SENDS = insert(sends).returning(*SEND_COLUMNS, sort_by_parameter_order=True)
_INSERT_EVENTS = insert(events)
_FINISH = (
    update(sends)
    .where(sends.c.id == bindparam("send_id"), sends.c.state == State.SENDING)
    .values(
        state=bindparam("to_state"),
        updated_at=bindparam("at"),
        sipgate_status=bindparam("status"),
        error_kind=bindparam("kind"),
    )
    .returning(*SEND_COLUMNS)
)
_SET_STATUS_MESSAGE = (
    update(requests)
    .where(requests.c.id == bindparam("request_id"))
    .values(status_channel=bindparam("channel"), status_ts=bindparam("ts"))
)
_REQUEST_BY_ID = select(requests).where(requests.c.id == bindparam("request_id"))
_SENDS_OF = (
    select(*SEND_COLUMNS).where(sends.c.request_id == bindparam("request_id")).order_by(sends.c.id)
)


def dialect_insert(conn: Connection) -> Callable[..., Any]:
    """The database's own INSERT, the one that knows ``ON CONFLICT``."""
    return _INSERTS[conn.dialect.name]


def usage(conn: Connection, user_id: str, at: datetime) -> Usage:
    """The user's counted sends requested after ``at - 1h``.

    No upper bound at ``at`` on purpose: instances stamp ``requested_at`` before they queue for
    the user's lock, so a request stamped a moment *later* may be stored first; it is in the
    same rolling hour and must count, or racing instances could let the user over the limit.
    """
    count, oldest = conn.execute(_COUNTED, {"user_id": user_id, "since": at - HOUR}).one()
    return Usage(count=count, next_free_at=None if oldest is None else oldest + HOUR)


def request_id_for(conn: Connection, interaction_key: str) -> int | None:
    found: int | None = conn.scalar(_REQUEST_ID_FOR, {"key": interaction_key})
    return found


def insert_request(conn: Connection, draft: RequestDraft, now: datetime) -> int | None:
    """Insert the request; None if its interaction key is already stored (nothing written).

    ``ON CONFLICT DO NOTHING`` leans on the unique constraint, so two instances racing with
    the same key cannot both insert, and the loser's transaction stays usable.
    """
    stmt = _INSERT_REQUEST[conn.dialect.name]
    inserted: int | None = conn.scalar(stmt, {**_request_values(draft), "created_at": now})
    return inserted


def set_status_message(conn: Connection, request_id: int, channel_id: str, ts: str) -> None:
    params = {"request_id": request_id, "channel": channel_id, "ts": ts}
    conn.execute(_SET_STATUS_MESSAGE, params)


def finish(
    conn: Connection,
    send_id: int,
    state: State,
    at: datetime,
    *,
    status: int | None,
    kind: str | None,
    detail: str | None,
) -> list[SendRecord]:
    """Move one ``sending`` send to ``state`` with sipgate's status and error kind."""
    params = {"send_id": send_id, "to_state": state, "at": at, "status": status, "kind": kind}
    changed = [to_send(row) for row in conn.execute(_FINISH, params)]
    add_events(conn, (send.id for send in changed), state, at, detail)
    return changed


def load_request(conn: Connection, request_id: int) -> SmsRequest | None:
    """One request with all its sends."""
    row = conn.execute(_REQUEST_BY_ID, {"request_id": request_id}).first()
    if row is None:
        return None
    found = conn.execute(_SENDS_OF, {"request_id": request_id})
    return to_request(row, [to_send(each) for each in found])


def insert_sends(
    conn: Connection,
    request_id: int,
    draft: RequestDraft,
    state: State,
    now: datetime,
    detail: str | None = None,
    *,
    claimed_by: str | None = None,
) -> list[SendRecord]:
    """One send per recipient, in the order typed, each with its creation event."""
    sending = state is State.SENDING
    rows = [
        {
            "request_id": request_id,
            "recipient": recipient,
            "state": state,
            "updated_at": now,
            "claimed_at": now if sending else None,
            "claimed_by": claimed_by if sending else None,
            "user_id": draft.user_id,
            "requested_at": draft.requested_at,
            "due_at": draft.send_at if state is State.SCHEDULED else None,
            "label": draft.labels.get(recipient),
        }
        for recipient in draft.recipients
    ]
    created = [to_send(row) for row in conn.execute(_INSERT_SENDS, rows)]
    add_events(conn, (send.id for send in created), state, now, detail)
    return created


def transition(
    conn: Connection,
    where: ColumnElement[bool],
    state: State,
    at: datetime,
    *,
    detail: str | None = None,
    **values: Any,
) -> list[SendRecord]:
    """Move the sends matching ``where`` to ``state`` (one UPDATE … RETURNING) with events."""
    stmt = (
        update(sends)
        .where(where)
        .values(state=state, updated_at=at, **values)
        .returning(*SEND_COLUMNS)
    )
    changed = sorted((to_send(row) for row in conn.execute(stmt)), key=lambda s: s.id)
    add_events(conn, (send.id for send in changed), state, at, detail)
    return changed


def add_events(
    conn: Connection, send_ids: Iterable[int], state: State, at: datetime, detail: str | None
) -> None:
    rows = [{"send_id": i, "state": state, "at": at, "detail": detail} for i in send_ids]
    if rows:
        conn.execute(_INSERT_EVENTS, rows)


def due_ids(now: datetime, limit: int) -> Select[Any]:
    """Ids of up to ``limit`` due scheduled sends, oldest first, skipping rows others lock.

    A materialised CTE, not a plain ``IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)``: as a
    semi-join PostgreSQL may rescan that subquery for each row it updates, and a rescan skips
    the rows this very statement has just updated and takes the next ones, claiming more than
    ``limit``. A materialised CTE runs once.
    """
    due = sends.alias("due")
    locked = (
        select(due.c.id)
        .where(due.c.state == State.SCHEDULED, due.c.due_at <= now)
        .order_by(due.c.due_at, due.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; on SQLite there is one writer anyway
        .cte("due_ids")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    return select(locked.c.id)


def listed_ids(user_id: str, recent: int) -> CompoundSelect[Any]:
    """Ids of the user's requests with a scheduled send plus their ``recent`` latest others."""
    mine = requests.alias("mine")
    waiting = exists().where(sends.c.request_id == mine.c.id, sends.c.state == State.SCHEDULED)
    scheduled = select(mine.c.id).where(mine.c.user_id == user_id, waiting)
    latest = (
        select(mine.c.id)
        .where(mine.c.user_id == user_id, ~waiting)
        .order_by(mine.c.id.desc())
        .limit(recent)
        .subquery()
    )
    return union_all(scheduled, select(latest.c.id))


def load_requests(conn: Connection, where: ColumnElement[bool]) -> list[SmsRequest]:
    """The requests matching ``where``, newest first, each with all its sends (two queries)."""
    stmt = select(requests).where(where).order_by(requests.c.id.desc())
    rows = (conn.execute(stmt)).all()
    if not rows:
        return []
    of_rows = sends.c.request_id.in_([row.id for row in rows])
    found = conn.execute(select(*SEND_COLUMNS).where(of_rows).order_by(sends.c.id))
    return group(rows, [to_send(row) for row in found])


def with_requests(conn: Connection, changed: list[SendRecord]) -> list[SmsRequest]:
    """Wrap sends in their requests (oldest request first), each carrying only these sends."""
    if not changed:
        return []
    ids = sorted({send.request_id for send in changed})
    stmt = select(requests).where(requests.c.id.in_(ids)).order_by(requests.c.id)
    return group((conn.execute(stmt)).all(), changed)


def group(rows: Sequence[AnyRow], all_sends: Iterable[SendRecord]) -> list[SmsRequest]:
    by_request: defaultdict[int, list[SendRecord]] = defaultdict(list)
    for send in all_sends:
        by_request[send.request_id].append(send)
    return [to_request(row, by_request[row.id]) for row in rows]


def to_send(row: AnyRow) -> SendRecord:
    return SendRecord(
        id=row.id,
        request_id=row.request_id,
        recipient=row.recipient,
        state=row.state,
        sipgate_status=row.sipgate_status,
        error_kind=row.error_kind,
        updated_at=row.updated_at,
        label=row.label,
    )


def to_request(row: AnyRow, its_sends: Iterable[SendRecord]) -> SmsRequest:
    values = {name: getattr(row, name) for name in _REQUEST_FIELDS}
    return SmsRequest(id=row.id, **values, sends=tuple(its_sends))


def new_request(request_id: int, draft: RequestDraft, created: list[SendRecord]) -> SmsRequest:
    """The stored request as ``load_requests`` would read it, without reading it back."""
    return SmsRequest(id=request_id, **_request_values(draft), sends=tuple(created))


_REQUEST_FIELDS = (
    "interaction_key",
    "team_id",
    "user_id",
    "channel_id",
    "response_url",
    "message",
    "sms_id",
    "segments",
    "requested_at",
    "send_at",
    "scheduler",
    "status_channel",
    "status_ts",
    "origin",
    "thread_ts",
)


def _request_values(draft: RequestDraft) -> dict[str, Any]:
    """The request columns for a draft (times in UTC, as they are read back)."""
    return {
        "interaction_key": draft.interaction_key,
        "team_id": draft.team_id,
        "user_id": draft.user_id,
        "channel_id": draft.channel_id,
        "response_url": draft.response_url,
        "message": draft.message,
        "sms_id": draft.sms_id,
        "segments": draft.segments,
        "requested_at": _utc(draft.requested_at),
        "send_at": None if draft.send_at is None else _utc(draft.send_at),
        "scheduler": draft.scheduler,
        "status_channel": None,
        "status_ts": None,
        "origin": draft.origin,
        "thread_ts": draft.thread_ts,
    }


def _utc(moment: datetime) -> datetime:
    require_aware(moment)
    return moment.astimezone(UTC)
