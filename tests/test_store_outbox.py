"""The ledger as status outbox: posts written with the change they report, held by one live
instance, free again when it stops. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core import Opened, RequestDraft, SmsRequest, State, StatusKind, StatusPost
from bot.sandbox.harness import ManualClock
from bot.store import SqlLedger
from tests.helpers import OpenLedger

LEASE = timedelta(seconds=10)
ALICE = "+4915112345678"
BOB = "+4917012345678"


def draft(
    key: str, at: datetime, recipients: tuple[str, ...] = (ALICE,), send_at: datetime | None = None
) -> RequestDraft:
    return RequestDraft(
        interaction_key=key,
        team_id="T1",
        user_id="U1",
        channel_id="C1",
        response_url=None,
        recipients=recipients,
        message="Hello",
        sms_id="s0",
        segments=1,
        requested_at=at,
        send_at=send_at,
    )


class Heard:
    """A status listener that keeps what it hears."""

    def __init__(self, ledger: SqlLedger) -> None:
        self.posts: list[StatusPost] = []
        ledger.on_status(self.posts.extend)

    def kinds(self) -> list[StatusKind]:
        return [post.kind for post in self.posts]


async def open_one(
    ledger: SqlLedger,
    key: str,
    clock: ManualClock,
    recipients: tuple[str, ...] = (ALICE,),
    send_at: datetime | None = None,
) -> SmsRequest:
    result = await ledger.open_request(draft(key, clock(), recipients, send_at), hourly_limit=99)
    assert isinstance(result, Opened)
    return result.request


async def test_each_change_records_its_post_for_the_instance_that_made_it(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    heard = Heard(ledger)
    now = clock()
    sent = await open_one(ledger, "command:1", clock, recipients=(ALICE, BOB))
    held = await open_one(ledger, "view:1", clock, send_at=now + timedelta(hours=1))
    assert heard.kinds() == [StatusKind.OPENED, StatusKind.OPENED, StatusKind.SCHEDULED]

    await ledger.finish(sent.sends[0].id, State.ACCEPTED)
    await ledger.finish(sent.sends[1].id, State.FAILED, sipgate_status=402, error_kind="balance")
    await ledger.cancel(held.id, user_id="U1", is_admin=False)

    outcomes = [post for post in heard.posts if post.kind is StatusKind.OUTCOME]
    assert [post.send_ids for post in outcomes] == [(sent.sends[0].id,), (sent.sends[1].id,)]
    (cancelled,) = [post for post in heard.posts if post.kind is StatusKind.CANCELLED]
    assert (cancelled.request_id, cancelled.detail) == (held.id, "U1")
    assert {post.queue for post in heard.posts} == {f"request:{sent.id}", f"request:{held.id}"}


async def test_nothing_is_recorded_or_heard_for_what_did_not_change(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    request = await open_one(ledger, "command:1", clock)
    heard = Heard(ledger)

    await ledger.finish(request.sends[0].id, State.ACCEPTED)
    assert not await ledger.finish(request.sends[0].id, State.FAILED)  # not sending any more
    await ledger.cancel(request.id, user_id="U1", is_admin=False)  # too late

    assert heard.kinds() == [StatusKind.OUTCOME]


async def test_overdue_sends_record_missed(ledger: SqlLedger, clock: ManualClock) -> None:
    heard = Heard(ledger)
    now = clock()
    stale = await open_one(ledger, "view:1", clock, send_at=now - timedelta(minutes=20))

    await ledger.expire_overdue(now, timedelta(minutes=15))

    assert heard.kinds()[-1] is StatusKind.MISSED
    assert heard.posts[-1].send_ids == tuple(send.id for send in stale.sends)


async def test_a_live_instance_keeps_its_posts_and_a_stopped_ones_are_taken(
    open_ledgers: OpenLedger, clock: ManualClock
) -> None:
    first, second = await open_ledgers(), await open_ledgers()
    for each in (first, second):
        await each.renew_lease(clock(), LEASE)
    request = await open_one(first, "command:1", clock)
    assert await second.claim_statuses(clock(), 10) == []

    later = clock.advance(timedelta(seconds=11))  # the first stopped renewing
    await second.renew_lease(later, LEASE)
    taken = await second.claim_statuses(later, 10)

    assert [(post.kind, post.request_id) for post in taken] == [(StatusKind.OPENED, request.id)]
    assert await second.claim_statuses(later, 10) == []  # held by the second now


async def test_a_stopping_instance_frees_its_posts_at_once(
    open_ledgers: OpenLedger, clock: ManualClock
) -> None:
    first, second = await open_ledgers(), await open_ledgers()
    for each in (first, second):
        await each.renew_lease(clock(), LEASE)
    await open_one(first, "command:1", clock)

    await first.end_lease()

    assert [post.kind for post in await second.claim_statuses(clock(), 10)] == [StatusKind.OPENED]


async def test_a_post_behind_another_instances_waits_and_keeps_its_order(
    open_ledgers: OpenLedger, clock: ManualClock
) -> None:
    first, second = await open_ledgers(), await open_ledgers()
    for each in (first, second):
        await each.renew_lease(clock(), LEASE)
    heard_first, heard_second = Heard(first), Heard(second)
    await open_one(first, "view:1", clock, send_at=clock())
    [claimed] = await second.claim_due(clock(), 10)

    await second.finish(claimed.sends[0].id, State.ACCEPTED)  # the first still holds the queue
    assert heard_second.posts == []
    assert await second.claim_statuses(clock(), 10) == []
    await first.status_delivered([post.id for post in heard_first.posts])
    taken = await second.claim_statuses(clock(), 10)

    assert [post.kind for post in taken] == [StatusKind.OUTCOME]


async def test_retry_waits_until_its_time_and_delivered_posts_are_gone(
    open_ledgers: OpenLedger, clock: ManualClock
) -> None:
    first, second = await open_ledgers(), await open_ledgers()
    await second.renew_lease(clock(), LEASE)
    request = await open_one(first, "command:1", clock)
    queue = f"request:{request.id}"
    await first.status_retry(queue, clock() + timedelta(seconds=30), "ratelimited")
    await first.end_lease()

    assert await second.claim_statuses(clock(), 10) == []  # not yet due
    later = clock.advance(timedelta(seconds=31))
    await second.renew_lease(later, LEASE)
    [post] = await second.claim_statuses(later, 10)
    assert post.attempts == 1
    await second.status_delivered([post.id])
    await second.end_lease()
    assert await first.claim_statuses(later, 10) == []


async def test_the_response_url_summary_is_taken_once(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    request = await open_one(ledger, "command:1", clock)

    assert await ledger.use_response_url(request.id)
    assert not await ledger.use_response_url(request.id)
