"""The balance rule: amounts, the low-balance warning (once per drop, again only after it rose
above the threshold), at most one reading per ten minutes while sending, several instances."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest

from bot.core import Balance, BalancePorts, BalanceWatch, SendFailure, WorkTracker, is_low
from bot.core.balance import CHECK_EVERY, FRESH_FOR
from bot.sandbox.harness import ManualClock
from bot.slack.texts import balance_text
from bot.store import SqlLedger
from tests.helpers import OpenLedger

THRESHOLD = Decimal("5")


class Account:
    """A balance to read (or a failure), counting the readings."""

    def __init__(self, units: int = 35000) -> None:
        self.reading: Balance | SendFailure = Balance(units, "EUR")
        self.readings = 0

    def set(self, units: int) -> None:
        self.reading = Balance(units, "EUR")

    async def balance(self) -> Balance:
        self.readings += 1
        if isinstance(self.reading, SendFailure):
            raise self.reading
        return self.reading


class Admins:
    """The warnings the admins got."""

    def __init__(self) -> None:
        self.warnings: list[tuple[Balance, Decimal]] = []

    async def __call__(self, balance: Balance, threshold: Decimal) -> None:
        self.warnings.append((balance, threshold))


def watch_on(
    ledger: SqlLedger, account: Account, admins: Admins, clock: ManualClock
) -> tuple[BalanceWatch, WorkTracker]:
    tracker = WorkTracker()
    ports = BalancePorts(account, ledger, admins)
    return BalanceWatch(ports, THRESHOLD, clock, tracker), tracker


@pytest.mark.parametrize(
    ("units", "shown"),
    [(35000, "3.50 EUR"), (0, "0.00 EUR"), (10_000_000, "1000.00 EUR"), (-12345, "-1.23 EUR")],
)
def test_a_balance_shows_two_decimals_and_its_currency(units: int, shown: str) -> None:
    assert Balance(units, "EUR").amount == Decimal(units) / 10_000
    assert balance_text(Balance(units, "EUR")) == shown


def test_low_means_below_the_threshold() -> None:
    assert is_low(Balance(49999, "EUR"), THRESHOLD)
    assert not is_low(Balance(50000, "EUR"), THRESHOLD)


async def test_the_admins_are_warned_once_per_drop_and_again_after_it_rose(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    account, admins = Account(35000), Admins()
    watch, _ = watch_on(ledger, account, admins, clock)

    await watch.check()
    await watch.check()
    assert [balance.units for balance, _ in admins.warnings] == [35000]  # once
    account.set(20000)
    await watch.check()
    assert len(admins.warnings) == 1  # still below: no second warning
    account.set(50000)
    await watch.check()  # at the threshold is not below it: the warning is armed again
    account.set(49000)
    await watch.check()
    assert [balance.units for balance, _ in admins.warnings] == [35000, 49000]
    assert admins.warnings[-1][1] == THRESHOLD


async def test_no_warning_while_the_balance_is_above_the_threshold(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    account, admins = Account(60000), Admins()
    watch, _ = watch_on(ledger, account, admins, clock)

    await watch.check()

    assert account.readings == 1
    assert admins.warnings == []


async def test_sending_reads_the_balance_at_most_every_ten_minutes(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    account, admins = Account(35000), Admins()
    watch, tracker = watch_on(ledger, account, admins, clock)

    watch.sent()
    watch.sent()
    assert await tracker.wait_idle(5)
    assert account.readings == 1
    clock.advance(CHECK_EVERY - timedelta(seconds=1))
    watch.sent()
    assert await tracker.wait_idle(5)
    assert account.readings == 1
    clock.advance(timedelta(seconds=1))
    watch.sent()
    assert await tracker.wait_idle(5)
    assert account.readings == 2
    assert len(admins.warnings) == 1


async def test_without_a_threshold_sending_never_reads_the_balance(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    account, tracker = Account(0), WorkTracker()
    watch = BalanceWatch(BalancePorts(account, ledger, Admins()), None, clock, tracker)

    watch.sent()

    assert tracker.busy == 0
    assert account.readings == 0


async def test_an_unreadable_balance_warns_nobody_and_is_reported_as_such(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    account, admins = Account(), Admins()
    account.reading = SendFailure(403)
    watch, _ = watch_on(ledger, account, admins, clock)

    await watch.check()

    assert account.readings == 1  # it did read, and was refused
    assert isinstance(await watch.read(), SendFailure)
    assert admins.warnings == []


async def test_people_see_a_reading_at_most_a_minute_old(
    ledger: SqlLedger, clock: ManualClock
) -> None:
    account = Account(35000)
    watch, _ = watch_on(ledger, account, Admins(), clock)

    assert await watch.read() == Balance(35000, "EUR")
    account.set(90000)
    assert await watch.read() == Balance(35000, "EUR")
    clock.advance(FRESH_FOR)
    assert await watch.read() == Balance(90000, "EUR")
    assert account.readings == 2


async def test_instances_sharing_a_ledger_warn_once_between_them(
    open_ledgers: OpenLedger, clock: ManualClock
) -> None:
    admins = Admins()
    ledgers = [await open_ledgers() for _ in range(4)]
    watches = [watch_on(ledger, Account(35000), admins, clock)[0] for ledger in ledgers]

    await asyncio.gather(*(watch.check() for watch in watches))

    assert len(admins.warnings) == 1
