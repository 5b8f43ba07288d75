"""The sipgate balance: reading it, and warning the admins once when it runs low.

With a threshold set (``SIPGATE_LOW_BALANCE``), every send gives the watch a chance to read the
balance, at most once per ``CHECK_EVERY``; the reading runs as background work, never on the
way to an ack or to a send. The admins are warned when the balance is below the threshold and
they have not been warned since it was last above it. Whether they were is a flag in the
ledger, changed by one instance only, so several instances warn once between them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from bot.core.errors import SendFailure
from bot.core.model import Clock
from bot.core.ports import Ledger
from bot.core.work import WorkTracker

log = logging.getLogger(__name__)

CHECK_EVERY = timedelta(minutes=10)  # the most often sending reads the balance
FRESH_FOR = timedelta(minutes=1)  # how long a reading is shown (the home tab) before reading again
WARNED_FLAG = "low_balance_warned"
UNITS_PER_CURRENCY = 10_000  # sipgate's amount is in 1/10,000 of the currency


@dataclass(frozen=True)
class Balance:
    """The account balance as sipgate states it: ``units`` of 1/10,000 of ``currency``."""

    units: int
    currency: str

    @property
    def amount(self) -> Decimal:
        """The balance in the currency (35000 units → 3.5)."""
        return Decimal(self.units) / UNITS_PER_CURRENCY


class BalanceReader(Protocol):
    """Reads the account balance; raises a ``SendFailure`` when it cannot (``bot.sipgate``)."""

    async def balance(self) -> Balance: ...


class BalanceAlert(Protocol):
    """Tells the admins that the balance is below the threshold (``bot.slack``)."""

    async def __call__(self, balance: Balance, threshold: Decimal) -> None: ...


def is_low(balance: Balance, threshold: Decimal) -> bool:
    """Whether the balance is below the threshold (an amount in the account's currency)."""
    return balance.amount < threshold


@dataclass(frozen=True)
class BalancePorts:
    """What the watch reads the balance from, keeps its flag in, and warns through."""

    reader: BalanceReader
    ledger: Ledger
    alert: BalanceAlert


class BalanceWatch:
    """Reads the balance for people (briefly cached) and warns the admins once when it is low."""

    def __init__(
        self,
        ports: BalancePorts,
        threshold: Decimal | None,
        clock: Clock,
        tracker: WorkTracker,
    ) -> None:
        self._ports = ports
        self.threshold = threshold
        self._clock = clock
        self._tracker = tracker
        self._next_check: datetime | None = None
        self._last: tuple[datetime, Balance | SendFailure] | None = None

    def sent(self) -> None:
        """Sends went out: check the balance in the background, at most once per CHECK_EVERY."""
        if self.threshold is None:
            return
        now = self._clock()
        if self._next_check is not None and now < self._next_check:
            return
        self._next_check = now + CHECK_EVERY
        self._tracker.spawn(self.check())

    async def check(self) -> None:
        """Read the balance now and warn the admins if it just went low."""
        reading = await self._read_now()
        if isinstance(reading, Balance) and self.threshold is not None:
            await self.judge(reading, self.threshold)

    async def judge(self, balance: Balance, threshold: Decimal) -> None:
        """Warn once per drop below the threshold; rising above it arms the warning again."""
        low = is_low(balance, threshold)
        changed = await self._ports.ledger.set_flag(WARNED_FLAG, "yes" if low else "no")
        if low and changed:
            log.warning("sipgate balance below SIPGATE_LOW_BALANCE: warning the admins")
            await self._ports.alert(balance, threshold)

    async def read(self) -> Balance | SendFailure:
        """The balance (read again when the last reading is older than FRESH_FOR), or why not."""
        if self._last is not None and self._clock() - self._last[0] < FRESH_FOR:
            return self._last[1]
        return await self._read_now()

    async def _read_now(self) -> Balance | SendFailure:
        try:
            reading: Balance | SendFailure = await self._ports.reader.balance()
        except SendFailure as failure:
            log.warning("sipgate balance unreadable", extra={"error": failure.kind})
            reading = failure
        self._last = (self._clock(), reading)
        return reading
