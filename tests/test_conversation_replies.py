"""Answering an incoming SMS from Slack: the Reply button, a mention of the bot in the
conversation's thread, and (``SMS_THREAD_REPLIES=all``) every person's message there.

Each test first has an SMS from Anna arrive in the inbox channel (one poll by hand), then
replies the way Slack delivers it: signed Events API bodies and block actions to the real bot.
A check that nothing was sent comes after the bot has shown it got that far (its answer, or a
real reply sent afterwards being the only one that arrived).
"""

from __future__ import annotations

from typing import Any

from bot.sandbox import slack_events as se
from bot.sandbox.harness import Sandbox
from bot.sandbox.slack_api import Ephemeral, Message, SlackUser
from bot.sandbox.slack_requests import BOT_USER_ID
from bot.sandbox.waiting import poll_until, probe_until
from bot.slack.texts import HOW_TO_REPLY, REPLY_ACTION
from bot.slack.views import decode_metadata
from tests.fakes import ScriptedFakes
from tests.helpers import (
    ANNA,
    INBOX,
    MakeBot,
    inbox_bot,
    sms_arrives,
    status_known,
    thread,
    top_level,
    wait_thread,
)

MENTION = f"<@{BOT_USER_ID}>"


async def sent_texts(fakes: ScriptedFakes, count: int) -> list[tuple[str, str]]:
    """Once sipgate got ``count`` SMS: each one's (recipient, message)."""
    posts = await fakes.sipgate.wait_for_posts(count)
    return [(post.json["recipient"], post.json["message"]) for post in posts]


async def mention(
    bot: Sandbox, text: str, *, thread_ts: str | None, user: str = "U_ALICE", **envelope: Any
) -> dict[str, Any]:
    """``user`` mentions the bot in INBOX (in the thread of ``thread_ts``); the envelope."""
    event = se.app_mention_event(text=text, user=user, channel=INBOX, thread_ts=thread_ts)
    callback = se.event_callback(event, **envelope)
    assert (await bot.deliver(callback)).status == 200
    return callback


async def say(bot: Sandbox, event: dict[str, Any]) -> None:
    """Slack delivers ``event`` (a message event) to the bot."""
    assert (await bot.deliver(se.event_callback(event))).status == 200


async def ephemerals_to(fakes: ScriptedFakes, user: str, count: int = 1) -> list[Ephemeral]:
    await poll_until(
        lambda: len([e for e in fakes.slack.ephemerals if e.user == user]) >= count,
        5,
        lambda: f"no ephemeral to {user}:\n{fakes.slack.transcript()}",
    )
    return [e for e in fakes.slack.ephemerals if e.user == user]


async def status_in_thread(bot: Sandbox, parent: Message) -> list[Message]:
    """The reply's status in the thread of ``parent``, once it shows the outcome (the status
    is updated in place: no second reply repeats it)."""

    def statuses() -> list[Message]:
        return [m for m in thread(bot.slack, parent.channel, parent.ts) if "SMS #" in m.text]

    await poll_until(
        lambda: any("accepted by sipgate" in m.text for m in statuses()),
        5,
        lambda: f"no outcome in the thread:\n{bot.slack.transcript()}",
    )
    await bot.settle()
    await bot.delivered()
    return statuses()


# --- the Reply button --------------------------------------------------------------------------


async def test_the_reply_button_opens_the_form_for_the_number_and_reports_in_the_thread(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot)
    parent = await sms_arrives(bot)
    assert parent.blocks is not None
    (button,) = parent.blocks[1]["elements"]
    assert button["action_id"] == REPLY_ACTION

    clicked = await bot.dispatch(bot.click_body(REPLY_ACTION, button["value"], channel=INBOX))

    assert clicked.status == 200
    await fakes.slack.wait_for("views.open")
    view = fakes.slack.views[-1]
    to_block = next(block for block in view.view["blocks"] if block["block_id"] == "to")
    assert to_block["element"]["initial_value"] == "+49 1511 2345678"
    metadata = decode_metadata(view.view["private_metadata"])
    assert metadata is not None
    assert (metadata.channel_id, metadata.thread_ts) == (INBOX, parent.ts)

    submitted = await bot.submit(
        to="+49 1511 2345678", message="Yes, 3 is fine", view_id=view.view_id
    )

    assert submitted.status == 200
    assert await sent_texts(fakes, 1) == [(ANNA, "Yes, 3 is fine")]
    (status,) = await status_in_thread(bot, parent)  # one status, updated with its outcome
    assert "accepted by sipgate" in status.text
    assert top_level(bot.slack, INBOX) == [parent]  # nothing outside the thread


# --- mentions ----------------------------------------------------------------------------------


