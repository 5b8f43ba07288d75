"""The ledger seen through the bot: restarts, crashes, several instances, on both databases."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import sys
import time
from datetime import timedelta

import aiohttp
import pytest

from bot.core import State, utc_now
from bot.sandbox.harness import ManualClock, Sandbox, sandbox_environ
from bot.sandbox.sipgate import HANG
from bot.sandbox.waiting import poll_until
from bot.store import open_ledger
from tests.fakes import ScriptedFakes
from tests.helpers import (
    NUMBER,
    MakeBot,
    due_draft,
    post_signed,
    quick_send_body,
    schedule,
)


@pytest.fixture
def start_bot(make_bot: MakeBot, ledger_url: str) -> MakeBot:
    """Start bot instances on the test's database (each one is another process's worth)."""
    return functools.partial(make_bot, run_scheduler=False, DATABASE_URL=ledger_url)


async def test_a_scheduled_send_fires_after_a_restart(
    start_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    first = await start_bot()
    await schedule(first, clock, minutes=10)
    await poll_until(
        lambda: len(fakes.slack.calls_to("chat.postMessage")) >= 2,
        5,
        lambda: "scheduled status never posted",
    )
    await first.close()

    clock.advance(timedelta(minutes=11))
    second = await start_bot()
    await second.fire_due()

    posts = await fakes.sipgate.wait_for_posts(1)
    assert posts[0].json["recipient"] == "+4915112345678"
    parent = fakes.slack.calls_to("chat.postMessage")[0]
    await poll_until(
        lambda: len(fakes.slack.calls_to("chat.postMessage")) >= 3, 5, lambda: "no outcome reply"
    )
    reply = fakes.slack.calls_to("chat.postMessage")[-1]
    assert reply.args.get("thread_ts") == fakes.slack.messages("C_GENERAL")[0].ts
    assert "accepted by sipgate" in str(reply.args["text"])
    assert not parent.args.get("thread_ts")


async def test_overdue_beyond_grace_is_missed_not_sent(
    start_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    first = await start_bot()
    await schedule(first, clock, minutes=5)
    await first.close()

    clock.advance(timedelta(minutes=5, seconds=901))
    second = await start_bot(SMS_SCHEDULE_GRACE="900")
    await second.fire_due()

    await poll_until(
        lambda: any(
            "⏰" in str(c.args.get("text")) for c in fakes.slack.calls_to("chat.postMessage")
        ),
        5,
        lambda: "the requester was not told about the missed send",
    )
    assert fakes.sipgate.sms_posts == []
    [request] = await second.ledger.list_for_user("U_ALICE")
    assert [send.state for send in request.sends] == [State.MISSED]


async def test_hourly_limit_counts_across_instances(
    start_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    one = await start_bot(SMS_USER_HOURLY_LIMIT="2")
    two = await start_bot(SMS_USER_HOURLY_LIMIT="2")

    await one.command(f"{NUMBER} first")
    await fakes.sipgate.wait_for_posts(1)
    await two.command(f"{NUMBER} second")
    await fakes.sipgate.wait_for_posts(2)
    await one.command(f"{NUMBER} third")

    await poll_until(
        lambda: any("per hour" in str(p.body) for p in fakes.slack.responses),
        5,
        lambda: "the third request was not refused",
    )
    assert len(fakes.sipgate.sms_posts) == 2


async def test_two_instances_send_200_due_sends_exactly_once(
    start_bot: MakeBot,
    fakes: ScriptedFakes,
    ledger_url: str,
    clock: ManualClock,
) -> None:
    ledger = await open_ledger(ledger_url)
    for index in range(200):
        await ledger.open_request(due_draft(index, clock), hourly_limit=1000)
    await ledger.close()
    clock.advance(timedelta(minutes=2))
    one = await start_bot(SMS_ALLOW_EVERYONE="true")
    two = await start_bot(SMS_ALLOW_EVERYONE="true")

    await asyncio.gather(*(fire_all(bot) for bot in (one, two, one, two)))

    recipients = [post.json["recipient"] for post in await fakes.sipgate.wait_for_posts(200)]
    assert len(recipients) == 200 == len(set(recipients))
    await one.settle()
    await two.settle()
    assert len(fakes.sipgate.sms_posts) == 200  # both instances are done: none sent twice


async def fire_all(bot: Sandbox) -> None:
    """Scheduler rounds until nothing more is due (statuses are left to the outbox)."""
    while await bot.scheduler.run_once():
        await bot.settle()
    await bot.settle()


async def test_a_crash_between_sending_and_the_answer_becomes_unknown_within_15_s(
    make_bot: MakeBot, fakes: ScriptedFakes, tmp_path: os.PathLike[str]
) -> None:
    database = f"sqlite:///{os.path.join(tmp_path, 'crash.db')}"
    environ = {
        **os.environ,
        **sandbox_environ(
            fakes.slack, fakes.sipgate, DATABASE_URL=database, PORT="0", SIPGATE_TIMEOUT="30"
        ),
    }
    fakes.sipgate.script_send(HANG)
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", env=environ, stderr=asyncio.subprocess.PIPE
    )
    try:
        port = await _listening_port(bot)
        async with aiohttp.ClientSession() as http:
            url, body = f"http://127.0.0.1:{port}", quick_send_body(fakes, f"{NUMBER} crash test")
            assert await post_signed(http, url, body) == 200
        await fakes.sipgate.wait_for_posts(1)
    finally:
        bot.send_signal(signal.SIGKILL)  # a crash: no shutdown, no answer recorded
        await bot.wait()

    started = time.monotonic()
    restarted = await make_bot(clock=utc_now, run_scheduler=False, DATABASE_URL=database)
    # The crashed instance's lease runs out; the next lease round resolves its send.
    await poll_until(
        lambda: any(
            "the bot stopped while waiting" in str(c.args)
            for c in fakes.slack.calls_to("chat.postMessage")
        ),
        15,
        lambda: f"the requester was not told: {fakes.slack.calls}",
    )
    assert time.monotonic() - started < 15
    [request] = await restarted.ledger.list_for_user("U_ALICE")
    assert [send.state for send in request.sends] == [State.UNKNOWN]
    await restarted.settle()
    assert len(fakes.sipgate.sms_posts) == 1  # never sent again


async def _listening_port(bot: asyncio.subprocess.Process) -> int:
    """PORT=0 makes the bot log the port it bound; read it from stderr."""
    assert bot.stderr is not None
    async with asyncio.timeout(15):
        while line := (await bot.stderr.readline()).decode():
            if "bot started" in line and "port=" in line:
                return int(line.split("port=")[1].split()[0])
    raise AssertionError("the bot exited before it started")
