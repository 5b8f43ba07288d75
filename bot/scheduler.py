"""The bot-side scheduler: sends scheduled requests when due (``SMS_SCHEDULER=bot``).

It runs as a task in the bot's event loop. Each round it resolves sends orphaned in
``sending`` (a crash between sending and sipgate's answer), marks sends overdue beyond the grace
period as missed, and claims due sends — each one claimed by exactly one instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.metrics import METRICS
from bot.records import Clock, SmsRequest
from bot.sending import SendService
from bot.store.base import Ledger

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SchedulerConfig:
    grace: timedelta  # SMS_SCHEDULE_GRACE
    orphan_after: timedelta  # longer than any send can take: SIPGATE_TIMEOUT plus a margin
    interval: float = 1.0  # seconds between rounds when nothing is due
    batch: int = 200  # sends claimed per round
    concurrency: int = 64  # requests sent at once


class SendScheduler:
    """Claims due sends from the ledger and hands them to the send service."""

    def __init__(
        self, ledger: Ledger, service: SendService, config: SchedulerConfig, clock: Clock
    ) -> None:
        self._ledger = ledger
        self._service = service
        self._config = config
        self._clock = clock
        self._slots = asyncio.Semaphore(config.concurrency)
        self._wake = asyncio.Event()
        self._firing: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        """Run a round now (after scheduling something, or in tests after moving the clock)."""
        self._wake.set()

    async def run(self) -> None:
        """Rounds until cancelled; a failing round is logged and retried."""
        while True:
            try:
                busy = await self.run_once()
            except Exception:
                log.exception("scheduler round failed")
                busy = False
            if not busy:
                await self._sleep()

    async def _sleep(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self._config.interval)
        self._wake.clear()

    async def run_once(self) -> bool:
        """One round; True when a full batch was claimed (more may be due)."""
        now = self._clock()
        for request in await self._ledger.resolve_orphans(now - self._config.orphan_after):
            self._spawn(self._service.report_unknown(request))
        for request in await self._ledger.expire_overdue(now, self._config.grace):
            self._spawn(self._service.report_missed(request))
        due = await self._ledger.claim_due(now, self._config.batch)
        for request in due:
            self._spawn(self._fire(request))
        METRICS.scheduled_pending.set(await self._ledger.pending_count())
        return sum(len(request.sends) for request in due) >= self._config.batch

    async def _fire(self, request: SmsRequest) -> None:
        async with self._slots:
            await self._service.fire(request)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(self._logged(work))
        self._firing.add(task)
        task.add_done_callback(self._firing.discard)

    async def _logged(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception:
            log.exception("scheduled work failed")

    async def stop(self) -> None:
        """Wait for the sends already fired (the send service bounds their time)."""
        if self._firing:
            await asyncio.gather(*self._firing, return_exceptions=True)
