"""Slack failing: 429 with Retry-After, 5xx, conversations the bot cannot post in, expired triggers.

For each: the requester is told exactly once, the send ends in a defined state, and the SMS
reaches the fake sipgate at most once.
"""

from __future__ import annotations

import json

import pytest

from bot.core import State
from bot.sandbox.harness import ManualClock
from tests.fakes import ScriptedFakes
from tests.helpers import (
    MakeBot,
    assert_settled,
    fire_due,
    only_send,
    schedule,
    thread,
    top_level,
    wait_thread,
)

NUMBER = "+49 151 12345678"


async def test_rate_limited_post_is_retried_after_retry_after_and_shown_once(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()
    fakes.slack.fail("chat.postMessage", "ratelimited", status=429, headers={"Retry-After": "1"})

    await bot.command(f"{NUMBER} hi")

    parent, (reply,) = await wait_thread(fakes.slack, "C_GENERAL", within=8.0)
    assert "accepted by sipgate" in reply.text
    await fakes.slack.wait_for("chat.update", 1)
    posts = fakes.slack.calls_to("chat.postMessage")
    assert posts[1].at - posts[0].at >= 0.9  # Retry-After was honoured
    assert len(top_level(fakes.slack, "C_GENERAL")) == 1  # the status arrived exactly once
    assert len(thread(fakes.slack, "C_GENERAL", parent.ts)) == 1
    assert fakes.slack.responses == []
    assert (await only_send(bot)).state is State.ACCEPTED
    assert len(fakes.sipgate.sms) == 1


@pytest.mark.parametrize("status", [500, 503])
async def test_slack_5xx_on_the_status_is_tried_again_and_shown_once(
    make_bot: MakeBot, fakes: ScriptedFakes, status: int
) -> None:
    bot = await make_bot()
    fakes.slack.fail("chat.postMessage", "internal_error", status=status)

    await bot.command(f"{NUMBER} hi")

    _, (reply,) = await wait_thread(fakes.slack, "C_GENERAL", within=8.0)
    assert "accepted by sipgate" in reply.text
    await fakes.slack.wait_for("chat.update", 1)
    posts = fakes.slack.calls_to("chat.postMessage")
    assert len(posts) == 3  # the failed parent, the parent again, the reply
    assert posts[1].at - posts[0].at >= 0.4  # a pause before trying again
    assert len(top_level(fakes.slack, "C_GENERAL")) == 1
    assert fakes.slack.responses == []
    assert (await only_send(bot)).state is State.ACCEPTED
    assert len(fakes.sipgate.sms_posts) == 1


async def test_slack_5xx_on_a_scheduled_reply_is_tried_again_in_the_thread(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False)
    await schedule(bot, clock)
    fakes.slack.fail("chat.postMessage", "internal_error", channel="C_GENERAL", status=502)

    await fire_due(bot, clock)

    _, replies = await wait_thread(fakes.slack, "C_GENERAL", replies=2, within=8.0)
    assert "accepted by sipgate" in replies[1].text
    await fakes.slack.wait_for("chat.update", 2)
    assert fakes.slack.messages("U_ALICE") == []
    assert (await only_send(bot)).state is State.ACCEPTED
    assert len(fakes.sipgate.sms_posts) == 1


async def test_archived_channel_gets_the_outcome_once_on_the_response_url(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()
    fakes.slack.fail("chat.postMessage", "is_archived", channel="C_OLD", times=None)

    await bot.command(f"{NUMBER} hi", channel="C_OLD")

    (answer,) = await fakes.slack.wait_for_responses(1)
    assert "accepted by sipgate" in json.dumps(answer.body, ensure_ascii=False)
    await assert_settled(
        bot,
        lambda: len(fakes.slack.responses) == 1 and not fakes.slack.messages("U_ALICE"),
        "the outcome was told twice",
    )
    assert (await only_send(bot)).state is State.ACCEPTED
    assert len(fakes.sipgate.sms_posts) == 1


@pytest.mark.parametrize("error", ["not_in_channel", "channel_not_found", "is_archived"])
async def test_modal_send_where_the_bot_cannot_post_tells_the_response_url_once(
    make_bot: MakeBot, fakes: ScriptedFakes, error: str
) -> None:
    bot = await make_bot()
    await bot.command("", channel="C_CLOSED", trigger_id=fakes.slack.new_trigger_id())
    await fakes.slack.wait_for("views.open")
    fakes.slack.fail("chat.postMessage", error, channel="C_CLOSED", times=None)

    response = await bot.submit(to=NUMBER, message="from the form")

    assert response.status == 200
    (answer,) = await fakes.slack.wait_for_responses(1)
    shown = json.dumps(answer.body, ensure_ascii=False)
    assert "accepted by sipgate" in shown
    assert "from the form" in shown
    await assert_settled(
        bot,
        lambda: len(fakes.slack.responses) == 1 and not fakes.slack.messages("U_ALICE"),
        "the outcome was told twice",
    )
    assert (await only_send(bot)).state is State.ACCEPTED
    assert len(fakes.sipgate.sms_posts) == 1


async def test_expired_trigger_tells_to_run_sms_again_and_records_nothing(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()
    fakes.slack.fail("views.open", "expired_trigger_id")

    response = await bot.command("")

    assert response.status == 200
    (answer,) = await fakes.slack.wait_for_responses(1)
    assert answer.body["response_type"] == "ephemeral"
    assert "Please run /sms again" in str(answer.body["text"])
    await assert_settled(bot, lambda: len(fakes.slack.responses) == 1, "the answer was repeated")
    assert await bot.ledger.list_for_user("U_ALICE") == []
    assert fakes.sipgate.sms_posts == []
