"""Work that runs after an ack or when the scheduler fires, and that shutdown waits for."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)

#: How long cancelled work gets to unwind at shutdown.
CANCEL_GRACE = 1.0


class WorkTracker:
    """Starts background tasks, logs what they raise, and drains them at shutdown."""

    def __init__(self) -> None:
        self._busy: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``work`` as a task; an exception it raises is logged, never lost."""
        task = asyncio.create_task(_logged(work))
        self._busy.add(task)
        self._idle.clear()
        task.add_done_callback(self._done)
        return task

    @property
    def busy(self) -> int:
        """How many tasks are running."""
        return len(self._busy)

    async def wait_idle(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for every task to finish; whether they did."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._idle.wait()
        return self._idle.is_set()

    async def cancel_all(self) -> None:
        """Cancel what is still running and give it a moment to unwind."""
        for task in list(self._busy):
            task.cancel()
        if self._busy:
            await asyncio.wait(list(self._busy), timeout=CANCEL_GRACE)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._busy.discard(task)
        if not self._busy:
            self._idle.set()


async def _logged(work: Coroutine[Any, Any, None]) -> None:
    try:
        await work
    except Exception:
        log.exception("background work failed")
