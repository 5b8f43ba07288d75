"""The bot-side scheduler: sends scheduled requests when due (``SMS_SCHEDULER=bot``).

It runs as a task in the bot's event loop. Each round it marks sends overdue beyond the grace
period as missed and claims due sends — each one claimed by exactly one instance.

A round claims no more sends than there are free firing slots: a claimed request starts at
once, so nothing sits in ``sending`` waiting its turn. When every slot is taken the loop waits
for one to free up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.model import Clock, SmsRequest
from bot.core.ports import Ledger
from bot.core.sending import SendService
from bot.core.work import WorkTracker
from bot.metrics import METRICS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SchedulerConfig:
    grace: timedelta  # SMS_SCHEDULE_GRACE
    interval: float = 1.0  # seconds between rounds when nothing is due
    batch: int = 200  # sends claimed per round
    concurrency: int = 64  # requests sent at once (and the most claimed and not yet done)


class SendScheduler:
    """Claims due sends from the ledger and hands them to the send service."""

    def __init__(
        self,
        ledger: Ledger,
        service: SendService,
        config: SchedulerConfig,
        clock: Clock,
        tracker: WorkTracker,
    ) -> None:
        self._ledger = ledger
        self._service = service
        self._config = config
        self._clock = clock
        self._tracker = tracker
        self._wake = asyncio.Event()
        self._taken = 0  # firing slots held by claimed requests (or reserved by a claim)
        self._backlog = False  # the last round claimed all it could: more may be due
        # With a backlog, a round runs once a quarter of the slots are free again, not for
        # every send that finishes (each round is four queries).
        self._refill_at = max(1, config.concurrency // 4)

    async def run(self) -> None:
        """Rounds until cancelled; a failing round is logged and retried."""
        while True:
            try:
                busy = await self.run_once()
            except Exception:
                log.exception("scheduler round failed")
                busy = False
            if not busy or self._free_slots() < self._refill_at:
                await self._sleep()  # freed slots wake it when there is a backlog

    async def _sleep(self) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
        # arrives as the event is set, and the loop would run on after close() cancelled it.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._config.interval):
                await self._wake.wait()
        self._wake.clear()

    async def run_once(self) -> bool:
        """One round; True when it claimed all it was allowed to (more may be due)."""
        now = self._clock()
        await self._ledger.expire_overdue(now, self._config.grace)  # the ledger tells them
        self._backlog = await self._claim_and_fire(now)
        METRICS.scheduled_pending.set(await self._ledger.pending_count())
        return self._backlog

    async def _claim_and_fire(self, now: datetime) -> bool:
        """Claim up to the free slots and fire each request; True if none were left over."""
        limit = min(self._config.batch, self._free_slots())
        due = await self._claim(now, limit)
        for request in due:
            self._tracker.spawn(self._service.fire(request)).add_done_callback(self._release_slot)
        return sum(len(request.sends) for request in due) >= limit

    async def _claim(self, now: datetime, limit: int) -> list[SmsRequest]:
        """Claim due sends, holding ``limit`` slots meanwhile; one slot kept per request."""
        if limit <= 0:
            return []
        self._taken += limit  # reserved before the await: a concurrent round sees them taken
        due: list[SmsRequest] = []
        try:
            due = await self._ledger.claim_due(now, limit)
        finally:
            self._taken -= limit - len(due)
        return due

    def _free_slots(self) -> int:
        return self._config.concurrency - self._taken

    def _release_slot(self, _task: asyncio.Task[None]) -> None:
        self._taken -= 1
        if self._backlog and self._free_slots() >= self._refill_at:
            self._wake.set()