async def test_a_mention_in_the_thread_sends_the_text_without_the_mention(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    fakes.slack.users["U07CARLA"] = SlackUser("U07CARLA", "carla")  # Slack's ids: no "_"
    bot = await inbox_bot(make_bot)
    parent = await sms_arrives(bot)

    await mention(
        bot, f"{MENTION} Thanks, see you at 3 &amp; bring <@U07CARLA>", thread_ts=parent.ts
    )

    assert await sent_texts(fakes, 1) == [(ANNA, "Thanks, see you at 3 & bring @carla")]
    (status,) = await status_in_thread(bot, parent)
    assert "accepted by sipgate" in status.text
    assert top_level(bot.slack, INBOX) == [parent]
    (request,) = await bot.ledger.list_for_user("U_ALICE")
    assert (request.channel_id, request.thread_ts) == (INBOX, parent.ts)


async def test_a_reply_in_the_inbox_channel_passes_a_channel_limit(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot, SMS_ALLOWED_CHANNELS="C_SALES")
    parent = await sms_arrives(bot)

    await mention(bot, f"{MENTION} On my way", thread_ts=parent.ts)

    assert await sent_texts(fakes, 1) == [(ANNA, "On my way")]


async def test_a_mention_delivered_again_by_slack_sends_once(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot)
    parent = await sms_arrives(bot)
    callback = await mention(bot, f"{MENTION} See you at 3", thread_ts=parent.ts)
    assert await sent_texts(fakes, 1) == [(ANNA, "See you at 3")]
    await bot.settle()

    again = await bot.deliver(callback, retry=1, reason="http_timeout")
    once_more = await bot.deliver(callback, retry=2, reason="http_error")

    assert (again.status, once_more.status) == (200, 200)
    await bot.settle()
    assert len(fakes.sipgate.sms_posts) == 1


async def test_without_a_client_msg_id_the_event_id_makes_the_reply_once(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot)
    parent = await sms_arrives(bot)
    event = se.app_mention_event(text=f"{MENTION} See you", channel=INBOX, thread_ts=parent.ts)
    del event["client_msg_id"]
    callback = se.event_callback(event)

    await bot.deliver(callback)
    assert await sent_texts(fakes, 1) == [(ANNA, "See you")]
    await bot.settle()
    await bot.deliver(callback, retry=1)

    await bot.settle()
    assert len(fakes.sipgate.sms_posts) == 1


async def test_a_mention_outside_a_conversation_is_told_how_to_reply_and_sends_nothing(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot)
    parent = await sms_arrives(bot)
    unrelated = fakes.slack.post_as("U_BOB", INBOX, "lunch?")

    await mention(bot, f"{MENTION} See you at 3", thread_ts=unrelated.ts, user="U_BOB")

    (told,) = await ephemerals_to(fakes, "U_BOB")
    assert told.text == HOW_TO_REPLY
    assert told.thread_ts == unrelated.ts
    await bot.settle()
    assert fakes.sipgate.sms_posts == []
    await mention(bot, f"{MENTION} real reply", thread_ts=parent.ts, user="U_BOB")
    assert await sent_texts(fakes, 1) == [(ANNA, "real reply")]


async def test_a_mention_outside_any_thread_is_told_how_to_reply(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot)
    await sms_arrives(bot)

    await mention(bot, f"{MENTION} +49 151 12345678 hello", thread_ts=None)

    (told,) = await ephemerals_to(fakes, "U_ALICE")
    assert told.text == HOW_TO_REPLY
    await bot.settle()
    assert fakes.sipgate.sms_posts == []


async def test_a_mention_in_a_request_thread_goes_to_the_sender_of_the_sms_posted_there(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot)
    await bot.command("+49 151 12345678 Your technician comes at 3")
    status, _ = await wait_thread(fakes.slack, "C_GENERAL")
    await bot.settle()
    await bot.delivered()
    in_status_thread = {"channel": "C_GENERAL", "thread_ts": status.ts}

    await say(bot, se.app_mention_event(text=f"{MENTION} too early", **in_status_thread))
    (told,) = await ephemerals_to(fakes, "U_ALICE")
    assert told.text == HOW_TO_REPLY  # no SMS came back here yet: not a conversation
    await probe_until(
        lambda: status_known(bot, status.ts), 5, lambda: "the ledger never learnt the status"
    )
    shown = await sms_arrives(bot, "Great, thanks")
    await say(bot, se.app_mention_event(text=f"{MENTION} See you", **in_status_thread))

    assert shown.thread_ts == status.ts
    posts = await sent_texts(fakes, 2)
    assert posts[1] == (ANNA, "See you")


async def test_a_user_not_on_the_allowlist_is_told_and_nothing_is_sent(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot, SMS_ADMINS="U_BOB")
    parent = await sms_arrives(bot)

    await mention(bot, f"{MENTION} I am not allowed", thread_ts=parent.ts, user="U_MALLORY")

    (told,) = await ephemerals_to(fakes, "U_MALLORY")
    assert "not allowed to send SMS" in told.text
    assert "<@U_BOB>" in told.text
    await bot.settle()
    assert fakes.sipgate.sms_posts == []
    await mention(bot, f"{MENTION} I am", thread_ts=parent.ts)
    assert await sent_texts(fakes, 1) == [(ANNA, "I am")]


# --- SMS_THREAD_REPLIES ------------------------------------------------------------------------


async def test_by_default_a_plain_message_in_the_thread_sends_nothing(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot)
    parent = await sms_arrives(bot)

    await say(bot, se.message_event(text="just a note", channel=INBOX, thread_ts=parent.ts))
    await mention(bot, f"{MENTION} the reply", thread_ts=parent.ts)

    assert await sent_texts(fakes, 1) == [(ANNA, "the reply")]
    await bot.settle()
    assert len(fakes.sipgate.sms_posts) == 1


async def test_with_all_every_persons_message_in_the_thread_is_sent(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot, SMS_THREAD_REPLIES="all")
    parent = await sms_arrives(bot)

    await say(bot, se.message_event(text="On my way", channel=INBOX, thread_ts=parent.ts))
    assert await sent_texts(fakes, 1) == [(ANNA, "On my way")]
    await say(bot, se.thread_broadcast_event(text="Here", channel=INBOX, thread_ts=parent.ts))

    assert await sent_texts(fakes, 2) == [(ANNA, "On my way"), (ANNA, "Here")]


async def test_with_all_a_mention_delivered_as_two_events_sends_once(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot, SMS_THREAD_REPLIES="all")
    parent = await sms_arrives(bot)
    as_mention = se.app_mention_event(text=f"{MENTION} Once", channel=INBOX, thread_ts=parent.ts)
    as_message = {**as_mention, "type": "message", "channel_type": "channel"}

    await say(bot, as_mention)
    await say(bot, as_message)

    assert await sent_texts(fakes, 1) == [(ANNA, "Once")]
    await bot.settle()
    assert len(fakes.sipgate.sms_posts) == 1


async def test_with_all_edits_deletions_and_bot_messages_send_nothing(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot, SMS_THREAD_REPLIES="all")
    parent = await sms_arrives(bot)
    written = fakes.slack.post_as("U_ALICE", INBOX, "first draft", thread_ts=parent.ts)
    here = {"channel": INBOX, "thread_ts": parent.ts}

    for event in (
        se.message_changed_event(text="edited", previous_text="first draft", ts=written.ts, **here),
        se.message_deleted_event(ts=written.ts, previous_text="first draft", **here),
        se.bot_message_event(text="another app", channel=INBOX, thread_ts=parent.ts),
        se.bot_message_event(text="📤 SMS #9", own=True, channel=INBOX, thread_ts=parent.ts),
    ):
        await say(bot, event)
    await bot.settle()
    await say(bot, se.message_event(text="the real one", **here))

    assert await sent_texts(fakes, 1) == [(ANNA, "the real one")]
    await bot.settle()
    assert len(fakes.sipgate.sms_posts) == 1


async def test_with_all_a_message_outside_conversations_sends_nothing_and_says_nothing(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot, SMS_THREAD_REPLIES="all")
    parent = await sms_arrives(bot)
    other = fakes.slack.post_as("U_BOB", INBOX, "lunch?")

    await say(bot, se.message_event(text="yes!", channel=INBOX, thread_ts=other.ts))
    await say(bot, se.message_event(text="top level", channel=INBOX))
    await say(bot, se.message_event(text="the reply", channel=INBOX, thread_ts=parent.ts))

    assert await sent_texts(fakes, 1) == [(ANNA, "the reply")]
    await bot.settle()
    assert len(fakes.sipgate.sms_posts) == 1
    assert fakes.slack.ephemerals == []


async def test_an_sms_from_a_name_cannot_be_answered_and_says_so(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot)
    fakes.sipgate.receive_sms("DHL", "Your parcel arrives today")
    assert bot.bot.inbox is not None
    await bot.bot.inbox.round()
    await bot.delivered()
    (parent,) = fakes.slack.messages(INBOX)
    assert parent.blocks is not None
    assert "📥 SMS from DHL" in parent.blocks[0]["text"]["text"]

    await mention(bot, f"{MENTION} thanks", thread_ts=parent.ts)

    (told,) = await ephemerals_to(fakes, "U_ALICE")
    assert told.text == "“DHL” is a name, not a number: an SMS cannot be sent to it."
    await bot.settle()
    assert fakes.sipgate.sms_posts == []
