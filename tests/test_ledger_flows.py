"""The ledger seen through the bot: restarts, crashes, several instances, on both databases."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import aiohttp
import pytest

from bot.core import RequestDraft, State
from bot.sandbox.harness import (
    SIGNING_SECRET,
    Fakes,
    ManualClock,
    Sandbox,
    in_minutes,
    sandbox_environ,
)
from bot.sandbox.sipgate import HANG
from bot.sandbox.slack import poll_until
from bot.sandbox.slack_requests import (
    form_body,
    modal_state,
    signed_headers,
    slash_command_fields,
)
from bot.store import open_ledger
from tests.store_fixtures import ledger_url  # noqa: F401 - the parameterised fixture

NUMBER = "+49 151 12345678"
StartBot = Callable[..., Awaitable[Sandbox]]


@pytest.fixture
async def start_bot(fakes: Fakes, ledger_url: str) -> AsyncIterator[StartBot]:  # noqa: F811
    """Start bot instances on the same database (each one is another process's worth)."""
    bots: list[Sandbox] = []

    async def start(clock: ManualClock, **overrides: str) -> Sandbox:
        bot = await Sandbox.start(
            fakes, clock=clock, run_scheduler=False, DATABASE_URL=ledger_url, **overrides
        )
        bots.append(bot)
        return bot

    yield start
    for bot in bots:
        await bot.close()


async def schedule(bot: Sandbox, clock: ManualClock, minutes: int, view_id: str) -> None:
    opened = len(bot.slack.views)
    await bot.command("")
    await bot.slack.wait_for("views.open", opened + 1)
    state = modal_state(to=NUMBER, message="See you at 3", when=in_minutes(clock, minutes))
    response = await bot.dispatch(bot.submission_body(state, view_id=view_id))
    assert response.status == 200
    assert not response.body


async def fire(bot: Sandbox) -> None:
    await bot.fire_due()


async def test_a_scheduled_send_fires_after_a_restart(start_bot: StartBot, fakes: Fakes) -> None:
    clock = ManualClock()
    first = await start_bot(clock)
    await schedule(first, clock, minutes=10, view_id="V1")
    await poll_until(
        lambda: len(fakes.slack.calls_to("chat.postMessage")) >= 2,
        5,
        lambda: "scheduled status never posted",
    )
    await first.close()

    clock.advance(timedelta(minutes=11))
    second = await start_bot(clock)
    await fire(second)

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


async def test_overdue_beyond_grace_is_missed_not_sent(start_bot: StartBot, fakes: Fakes) -> None:
    clock = ManualClock()
    first = await start_bot(clock)
    await schedule(first, clock, minutes=5, view_id="V1")
    await first.close()

    clock.advance(timedelta(minutes=5, seconds=901))
    second = await start_bot(clock, SMS_SCHEDULE_GRACE="900")
    await fire(second)

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


async def test_hourly_limit_counts_across_instances(start_bot: StartBot, fakes: Fakes) -> None:
    clock = ManualClock()
    one = await start_bot(clock, SMS_USER_HOURLY_LIMIT="2")
    two = await start_bot(clock, SMS_USER_HOURLY_LIMIT="2")

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
    start_bot: StartBot,
    fakes: Fakes,
    ledger_url: str,  # noqa: F811
) -> None:
    clock = ManualClock()
    ledger = await open_ledger(ledger_url)
    for index in range(200):
        await ledger.open_request(due_draft(index, clock), hourly_limit=1000)
    await ledger.close()
    clock.advance(timedelta(minutes=2))
    one = await start_bot(clock, SMS_ALLOW_EVERYONE="true")
    two = await start_bot(clock, SMS_ALLOW_EVERYONE="true")

    await asyncio.gather(*(fire_all(bot) for bot in (one, two, one, two)))

    recipients = [post.json["recipient"] for post in await fakes.sipgate.wait_for_posts(200)]
    assert len(recipients) == 200 == len(set(recipients))
    await asyncio.sleep(0)  # let nothing else slip in: the count must stay exactly 200
    assert len(fakes.sipgate.sms_posts) == 200


async def fire_all(bot: Sandbox) -> None:
    """Scheduler rounds until nothing more is due (statuses are left to the outbox)."""
    while await bot.scheduler.run_once():
        await bot.settle()
    await bot.settle()


def due_draft(index: int, clock: ManualClock) -> RequestDraft:
    return RequestDraft(
        interaction_key=f"view:BULK{index}",
        team_id="T_SANDBOX",
        user_id="U_ALICE",
        channel_id="C_GENERAL",
        response_url=None,
        recipients=(f"+49151{index:08d}",),
        message=f"bulk {index}",
        sms_id="s0",
        segments=1,
        requested_at=clock(),
        send_at=clock() + timedelta(minutes=1),
    )


async def test_a_crash_between_sending_and_the_answer_becomes_unknown(
    fakes: Fakes, tmp_path: os.PathLike[str]
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
            await _post_signed(http, port, _command_body(fakes))
        await fakes.sipgate.wait_for_posts(1)
    finally:
        bot.send_signal(signal.SIGKILL)  # a crash: no shutdown, no answer recorded
        await bot.wait()

    clock = ManualClock()
    clock.advance(timedelta(minutes=2))  # longer than any send can take
    restarted = await Sandbox.start(fakes, clock=clock, run_scheduler=False, DATABASE_URL=database)
    try:
        await fire(restarted)
        [request] = await restarted.ledger.list_for_user("U_ALICE")
        assert [send.state for send in request.sends] == [State.UNKNOWN]
        # In the thread, or by DM if the crash came before the thread's ts was stored.
        await poll_until(
            lambda: any(
                "the bot stopped while waiting" in str(c.args.get("text"))
                for c in fakes.slack.calls_to("chat.postMessage")
            ),
            5,
            lambda: f"the requester was not told: {fakes.slack.calls}",
        )
    finally:
        await restarted.close()
    assert len(fakes.sipgate.sms_posts) == 1


async def _listening_port(bot: asyncio.subprocess.Process) -> int:
    """PORT=0 makes the bot log the port it bound; read it from stderr."""
    assert bot.stderr is not None
    async with asyncio.timeout(15):
        while line := (await bot.stderr.readline()).decode():
            if "bot started" in line and "port=" in line:
                return int(line.split("port=")[1].split()[0])
    raise AssertionError("the bot exited before it started")


def _command_body(fakes: Fakes) -> str:
    fields = slash_command_fields(
        text=f"{NUMBER} crash test", response_url=fakes.slack.new_response_url()
    )
    return form_body(fields)


async def _post_signed(http: aiohttp.ClientSession, port: int, body: str) -> None:
    headers = signed_headers(body, SIGNING_SECRET)
    async with http.post(
        f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers
    ) as response:
        assert response.status == 200
