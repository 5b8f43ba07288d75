"""Waiting for a condition by polling it, with a deadline and a message that says what was seen.

The sandbox's fakes record what they receive; a test, the demo or a fake waits for a record to
appear by polling rather than by sleeping a guessed time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

POLL_INTERVAL = 0.005  # in-process state is cheap to look at
PROBE_INTERVAL = 0.02  # a probe that does I/O (an HTTP request) is polled less often


async def poll_until(
    done: Callable[[], bool],
    within: float,
    describe: Callable[[], str],
    *,
    interval: float = POLL_INTERVAL,
) -> None:
    """Check ``done`` every ``interval`` seconds; after ``within`` seconds, AssertionError."""

    async def probe() -> bool:
        return done()

    await probe_until(probe, within, describe, interval=interval)


async def probe_until(
    probe: Callable[[], Awaitable[bool]],
    within: float,
    describe: Callable[[], str],
    *,
    interval: float = PROBE_INTERVAL,
) -> None:
    """Await ``probe`` every ``interval`` seconds until it is true.

    After ``within`` seconds: AssertionError(describe()). An exception ``probe`` raises ends
    the wait at once (a probe can give up early, e.g. when the process it polls has exited).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await probe():
        if loop.time() >= deadline:
            raise AssertionError(describe())
        await asyncio.sleep(interval)
