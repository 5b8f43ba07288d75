"""The bot-side scheduler's backpressure: it claims no more than it can send at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from bot.core import Opened, SchedulerConfig, SendScheduler, State
from bot.sandbox.harness import ManualClock, Sandbox
from bot.sandbox.sipgate import Scripted
from bot.sandbox.waiting import poll_until
from tests.fakes import ScriptedFakes
from tests.helpers import MakeBot, assert_stays, due_draft

CONCURRENCY = 3
DUE = 8
SLOW = Scripted(delay=1.5)  # a hang that ends well within SIPGATE_TIMEOUT, then 204


async def store_due(bot: Sandbox, clock: ManualClock, count: int) -> list[int]:
    """``count`` one-recipient requests due in a minute; their ids."""
    ids = []
    for index in range(count):
        opened = await bot.ledger.open_request(due_draft(index, clock), hourly_limit=1000)
        assert isinstance(opened, Opened)
        ids.append(opened.request.id)
    return ids


def counting_rounds(bot: Sandbox, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count scheduler rounds (each ends with one ``pending_count``)."""
    rounds = [0]
    original: Callable[[], Awaitable[int]] = bot.ledger.pending_count

    async def pending_count() -> int:
        rounds[0] += 1
        return await original()

    monkeypatch.setattr(bot.ledger, "pending_count", pending_count)
    return rounds


async def test_claims_no_more_than_it_can_send_at_once(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await make_bot(run_scheduler=False, SIPGATE_TIMEOUT="10")
    ids = await store_due(bot, clock, DUE)
    rounds = counting_rounds(bot, monkeypatch)
    fakes.sipgate.script_send(*[SLOW] * CONCURRENCY)
    config = SchedulerConfig(
        grace=timedelta(minutes=15),
        interval=60,  # only a freed slot can start the next round within the test
        concurrency=CONCURRENCY,
    )
    scheduler = SendScheduler(bot.ledger, bot.bot.service, config, clock, bot.bot.tracker)
    clock.advance(timedelta(minutes=2))
    loop = asyncio.create_task(scheduler.run())
    try:
        await fakes.sipgate.wait_for_posts(CONCURRENCY)
        assert DUE - await bot.ledger.pending_count() == CONCURRENCY  # claimed
        seen = rounds[0]
        await assert_stays(
            lambda: len(fakes.sipgate.sms_posts) == CONCURRENCY and rounds[0] == seen,
            what="more sends went out, or the loop spun, while every slot was taken",
        )
        assert DUE - await bot.ledger.pending_count() == CONCURRENCY

        await poll_until(
            lambda: len(fakes.sipgate.sms) == DUE,
            10.0,
            lambda: f"{len(fakes.sipgate.sms)} of {DUE} SMS accepted",
        )
        recipients = [post.json["recipient"] for post in fakes.sipgate.sms_posts]
        assert len(recipients) == DUE == len(set(recipients))
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await bot.settle()
    for request_id in ids:
        request = await bot.ledger.get_request(request_id)
        assert request is not None
        assert [send.state for send in request.sends] == [State.ACCEPTED]
    assert len(fakes.sipgate.sms_posts) == DUE
    assert fakes.sipgate.unused_script == ()


async def test_a_round_with_every_slot_taken_claims_nothing_and_says_more_may_be_due(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False, SIPGATE_TIMEOUT="10")
    await store_due(bot, clock, CONCURRENCY + 1)
    fakes.sipgate.script_send(*[SLOW] * CONCURRENCY)
    config = SchedulerConfig(grace=timedelta(minutes=15), concurrency=CONCURRENCY)
    scheduler = SendScheduler(bot.ledger, bot.bot.service, config, clock, bot.bot.tracker)
    clock.advance(timedelta(minutes=2))

    assert await scheduler.run_once()  # claimed all it was allowed to
    await fakes.sipgate.wait_for_posts(CONCURRENCY)
    assert await scheduler.run_once()  # nothing claimed, but more may be due
    assert await bot.ledger.pending_count() == 1

    await bot.settle()
    assert not await scheduler.run_once()  # the last one, below the limit
    await bot.settle()
    await fakes.sipgate.wait_for_posts(CONCURRENCY + 1)
    assert await bot.ledger.pending_count() == 0


async def test_a_scheduler_cancelled_just_as_it_wakes_up_stops(
    make_bot: MakeBot, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On Python 3.11, asyncio.wait_for swallows a cancellation that arrives as the awaited
    event is set: the loop went on after close() cancelled it (seen as a hung test run)."""
    bot = await make_bot(run_scheduler=False)
    rounds = counting_rounds(bot, monkeypatch)
    config = SchedulerConfig(grace=timedelta(minutes=15), interval=60, concurrency=CONCURRENCY)
    scheduler = SendScheduler(bot.ledger, bot.bot.service, config, clock, bot.bot.tracker)
    sleeping = asyncio.Event()
    sleep = scheduler._sleep

    async def noted_sleep() -> None:
        sleeping.set()
        await sleep()

    monkeypatch.setattr(scheduler, "_sleep", noted_sleep)
    loop = asyncio.create_task(scheduler.run())
    await poll_until(lambda: rounds[0] == 1, 5, lambda: "no first round")
    await asyncio.wait_for(sleeping.wait(), 5)  # in its sleep until the next round
    await asyncio.sleep(0)  # …waiting for the wake-up event

    scheduler._wake.set()  # a freed slot wakes it…
    await asyncio.sleep(0)  # …its wait is over…
    loop.cancel()  # …and the bot stops at that moment

    done, _ = await asyncio.wait([loop], timeout=5)
    assert done == {loop}, "the scheduler kept running after it was cancelled"
    assert loop.cancelled()
