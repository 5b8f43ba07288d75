"""When sipgate or Slack fail: the state, the explanation, and never a retry or a lost status."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import State
from bot.sandbox.harness import ManualClock, in_minutes
from bot.sandbox.sipgate import DROP, HANG, Scripted
from bot.slack.web import SlackWeb
from tests.fakes import ScriptedFakes
from tests.helpers import MakeBot, assert_settled, free_port, response_texts, top_level, wait_thread

NUMBER = "+49 151 12345678"


async def test_sipgate_401_fails_with_the_explanation(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()
    fakes.sipgate.script_send(Scripted(status=401))

    await bot.command(f"{NUMBER} hi")

    await fakes.slack.wait_for("chat.update", 1)
    parent, (reply,) = await wait_thread(fakes.slack, "C_GENERAL")
    assert "❌ failed" in parent.text
    assert reply.text.startswith("❌ +49 1511 2345678: failed")
    assert "credentials are wrong" in reply.text
    assert "ask the admin" in reply.text
    (request,) = await bot.ledger.list_for_user("U_ALICE")
    assert [send.state for send in request.sends] == [State.FAILED]
    assert len(fakes.sipgate.sms_posts) == 1


async def test_sipgate_timeout_is_unknown_and_never_retried(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot(SIPGATE_TIMEOUT="0.5")
    fakes.sipgate.script_send(HANG)

    response = await bot.command(f"{NUMBER} hi")

    assert response.status == 200  # acked while sipgate has not answered
    await fakes.slack.wait_for("chat.update", 1)
    parent, (reply,) = await wait_thread(fakes.slack, "C_GENERAL")
    assert "outcome unknown" in parent.text
    assert "outcome unknown" in reply.text
    assert "may or may not have gone out" in reply.text
    assert "check with the recipient" in reply.text
    (request,) = await bot.ledger.list_for_user("U_ALICE")
    assert [send.state for send in request.sends] == [State.UNKNOWN]
    await assert_settled(
        bot,
        lambda: len(fakes.sipgate.sms_posts) == 1,
        "a timed-out send was retried",
    )
    assert fakes.sipgate.sms == []


@pytest.mark.parametrize(
    ("status", "state", "words"),
    [
        (400, State.FAILED, "rejected the SMS as invalid"),
        (402, State.FAILED, "balance is too low"),
        (403, State.FAILED, "no permission to send from extension s0"),
        (429, State.FAILED, "rate-limiting"),
        (500, State.UNKNOWN, "internal error"),
        (503, State.UNKNOWN, "may not have gone out"),
    ],
)
async def test_sipgate_answers_are_explained(
    make_bot: MakeBot, fakes: ScriptedFakes, status: int, state: State, words: str
) -> None:
    bot = await make_bot()
    fakes.sipgate.script_send(Scripted(status=status))

    await bot.command(f"{NUMBER} hi")

    await fakes.slack.wait_for("chat.update", 1)
    _, (reply,) = await wait_thread(fakes.slack, "C_GENERAL")
    assert words in reply.text
    (request,) = await bot.ledger.list_for_user("U_ALICE")
    assert [send.state for send in request.sends] == [state]
    assert len(fakes.sipgate.sms_posts) == 1


async def test_connection_dropped_after_sending_is_unknown_and_not_retried(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()
    fakes.sipgate.script_send(DROP)

    await bot.command(f"{NUMBER} hi")

    await fakes.slack.wait_for("chat.update", 1)
    _, (reply,) = await wait_thread(fakes.slack, "C_GENERAL")
    assert "outcome unknown" in reply.text
    await assert_settled(
        bot, lambda: len(fakes.sipgate.sms_posts) == 1, "a dropped send was retried"
    )


async def test_failed_views_open_is_told(make_bot: MakeBot, fakes: ScriptedFakes) -> None:
    bot = await make_bot()
    fakes.slack.fail("views.open", "expired_trigger_id")

    await bot.command("")

    (answer,) = await fakes.slack.wait_for_responses(1)
    assert "could not open (expired_trigger_id)" in str(answer.body["text"])


async def test_channel_not_found_falls_back_to_the_response_url(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()
    fakes.slack.fail("chat.postMessage", "channel_not_found", channel="C_GONE", times=None)

    await bot.command(f"{NUMBER} hi", channel="C_GONE")

    await fakes.sipgate.wait_for_posts(1)
    await fakes.slack.wait_for_responses(1)
    assert "accepted by sipgate" in response_texts(fakes.slack)[0]
    await assert_settled(
        bot,
        lambda: len(fakes.slack.responses) == 1 and not fakes.slack.messages("U_ALICE"),
        "the outcome was told twice",
    )


async def test_thread_reply_failing_later_goes_to_a_dm(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False)
    trigger_id = fakes.slack.new_trigger_id("U_ALICE")
    await bot.command("", trigger_id=trigger_id)
    await fakes.slack.wait_for("views.open", 1)
    await bot.submit(to=NUMBER, message="later", when=in_minutes(clock, 30))
    await wait_thread(fakes.slack, "C_GENERAL")
    fakes.slack.remove_bot_from("C_GENERAL")  # the bot was removed before it fell due
    clock.advance(timedelta(minutes=31))

    await bot.fire_due()

    await fakes.sipgate.wait_for_posts(1)
    (dm,) = fakes.slack.messages("U_ALICE")
    assert "Update on SMS #1" in dm.text
    assert "accepted by sipgate" in dm.text
    assert len(top_level(fakes.slack, "C_GENERAL")) == 1


async def test_user_without_a_time_zone_sees_utc(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False)
    fakes.slack.fail("users.info", "user_not_found", times=None)
    await bot.command("", trigger_id=fakes.slack.new_trigger_id("U_ALICE"))
    await fakes.slack.wait_for("views.open", 1)

    await bot.submit(to=NUMBER, message="later", when=in_minutes(clock, 30))

    _, (reply,) = await wait_thread(fakes.slack, "C_GENERAL")
    assert reply.text.startswith("🕒 Scheduled for")
    assert " UTC." in reply.text


async def test_time_zone_lookup_that_cannot_connect_falls_back_to_utc() -> None:
    client = AsyncWebClient(
        token="xoxb-x", base_url=f"http://127.0.0.1:{free_port()}/api/", retry_handlers=[]
    )

    zone = await SlackWeb(client).timezone("U_ALICE")

    assert zone == ZoneInfo("UTC")
