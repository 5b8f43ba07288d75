"""What the ledger reports on SQLite and PostgreSQL: export rows (every state, the period, how
the statuses went), everyone's requests, SMS per user, the opt-out count, labels and flags."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert

from bot.core import (
    AuditPeriod,
    AuditRow,
    Opened,
    OriginKind,
    RequestDraft,
    SmsRequest,
    State,
    last_days,
)
from bot.sandbox.harness import ManualClock
from bot.store import SqlLedger
from bot.store.schema import opt_outs

ANNA = "+4915112345678"
BEN = "+4917012345678"
NOW_AND_LATER = timedelta(days=1)


def draft(
    key: str,
    clock: ManualClock,
    *,
    user: str = "U1",
    recipients: tuple[str, ...] = (ANNA,),
    send_at: datetime | None = None,
    origin: OriginKind = OriginKind.COMMAND,
    labels: dict[str, str] | None = None,
) -> RequestDraft:
    return RequestDraft(
        interaction_key=key,
        team_id="T1",
        user_id=user,
        channel_id="C1",
        response_url=None,
        recipients=recipients,
        message=f"message of {key}",
        sms_id="s0",
        segments=1,
        requested_at=clock(),
        send_at=send_at,
        origin=origin,
        labels=labels or {},
    )


async def opened(ledger: SqlLedger, request: RequestDraft) -> SmsRequest:
    result = await ledger.open_request(request, hourly_limit=1000)
    assert isinstance(result, Opened)
    return result.request


async def all_rows(ledger: SqlLedger, period: AuditPeriod, limit: int = 1000) -> list[AuditRow]:
    rows: list[AuditRow] = []
    after = None
    while True:
        page = await ledger.audit_rows(period, after=after, limit=limit)
        rows += page
        if len({row.request_id for row in page}) < limit:
            return rows
        after = page[-1].request_id


def everything(clock: ManualClock) -> AuditPeriod:
    return AuditPeriod(clock() - timedelta(days=1), clock() + NOW_AND_LATER)


async def test_every_state_is_exported_one_row_per_recipient(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    sent = await opened(ledger, draft("command:sent", clock, recipients=(ANNA, BEN)))
    await ledger.finish(sent.sends[0].id, State.ACCEPTED)
    await ledger.finish(sent.sends[1].id, State.FAILED, sipgate_status=402, error_kind="balance")
    later = clock() + timedelta(hours=1)
    waiting = await opened(ledger, draft("view:waiting", clock, send_at=later))
    cancelled = await opened(ledger, draft("view:cancelled", clock, send_at=later))
    await ledger.cancel(cancelled.id, user_id="U1", is_admin=False)
    denied = draft("command:denied", clock, user="U_MALLORY", recipients=(ANNA, "0170 12x"))
    await ledger.record_denied(denied, "user_denied")

    rows = await all_rows(ledger, everything(clock))

    assert [(row.recipient, row.state) for row in rows] == [
        (ANNA, State.ACCEPTED),
        (BEN, State.FAILED),
        (ANNA, State.SCHEDULED),
        (ANNA, State.CANCELLED),
        (ANNA, State.DENIED),
        ("0170 12x", State.DENIED),  # as typed: it is no number
    ]
    failed = rows[1]
    assert (failed.sipgate_status, failed.error_kind) == (402, "balance")
    assert failed.finished_at is not None
    assert rows[2].scheduled_for == later
    assert rows[2].finished_at is None
    assert rows[0].request_id == sent.id
    assert rows[2].request_id == waiting.id
    assert rows[4].user_id == "U_MALLORY"
    assert rows[0].message == "message of command:sent"
    assert rows[0].created_at == clock()
    assert rows[4].status_delivery is None  # a denial posts no status


async def test_only_requests_created_in_the_period_are_exported(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    await opened(ledger, draft("command:old", clock))
    clock.advance(timedelta(days=10))
    start = clock()
    await opened(ledger, draft("command:in", clock))
    clock.advance(timedelta(days=10))
    end = clock()
    await opened(ledger, draft("command:new", clock))

    rows = await all_rows(ledger, AuditPeriod(start, end))
    recent = await all_rows(ledger, last_days(clock(), 5))

    assert [row.message for row in rows] == ["message of command:in"]
    assert [row.message for row in recent] == ["message of command:new"]


async def test_pages_hand_out_whole_requests_in_order(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    for index in range(7):
        await opened(ledger, draft(f"command:{index}", clock, recipients=(ANNA, BEN)))

    rows = await all_rows(ledger, everything(clock), limit=3)

    assert len(rows) == 14
    assert [row.request_id for row in rows] == sorted(row.request_id for row in rows)
    assert len({(row.request_id, row.send_id) for row in rows}) == 14


async def test_the_export_says_how_the_statuses_of_a_request_went(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    posts: list[int] = []
    ledger.on_status(lambda recorded: posts.extend(post.id for post in recorded))
    given_up = await opened(ledger, draft("command:given-up", clock))
    first = posts[0]
    await opened(ledger, draft("command:waiting", clock))
    await ledger.status_delivered([first], undelivered=True, error="channel_not_found")

    rows = await all_rows(ledger, everything(clock))

    assert [row.status_delivery for row in rows] == ["undelivered", "pending"]
    assert rows[0].request_id == given_up.id


async def test_a_label_names_the_recipient_and_is_kept(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    stored = await opened(
        ledger, draft("command:anna", clock, recipients=(ANNA, BEN), labels={ANNA: "@anna"})
    )

    assert [send.label for send in stored.sends] == ["@anna", None]
    again = await ledger.get_request(stored.id)
    assert again is not None
    assert [send.label for send in again.sends] == ["@anna", None]


async def test_everyone_s_list_shows_the_soonest_scheduled_then_the_latest(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    soon, later = clock() + timedelta(hours=1), clock() + timedelta(hours=2)
    late = await opened(ledger, draft("view:late", clock, user="U2", send_at=later))
    early = await opened(ledger, draft("view:early", clock, user="U3", send_at=soon))
    third = await opened(ledger, draft("view:third", clock, send_at=later))
    done = [await opened(ledger, draft(f"command:{i}", clock, user=f"U{i}")) for i in range(4)]

    listing = await ledger.list_everyone(recent=2, scheduled=2)

    assert [r.id for r in listing.requests] == [early.id, late.id, done[3].id, done[2].id]
    assert listing.more_scheduled == 1
    assert third.id not in [r.id for r in listing.requests]


async def test_sms_per_user_count_the_last_day_and_month_without_refusals(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    await opened(ledger, draft("command:old", clock, user="U1"))
    clock.advance(timedelta(days=20))
    await opened(ledger, draft("command:u1", clock, user="U1", recipients=(ANNA, BEN)))
    await opened(ledger, draft("command:u2", clock, user="U2"))
    await ledger.record_denied(draft("command:no", clock, user="U3"), "user_denied")
    clock.advance(timedelta(days=2))
    await opened(ledger, draft("command:today", clock, user="U2"))

    counts = await ledger.counts_by_user(clock())

    assert [(c.user_id, c.day, c.month) for c in counts] == [("U1", 0, 3), ("U2", 1, 2)]
    clock.advance(timedelta(days=9))  # the first request of U1 is now 31 days old
    later = await ledger.counts_by_user(clock())
    assert [(c.user_id, c.month) for c in later] == [("U1", 2), ("U2", 2)]


async def test_the_opt_out_list_is_counted(ledger: SqlLedger, clock: ManualClock) -> None:
    assert await ledger.opt_outs.count() == 0
    rows = [{"number": number, "since": clock(), "how": "STOP"} for number in (ANNA, BEN)]
    await ledger.database.write(lambda conn: conn.execute(insert(opt_outs), rows))

    assert await ledger.opt_outs.count() == 2


async def test_a_flag_changes_once_per_value(ledger: SqlLedger) -> None:
    assert await ledger.set_flag("low_balance_warned", "yes")
    assert not await ledger.set_flag("low_balance_warned", "yes")
    assert await ledger.set_flag("low_balance_warned", "no")
    assert await ledger.set_flag("low_balance_warned", "yes")


async def test_usage_counts_the_rolling_hour(ledger: SqlLedger, clock: ManualClock) -> None:
    await opened(ledger, draft("command:1", clock, recipients=(ANNA, BEN)))
    clock.advance(timedelta(minutes=61))
    await opened(ledger, draft("command:2", clock))

    used = await ledger.usage("U1", clock())

    assert used.count == 1
