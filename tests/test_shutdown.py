"""Graceful shutdown of the real process: ``python -m bot`` and SIGTERM.

The bot runs as a subprocess in HTTP mode against the fake Slack and fake sipgate of the test
process. SIGTERM turns ``/healthz`` to 503, refuses new requests while a send is in flight,
gives that send up to 10 s, then records it as unknown, tells the requester and exits 0.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp

from bot.core import State
from bot.sandbox.sipgate import HANG
from bot.sandbox.waiting import probe_until
from bot.store import open_ledger
from tests.fakes import ScriptedFakes
from tests.helpers import bot_process, health, post_signed, quick_send_body

DRAIN_SECONDS = 10.0  # how long a stopping bot waits for sends in flight


async def test_sigterm_drains_a_hanging_send_then_records_it_unknown(
    fakes: ScriptedFakes, tmp_path: Path
) -> None:
    fakes.sipgate.script_send(HANG)
    # sipgate's own timeout must outlast the drain, so the drain is what ends the send.
    async with (
        bot_process(fakes, tmp_path, SIPGATE_TIMEOUT="60") as bot,
        aiohttp.ClientSession() as session,
    ):
        body = quick_send_body(fakes, "+4915112345678 Drain me")
        assert await post_signed(session, bot.url, body) == 200
        await fakes.sipgate.wait_for_posts(1)

        loop = asyncio.get_running_loop()
        terminated = loop.time()
        bot.process.send_signal(signal.SIGTERM)
        # The send in flight keeps the process draining for up to 10 s: 503 meanwhile.
        await _until_health(session, bot.url, {503})
        late = quick_send_body(fakes, "+4915112345679 Too late")
        assert await post_signed(session, bot.url, late) == 503

        assert await bot.wait_exit(DRAIN_SECONDS + 5) == 0, bot.log()
        took = loop.time() - terminated
        assert DRAIN_SECONDS - 0.5 <= took <= DRAIN_SECONDS + 4, took
        assert await health(session, bot.url) is None
        assert "send interrupted by shutdown" in bot.log()
        assert "garbage collector" not in bot.log(), bot.log()  # no connection left open

    assert len(fakes.sipgate.sms_posts) == 1  # the late request sent nothing
    ledger = await open_ledger(bot.database_url)
    try:
        requests = await ledger.list_for_user("U_ALICE")
    finally:
        await ledger.close()
    states = [send.state for request in requests for send in request.sends]
    assert states == [State.UNKNOWN], states
    assert State.SENDING not in states
    replies = [m.text for m in fakes.slack.messages("C_GENERAL") if m.thread_ts not in (None, m.ts)]
    assert any("outcome unknown" in text for text in replies), fakes.slack.transcript()


async def test_sigterm_with_nothing_in_flight_exits_quickly(
    fakes: ScriptedFakes, tmp_path: Path
) -> None:
    async with bot_process(fakes, tmp_path) as bot:
        loop = asyncio.get_running_loop()
        started = loop.time()
        bot.process.send_signal(signal.SIGTERM)
        assert await bot.wait_exit(5) == 0, bot.log()
        assert loop.time() - started < 3
    assert "stopped" in bot.log()


async def _until_health(
    session: aiohttp.ClientSession, url: str, wanted: set[int | None], within: float = 5
) -> None:
    """Wait until ``/healthz`` answers one of ``wanted`` (None: nothing listens)."""
    seen: set[int | None] = set()

    async def answered() -> bool:
        status = await health(session, url)
        seen.add(status)
        return status in wanted

    await probe_until(answered, within, lambda: f"/healthz never answered {wanted}; saw {seen}")
