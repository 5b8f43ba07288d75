"""Scheduled sends held by the bot: cancel, list, and statuses where the bot cannot post."""

from __future__ import annotations

import json

from bot.core import State
from bot.sandbox.harness import ManualClock
from bot.sandbox.waiting import poll_until
from bot.slack.texts import CANCEL_ACTION
from tests.fakes import ScriptedFakes
from tests.helpers import (
    MakeBot,
    assert_settled,
    fire_due,
    response_texts,
    schedule,
    top_level,
    wait_thread,
)

NUMBER = "+49 151 12345678"


async def scheduled_thread(fakes: ScriptedFakes, channel: str = "C_GENERAL") -> None:
    """Wait until the 🕒 reply of the first request is in its thread."""
    _, (reply,) = await wait_thread(fakes.slack, channel)
    assert reply.text.startswith("🕒")


async def test_requester_cancels_before_it_is_due(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False)
    request_id = await schedule(bot, clock)
    await scheduled_thread(fakes)

    await bot.command(f"cancel {request_id}")

    (answer,) = await fakes.slack.wait_for_responses(1)
    assert f"SMS #{request_id} is cancelled" in str(answer.body["text"])
    _, replies = await wait_thread(fakes.slack, "C_GENERAL", replies=2)
    assert replies[1].text.startswith(f"🚫 SMS #{request_id} was cancelled by <@U_ALICE>")
    await fakes.slack.wait_for("chat.update", 2)
    assert "cancelled" in top_level(fakes.slack, "C_GENERAL")[0].text
    await fire_due(bot, clock)
    assert fakes.sipgate.sms_posts == []


async def test_cancel_accepts_the_hash_form(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False)
    request_id = await schedule(bot, clock)
    await scheduled_thread(fakes)

    await bot.command(f"cancel #{request_id}")

    (answer,) = await fakes.slack.wait_for_responses(1)
    assert "is cancelled" in str(answer.body["text"])
    await wait_thread(fakes.slack, "C_GENERAL", replies=2)


async def test_another_user_may_not_cancel(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False)
    request_id = await schedule(bot, clock)
    await scheduled_thread(fakes)

    await bot.command(f"cancel {request_id}", user="U_BOB")

    (answer,) = await fakes.slack.wait_for_responses(1)
    text = str(answer.body["text"])
    assert "Only the person who scheduled" in text
    assert "or an SMS admin may cancel it" in text
    await fire_due(bot, clock)
    (post,) = await fakes.sipgate.wait_for_posts(1)
    assert post.json["message"] == "Reminder"
    await wait_thread(fakes.slack, "C_GENERAL", replies=2)


async def test_admin_may_cancel_anyones(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False, SMS_ADMINS="U_BOB")
    request_id = await schedule(bot, clock)
    await scheduled_thread(fakes)

    await bot.command(f"cancel {request_id}", user="U_BOB")

    (answer,) = await fakes.slack.wait_for_responses(1)
    assert "is cancelled" in str(answer.body["text"])
    _, replies = await wait_thread(fakes.slack, "C_GENERAL", replies=2)
    assert "cancelled by <@U_BOB>" in replies[1].text
    await fire_due(bot, clock)
    assert fakes.sipgate.sms_posts == []


async def test_cancel_after_it_was_sent_is_too_late(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False)
    request_id = await schedule(bot, clock)
    await scheduled_thread(fakes)
    await fire_due(bot, clock)
    await fakes.sipgate.wait_for_posts(1)
    await wait_thread(fakes.slack, "C_GENERAL", replies=2)

    await bot.command(f"cancel {request_id}")

    (answer,) = await fakes.slack.wait_for_responses(1)
    assert f"Too late to cancel SMS #{request_id}" in str(answer.body["text"])
    assert "accepted by sipgate" in str(answer.body["text"])


