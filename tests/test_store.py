"""The ledger, the same suite on SQLite and on PostgreSQL (the fixtures are in conftest.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from bot.core import (
    CancelOutcome,
    Duplicate,
    Opened,
    OverLimit,
    RequestDraft,
    Scheduler,
    SmsRequest,
    State,
    Usage,
)
from bot.sandbox.harness import ManualClock
from bot.store import SqlLedger, open_ledger
from bot.store.migrations import SCHEMA_VERSION
from bot.store.schema import schema_version
from tests.helpers import OpenLedger


async def usage(ledger: SqlLedger, user_id: str, now: datetime) -> Usage:
    """The user's usage as a modal's admission check reads it."""
    found = await ledger.admission(user_id, "view:never-stored", now)
    assert isinstance(found, Usage)
    return found


ALICE = "+4915112345678"
BOB = "+4917012345678"
CAROL = "+4916012345678"


def draft(
    key: str,
    at: datetime,
    *,
    user: str = "U1",
    recipients: tuple[str, ...] = (ALICE,),
    send_at: datetime | None = None,
    scheduler: Scheduler = Scheduler.BOT,
) -> RequestDraft:
    return RequestDraft(
        interaction_key=key,
        team_id="T1",
        user_id=user,
        channel_id="C1",
        response_url="https://hooks.slack.test/r/1",
        recipients=recipients,
        message="Your technician arrives at 3pm",
        sms_id="s0",
        segments=1,
        requested_at=at,
        send_at=send_at,
        scheduler=scheduler,
    )


async def opened(ledger: SqlLedger, request: RequestDraft, limit: int = 100) -> SmsRequest:
    result = await ledger.open_request(request, hourly_limit=limit)
    assert isinstance(result, Opened)
    return result.request


def states(request: SmsRequest | None) -> list[State]:
    assert request is not None
    return [send.state for send in request.sends]


# --- schema -------------------------------------------------------------------------------


async def test_schema_is_created_then_reused(ledger_url: str, clock: ManualClock) -> None:
    first = await open_ledger(ledger_url, clock=clock)
    try:
        stored = await opened(first, draft("command:1", clock()))
        assert await first.schema_version() == SCHEMA_VERSION
    finally:
        await first.close()
    second = await open_ledger(ledger_url, clock=clock)
    try:
        assert await second.schema_version() == SCHEMA_VERSION
        rows = select(func.count()).select_from(schema_version)
        assert await second.database.read(lambda conn: conn.scalar(rows)) == 1
        assert await second.get_request(stored.id) == stored
    finally:
        await second.close()


async def test_instances_starting_together_migrate_once(open_ledgers: OpenLedger) -> None:
    ledgers = await asyncio.gather(*(open_ledgers() for _ in range(4)))
    assert [await each.schema_version() for each in ledgers] == [SCHEMA_VERSION] * 4


async def test_a_newer_schema_is_refused(ledger: SqlLedger, ledger_url: str) -> None:
    await ledger.database.write(
        lambda conn: conn.execute(update(schema_version).values(version=99))
    )
    with pytest.raises(RuntimeError, match="version 99"):
        await open_ledger(ledger_url)


# --- open_request -------------------------------------------------------------------------


async def test_send_now_is_stored_as_sending(ledger: SqlLedger, clock: ManualClock) -> None:
    now = clock()
    request = await opened(ledger, draft("command:1", now, recipients=(ALICE, BOB)))
    assert request.recipients == (ALICE, BOB)
    assert states(request) == [State.SENDING, State.SENDING]
    assert await ledger.get_request(request.id) == request
    assert await ledger.pending_count() == 0
    history = await ledger.history(request.id)
    assert [(e.recipient, e.state, e.at) for e in history] == [
        (ALICE, State.SENDING, now),
        (BOB, State.SENDING, now),
    ]


async def test_held_by_bot_is_stored_as_scheduled(ledger: SqlLedger, clock: ManualClock) -> None:
    now = clock()
    later = now + timedelta(hours=2)
    request = await opened(ledger, draft("view:1", now, recipients=(ALICE, BOB), send_at=later))
    assert states(request) == [State.SCHEDULED, State.SCHEDULED]
    assert request.send_at == later
    assert await ledger.pending_count() == 2
    assert [e.state for e in await ledger.history(request.id)] == [State.SCHEDULED] * 2
    assert await ledger.claim_due(now, 10) == []


async def test_sipgate_scheduler_hands_over_at_once(ledger: SqlLedger, clock: ManualClock) -> None:
    later = clock() + timedelta(hours=2)
    stored = draft("view:1", clock(), send_at=later, scheduler=Scheduler.SIPGATE)
    request = await opened(ledger, stored)
    assert states(request) == [State.SENDING]
    assert (request.send_at, request.scheduler) == (later, Scheduler.SIPGATE)
    assert await ledger.pending_count() == 0


async def test_times_come_back_aware_in_utc(ledger: SqlLedger) -> None:
    berlin = timezone(timedelta(hours=2))
    at = datetime(2030, 5, 1, 14, 30, 15, 123456, tzinfo=berlin)
    request = await opened(ledger, draft("command:1", at, send_at=at + timedelta(days=1)))
    stored = await ledger.get_request(request.id)
    assert stored is not None
    assert stored.requested_at == at
    assert stored.requested_at.tzinfo is UTC
    assert stored.send_at is not None
    assert stored.send_at.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="timezone-aware"):
        await ledger.open_request(draft("command:2", datetime(2030, 5, 1)), hourly_limit=9)


async def test_same_interaction_twice_is_a_duplicate(ledger: SqlLedger, clock: ManualClock) -> None:
    first = await opened(ledger, draft("command:1", clock()))
    again = draft("command:1", clock(), recipients=(ALICE, BOB))
    assert await ledger.open_request(again, hourly_limit=100) == Duplicate(first.id)
    assert await ledger.list_for_user("U1") == [first]
    assert len(await ledger.history(first.id)) == 1


async def test_same_interaction_on_two_instances_at_once_opens_once(
    open_ledgers: OpenLedger, clock: ManualClock
) -> None:
    one, two = await open_ledgers(), await open_ledgers()
    for n in range(5):
        request = draft(f"view:{n}", clock(), recipients=(ALICE, BOB))
        results = await asyncio.gather(
            one.open_request(request, hourly_limit=100),
            two.open_request(request, hourly_limit=100),
        )
        [winner] = [r.request for r in results if isinstance(r, Opened)]
        assert [r for r in results if isinstance(r, Duplicate)] == [Duplicate(winner.id)]
    assert len(await one.list_for_user("U1")) == 5
    assert len(await two.history(winner.id)) == 2


# --- hourly limit -------------------------------------------------------------------------


async def test_a_request_over_the_hourly_limit_is_refused_whole(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    first_at = clock()
    await opened(ledger, draft("command:1", first_at, recipients=(ALICE, BOB)), limit=3)
    later = first_at + timedelta(minutes=10)
    refused = await ledger.open_request(
        draft("command:2", later, recipients=(ALICE, BOB)), hourly_limit=3
    )
    assert refused == OverLimit(limit=3, remaining=1, next_free_at=first_at + timedelta(hours=1))
    assert await usage(ledger, "U1", later) == Usage(2, first_at + timedelta(hours=1))
    await opened(ledger, draft("command:3", later, recipients=(CAROL,)), limit=3)
    assert await usage(ledger, "U1", later) == Usage(3, first_at + timedelta(hours=1))
    an_hour_on = first_at + timedelta(hours=1)
    assert await usage(ledger, "U1", an_hour_on) == Usage(1, later + timedelta(hours=1))
    assert await usage(ledger, "U2", later) == Usage(0, None)


async def test_the_limit_holds_across_instances_racing(
    open_ledgers: OpenLedger, clock: ManualClock
) -> None:
    one, two = await open_ledgers(), await open_ledgers()
    requests = [draft(f"command:{n}", clock()) for n in range(12)]
    results = await asyncio.gather(
        *((one if n % 2 else two).open_request(r, hourly_limit=5) for n, r in enumerate(requests))
    )
    assert sum(isinstance(r, Opened) for r in results) == 5
    assert sum(isinstance(r, OverLimit) for r in results) == 7
    assert (await usage(one, "U1", clock())).count == 5


async def test_a_later_request_stored_first_still_counts(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    # Two instances stamp requested_at, then queue for the user's lock in the other order.
    now = clock()
    await opened(ledger, draft("command:1", now + timedelta(milliseconds=5)), limit=1)
    refused = await ledger.open_request(draft("command:2", now), hourly_limit=1)
    assert refused == OverLimit(1, 0, now + timedelta(hours=1, milliseconds=5))


async def test_a_cancelled_send_gives_its_count_back(ledger: SqlLedger, clock: ManualClock) -> None:
    now = clock()
    later = now + timedelta(hours=3)
    held = await opened(ledger, draft("view:1", now, recipients=(ALICE, BOB), send_at=later), 2)
    assert isinstance(await ledger.open_request(draft("view:2", now), hourly_limit=2), OverLimit)
    await ledger.cancel(held.id, user_id="U1", is_admin=False)
    assert await usage(ledger, "U1", now) == Usage(0, None)
    await opened(ledger, draft("view:3", now, recipients=(ALICE, BOB)), limit=2)


async def test_denied_attempts_are_recorded_and_not_counted(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    now = clock()
    denied = draft("command:1", now, recipients=(ALICE, BOB))
    await ledger.record_denied(denied, "not in SMS_ALLOWED_USERS")
    await ledger.record_denied(denied, "not in SMS_ALLOWED_USERS")  # Slack retried: ignored
    assert await usage(ledger, "U1", now) == Usage(0, None)
    [request] = await ledger.list_for_user("U1")
    assert states(request) == [State.DENIED, State.DENIED]
    assert [(e.state, e.detail) for e in await ledger.history(request.id)] == [
        (State.DENIED, "not in SMS_ALLOWED_USERS")
    ] * 2
    assert await ledger.open_request(denied, hourly_limit=9) == Duplicate(request.id)


# --- finish, claim, expire, orphans -------------------------------------------------------


async def test_finish_moves_only_a_sending_send(ledger: SqlLedger, clock: ManualClock) -> None:
    now = clock()
    request = await opened(ledger, draft("command:1", now, recipients=(ALICE, BOB)))
    accepted, failed = request.sends
    assert await ledger.finish(accepted.id, State.ACCEPTED, sipgate_status=204)
    assert not await ledger.finish(accepted.id, State.FAILED, sipgate_status=500)
    assert await ledger.finish(failed.id, State.FAILED, sipgate_status=402, error_kind="balance")
    stored = await ledger.get_request(request.id)
    assert stored is not None
    assert [(s.state, s.sipgate_status, s.error_kind) for s in stored.sends] == [
        (State.ACCEPTED, 204, None),
        (State.FAILED, 402, "balance"),
    ]
    assert (await ledger.history(request.id))[-1].detail == "sipgate 402, balance"
    held = await opened(ledger, draft("view:1", now, send_at=now + timedelta(hours=1)))
    assert not await ledger.finish(held.sends[0].id, State.ACCEPTED)
    with pytest.raises(ValueError, match="cannot finish"):
        await ledger.finish(accepted.id, State.SCHEDULED)


async def test_claim_due_claims_only_due_sends(ledger: SqlLedger, clock: ManualClock) -> None:
    now = clock()
    due = await opened(
        ledger,
        draft("view:1", now, recipients=(ALICE, BOB, CAROL), send_at=now - timedelta(minutes=1)),
    )
    await opened(ledger, draft("view:2", now, send_at=now + timedelta(minutes=5)))
    [first] = await ledger.claim_due(now, 2)
    assert first.id == due.id
    assert first.message == due.message
    assert [(s.recipient, s.state) for s in first.sends] == [
        (ALICE, State.SENDING),
        (BOB, State.SENDING),
    ]
    [rest] = await ledger.claim_due(now, 10)
    assert [(s.recipient, s.state) for s in rest.sends] == [(CAROL, State.SENDING)]
    assert await ledger.claim_due(now, 10) == []
    assert await ledger.pending_count() == 1
    [claimed] = await ledger.claim_due(now + timedelta(minutes=5), 10)
    assert claimed.recipients == (ALICE,)
    assert await ledger.finish(claimed.sends[0].id, State.ACCEPTED)


async def test_two_instances_claim_each_due_send_exactly_once(
    open_ledgers: OpenLedger, clock: ManualClock
) -> None:
    one, two = await open_ledgers(), await open_ledgers()
    now = clock()
    recipients = tuple(f"+4915100000{n:03d}" for n in range(10))
    for n in range(20):
        due = draft(f"view:{n}", now, recipients=recipients, send_at=now - timedelta(seconds=n))
        await opened(one, due, limit=1000)

    async def claim_all(ledger: SqlLedger) -> list[int]:
        claimed: list[int] = []
        while batch := await ledger.claim_due(now, 20):
            claimed += [send.id for request in batch for send in request.sends]
        return claimed

    runs = await asyncio.gather(*(claim_all(ledger) for ledger in [one, two] * 4))
    claimed = [send_id for run in runs for send_id in run]
    assert len(claimed) == len(set(claimed)) == 200
    assert await two.pending_count() == 0
    assert await one.list_for_user("U1", recent=0) == []


async def test_overdue_sends_are_missed_not_sent(ledger: SqlLedger, clock: ManualClock) -> None:
    now = clock()
    grace = timedelta(minutes=15)
    stale = await opened(ledger, draft("view:1", now, send_at=now - timedelta(minutes=20)))
    fresh = await opened(ledger, draft("view:2", now, send_at=now - timedelta(minutes=5)))
    [missed] = await ledger.expire_overdue(now, grace)
    assert (missed.id, states(missed)) == (stale.id, [State.MISSED])
    assert await ledger.expire_overdue(now, grace) == []
    [claimed] = await ledger.claim_due(now, 10)
    assert claimed.id == fresh.id
    assert (await ledger.history(stale.id))[-1].detail == "not sent: overdue by more than 900 s"
    assert await usage(ledger, "U1", now) == Usage(1, now + timedelta(hours=1))


async def test_sends_of_an_instance_whose_lease_ended_become_unknown(
    open_ledgers: OpenLedger, clock: ManualClock
) -> None:
    gone, alive = await open_ledgers(), await open_ledgers()
    lease = timedelta(seconds=10)
    await gone.renew_lease(clock(), lease)
    await alive.renew_lease(clock(), lease)
    orphan = await opened(gone, draft("command:1", clock()))
    mine = await opened(alive, draft("command:2", clock()))
    assert await alive.resolve_orphans(clock()) == []  # its instance is alive

    later = clock.advance(timedelta(seconds=11))  # "gone" stopped renewing
    await alive.renew_lease(later, lease)
    [resolved] = await alive.resolve_orphans(later)

    assert (resolved.id, states(resolved)) == (orphan.id, [State.UNKNOWN])
    assert resolved.sends[0].error_kind == "interrupted"
    assert not await gone.finish(orphan.sends[0].id, State.ACCEPTED)
    assert states(await alive.get_request(mine.id)) == [State.SENDING]
    assert (await alive.history(orphan.id))[-1].at == later


# --- cancel -------------------------------------------------------------------------------


async def test_cancel(ledger: SqlLedger, clock: ManualClock) -> None:
    now = clock()
    later = now + timedelta(hours=1)
    mine = await opened(ledger, draft("view:1", now, recipients=(ALICE, BOB), send_at=later))
    other = await ledger.cancel(mine.id, user_id="U2", is_admin=False)
    assert other.outcome is CancelOutcome.NOT_ALLOWED
    assert states(other.request) == [State.SCHEDULED] * 2
    done = await ledger.cancel(mine.id, user_id="U1", is_admin=False)
    assert done.outcome is CancelOutcome.CANCELLED
    assert states(done.request) == [State.CANCELLED] * 2
    again = await ledger.cancel(mine.id, user_id="U1", is_admin=False)
    assert again.outcome is CancelOutcome.TOO_LATE
    assert (await ledger.history(mine.id))[-1].detail == "cancelled by U1"
    unknown = await ledger.cancel(mine.id + 1000, user_id="U1", is_admin=True)
    assert (unknown.outcome, unknown.request) == (CancelOutcome.NOT_FOUND, None)


async def test_an_admin_may_cancel_anyones(ledger: SqlLedger, clock: ManualClock) -> None:
    now = clock()
    held = await opened(ledger, draft("view:1", now, send_at=now + timedelta(hours=1)))
    result = await ledger.cancel(held.id, user_id="UADMIN", is_admin=True)
    assert (result.outcome, states(result.request)) == (CancelOutcome.CANCELLED, [State.CANCELLED])


async def test_cancel_after_claim_is_too_late(ledger: SqlLedger, clock: ManualClock) -> None:
    now = clock()
    held = await opened(ledger, draft("view:1", now, recipients=(ALICE, BOB), send_at=now))
    await ledger.claim_due(now, 1)
    partly = await ledger.cancel(held.id, user_id="U1", is_admin=False)
    assert partly.outcome is CancelOutcome.CANCELLED
    assert states(partly.request) == [State.SENDING, State.CANCELLED]
    too_late = await ledger.cancel(held.id, user_id="U1", is_admin=False)
    assert too_late.outcome is CancelOutcome.TOO_LATE
    assert too_late.request == partly.request


# --- reading ------------------------------------------------------------------------------


async def test_list_for_user(ledger: SqlLedger, clock: ManualClock) -> None:
    now = clock()
    held = [
        await opened(ledger, draft(f"view:{n}", now, send_at=now + timedelta(hours=n + 1)))
        for n in range(3)
    ]
    sent = [
        await opened(ledger, draft(f"command:{n}", now, recipients=(ALICE, BOB))) for n in range(15)
    ]
    await opened(ledger, draft("command:other", now, user="U2"))
    listed = await ledger.list_for_user("U1")
    assert [r.id for r in listed] == sorted((r.id for r in held + sent[-10:]), reverse=True)
    assert all(len(r.sends) == 2 for r in listed if r.id in {s.id for s in sent})
    assert [r.id for r in await ledger.list_for_user("U1", recent=0)] == [
        r.id for r in reversed(held)
    ]
    assert await ledger.list_for_user("U3") == []


async def test_history_shows_every_transition(ledger: SqlLedger, clock: ManualClock) -> None:
    created = clock()
    send_at = created + timedelta(minutes=30)
    request = await opened(
        ledger, draft("view:1", created, recipients=(ALICE, BOB), send_at=send_at)
    )
    [claimed] = await ledger.claim_due(send_at, 10)
    finished = clock.advance(timedelta(minutes=31))
    alice, bob = claimed.sends
    await ledger.finish(alice.id, State.ACCEPTED, sipgate_status=204)
    await ledger.finish(bob.id, State.UNKNOWN, error_kind="timeout")
    history = await ledger.history(request.id)
    assert [(e.send_id, e.recipient, e.state, e.at, e.detail) for e in history] == [
        (alice.id, ALICE, State.SCHEDULED, created, None),
        (bob.id, BOB, State.SCHEDULED, created, None),
        (alice.id, ALICE, State.SENDING, send_at, None),
        (bob.id, BOB, State.SENDING, send_at, None),
        (alice.id, ALICE, State.ACCEPTED, finished, "sipgate 204"),
        (bob.id, BOB, State.UNKNOWN, finished, "timeout"),
    ]
    assert await ledger.history(request.id + 1) == []


async def test_status_message_is_remembered(ledger: SqlLedger, clock: ManualClock) -> None:
    request = await opened(ledger, draft("command:1", clock()))
    await ledger.status_delivered([], shown=[(request.id, "C9", "1700000000.000100")])
    stored = await ledger.get_request(request.id)
    assert stored is not None
    assert (stored.status_channel, stored.status_ts) == ("C9", "1700000000.000100")
    assert await ledger.get_request(request.id + 1) is None


async def test_a_bad_url_is_refused() -> None:
    with pytest.raises(ValueError, match="not supported"):
        await open_ledger("mysql://root:hunter2@db/sms")


async def test_a_request_needs_a_recipient(ledger: SqlLedger, clock: ManualClock) -> None:
    nobody = draft("command:1", clock(), recipients=())
    with pytest.raises(ValueError, match="recipient"):
        await ledger.open_request(nobody, hourly_limit=9)


async def test_an_in_memory_database_serves_concurrent_callers() -> None:
    memory = await open_ledger("sqlite://")
    try:
        now = datetime.now(UTC)
        results = await asyncio.gather(
            *(memory.open_request(draft(f"command:{n}", now), hourly_limit=3) for n in range(5))
        )
        assert sum(isinstance(r, Opened) for r in results) == 3
        assert (await usage(memory, "U1", now)).count == 3
    finally:
        await memory.close()
