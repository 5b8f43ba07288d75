"""``/sms <numbers> <message>``: quick sends through signed requests into the real bot."""

from __future__ import annotations

import json

from bot.core import SmsExtension
from bot.sandbox.sipgate import Scripted
from tests.fakes import ScriptedFakes
from tests.helpers import (
    MakeBot,
    assert_settled,
    bot_output,
    response_texts,
    top_level,
    wait_thread,
)

NUMBER = "+49 151 12345678"
E164 = "+4915112345678"


async def test_quick_send_goes_out_and_reports_in_a_thread(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()

    response = await bot.command(f"{NUMBER} Your technician arrives at 3pm")

    assert response.status == 200
    posts = await fakes.sipgate.wait_for_posts(1)
    assert [post.json for post in posts] == [
        {"smsId": "s0", "recipient": E164, "message": "Your technician arrives at 3pm"}
    ]
    await fakes.slack.wait_for("chat.update", 1)
    parent, replies = await wait_thread(fakes.slack, "C_GENERAL")
    first_post = fakes.slack.calls_to("chat.postMessage")[0].args
    assert first_post["channel"] == "C_GENERAL"
    assert "thread_ts" not in first_post
    assert "sending" in first_post["text"]
    assert len(top_level(fakes.slack, "C_GENERAL")) == 1
    assert [reply.text for reply in replies] == ["✅ +49 1511 2345678: accepted by sipgate"]
    assert parent.edited
    assert "accepted by sipgate" in parent.text
    blocks = json.dumps(parent.blocks, ensure_ascii=False)
    assert "<@U_ALICE>" in blocks
    assert "Your technician arrives at 3pm" in blocks
    assert "1 SMS" in blocks
    (update,) = fakes.slack.calls_to("chat.update")
    assert update.args["ts"] == parent.ts
    assert fakes.sipgate.sms_posts == posts  # exactly one POST


async def test_national_number_is_read_in_the_default_region(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()

    await bot.command("0170 1234567 Meeting moved")

    (post,) = await fakes.sipgate.wait_for_posts(1)
    assert post.json["recipient"] == "+491701234567"
    assert post.json["message"] == "Meeting moved"
    await wait_thread(fakes.slack, "C_GENERAL")


async def test_several_recipients_with_one_failing_show_partial(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()
    # The two posts run concurrently: whichever arrives second gets the 402.
    fakes.sipgate.script_send(Scripted(status=204), Scripted(status=402))

    await bot.command(f"{E164}, 0170 1234567 Meeting moved")

    posts = await fakes.sipgate.wait_for_posts(2)
    assert sorted(post.json["recipient"] for post in posts) == [E164, "+491701234567"]
    (accepted,) = [post.json["recipient"] for post in fakes.sipgate.sms]
    failed = ({E164, "+491701234567"} - {accepted}).pop()
    shown = {E164: "+49 1511 2345678", "+491701234567": "+49 170 1234567"}
    await fakes.slack.wait_for("chat.update", 1)
    parent, replies = await wait_thread(fakes.slack, "C_GENERAL")
    assert len(top_level(fakes.slack, "C_GENERAL")) == 1
    assert "⚠️" in parent.text
    assert "1 accepted by sipgate" in parent.text
    assert "1 failed" in parent.text
    (reply,) = replies
    lines = reply.text.splitlines()
    assert f"✅ {shown[accepted]}: accepted by sipgate" in lines
    failed_line = next(line for line in lines if line.startswith("❌"))
    assert shown[failed] in failed_line
    assert "balance is too low" in failed_line
    assert "top up" in failed_line


async def test_channel_ping_is_sent_as_typed_but_never_echoed_raw(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()

    # Slack escapes & < > in slash command text.
    await bot.command(f"{NUMBER} &lt;!channel&gt; hi")

    (post,) = await fakes.sipgate.wait_for_posts(1)
    assert post.json["message"] == "<!channel> hi"
    await fakes.slack.wait_for("chat.update", 1)
    parent, _ = await wait_thread(fakes.slack, "C_GENERAL")
    assert "&lt;!channel&gt;" in json.dumps(parent.blocks, ensure_ascii=False)
    await bot.command("list")
    await fakes.slack.wait_for_responses(1)
    assert "&lt;!channel&gt;" in response_texts(fakes.slack)[0]
    await bot.settle()
    assert "<!channel>" not in bot_output(fakes.slack)  # every call and response_url post


async def test_same_command_delivered_twice_sends_once(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()
    body = bot.command_body(f"{NUMBER} Only once please")

    first = await bot.dispatch(body)
    second = await bot.dispatch(body)

    assert (first.status, second.status) == (200, 200)
    await fakes.sipgate.wait_for_posts(1)
    await wait_thread(fakes.slack, "C_GENERAL")
    await assert_settled(
        bot,
        lambda: (
            len(fakes.sipgate.sms_posts) == 1
            and len(top_level(fakes.slack, "C_GENERAL")) == 1
            and not fakes.slack.responses
        ),
        "a redelivered command sent or posted again",
    )


async def test_help_is_the_ack_and_nothing_else(make_bot: MakeBot, fakes: ScriptedFakes) -> None:
    bot = await make_bot()

    response = await bot.command("help")

    assert response.status == 200
    assert "/sms +49 151 12345678 Your technician arrives at 3pm" in response.body
    assert "/sms cancel" in response.body
    await assert_settled(
        bot,
        # auth.test is Bolt's own authorization of the request, not the bot answering
        lambda: (
            {call.method for call in fakes.slack.calls} <= {"auth.test"}
            and not fakes.slack.responses
            and not fakes.sipgate.sms_posts
        ),
        "/sms help did more than answer",
    )


async def test_unparseable_text_opens_the_modal_prefilled(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()
    trigger_id = fakes.slack.new_trigger_id("U_ALICE")

    response = await bot.command("hello world", trigger_id=trigger_id)

    assert response.status == 200
    (call,) = await fakes.slack.wait_for("views.open", 1)
    assert call.args["trigger_id"] == trigger_id
    blocks = {block["block_id"]: block for block in fakes.slack.views[-1].view["blocks"]}
    assert blocks["message"]["element"]["initial_value"] == "hello world"
    assert "no valid phone number" in blocks["to"]["hint"]["text"]
    assert fakes.sipgate.sms_posts == []


async def test_bad_number_is_prefilled_in_to_with_the_problem(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()

    await bot.command("0170 12 &lt;b&gt; call me")

    await fakes.slack.wait_for("views.open", 1)
    blocks = {block["block_id"]: block for block in fakes.slack.views[-1].view["blocks"]}
    assert blocks["to"]["element"]["initial_value"] == "0170 12"
    # plain_text inputs show the text exactly as typed, not as Slack's entities
    assert blocks["message"]["element"]["initial_value"] == "<b> call me"
    assert "0170 12" in blocks["to"]["hint"]["text"]
    assert fakes.sipgate.sms_posts == []


async def test_hourly_limit_refuses_the_third_send(make_bot: MakeBot, fakes: ScriptedFakes) -> None:
    bot = await make_bot(SMS_USER_HOURLY_LIMIT="2")
    await bot.command(f"{NUMBER} one")
    await wait_thread(fakes.slack, "C_GENERAL")
    await bot.command(f"{NUMBER} two")
    await wait_thread(fakes.slack, "C_GENERAL", parents=2)

    await bot.command(f"{NUMBER} three")

    (refusal,) = await fakes.slack.wait_for_responses(1)
    text = str(refusal.body["text"])
    assert "2 SMS per hour" in text
    assert "0 left" in text
    assert "More are free from" in text
    assert refusal.body.get("response_type") == "ephemeral"
    assert len(fakes.sipgate.sms_posts) == 2
    assert len(top_level(fakes.slack, "C_GENERAL")) == 2


async def test_request_over_the_limit_is_refused_whole(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot(SMS_USER_HOURLY_LIMIT="2")
    await bot.command(f"{NUMBER} one")
    await wait_thread(fakes.slack, "C_GENERAL")

    await bot.command(f"{NUMBER}, 0170 1234567 two more")

    (refusal,) = await fakes.slack.wait_for_responses(1)
    assert "1 left" in str(refusal.body["text"])
    assert len(fakes.sipgate.sms_posts) == 1


async def test_several_extensions_quick_send_uses_the_first_and_names_it(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    fakes.sipgate.extensions = [
        SmsExtension("s2", "Support", "+4915799912345"),
        SmsExtension("s0", "Sales", "+4915799954321"),
    ]
    bot = await make_bot()

    await bot.command(f"{NUMBER} hi")

    (post,) = await fakes.sipgate.wait_for_posts(1)
    assert post.json["smsId"] == "s2"
    await fakes.slack.wait_for("chat.update", 1)
    parent, _ = await wait_thread(fakes.slack, "C_GENERAL")
    assert "from Support (s2)" in json.dumps(parent.blocks, ensure_ascii=False)