async def test_cancel_button_cancels(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False)
    request_id = await schedule(bot, clock)
    _, (scheduled,) = await wait_thread(fakes.slack, "C_GENERAL")
    (button,) = [
        element
        for block in scheduled.blocks or []
        if block["type"] == "actions"
        for element in block["elements"]
    ]

    response = await bot.dispatch(bot.click_body(button["action_id"], button["value"]))

    assert response.status == 200
    (answer,) = await fakes.slack.wait_for_responses(1)
    assert f"SMS #{request_id} is cancelled" in str(answer.body["text"])
    await wait_thread(fakes.slack, "C_GENERAL", replies=2)
    await fire_due(bot, clock)
    assert fakes.sipgate.sms_posts == []


async def test_cancel_button_of_someone_else_is_refused(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False)
    request_id = await schedule(bot, clock)
    await scheduled_thread(fakes)

    await bot.dispatch(bot.click_body(CANCEL_ACTION, str(request_id), user="U_BOB"))

    (answer,) = await fakes.slack.wait_for_responses(1)
    assert "Only the person who scheduled" in str(answer.body["text"])
    await fire_due(bot, clock)
    await fakes.sipgate.wait_for_posts(1)
    await wait_thread(fakes.slack, "C_GENERAL", replies=2)


async def test_cancelled_send_gives_its_hourly_count_back(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False, SMS_USER_HOURLY_LIMIT="1")
    request_id = await schedule(bot, clock)
    await scheduled_thread(fakes)
    await bot.command(f"cancel {request_id}")
    await wait_thread(fakes.slack, "C_GENERAL", replies=2)
    (cancelled,) = await fakes.slack.wait_for_responses(1)

    await bot.command(f"{NUMBER} now that one is cancelled")

    (post,) = await fakes.sipgate.wait_for_posts(1)
    assert post.json["message"] == "now that one is cancelled"
    _, (reply,) = await wait_thread(fakes.slack, "C_GENERAL", parents=2)
    assert "accepted by sipgate" in reply.text
    sent = [r for r in await bot.ledger.list_for_user("U_ALICE") if r.id != request_id]
    assert [send.state for send in sent[0].sends] == [State.ACCEPTED]
    await assert_settled(
        bot, lambda: fakes.slack.responses == [cancelled], "the second send was refused"
    )


async def test_list_shows_scheduled_and_recent_with_ids(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False)
    await bot.command(f"{NUMBER} sent at once")
    await wait_thread(fakes.slack, "C_GENERAL")
    scheduled_id = await schedule(bot, clock, message="later")
    await wait_thread(fakes.slack, "C_GENERAL", parents=2)

    await bot.command("list")

    (answer,) = await fakes.slack.wait_for_responses(1)
    text = str(answer.body["text"])
    assert text.index("*Scheduled*") < text.index("*Recent*")
    scheduled_part, recent_part = text.split("*Recent*")
    assert f"`#{scheduled_id}`" in scheduled_part
    assert "later" in scheduled_part
    assert "`#1`" in recent_part
    assert "sent at once" in recent_part
    assert "+49 1511 2345678" in text


async def test_list_of_someone_without_sms(make_bot: MakeBot, fakes: ScriptedFakes) -> None:
    bot = await make_bot()

    await bot.command("list", user="U_BOB")

    (answer,) = await fakes.slack.wait_for_responses(1)
    assert "no scheduled or recent SMS" in str(answer.body["text"])


