"""More ways to start an SMS, through the real bot: "Send as SMS" on a message (the form
prefilled with its readable text, the status in that message's thread), and a colleague named in
``/sms`` (their profile's number; the form when they have none)."""

from __future__ import annotations

import json

from bot.core import OriginKind
from bot.sandbox.slack_api import SlackUser
from bot.sandbox.waiting import poll_until
from bot.slack.handlers import SHORTCUT_ID
from tests.fakes import ScriptedFakes
from tests.helpers import NUMBER, MakeBot, assert_settled, response_texts, thread, wait_thread

E164 = "+4915112345678"


def prefilled(fakes: ScriptedFakes) -> dict[str, str]:
    """The initial values of the last form opened, by block id."""
    blocks = fakes.slack.views[-1].view["blocks"]
    return {b["block_id"]: b["element"].get("initial_value", "") for b in blocks if "element" in b}


def hint_under(fakes: ScriptedFakes, block_id: str) -> str:
    (block,) = [b for b in fakes.slack.views[-1].view["blocks"] if b.get("block_id") == block_id]
    return str(block["hint"]["text"])


# --- "Send as SMS" -----------------------------------------------------------------------------


async def test_send_as_sms_prefills_the_readable_text_and_reports_in_that_thread(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()
    said = fakes.slack.post_as(
        "U_BOB",
        "C_GENERAL",
        "Hi <@U_ALICE>, the plan: <https://x.test/p|our plan> &amp; <#C_GENERAL|general> &lt;3",
    )

    response = await bot.dispatch(bot.shortcut_body(SHORTCUT_ID, said))

    assert response.status == 200
    await fakes.slack.wait_for("views.open", 1)
    assert prefilled(fakes)["message"] == (
        "Hi @alice, the plan: our plan (https://x.test/p) & #general <3"
    )
    metadata = json.loads(fakes.slack.views[-1].view["private_metadata"])
    assert (metadata["origin"], metadata["thread_ts"]) == ("shortcut", said.ts)
    await bot.submit(to=NUMBER, message="Call the customer", view_id=fakes.slack.views[-1].view_id)
    (post,) = await fakes.sipgate.wait_for_posts(1)
    assert post.json["message"] == "Call the customer"
    await poll_until(
        lambda: any(
            "accepted by sipgate" in m.text for m in thread(fakes.slack, "C_GENERAL", said.ts)
        ),
        5.0,
        lambda: fakes.slack.transcript(),
    )
    await bot.delivered()
    (status,) = thread(fakes.slack, "C_GENERAL", said.ts)  # updated in place: no second reply
    assert status.text.startswith("SMS #1 ")
    assert fakes.slack.calls_to("chat.update")[-1].args["ts"] == status.ts
    (request,) = await bot.ledger.list_for_user("U_ALICE")
    assert (request.origin, request.thread_ts) == (OriginKind.SHORTCUT, said.ts)


async def test_send_as_sms_on_a_thread_reply_reports_in_that_thread(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()
    parent = fakes.slack.post_as("U_BOB", "C_GENERAL", "The customer called")
    said = fakes.slack.post_as("U_BOB", "C_GENERAL", "Text them back", thread_ts=parent.ts)

    await bot.dispatch(bot.shortcut_body(SHORTCUT_ID, said))
    await fakes.slack.wait_for("views.open", 1)
    await bot.submit(to=NUMBER, message="We call at 3", view_id=fakes.slack.views[-1].view_id)

    await fakes.sipgate.wait_for_posts(1)
    await poll_until(
        lambda: any(
            "accepted by sipgate" in m.text for m in thread(fakes.slack, "C_GENERAL", parent.ts)
        ),
        5.0,
        lambda: fakes.slack.transcript(),
    )
    await bot.delivered()
    said_there, status = thread(fakes.slack, "C_GENERAL", parent.ts)
    assert (said_there.ts, status.text.startswith("SMS #1 ")) == (said.ts, True)
    assert [m.ts for m in thread(fakes.slack, "C_GENERAL", said.ts)] == []


async def test_send_as_sms_by_someone_not_allowed_opens_nothing(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()
    said = fakes.slack.post_as("U_BOB", "C_GENERAL", "hello")

    await bot.dispatch(bot.shortcut_body(SHORTCUT_ID, said, user="U_MALLORY"))

    await fakes.slack.wait_for_responses(1)
    assert "not allowed to send SMS" in response_texts(fakes.slack)[0]
    await assert_settled(bot, lambda: not fakes.slack.views, "a form opened for mallory")


# --- a colleague by mention --------------------------------------------------------------------


async def test_a_colleague_is_texted_at_their_profile_s_number(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()

    await bot.command(
        "<@U_ALICE|alice> Please call the customer &amp; <https://x.test/a>", user="U_BOB"
    )

    (post,) = await fakes.sipgate.wait_for_posts(1)
    assert post.json == {
        "smsId": "s0",
        "recipient": E164,
        "message": "Please call the customer & https://x.test/a",
    }
    parent, replies = await wait_thread(fakes.slack, "C_GENERAL")
    assert "to @alice (+49 1511 2345678)" in parent.text
    assert replies[0].text == "✅ @alice (+49 1511 2345678): accepted by sipgate"


async def test_colleagues_and_numbers_mix(make_bot: MakeBot, fakes: ScriptedFakes) -> None:
    fakes.slack.users["U_CAROL"] = SlackUser("U_CAROL", "carol", phone="0170 7654321")
    bot = await make_bot()

    await bot.command("<@U_CAROL|carol>, 0170 1234567, <@U_ALICE|alice> a &lt; b &gt; c")

    posts = await fakes.sipgate.wait_for_posts(3)
    assert sorted(p.json["recipient"] for p in posts) == [E164, "+491701234567", "+491707654321"]
    assert {p.json["message"] for p in posts} == {"a < b > c"}
    (request,) = await bot.ledger.list_for_user("U_ALICE")
    assert [send.label for send in request.sends] == ["@carol", None, "@alice"]


async def test_a_colleague_without_a_number_opens_the_form_saying_so(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()

    await bot.command("<@U_BOB|bob>, <@U_ALICE|alice>, 0170 1234567 Call me")

    await fakes.slack.wait_for("views.open", 1)
    assert prefilled(fakes) == {
        "to": "@bob, @alice, +49 170 1234567",
        "message": "Call me",
        "when": "",
    }
    assert hint_under(fakes, "to") == "⚠️ @bob has no valid phone number in their Slack profile"
    view_id = fakes.slack.views[-1].view_id
    again = await bot.submit(to="@bob, @alice", message="Call me", view_id=view_id)
    errors = json.loads(again.body)["errors"]
    assert errors["to"].startswith("@bob has no valid phone number in their Slack profile")
    done = await bot.submit(to="@alice, 0170 1234567", message="Call me", view_id=view_id)
    assert done.body == ""
    posts = await fakes.sipgate.wait_for_posts(2)
    assert sorted(p.json["recipient"] for p in posts) == [E164, "+491701234567"]
    parent, _ = await wait_thread(fakes.slack, "C_GENERAL")
    assert "@alice (+49 1511 2345678)" in parent.text


async def test_a_colleague_s_invalid_profile_number_is_no_number(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    fakes.slack.users["U_DAN"] = SlackUser("U_DAN", "dan", phone="call me maybe")
    bot = await make_bot()

    await bot.command("<@U_DAN|dan> hi")

    await fakes.slack.wait_for("views.open", 1)
    assert "@dan has no valid phone number" in hint_under(fakes, "to")
    await assert_settled(bot, lambda: not fakes.sipgate.sms_posts, "dan was texted")


async def test_a_mention_without_a_display_name_shows_the_real_name(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    fakes.slack.users["U_CAROL"] = SlackUser("U_CAROL", "carol", display_name="")
    bot = await make_bot()
    said = fakes.slack.post_as("U_BOB", "C_GENERAL", "<@U_CAROL> and <@U_NOBODY> will call")

    await bot.dispatch(bot.shortcut_body(SHORTCUT_ID, said))

    await fakes.slack.wait_for("views.open", 1)
    assert prefilled(fakes)["message"] == "@Carol and @U_NOBODY will call"
