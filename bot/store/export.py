"""The audit export's query: one row per send of the requests created in a period.

Paged by request id (keyset): each call takes the next ``limit`` requests of the period after
the last one handed out and returns all their sends, so every page is one short read and no
page is re-sorted from the start. A request always has at least one send (the ledger stores
none without a recipient), so a page with fewer than ``limit`` requests is the last.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, case, func, select

from bot.core import AuditPeriod, AuditRow, State
from bot.store.queries import AnyRow
from bot.store.schema import requests, sends, status_outbox

#: How a request's status posts stand: 2 one was given up, 1 one waits, 0 all delivered.
_DELIVERY_RANK = {2: "undelivered", 1: "pending", 0: "delivered"}
_UNFINISHED = frozenset({State.SCHEDULED, State.SENDING})

_DELIVERY = (
    select(
        func.max(
            case(
                (status_outbox.c.undelivered, 2),
                (status_outbox.c.done_at.is_(None), 1),
                else_=0,
            )
        )
    )
    .where(status_outbox.c.request_id == requests.c.id)
    .scalar_subquery()
)


def _page(period: AuditPeriod, after: int | None, limit: int) -> Select[Any]:
    """The next ``limit`` requests of the period, with how their status posts stand."""
    stmt = select(requests.c.id, _DELIVERY.label("delivery")).where(
        requests.c.created_at >= period.start
    )
    if period.end is not None:
        stmt = stmt.where(requests.c.created_at < period.end)
    if after is not None:
        stmt = stmt.where(requests.c.id > after)
    return stmt.order_by(requests.c.id).limit(limit)


def audit_rows(
    conn: Connection, period: AuditPeriod, after: int | None, limit: int
) -> list[AuditRow]:
    """The sends of the next ``limit`` requests of ``period`` after request ``after``."""
    page = _page(period, after, limit).cte("page")
    stmt = (
        select(
            requests.c.id,
            requests.c.created_at,
            requests.c.user_id,
            requests.c.channel_id,
            requests.c.origin,
            requests.c.send_at,
            requests.c.segments,
            requests.c.message,
            sends.c.id.label("send_id"),
            sends.c.recipient,
            sends.c.state,
            sends.c.sipgate_status,
            sends.c.error_kind,
            sends.c.updated_at,
            page.c.delivery,
        )
        .join_from(page, requests, requests.c.id == page.c.id)
        .join(sends, sends.c.request_id == requests.c.id)
        .order_by(requests.c.id, sends.c.id)
    )
    return [_row(row) for row in conn.execute(stmt)]


def _row(row: AnyRow) -> AuditRow:
    return AuditRow(
        request_id=row.id,
        send_id=row.send_id,
        created_at=row.created_at,
        user_id=row.user_id,
        channel_id=row.channel_id,
        origin=row.origin,
        recipient=row.recipient,
        state=row.state,
        sipgate_status=row.sipgate_status,
        error_kind=row.error_kind,
        scheduled_for=row.send_at,
        finished_at=None if row.state in _UNFINISHED else row.updated_at,
        segments=row.segments,
        message=row.message,
        status_delivery=None if row.delivery is None else _DELIVERY_RANK[row.delivery],
    )
