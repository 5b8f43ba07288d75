"""Shared fixtures: the fakes, a manual clock and sandboxed bots, isolated from the shell.

Every bot runs the real ``Runtime`` against the fake Slack and fake sipgate (aiohttp servers on
127.0.0.1) and gets its own SQLite file; ``make_bot`` closes every bot it started.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.core import Clock
from bot.sandbox.harness import Fakes, ManualClock, Sandbox
from bot.sandbox.slack import FakeSlack, Message, poll_until

MakeBot = Callable[..., Awaitable[Sandbox]]

_ENV_PREFIXES = ("SLACK_", "SIPGATE_", "SMS_")
_ENV_NAMES = ("DATABASE_URL", "PORT")


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's shell or .env must not change what a test sees."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name in _ENV_NAMES:
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def fakes() -> AsyncIterator[Fakes]:
    """A started fake Slack and fake sipgate, closed after the test."""
    started = await Fakes.start()
    try:
        yield started
    finally:
        await started.close()


@pytest.fixture
def clock() -> ManualClock:
    """A clock that only moves when the test says so."""
    return ManualClock()


@pytest.fixture
async def make_bot(fakes: Fakes, clock: ManualClock, tmp_path: Path) -> AsyncIterator[MakeBot]:
    """Start sandboxed bots: ``await make_bot(SMS_ADMINS="U_BOB", run_scheduler=False)``.

    Keyword arguments are settings in environment form (strings), plus ``fakes=`` (other
    fakes than the fixture's), ``clock=`` and ``run_scheduler=``. Bots share
    ``DATABASE_URL=sqlite:///<tmp_path>/bot.db`` unless told otherwise, so a second bot is
    the same deployment restarted or scaled out. Every bot is closed at teardown.
    """
    default_fakes, default_clock = fakes, clock
    started: list[Sandbox] = []

    async def make(
        *,
        fakes: Fakes | None = None,
        clock: Clock | None = None,
        run_scheduler: bool = True,
        **overrides: str,
    ) -> Sandbox:
        overrides.setdefault("DATABASE_URL", f"sqlite:///{tmp_path}/bot.db")
        bot = await Sandbox.start(
            fakes or default_fakes,
            clock=clock or default_clock,
            run_scheduler=run_scheduler,
            **overrides,
        )
        started.append(bot)
        return bot

    try:
        yield make
    finally:
        for bot in reversed(started):
            await bot.close()


# --- helpers for the flow tests ----------------------------------------------------------------


async def assert_stays(condition: Callable[[], bool], within: float = 0.2, what: str = "") -> None:
    """Poll ``condition`` for ``within`` seconds; fail as soon as it stops holding.

    For "nothing more happens" checks: a bounded poll of the fakes, never a bare sleep.
    """
    try:
        await poll_until(lambda: not condition(), within, lambda: "")
    except AssertionError:
        return
    raise AssertionError(what or "the condition stopped holding")


def top_level(slack: FakeSlack, channel: str) -> list[Message]:
    """The messages of a conversation that are not thread replies."""
    return [m for m in slack.messages(channel) if m.thread_ts in (None, m.ts)]


def thread(slack: FakeSlack, channel: str, parent_ts: str) -> list[Message]:
    """The replies in the thread of ``parent_ts``, oldest first."""
    return [m for m in slack.messages(channel) if m.thread_ts == parent_ts and m.ts != parent_ts]


async def wait_thread(
    slack: FakeSlack, channel: str, replies: int = 1, *, parents: int = 1, within: float = 5.0
) -> tuple[Message, list[Message]]:
    """Wait until the ``parents``-th top-level message has ``replies`` replies; both."""

    def ready() -> bool:
        tops = top_level(slack, channel)
        return len(tops) >= parents and len(thread(slack, channel, tops[parents - 1].ts)) >= replies

    await poll_until(
        ready, within, lambda: f"no thread with {replies} replies:\n{slack.transcript()}"
    )
    parent = top_level(slack, channel)[parents - 1]
    return parent, thread(slack, channel, parent.ts)


def response_texts(slack: FakeSlack) -> list[str]:
    """What the bot posted to response_urls (text and blocks, as JSON)."""
    return [json.dumps(post.body, ensure_ascii=False) for post in slack.responses]


def bot_output(slack: FakeSlack) -> str:
    """Everything the bot sent to Slack (Web API arguments and response_url bodies) as JSON."""
    calls = [json.dumps(call.args, ensure_ascii=False) for call in slack.calls]
    return "\n".join(calls + response_texts(slack))
