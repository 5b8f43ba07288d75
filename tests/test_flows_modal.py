"""``/sms`` without text: the compose modal, its validation and its submission."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from bot.core import SmsExtension, State
from bot.sandbox.harness import ManualClock, Sandbox, in_minutes
from bot.slack.texts import CANCEL_ACTION
from bot.slack.views import decode_metadata
from tests.fakes import ScriptedFakes
from tests.helpers import MakeBot, assert_settled, top_level, wait_thread

NUMBER = "+49 151 12345678"
TWO_EXTENSIONS = [
    SmsExtension("s0", "Support", "+4915799912345"),
    SmsExtension("s1", "Sales", "+4915799954321"),
]


async def open_modal(bot: Sandbox, *, channel: str = "C_GENERAL", user: str = "U_ALICE") -> str:
    """Run ``/sms`` and wait for the modal; the trigger_id of the command."""
    trigger_id = bot.slack.new_trigger_id(user)
    opened = len(bot.slack.calls_to("views.open"))
    response = await bot.command("", trigger_id=trigger_id, channel=channel, user=user)
    assert response.status == 200
    await bot.slack.wait_for("views.open", opened + 1)
    return trigger_id


def blocks_of(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {block["block_id"]: block for block in view["blocks"]}


def errors_of(body: str) -> dict[str, str]:
    answer = json.loads(body)
    assert answer["response_action"] == "errors"
    errors: dict[str, str] = answer["errors"]
    return errors


async def test_sms_without_text_opens_the_modal(make_bot: MakeBot, fakes: ScriptedFakes) -> None:
    bot = await make_bot(SMS_MAX_LENGTH="480")

    trigger_id = await open_modal(bot)

    (call,) = fakes.slack.calls_to("views.open")
    assert call.args["trigger_id"] == trigger_id
    view = fakes.slack.views[-1].view
    metadata = decode_metadata(view["private_metadata"])
    assert metadata is not None
    assert metadata.channel_id == "C_GENERAL"
    blocks = blocks_of(view)
    assert list(blocks) == ["to", "message", "when"]  # no From with one extension
    assert blocks["to"]["label"]["text"] == "To"
    assert blocks["message"]["element"]["max_length"] == 480
    assert blocks["message"]["element"]["multiline"] is True
    assert "160" in blocks["message"]["hint"]["text"]
    assert blocks["when"]["element"]["type"] == "datetimepicker"
    assert blocks["when"]["optional"] is True
    assert fakes.sipgate.sms_posts == []


async def test_several_extensions_offer_a_from_select(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    fakes.sipgate.extensions = list(TWO_EXTENSIONS)
    bot = await make_bot()

    await open_modal(bot)

    blocks = blocks_of(fakes.slack.views[-1].view)
    assert list(blocks) == ["to", "message", "from", "when"]
    element = blocks["from"]["element"]
    assert element["type"] == "static_select"
    assert [option["value"] for option in element["options"]] == ["s0", "s1"]

    response = await bot.submit(to=NUMBER, message="from sales", sms_id="s1")

    assert response.status == 200
    (post,) = await fakes.sipgate.wait_for_posts(1)
    assert post.json["smsId"] == "s1"
    await wait_thread(fakes.slack, "C_GENERAL")


async def test_invalid_fields_are_answered_as_errors_by_block(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(SMS_MAX_LENGTH="20", SMS_SCHEDULE_MAX_DAYS="7")
    await open_modal(bot)

    bad_number = await bot.submit(to="0170 12", message="hi")
    empty = await bot.submit(to=NUMBER, message="")
    too_long = await bot.submit(to=NUMBER, message="x" * 21)
    past = await bot.submit(to=NUMBER, message="hi", when=in_minutes(clock, -5))
    too_far = await bot.submit(to=NUMBER, message="hi", when=in_minutes(clock, 8 * 24 * 60))
    everything = await bot.submit(to="+1 416 555 0123", message="", when=in_minutes(clock, -1))

    assert set(errors_of(bad_number.body)) == {"to"}
    assert "0170 12" in errors_of(bad_number.body)["to"]
    assert errors_of(empty.body) == {"message": "The message is empty."}
    assert "over the limit of 20" in errors_of(too_long.body)["message"]
    assert "in the past" in errors_of(past.body)["when"]
    assert "at most 7 days ahead" in errors_of(too_far.body)["when"]
    assert set(errors_of(everything.body)) == {"to", "message", "when"}
    assert "is in CA" in errors_of(everything.body)["to"]
    await assert_settled(
        bot,
        lambda: not fakes.sipgate.sms_posts and not fakes.slack.calls_to("chat.postMessage"),
        "an invalid submission was sent",
    )


async def test_valid_submission_sends_and_reports_in_the_origin_channel(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()
    await open_modal(bot, channel="C_SUPPORT")

    response = await bot.submit(to=f"{NUMBER}\n0170 1234567", message="Meeting moved")

    assert response.status == 200
    assert response.body == ""  # closes the modal
    posts = await fakes.sipgate.wait_for_posts(2)
    assert sorted(post.json["recipient"] for post in posts) == ["+4915112345678", "+491701234567"]
    assert {post.json["message"] for post in posts} == {"Meeting moved"}
    await fakes.slack.wait_for("chat.update", 1)
    parent, (reply,) = await wait_thread(fakes.slack, "C_SUPPORT")
    assert "accepted by sipgate" in parent.text
    assert reply.text.count("✅") == 2
    assert top_level(fakes.slack, "C_GENERAL") == []


async def test_same_submission_delivered_twice_sends_once(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()
    await open_modal(bot)
    body = bot.submission_body(
        {"to": {"to": {"value": NUMBER}}, "message": {"message": {"value": "once"}}}
    )

    first = await bot.dispatch(body)
    second = await bot.dispatch(body)

    assert (first.status, second.status) == (200, 200)
    await fakes.sipgate.wait_for_posts(1)
    await wait_thread(fakes.slack, "C_GENERAL")
    await assert_settled(
        bot,
        lambda: len(fakes.sipgate.sms_posts) == 1 and len(top_level(fakes.slack, "C_GENERAL")) == 1,
        "a redelivered submission sent again",
    )


async def test_submission_over_the_hourly_limit_errors_on_to(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot(SMS_USER_HOURLY_LIMIT="1")
    await bot.command(f"{NUMBER} the only one this hour")
    await wait_thread(fakes.slack, "C_GENERAL")
    await open_modal(bot)

    response = await bot.submit(to=NUMBER, message="one more")

    errors = errors_of(response.body)
    assert set(errors) == {"to"}
    assert "1 SMS per hour" in errors["to"]
    assert "0 left" in errors["to"]
    assert len(fakes.sipgate.sms_posts) == 1


async def test_scheduled_with_sipgate_passes_send_at(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(SMS_SCHEDULER="sipgate")
    await open_modal(bot)
    when = in_minutes(clock, 90)

    await bot.submit(to=NUMBER, message="Reminder", when=when)

    (post,) = await fakes.sipgate.wait_for_posts(1)
    assert post.json == {
        "smsId": "s0",
        "recipient": "+4915112345678",
        "message": "Reminder",
        "sendAt": when,
    }
    await fakes.slack.wait_for("chat.update", 1)
    parent, (reply,) = await wait_thread(fakes.slack, "C_GENERAL")
    assert reply.text.startswith("🕒 Scheduled for")
    assert "sipgate holds it" in reply.text
    assert "cannot be cancelled" in reply.text
    assert all(block["type"] != "actions" for block in reply.blocks or [])
    assert all(block["type"] != "actions" for block in parent.blocks or [])


async def test_scheduled_by_the_bot_fires_when_due(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False)
    await open_modal(bot)

    await bot.submit(to=NUMBER, message="Your appointment is tomorrow", when=in_minutes(clock, 30))

    await fakes.slack.wait_for("chat.update", 1)
    parent, (scheduled,) = await wait_thread(fakes.slack, "C_GENERAL")
    assert scheduled.text.startswith("🕒 Scheduled for")
    assert "CET" in scheduled.text or "CEST" in scheduled.text  # alice's zone: Europe/Berlin
    buttons = [
        element
        for block in scheduled.blocks or []
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert [button["action_id"] for button in buttons] == [CANCEL_ACTION]
    assert "scheduled for" in json.dumps(parent.blocks)
    assert fakes.sipgate.sms_posts == []

    await bot.fire_due()  # not due yet
    assert fakes.sipgate.sms_posts == []
    clock.advance(timedelta(minutes=31))
    await bot.fire_due()

    (post,) = await fakes.sipgate.wait_for_posts(1)
    assert post.json["message"] == "Your appointment is tomorrow"
    assert "sendAt" not in post.json
    await fakes.slack.wait_for("chat.update", 2)
    parent, replies = await wait_thread(fakes.slack, "C_GENERAL", replies=2)
    assert replies[1].text == "✅ +49 1511 2345678: accepted by sipgate"
    assert "accepted by sipgate" in parent.text
    assert len(top_level(fakes.slack, "C_GENERAL")) == 1
    (request,) = await bot.ledger.list_for_user("U_ALICE")
    assert [send.state for send in request.sends] == [State.ACCEPTED]


async def test_redelivered_submission_that_used_the_last_sms_is_just_acked(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot(SMS_USER_HOURLY_LIMIT="1")
    await open_modal(bot)
    body = bot.submission_body(
        {"to": {"to": {"value": NUMBER}}, "message": {"message": {"value": "the last one"}}}
    )
    first = await bot.dispatch(body)
    assert first.body == ""
    await fakes.sipgate.wait_for_posts(1)
    await wait_thread(fakes.slack, "C_GENERAL")

    again = await bot.dispatch(body)

    # The SMS went out: Slack's copy must not reopen the form with an hourly-limit error.
    assert again.status == 200
    assert again.body == ""
    await assert_settled(
        bot,
        lambda: len(fakes.sipgate.sms_posts) == 1 and not fakes.slack.responses,
        "a redelivered submission did something",
    )
