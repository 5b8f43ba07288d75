"""This instance's lease, and the sends of instances that are gone.

Every instance holds a lease in the ledger, renewed every ``RENEW`` and valid for ``TTL``
after the last renewal. A send still ``sending`` whose instance no longer holds a lease was
cut off by a crash: it becomes ``unknown`` (never sent again) and its requester is told — at
the latest ``TTL + RENEW`` after the crash, by whichever instance is running then.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from bot.core.model import Clock
from bot.core.ports import Ledger

log = logging.getLogger(__name__)

RENEW = timedelta(seconds=3)
TTL = timedelta(seconds=10)


class LeaseKeeper:
    """Renews this instance's lease and resolves the sends of instances without one."""

    def __init__(self, ledger: Ledger, clock: Clock) -> None:
        self._ledger = ledger
        self._clock = clock

    async def run(self) -> None:
        """Rounds until cancelled; a failing round is logged and retried."""
        while True:
            try:
                await self.round()
            except Exception:
                log.exception("lease round failed")
            await asyncio.sleep(RENEW.total_seconds())

    async def round(self) -> None:
        """Renew the lease, then resolve what instances without one left in ``sending``."""
        now = self._clock()
        await self._ledger.renew_lease(now, TTL)
        for request in await self._ledger.resolve_orphans(now):
            log.warning("send cut off by a stopped instance", extra={"request_id": request.id})
