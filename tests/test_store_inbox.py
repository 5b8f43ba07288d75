"""SMS coming back, in the ledger: claimed once, routed to their conversation, opt-outs applied,
their status post recorded — on SQLite and on PostgreSQL (the fixtures are in conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from bot.core import (
    Inbound,
    IncomingSms,
    Opened,
    Opt,
    RequestDraft,
    State,
    StatusKind,
    StatusPost,
)
from bot.sandbox.harness import ManualClock
from bot.store import SqlLedger
from tests.helpers import OpenLedger

ANNA = "+4915112345678"
BEN = "+4917012345678"
INBOX = "C_INBOX"
DAYS = 7

_entries = iter(range(1, 1_000_000))


def incoming(clock: ManualClock, text: str = "Yes, 3pm works", source: str = ANNA) -> IncomingSms:
    """A new history entry from ``source``, sent now."""
    return IncomingSms(str(next(_entries)), source, "+4915799912345", text, clock())


async def receive(
    ledger: SqlLedger, sms: IncomingSms, opt: Opt | None = None, name: str | None = None
) -> Inbound | None:
    return await ledger.inbox.receive(
        sms, sms.source, name, opt, inbox_channel=INBOX, conversation_days=DAYS
    )


async def received(ledger: SqlLedger, sms: IncomingSms, opt: Opt | None = None) -> Inbound:
    """``sms`` claimed by ``ledger`` (it must be new)."""
    inbound = await receive(ledger, sms, opt)
    assert inbound is not None
    return inbound


async def texted(
    ledger: SqlLedger, clock: ManualClock, key: str, state: State, *, thread: str, to: str = ANNA
) -> int:
    """A request that texted ``to`` and ended ``state``, its status shown at ``thread`` in C1."""
    draft = RequestDraft(key, "T1", "U1", "C1", None, (to,), "See you at 3", "s0", 1, clock())
    result = await ledger.open_request(draft, hourly_limit=100)
    assert isinstance(result, Opened)
    request = result.request
    await ledger.finish(request.sends[0].id, state)
    await ledger.status_delivered([], shown=[(request.id, "C1", thread)])
    return request.id


# --- claims ------------------------------------------------------------------------------------


async def test_an_entry_is_claimed_once_across_instances(
    open_ledgers: OpenLedger, clock: ManualClock
) -> None:
    first, second = await open_ledgers(), await open_ledgers()
    sms = incoming(clock)

    inbound = await received(first, sms)

    assert await receive(first, sms) is None
    assert await receive(second, sms) is None
    assert await second.inbox.claimed([sms.entry_id, "never-seen"]) == {sms.entry_id}
    assert (inbound.number, inbound.text, inbound.sent_at) == (ANNA, sms.text, sms.sent_at)
    assert await second.inbox.inbound(inbound.id) == inbound


async def test_instances_claiming_the_same_entries_at_once_get_each_once(
    open_ledgers: OpenLedger, clock: ManualClock
) -> None:
    ledgers = [await open_ledgers() for _ in range(3)]
    entries = [incoming(clock, f"sms {index}", f"+49151000000{index:02d}") for index in range(20)]

    claims = await asyncio.gather(
        *(receive(ledger, sms) for sms in entries for ledger in ledgers), return_exceptions=True
    )

    assert [claim for claim in claims if isinstance(claim, BaseException)] == []
    winners = [claim for claim in claims if isinstance(claim, Inbound)]
    assert sorted(claim.text for claim in winners) == sorted(sms.text for sms in entries)


async def test_a_claim_records_its_status_post_in_the_conversations_queue(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    heard: list[Sequence[StatusPost]] = []
    ledger.on_status(heard.append)

    inbound = await received(ledger, incoming(clock))

    ((post,),) = heard
    assert post.kind is StatusKind.INBOUND
    assert post.queue == f"conversation:{inbound.conversation.id}"
    assert post.detail == str(inbound.id)
    assert post.request_id is None


async def test_the_first_start_is_kept(open_ledgers: OpenLedger, clock: ManualClock) -> None:
    first = await open_ledgers()
    started = clock()

    assert await first.inbox.start_inbox(started) == started
    later = clock.advance(timedelta(days=3))
    assert await first.inbox.start_inbox(later) == started
    assert await (await open_ledgers()).inbox.start_inbox(later) == started


async def test_the_watermark_is_what_was_set_last(ledger: SqlLedger, clock: ManualClock) -> None:
    assert await ledger.inbox.inbox_watermark() is None

    await ledger.inbox.set_inbox_watermark(clock())
    await ledger.inbox.set_inbox_watermark(clock() + timedelta(minutes=1))

    assert await ledger.inbox.inbox_watermark() == clock() + timedelta(minutes=1)


# --- where an SMS goes -------------------------------------------------------------------------


async def test_an_sms_from_a_number_nobody_texted_starts_an_inbox_conversation(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    inbound = await received(ledger, incoming(clock))

    conversation = inbound.conversation
    assert (conversation.number, conversation.channel_id) == (ANNA, INBOX)
    assert (conversation.thread_ts, conversation.request_id) == (None, None)


async def test_an_inbox_conversation_takes_the_numbers_sms_while_it_is_young(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    first = await received(ledger, incoming(clock))
    await ledger.inbox.set_conversation_thread(first.conversation.id, "100.1")

    clock.advance(timedelta(days=DAYS - 1))
    again = await received(ledger, incoming(clock))
    other = await received(ledger, incoming(clock, source=BEN))
    clock.advance(timedelta(days=1, seconds=1))
    later = await received(ledger, incoming(clock))

    assert again.conversation.id == first.conversation.id
    assert again.conversation.thread_ts == "100.1"
    assert other.conversation.id != first.conversation.id
    assert later.conversation.id not in (first.conversation.id, other.conversation.id)
    assert later.conversation.thread_ts is None


async def test_an_sms_goes_to_the_thread_of_the_latest_request_that_reached_the_number(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    await texted(ledger, clock, "command:1", State.ACCEPTED, thread="100.1")
    latest = await texted(ledger, clock, "command:2", State.UNKNOWN, thread="200.2")
    await texted(ledger, clock, "command:3", State.FAILED, thread="300.3")
    await texted(ledger, clock, "command:4", State.ACCEPTED, thread="400.4", to=BEN)

    inbound = await received(ledger, incoming(clock))
    again = await received(ledger, incoming(clock, "and one more thing"))

    conversation = inbound.conversation
    assert (conversation.channel_id, conversation.thread_ts) == ("C1", "200.2")
    assert conversation.request_id == latest
    assert again.conversation == conversation
    assert await ledger.inbox.conversation_at("C1", "200.2") == conversation


async def test_a_request_older_than_the_conversation_days_is_no_longer_the_place(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    await texted(ledger, clock, "command:1", State.ACCEPTED, thread="100.1")
    clock.advance(timedelta(days=DAYS, minutes=1))

    inbound = await received(ledger, incoming(clock))

    assert inbound.conversation.channel_id == INBOX
    assert inbound.conversation.request_id is None


async def test_a_conversation_moved_to_the_inbox_keeps_its_later_sms(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    await texted(ledger, clock, "command:1", State.ACCEPTED, thread="100.1")
    first = await received(ledger, incoming(clock))

    moved = await ledger.inbox.move_to_inbox(first.conversation.id, INBOX)
    await ledger.inbox.set_conversation_thread(moved.id, "500.5")
    later = await received(ledger, incoming(clock, "still there?"))

    assert (moved.id, moved.channel_id, moved.thread_ts) == (first.conversation.id, INBOX, None)
    assert (later.conversation.channel_id, later.conversation.thread_ts) == (INBOX, "500.5")
    assert await ledger.inbox.conversation_at("C1", "100.1") is None


# --- opt-out and opt-in ------------------------------------------------------------------------


async def test_an_opt_out_sms_puts_its_number_on_the_list_with_its_claim(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    inbound = await received(ledger, incoming(clock, " Stopp. "), "out")

    found = await ledger.opt_outs.opted_out([ANNA, BEN])
    assert list(found) == [ANNA]
    assert (found[ANNA].how, found[ANNA].by, found[ANNA].since) == ("STOPP", ANNA, clock())
    assert inbound.opt == "out"


async def test_an_opt_in_sms_takes_its_number_off_the_list(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    await received(ledger, incoming(clock, "STOP"), "out")
    await received(ledger, incoming(clock, "STOP"), "out")  # on it already: no error
    await received(ledger, incoming(clock, "start"), "in")

    assert await ledger.opt_outs.opted_out([ANNA]) == {}
    assert await ledger.opt_outs.opt_outs() == []


async def test_an_opt_in_of_a_number_not_on_the_list_changes_nothing(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    await ledger.opt_outs.opt_out(BEN, "admin", "U_ADMIN", clock())

    await received(ledger, incoming(clock, "START"), "in")

    assert [entry.number for entry in await ledger.opt_outs.opt_outs()] == [BEN]


async def test_a_repeated_entry_applies_its_opt_out_once(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    stop = incoming(clock, "STOP")
    await received(ledger, stop, "out")
    await ledger.opt_outs.opt_in(ANNA)  # an admin took it off since

    assert await receive(ledger, stop, "out") is None
    assert await ledger.opt_outs.opted_out([ANNA]) == {}


async def test_two_sms_of_a_new_number_claimed_at_once_by_two_instances_share_a_conversation(
    open_ledgers: OpenLedger, clock: ManualClock
) -> None:
    first, second = await open_ledgers(), await open_ledgers()
    numbers = [f"+4915100000{index:03d}" for index in range(10)]

    pairs = [
        await asyncio.gather(
            received(first, incoming(clock, "one", number)),
            received(second, incoming(clock, "two", number)),
        )
        for number in numbers
    ]

    assert [one.conversation.id == two.conversation.id for one, two in pairs] == [True] * 10
