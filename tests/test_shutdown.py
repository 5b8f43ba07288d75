"""Graceful shutdown of the real process: ``python -m bot`` and SIGTERM (PRODUCT.md §5).

The bot runs as a subprocess in HTTP mode against the fake Slack and fake sipgate of the test
process. SIGTERM turns ``/healthz`` to 503, refuses new requests while a send is in flight,
gives that send up to 10 s, then records it as unknown, tells the requester and exits 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.core import State
from bot.sandbox.harness import SIGNING_SECRET, Fakes, sandbox_environ
from bot.sandbox.sipgate import HANG
from bot.sandbox.slack_requests import form_body, signed_headers, slash_command_fields
from bot.store import open_ledger

ROOT = Path(__file__).resolve().parent.parent
DRAIN_SECONDS = 10.0  # PRODUCT.md §5


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class BotProcess:
    """A running ``python -m bot``: its base URL, database and captured stderr."""

    process: asyncio.subprocess.Process
    url: str
    database_url: str
    stderr: Path

    def log(self) -> str:
        return self.stderr.read_text(encoding="utf-8", errors="replace")

    async def wait_exit(self, timeout: float) -> int:  # noqa: ASYNC109
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"the bot did not exit within {timeout}s:\n{self.log()}") from None


@contextmanager
def _log_file(path: Path) -> Iterator[int]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        yield fd
    finally:
        os.close(fd)


@asynccontextmanager
async def bot_process(fakes: Fakes, tmp_path: Path, **overrides: str) -> AsyncIterator[BotProcess]:
    """Start ``python -m bot`` on a free port; wait for /healthz 200; kill it if still running."""
    port = free_port()
    database_url = f"sqlite:///{tmp_path}/bot.db"
    settings = sandbox_environ(
        fakes.slack,
        fakes.sipgate,
        DATABASE_URL=database_url,
        PORT=str(port),
        **overrides,
    )
    environ = {"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1", **settings}
    stderr = tmp_path / "bot.stderr"
    with _log_file(stderr) as fd:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=tmp_path,  # no .env of the developer's checkout is read
            env={**environ, "PYTHONPATH": str(ROOT)},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
        )
    running = BotProcess(process, f"http://127.0.0.1:{port}", database_url, stderr)
    try:
        await _wait_healthy(running)
        yield running
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _wait_healthy(bot: BotProcess) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    async with aiohttp.ClientSession() as session:
        while loop.time() < deadline:
            if bot.process.returncode is not None:
                raise AssertionError(f"the bot exited with {bot.process.returncode}:\n{bot.log()}")
            try:
                async with session.get(f"{bot.url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"/healthz never answered 200:\n{bot.log()}")


def quick_send_body(fakes: Fakes, text: str, user: str = "U_ALICE") -> str:
    fields = slash_command_fields(
        text=text,
        user_id=user,
        response_url=fakes.slack.new_response_url(user_id=user, channel_id="C_GENERAL"),
        trigger_id=fakes.slack.new_trigger_id(user),
    )
    return form_body(fields)


async def post_signed(session: aiohttp.ClientSession, url: str, body: str) -> int:
    headers = signed_headers(body, SIGNING_SECRET)
    async with session.post(f"{url}/slack/events", data=body, headers=headers) as response:
        await response.read()
        return response.status


async def status_of(session: aiohttp.ClientSession, url: str) -> int | None:
    """``/healthz``'s status, or None when nothing listens any more."""
    try:
        async with session.get(f"{url}/healthz") as response:
            return response.status
    except aiohttp.ClientConnectionError:
        return None


async def test_sigterm_drains_a_hanging_send_then_records_it_unknown(
    fakes: Fakes, tmp_path: Path
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
        await _until(lambda: status_of(session, bot.url), {503})
        late = quick_send_body(fakes, "+4915112345679 Too late")
        assert await post_signed(session, bot.url, late) == 503

        assert await bot.wait_exit(DRAIN_SECONDS + 5) == 0, bot.log()
        took = loop.time() - terminated
        assert DRAIN_SECONDS - 0.5 <= took <= DRAIN_SECONDS + 4, took
        assert await status_of(session, bot.url) is None
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


async def test_sigterm_with_nothing_in_flight_exits_quickly(fakes: Fakes, tmp_path: Path) -> None:
    async with bot_process(fakes, tmp_path) as bot:
        loop = asyncio.get_running_loop()
        started = loop.time()
        bot.process.send_signal(signal.SIGTERM)
        assert await bot.wait_exit(5) == 0, bot.log()
        assert loop.time() - started < 3
    assert "stopped" in bot.log()


async def _until(
    probe: Callable[[], Awaitable[int | None]], wanted: set[int | None], within: float = 5
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    seen: list[int | None] = []
    while loop.time() < deadline:
        seen.append(await probe())
        if seen[-1] in wanted:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"/healthz never answered {wanted}; saw {set(seen)}")
