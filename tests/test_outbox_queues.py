"""The status outbox's queues: started again when a post arrives as a drain ends, never after
the outbox stopped, and never held back by a snapshot older than the posts they hold; what was
delivered is written again after a pause when the database refused it, not at once.

A queue is drained by one task at a time; a post recorded after that task has emptied the
queue but before the loop has run its done callback must start the queue again, not wait for
a restart. A stopped outbox (its instance is shutting down, the next one takes its posts)
must not come back to life when a delivery under way at the stop fails and asks to be tried
again. The Slack side is a delivery that only notes what it was given (nothing is posted),
the ledger is a real one on SQLite.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import (
    Inbound,
    IncomingSms,
    Ledger,
    LedgerUnavailable,
    Opened,
    RequestDraft,
    SmsExtension,
    SmsRequest,
    State,
    StatusKind,
    StatusPost,
)
from bot.sandbox.harness import ManualClock
from bot.sandbox.waiting import poll_until
from bot.slack import Pace, Pacer, SlackWeb, StatusChannels, StatusDelivery, StatusOutbox
from bot.slack.outbox import Marks
from bot.slack.web import SlackCallFailed
from bot.store import SqlLedger, open_ledger
from tests.helpers import assert_stays

ANNA = "+4915112345678"


def no_sender(sms_id: str) -> SmsExtension:
    raise AssertionError("an incoming SMS has no sender extension")


class NotingDelivery(StatusDelivery):
    """Notes the incoming SMS it is given; runs ``after_each`` right after (soon, unawaited)."""

    def __init__(self, ledger: SqlLedger, after_each: Callable[[], None]) -> None:
        slack = SlackWeb(AsyncWebClient(token="xoxb-never-used"))
        super().__init__(ledger, StatusChannels(slack, slack, Pacer()), no_sender)
        self.shown: list[str] = []
        self._after_each = after_each

    async def deliver_inbound(self, inbound: Inbound) -> None:
        self.shown.append(inbound.text)
        asyncio.get_running_loop().call_soon(self._after_each)


class SlackDownDelivery(StatusDelivery):
    """Every delivery is under way until ``answer`` is set, then Slack answers 503."""

    def __init__(self, ledger: SqlLedger) -> None:
        slack = SlackWeb(AsyncWebClient(token="xoxb-never-used"))
        quick = Pacer(Pace(backoff_first=0.01, backoff_most=0.02))
        super().__init__(ledger, StatusChannels(slack, slack, quick), no_sender)
        self.tries = 0
        self.answer = asyncio.Event()

    async def deliver_inbound(self, inbound: Inbound) -> None:
        self.tries += 1
        await self.answer.wait()
        raise SlackCallFailed("service_unavailable", transient=True)


class HeldOpenDelivery(StatusDelivery):
    """Notes what each delivery told (kind, states); the status message is posted only once
    ``post_open`` is set."""

    def __init__(self, ledger: SqlLedger) -> None:
        slack = SlackWeb(AsyncWebClient(token="xoxb-never-used"))
        super().__init__(ledger, StatusChannels(slack, slack, Pacer()), no_sender)
        self.told: list[tuple[StatusKind, tuple[State, ...]]] = []
        self.post_open = asyncio.Event()

    async def deliver(self, posts: Sequence[StatusPost], request: SmsRequest) -> SmsRequest:
        states = tuple(send.state for send in request.sends)
        if posts[0].kind is StatusKind.OPENED:
            await self.post_open.wait()
            self.told.append((StatusKind.OPENED, states))
            return dataclasses.replace(request, status_channel="C_OPS", status_ts="1.000100")
        self.told.append((posts[0].kind, states))
        return request


@pytest.fixture
async def ledger(tmp_path: Path, clock: ManualClock) -> AsyncIterator[SqlLedger]:
    opened = await open_ledger(f"sqlite:///{tmp_path}/ledger.db", clock=clock)
    await opened.renew_lease(clock(), timedelta(minutes=5))
    yield opened
    await opened.close()


async def inbound_posts(ledger: SqlLedger, clock: ManualClock, *texts: str) -> list[StatusPost]:
    """The status posts of SMS from Anna (one conversation: one queue), as recorded."""
    heard: list[Sequence[StatusPost]] = []
    ledger.on_status(heard.append)
    for index, text in enumerate(texts):
        sms = IncomingSms(f"entry-{index}", ANNA, "+4915799912345", text, clock())
        await ledger.inbox.receive(sms, ANNA, None, None, inbox_channel="C_IN", conversation_days=7)
    return [post for posts in heard for post in posts]


async def test_a_post_recorded_as_its_queues_drain_ends_is_delivered(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    first, second = await inbound_posts(ledger, clock, "first", "second")
    later = [second]

    def record_the_next() -> None:  # runs before the drain task's done callback
        if later:
            outbox.recorded([later.pop()])

    delivery = NotingDelivery(ledger, record_the_next)
    outbox = StatusOutbox(ledger, delivery, clock, ledger.inbox)

    outbox.recorded([first])

    await poll_until(
        lambda: delivery.shown == ["first", "second"], 2, lambda: f"shown: {delivery.shown}"
    )
    await poll_until(lambda: not outbox.busy, 2, lambda: "the outbox is still busy")
    await outbox.stop()


async def test_a_delivery_failing_while_the_outbox_stops_is_not_tried_again_by_it(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    (post,) = await inbound_posts(ledger, clock, "Slack is down")
    delivery = SlackDownDelivery(ledger)
    outbox = StatusOutbox(ledger, delivery, clock, ledger.inbox)
    outbox.recorded([post])
    await poll_until(lambda: delivery.tries == 1, 2, lambda: "never tried")

    stopping = asyncio.create_task(outbox.stop(grace=2))
    await poll_until(lambda: outbox.busy, 1, lambda: "the delivery is not under way")
    delivery.answer.set()  # Slack answers 503 while the outbox waits for it to stop
    await stopping

    await assert_stays(lambda: delivery.tries == 1, within=0.2, what="tried after its stop")
    assert not outbox.busy


async def test_an_outcome_recorded_while_a_claimed_status_is_posted_goes_out_at_once(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    """A stopped instance's status message is posted by this one (claimed: no snapshot, the
    request read from the ledger, its send still ``sending``); meanwhile the send is resolved
    as unknown. The outcome must follow at once, not wait for the snapshot to go stale."""
    heard: list[StatusPost] = []
    ledger.on_status(heard.extend)
    draft = RequestDraft(
        "command:cut-off", "T1", "U_ALICE", "C_OPS", None, (ANNA,), "On my way", "s0", 1, clock()
    )
    opened = await ledger.open_request(draft, hourly_limit=10)
    assert isinstance(opened, Opened)
    (claimed,) = [dataclasses.replace(post, request=None) for post in heard]
    delivery = HeldOpenDelivery(ledger)
    outbox = StatusOutbox(ledger, delivery, clock, ledger.inbox)

    outbox.recorded([claimed])
    await poll_until(lambda: outbox.busy, 1, lambda: "the status message is not under way")
    (send,) = opened.request.sends
    await ledger.finish(send.id, State.UNKNOWN, error_kind="interrupted")
    delivery.post_open.set()

    await poll_until(lambda: len(delivery.told) == 2, 1, lambda: f"told only: {delivery.told}")
    assert delivery.told == [
        (StatusKind.OPENED, (State.SENDING,)),
        (StatusKind.OUTCOME, (State.UNKNOWN,)),
    ]
    await outbox.stop()


class DownThenBackLedger:
    """Only what ``Marks`` uses: refuses the first ``failures`` writes, then takes them."""

    def __init__(self, failures: int) -> None:
        self.writes: list[list[int]] = []
        self.failures = failures

    async def status_delivered(self, post_ids: Sequence[int], **_: object) -> None:
        self.writes.append(list(post_ids))
        if len(self.writes) <= self.failures:
            raise LedgerUnavailable("OperationalError")


async def test_delivered_posts_are_written_again_after_a_pause_when_the_database_refused() -> None:
    ledger = DownThenBackLedger(failures=1)
    marks = Marks(cast(Ledger, ledger), every=0.02, retry=0.3)

    marks.delivered([7])
    await poll_until(lambda: len(ledger.writes) == 1, 1, lambda: "never written")
    await assert_stays(lambda: len(ledger.writes) == 1, within=0.15, what="written again at once")
    await poll_until(lambda: len(ledger.writes) == 2, 1, lambda: "never written again")

    assert ledger.writes == [[7], [7]]
    await poll_until(lambda: not marks.pending, 1, lambda: "still pending after the write")
