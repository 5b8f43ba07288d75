"""Statuses under Slack's real limits: 429 storms, outages, restarts; cut-off sends.

The fake Slack keeps Slack's limits on a clock the test moves, so "a storm of 10 s" or "Slack
down for 30 s" pass in a moment; the bot is given a faster pace than Slack's own (20 posts a
second per conversation instead of 1) so that twenty requests in one channel do not take a
minute. Everything else — pacing, Retry-After, backoff, the ledger's outbox — is the real bot.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from bot.core import State, utc_now
from bot.sandbox.harness import ManualClock, Sandbox
from bot.sandbox.sipgate import Scripted
from bot.sandbox.slack_api import Message
from bot.sandbox.waiting import poll_until
from bot.slack import Pace
from tests.fakes import ScriptedFakes
from tests.helpers import MakeBot, thread, top_level

FAST = Pace(rate=20.0, burst=3.0, backoff_first=0.1, backoff_most=0.5)


class VirtualTime:
    """Monotonic time the test can jump forward (what the fake's limits see)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def jump(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def virtual(fakes: ScriptedFakes) -> VirtualTime:
    time_ = VirtualTime()
    fakes.slack.limits.clock = time_
    return time_


async def quick_sends(bot: Sandbox, count: int, channel: str = "C_GENERAL") -> list[float]:
    """``count`` quick sends to distinct numbers; when each command was acked."""
    acked = []
    for index in range(count):
        await bot.command(f"+49 151 {10000000 + index} message {index}", channel=channel)
        acked.append(time.monotonic())
    return acked


def threads(bot: Sandbox, channel: str) -> dict[str, tuple[Message, list[Message]]]:
    """Each status message by request number (``#3``), with its replies."""
    found = {}
    for parent in top_level(bot.slack, channel):
        number = parent.text.split()[1]
        found[number] = (parent, thread(bot.slack, channel, parent.ts))
    return found


async def wait_statuses(bot: Sandbox, count: int, within: float = 10.0) -> None:
    """Until ``count`` status messages show their outcome and each has its one reply."""

    def done() -> bool:
        shown = threads(bot, "C_GENERAL")
        final = [p for p, replies in shown.values() if "accepted" in p.text and len(replies) == 1]
        return len(final) == count

    await poll_until(done, within, lambda: f"statuses missing:\n{bot.slack.transcript()}")
    await bot.delivered(within)  # and the updates that follow the replies


def assert_each_status_once_and_in_order(bot: Sandbox, count: int) -> None:
    shown = threads(bot, "C_GENERAL")
    assert len(shown) == count  # one status message per request, none twice
    for parent, replies in shown.values():
        assert len(replies) == 1, f"{parent.text}: {[r.text for r in replies]}"
        assert float(replies[0].ts) > float(parent.ts)
        assert "accepted by sipgate" in replies[0].text
        assert parent.edited  # updated to the outcome after the reply


async def test_a_429_storm_delays_the_statuses_never_the_sms(
    make_bot: MakeBot, fakes: ScriptedFakes, virtual: VirtualTime
) -> None:
    bot = await make_bot(pace=FAST)
    fakes.slack.limits.enforce(channel_rate=FAST.rate, channel_burst=int(FAST.burst))
    fakes.slack.limits.storm(["chat.postMessage", "chat.update"], 10, retry_after=1)

    acked = await quick_sends(bot, 20)

    posts = await fakes.sipgate.wait_for_posts(20)
    for ack, post in zip(acked, sorted(p.at for p in posts), strict=True):
        assert post - ack < 1.0  # sipgate was called at once, whatever Slack said
    await poll_until(lambda: len(fakes.slack.limits.refusals) >= 20, 5, lambda: "no storm")
    assert top_level(bot.slack, "C_GENERAL") == []  # nothing got through the storm
    virtual.jump(10)  # the storm is over
    await wait_statuses(bot, 20)
    assert_each_status_once_and_in_order(bot, 20)
    assert fakes.slack.responses == []
    assert len(fakes.sipgate.sms_posts) == 20


async def test_slack_down_for_30_s_then_back_gets_every_status(
    make_bot: MakeBot, fakes: ScriptedFakes, virtual: VirtualTime
) -> None:
    bot = await make_bot(pace=FAST)
    await bot.command("help")  # Bolt checks the token once, before Slack goes down
    fakes.slack.limits.outage(30)

    await quick_sends(bot, 5)

    await fakes.sipgate.wait_for_posts(5)
    await poll_until(lambda: len(fakes.slack.limits.refusals) >= 10, 5, lambda: "no outage")
    virtual.jump(30)
    await wait_statuses(bot, 5)
    assert_each_status_once_and_in_order(bot, 5)
    assert fakes.slack.responses == []  # tried again, not given up for the fallback


async def test_statuses_left_by_a_stopped_bot_are_delivered_by_the_next_once(
    make_bot: MakeBot, fakes: ScriptedFakes, virtual: VirtualTime
) -> None:
    first = await make_bot(pace=FAST, clock=utc_now)  # retries are due by the real clock
    await first.command("help")  # Bolt checks the token once, before Slack goes down
    fakes.slack.limits.outage(60)
    await quick_sends(first, 3)
    await fakes.sipgate.wait_for_posts(3)
    await poll_until(lambda: len(fakes.slack.limits.refusals) >= 3, 5, lambda: "no outage")
    await first.close()  # stops with its statuses undelivered
    virtual.jump(60)

    second = await make_bot(pace=FAST, clock=utc_now)

    await wait_statuses(second, 3)
    assert_each_status_once_and_in_order(second, 3)
    assert len(fakes.sipgate.sms_posts) == 3


async def test_a_live_instances_send_is_never_taken_and_a_stopped_ones_is(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    first = await make_bot(run_scheduler=False, SIPGATE_TIMEOUT="10")
    second = await make_bot(run_scheduler=False)
    fakes.sipgate.script_send(_slow(3.0))
    await first.command("+49 151 12345678 slow answer")
    await fakes.sipgate.wait_for_posts(1)

    clock.advance(timedelta(seconds=11))  # longer than a lease, but the first renews it
    await first.bot.leases.round()
    await second.bot.leases.round()

    [request] = await second.ledger.list_for_user("U_ALICE")
    assert [send.state for send in request.sends] == [State.SENDING]
    await poll_until(lambda: len(fakes.sipgate.sms) == 1, 5, lambda: "sipgate never answered")
    await first.settle()
    stored = await second.ledger.get_request(request.id)
    assert stored is not None
    assert [send.state for send in stored.sends] == [State.ACCEPTED]


async def test_a_send_of_an_instance_that_stopped_renewing_becomes_unknown_and_is_told(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    first = await make_bot(run_scheduler=False, SIPGATE_TIMEOUT="10")
    second = await make_bot(run_scheduler=False)
    fakes.sipgate.script_send(_slow(5.0))
    await first.command("+49 151 12345678 cut off")
    await fakes.sipgate.wait_for_posts(1)
    for loop in first.bot.loops:  # the first hangs: no lease renewals any more
        loop.cancel()

    clock.advance(timedelta(seconds=11))
    await second.bot.leases.round()

    [request] = await second.ledger.list_for_user("U_ALICE")
    assert [send.state for send in request.sends] == [State.UNKNOWN]
    await poll_until(
        lambda: "the bot stopped while waiting" in bot_text(second),
        5,
        lambda: f"not told:\n{second.slack.transcript()}",
    )
    await asyncio.gather(*first.bot.loops, return_exceptions=True)
    first.bot.loops = []
    assert len(fakes.sipgate.sms_posts) == 1  # never sent again


def bot_text(bot: Sandbox) -> str:
    return "\n".join(str(call.args) for call in bot.slack.calls_to("chat.postMessage"))


def _slow(seconds: float) -> Scripted:
    return Scripted(status=204, delay=seconds)