async def test_not_in_channel_posts_the_outcome_once_to_the_response_url(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    fakes.slack.remove_bot_from("C_PRIVATE")
    bot = await make_bot()

    await bot.command(f"{NUMBER} hello from a private channel", channel="C_PRIVATE")

    await fakes.sipgate.wait_for_posts(1)
    (answer,) = await fakes.slack.wait_for_responses(1)
    assert answer.body.get("response_type") == "ephemeral"
    shown = response_texts(fakes.slack)[0]
    assert "accepted by sipgate" in shown
    assert "hello from a private channel" in shown
    await assert_settled(
        bot,
        lambda: len(fakes.slack.responses) == 1 and not fakes.slack.messages("U_ALICE"),
        "the outcome was told more than once or by DM",
    )
    assert fakes.slack.messages("C_PRIVATE") == []


async def test_not_in_channel_scheduled_fires_as_a_dm(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    fakes.slack.remove_bot_from("C_PRIVATE")
    bot = await make_bot(run_scheduler=False)
    request_id = await schedule(bot, clock, channel="C_PRIVATE")

    await fakes.slack.wait_for_responses(1)
    assert "scheduled" in response_texts(fakes.slack)[0]
    assert CANCEL_ACTION in response_texts(fakes.slack)[0]  # the button comes along
    assert fakes.sipgate.sms_posts == []
    await fire_due(bot, clock)

    await fakes.sipgate.wait_for_posts(1)
    await fakes.slack.wait_for("chat.postMessage", 1)
    dms = [
        call
        for call in fakes.slack.calls_to("chat.postMessage")
        if call.args["channel"] in ("U_ALICE", "D_U_ALICE")
    ]
    assert len(dms) == 1
    (dm,) = fakes.slack.messages("U_ALICE")
    assert f"SMS #{request_id}" in dm.text
    assert "accepted by sipgate" in dm.text
    assert len(fakes.slack.responses) == 1
    assert "<#C_PRIVATE>" in json.dumps(dm.blocks)


async def test_scheduled_time_is_shown_in_the_requesters_zone(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False)

    await schedule(bot, clock, user="U_BOB")  # bob's Slack zone is America/New_York

    _, (reply,) = await wait_thread(fakes.slack, "C_GENERAL")
    assert "EST" in reply.text or "EDT" in reply.text


async def test_due_send_of_a_user_no_longer_allowed_is_cancelled(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    before = await make_bot(run_scheduler=False)
    request_id = await schedule(before, clock)
    await scheduled_thread(fakes)
    after = await make_bot(run_scheduler=False, SMS_ALLOWED_USERS="U_BOB")  # restarted

    await fire_due(after, clock)

    _, replies = await wait_thread(fakes.slack, "C_GENERAL", replies=2)
    assert replies[1].text.startswith(f"🚫 SMS #{request_id} was cancelled when it fell due")
    assert fakes.sipgate.sms_posts == []


async def test_send_overdue_beyond_the_grace_is_missed_and_told(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False, SMS_SCHEDULE_GRACE="900")
    request_id = await schedule(bot, clock, minutes=30)
    await scheduled_thread(fakes)

    await fire_due(bot, clock, minutes=30 + 16)  # the bot was down for the due time

    _, replies = await wait_thread(fakes.slack, "C_GENERAL", replies=2)
    assert replies[1].text.startswith(f"⏰ SMS #{request_id} was due")
    assert "not sent late" in replies[1].text
    await fakes.slack.wait_for("chat.update", 2)
    assert "missed" in top_level(fakes.slack, "C_GENERAL")[0].text
    assert fakes.sipgate.sms_posts == []


async def test_cancel_of_an_unknown_id(make_bot: MakeBot, fakes: ScriptedFakes) -> None:
    bot = await make_bot()

    await bot.command("cancel 99")

    (answer,) = await fakes.slack.wait_for_responses(1)
    assert "There is no SMS #99" in str(answer.body["text"])


async def test_not_in_channel_cancel_button_on_the_ephemeral_summary(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    fakes.slack.remove_bot_from("C_PRIVATE")
    bot = await make_bot(run_scheduler=False)
    request_id = await schedule(bot, clock, channel="C_PRIVATE")
    (summary,) = await fakes.slack.wait_for_responses(1)
    (button,) = [
        element
        for block in summary.body["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]

    await bot.dispatch(bot.click_body(button["action_id"], button["value"], channel="C_PRIVATE"))

    await fakes.slack.wait_for_responses(2)
    assert f"SMS #{request_id} is cancelled" in response_texts(fakes.slack)[1]
    await poll_until(
        lambda: len(fakes.slack.messages("U_ALICE")) == 1,
        5.0,
        lambda: f"no DM about the cancellation:\n{fakes.slack.transcript()}",
    )
    assert "was cancelled by <@U_ALICE>" in fakes.slack.messages("U_ALICE")[0].text
    await fire_due(bot, clock)
    assert fakes.sipgate.sms_posts == []
