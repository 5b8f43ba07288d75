"""The low-balance warning through the real bot: read while sending at most every ten minutes,
every admin told once by DM when it drops below SIPGATE_LOW_BALANCE, again only after it rose
above; a slow balance read holds up neither the ack nor the SMS."""

from __future__ import annotations

from datetime import timedelta

from bot.sandbox.harness import ManualClock, Sandbox
from bot.sandbox.sipgate import HANG
from bot.sandbox.waiting import poll_until
from tests.fakes import ScriptedFakes
from tests.helpers import NUMBER, MakeBot, assert_settled, wait_thread

WARNING = "⚠️ The sipgate balance is"


def balance_reads(fakes: ScriptedFakes) -> int:
    return sum(r.path == "/v2/balance" for r in fakes.sipgate.received)


def warnings_to(fakes: ScriptedFakes, user: str) -> list[str]:
    return [m.text for m in fakes.slack.messages(user) if m.text.startswith(WARNING)]


async def send(bot: Sandbox, fakes: ScriptedFakes, count: int) -> None:
    """A quick send, its status shown and the work it started (a balance check) done."""
    await bot.command(f"{NUMBER} number {count}")
    await wait_thread(fakes.slack, "C_GENERAL", parents=count)
    await bot.settle()


async def test_admins_are_warned_once_per_drop_below_the_low_balance(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(SIPGATE_LOW_BALANCE="5", SMS_ADMINS="U_BOB,U_MALLORY")

    await send(bot, fakes, 1)  # 3.50 EUR: below
    await poll_until(lambda: len(warnings_to(fakes, "U_MALLORY")) == 1, 5.0, fakes.slack.transcript)
    (warning,) = warnings_to(fakes, "U_BOB")
    assert "3.50 EUR, below 5.00 EUR (SIPGATE_LOW_BALANCE)" in warning
    await send(bot, fakes, 2)  # within ten minutes: not read again
    assert balance_reads(fakes) == 1
    clock.advance(timedelta(minutes=10))
    await send(bot, fakes, 3)  # read again, still low: no second warning
    assert balance_reads(fakes) == 2
    fakes.sipgate.balance = {"amount": 120000, "currency": "EUR"}
    clock.advance(timedelta(minutes=10))
    await send(bot, fakes, 4)  # 12.00 EUR: above, the warning is armed again
    fakes.sipgate.balance = {"amount": 20000, "currency": "EUR"}
    clock.advance(timedelta(minutes=10))
    await send(bot, fakes, 5)

    await poll_until(lambda: len(warnings_to(fakes, "U_BOB")) == 2, 5.0, fakes.slack.transcript)
    assert "2.00 EUR" in warnings_to(fakes, "U_BOB")[1]
    assert balance_reads(fakes) == 4
    assert len(warnings_to(fakes, "U_MALLORY")) == 2
    assert warnings_to(fakes, "U_ALICE") == []


async def test_without_a_low_balance_setting_sending_never_reads_the_balance(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot(SMS_ADMINS="U_BOB")

    await send(bot, fakes, 1)

    await assert_settled(bot, lambda: balance_reads(fakes) == 0, "the balance was read")


async def test_a_hanging_balance_read_delays_neither_the_ack_nor_the_sms(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    fakes.sipgate.script_read("balance", HANG, HANG)  # a read is tried once more
    bot = await make_bot(SIPGATE_LOW_BALANCE="5", SMS_ADMINS="U_BOB")

    response = await bot.command(f"{NUMBER} on time")

    assert response.status == 200
    _, replies = await wait_thread(fakes.slack, "C_GENERAL")
    assert "accepted by sipgate" in replies[0].text
    await poll_until(lambda: balance_reads(fakes) == 1, 5.0, lambda: "the balance was not read")
    assert bot.bot.tracker.busy >= 1  # the read still hangs: the status did not wait for it
    await bot.settle(within=10)  # both reads give up after SIPGATE_TIMEOUT; nobody is warned
    assert warnings_to(fakes, "U_BOB") == []
