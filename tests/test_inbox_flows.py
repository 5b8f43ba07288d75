"""Incoming SMS seen through the bot: polled from the fake sipgate's history, shown in Slack.

Each bot runs with ``run_scheduler=False``: a poll is one ``InboxPoller.round()`` run by the
test, on the test's ManualClock (which is also the fake sipgate's), so days pass in a moment.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import datetime, timedelta

import pytest

from bot.core import InboxPoller, SendFailure
from bot.sandbox.harness import ManualClock, Sandbox
from bot.sandbox.sipgate import Scripted
from bot.sandbox.slack_api import Message
from bot.sandbox.waiting import poll_until, probe_until
from bot.slack import Pace
from bot.store import SqlLedger
from bot.store.inbox import SqlInbox
from tests.fakes import ScriptedFakes
from tests.helpers import (
    ANNA,
    INBOX,
    MakeBot,
    PostgresDatabase,
    drop_ledger_tables,
    inbox_bot,
    status_known,
    thread,
    top_level,
    wait_thread,
)

BEN = "+4917012345678"
#: Statuses retried after a Slack failure within a tenth of a second, not Slack's full second.
QUICK_RETRY = Pace(rate=1000.0, burst=1000.0, backoff_first=0.05, backoff_most=0.1)


def inbound_ledger(bot: Sandbox) -> SqlInbox:
    """The ledger's side of incoming SMS."""
    assert isinstance(bot.bot.ledger, SqlLedger)
    return bot.bot.ledger.inbox


def poller(bot: Sandbox) -> InboxPoller:
    assert bot.bot.inbox is not None, "inbound is off"
    return bot.bot.inbox


async def poll(bot: Sandbox) -> int:
    """One poll, and its posts delivered; how many SMS were new."""
    new = await poller(bot).round()
    await bot.delivered()
    return new


def shown(message: Message) -> str:
    """What a message shows: its text and blocks."""
    return message.text + "\n" + json.dumps(message.blocks or [], ensure_ascii=False)


def showing(bot: Sandbox, channel: str, text: str) -> list[Message]:
    """The messages of ``channel`` that show ``text``."""
    return [m for m in bot.slack.messages(channel) if text in shown(m)]


def section(message: Message) -> str:
    """The mrkdwn of a message's first block (an incoming SMS's head and text)."""
    assert message.blocks, f"no blocks in {message}"
    text: str = message.blocks[0]["text"]["text"]
    return text


async def quick_send(bot: Sandbox, text: str = "+49 151 12345678 See you at 3") -> Message:
    """A ``/sms`` quick send in C_GENERAL, its outcome shown; its status message."""
    tops = len(top_level(bot.slack, "C_GENERAL"))
    await bot.command(text)
    parent, _ = await wait_thread(bot.slack, "C_GENERAL", parents=tops + 1)
    await bot.settle()
    await bot.delivered()
    await probe_until(  # where a status message is reaches the ledger in batches
        lambda: status_known(bot, parent.ts),
        5,
        lambda: "the ledger never learnt where the status message is",
    )
    return parent


# --- where an SMS goes -------------------------------------------------------------------------


async def test_an_sms_from_a_stranger_starts_a_conversation_in_the_inbox(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot)
    fakes.sipgate.contacts[ANNA] = "Anna Schmidt"
    fakes.sipgate.receive_sms("0151 12345678", "Yes, 3pm works")  # as typed at sipgate: national

    assert await poll(bot) == 1

    (parent,) = bot.slack.messages(INBOX)
    assert parent.thread_ts is None
    assert section(parent) == "📥 SMS from +49 1511 2345678 (Anna Schmidt)\n&gt; Yes, 3pm works"
    assert parent.blocks is not None
    (button,) = parent.blocks[1]["elements"]
    assert button["action_id"] == "reply_sms"
    conversation = await inbound_ledger(bot).conversation_at(INBOX, parent.ts)
    assert conversation is not None
    assert (conversation.number, button["value"]) == (ANNA, str(conversation.id))
    (lookup,) = [r for r in fakes.sipgate.received if r.path == "/v2/contacts"]
    assert lookup.param("phonenumbers") == [ANNA]  # normalised to E.164 before the lookup


async def test_without_a_contact_the_number_alone_is_shown(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot)
    fakes.sipgate.scopes = {"history:read", "sms:read", "sessions:sms:write"}  # no contacts:read
    fakes.sipgate.receive_sms(ANNA, "Hi")

    await poll(bot)

    (parent,) = bot.slack.messages(INBOX)
    assert section(parent) == "📥 SMS from +49 1511 2345678\n&gt; Hi"


async def test_later_sms_join_the_inbox_thread_while_it_is_young_then_start_a_new_one(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await inbox_bot(make_bot, SMS_CONVERSATION_DAYS="2")
    fakes.sipgate.receive_sms(ANNA, "first")
    await poll(bot)

    clock.advance(timedelta(days=1, hours=23))
    fakes.sipgate.receive_sms(ANNA, "second")
    fakes.sipgate.receive_sms(BEN, "someone else")
    await poll(bot)
    clock.advance(timedelta(hours=1, seconds=1))
    fakes.sipgate.receive_sms(ANNA, "third")
    await poll(bot)

    first, other, third = top_level(bot.slack, INBOX)
    assert "first" in section(first)
    assert [section(m) for m in thread(bot.slack, INBOX, first.ts)] == [
        "📥 +49 1511 2345678:\n&gt; second"
    ]
    assert "someone else" in section(other)
    assert "third" in section(third)
    assert thread(bot.slack, INBOX, third.ts) == []


async def test_a_reply_to_the_bots_sms_goes_to_the_thread_of_the_latest_request(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot)
    await quick_send(bot, "+49 151 12345678 Your technician comes at 3")
    latest = await quick_send(bot, "+49 151 12345678 Sorry, at 4 instead")
    replies_before = len(thread(bot.slack, "C_GENERAL", latest.ts))

    fakes.sipgate.receive_sms(ANNA, "OK, 4 is fine")
    await poll(bot)

    replies = thread(bot.slack, "C_GENERAL", latest.ts)
    assert len(replies) == replies_before + 1
    assert section(replies[-1]) == "📥 +49 1511 2345678:\n&gt; OK, 4 is fine"
    assert showing(bot, "C_GENERAL", "OK, 4 is fine") == [replies[-1]]
    assert bot.slack.messages(INBOX) == []


async def test_an_unknown_send_counts_as_texted_a_failed_one_does_not(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot)
    fakes.sipgate.script_send(Scripted(status=500), Scripted(status=402))  # unknown, failed
    unknown = await quick_send(bot, "+49 151 12345678 Your technician comes at 3")
    await quick_send(bot, "+49 170 12345678 Your technician comes at 4")

    fakes.sipgate.receive_sms(ANNA, "from anna")
    fakes.sipgate.receive_sms(BEN, "from ben")
    await poll(bot)

    (in_thread,) = showing(bot, "C_GENERAL", "from anna")
    assert in_thread.thread_ts == unknown.ts
    assert showing(bot, "C_GENERAL", "from ben") == []
    (inbox,) = bot.slack.messages(INBOX)
    assert "from ben" in section(inbox)


async def test_a_request_older_than_the_conversation_days_is_not_the_place(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await inbox_bot(make_bot, SMS_CONVERSATION_DAYS="3")
    await quick_send(bot)

    clock.advance(timedelta(days=3, minutes=1))
    fakes.sipgate.receive_sms(ANNA, "sorry, only saw it now")
    await poll(bot)

    assert showing(bot, "C_GENERAL", "sorry, only saw it now") == []
    (parent,) = bot.slack.messages(INBOX)
    assert "sorry, only saw it now" in section(parent)


async def test_where_the_bot_cannot_post_in_the_request_thread_the_inbox_takes_over(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot)
    await quick_send(bot)
    fakes.slack.remove_bot_from("C_GENERAL")

    fakes.sipgate.receive_sms(ANNA, "are you there?")
    await poll(bot)
    fakes.sipgate.receive_sms(ANNA, "hello?")
    await poll(bot)

    parent, (later,) = await wait_thread(bot.slack, INBOX)
    assert "are you there?" in section(parent)
    assert "hello?" in section(later)


async def test_an_sms_cannot_ping_or_link(make_bot: MakeBot, fakes: ScriptedFakes) -> None:
    bot = await inbox_bot(make_bot)
    fakes.sipgate.receive_sms(ANNA, "<!channel> @channel <!here|here> <@U_BOB> <https://x.test|y>")

    await poll(bot)

    (call,) = fakes.slack.calls_to("chat.postMessage")
    sent = json.dumps(call.args, ensure_ascii=False)
    assert "<!" not in sent
    assert "<@" not in sent
    assert "<http" not in sent
    assert "link_names" not in call.args  # "@channel" as text stays text
    assert "&lt;!channel&gt; @channel &lt;!here|here&gt;" in section(bot.slack.messages(INBOX)[0])


async def test_a_contact_name_cannot_ping_either(make_bot: MakeBot, fakes: ScriptedFakes) -> None:
    bot = await inbox_bot(make_bot)
    fakes.sipgate.contacts[ANNA] = "Anna <!everyone>"
    fakes.sipgate.receive_sms(ANNA, "Hi")

    await poll(bot)

    (call,) = fakes.slack.calls_to("chat.postMessage")
    assert "<!" not in json.dumps(call.args, ensure_ascii=False)  # the notification text too
    assert "Anna &lt;!everyone&gt;" in section(bot.slack.messages(INBOX)[0])


# --- reading the history -----------------------------------------------------------------------


async def test_250_sms_at_once_are_each_posted_once_reading_every_page(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot)
    await poll(bot)  # the first start
    senders = [f"+4915100000{index:03d}" for index in range(5)]
    for index in range(250):
        fakes.sipgate.receive_sms(senders[index % 5], f"sms number {index}.")
    asked = len(fakes.sipgate.history_requests)

    assert await poll(bot) == 250

    pages = fakes.sipgate.history_requests[asked:]
    assert [page.param("offset") for page in pages] == [["0"], ["100"], ["200"]]
    assert all(page.param("limit") == ["100"] for page in pages)
    texts = Counter(
        line.removeprefix("&gt; ")
        for message in bot.slack.messages(INBOX)
        for line in section(message).splitlines()
    )
    assert all(texts[f"sms number {index}."] == 1 for index in range(250))
    assert len(top_level(bot.slack, INBOX)) == 5
    assert await poll(bot) == 0
    assert len(fakes.slack.calls_to("chat.postMessage")) == 250


async def test_each_poll_reads_from_a_little_before_the_newest_sms_seen(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await inbox_bot(make_bot)
    started = clock()
    await poll(bot)
    clock.advance(timedelta(hours=1))
    newest = clock()
    fakes.sipgate.receive_sms(ANNA, "Hi")
    await poll(bot)
    clock.advance(timedelta(hours=1))
    await poll(bot)

    first, second, third = (from_of(r.param("from")) for r in fakes.sipgate.history_requests)
    assert first == started - timedelta(minutes=5)
    assert second == started - timedelta(minutes=5)
    assert third == newest - timedelta(minutes=5)


def from_of(values: list[str]) -> datetime:
    (value,) = values
    return datetime.fromisoformat(value)


async def test_an_sms_older_than_the_first_start_is_never_posted(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    fakes.sipgate.receive_sms(ANNA, "from last week", clock() - timedelta(days=7))
    fakes.sipgate.receive_sms(ANNA, "from a minute ago", clock() - timedelta(minutes=1))
    bot = await inbox_bot(make_bot)

    assert await poll(bot) == 0
    fakes.sipgate.receive_sms(ANNA, "after the start")
    assert await poll(bot) == 1

    (parent,) = bot.slack.messages(INBOX)
    assert "after the start" in section(parent)


async def test_the_first_start_is_kept_across_restarts(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    fakes.sipgate.receive_sms(ANNA, "before the first start", clock() - timedelta(minutes=1))
    first = await inbox_bot(make_bot)
    assert await poll(first) == 0
    await first.close()
    fakes.sipgate.receive_sms(ANNA, "while the bot was down", clock() + timedelta(minutes=10))

    clock.advance(timedelta(hours=1))
    second = await inbox_bot(make_bot)

    assert await poll(second) == 1
    (parent,) = second.slack.messages(INBOX)
    assert "while the bot was down" in section(parent)
    assert showing(second, INBOX, "before the first start") == []


async def test_a_restart_reposts_nothing_and_posts_a_new_sms_once(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    first = await inbox_bot(make_bot)
    fakes.sipgate.receive_sms(ANNA, "one")
    fakes.sipgate.receive_sms(BEN, "two")
    assert await poll(first) == 2
    await first.close()
    posted = len(fakes.slack.calls_to("chat.postMessage"))

    second = await inbox_bot(make_bot)
    assert await poll(second) == 0
    (reread,) = fakes.sipgate.history_requests[-1:]
    assert from_of(reread.param("from")) <= clock()  # both were read again, and skipped
    assert len(fakes.slack.calls_to("chat.postMessage")) == posted

    fakes.sipgate.receive_sms(ANNA, "three")
    assert await poll(second) == 1
    assert await poll(second) == 0
    assert len(showing(second, INBOX, "three")) == 1
    assert len(fakes.slack.calls_to("chat.postMessage")) == posted + 1


# --- failures ----------------------------------------------------------------------------------


async def test_a_slack_failure_is_retried_without_a_duplicate(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot(run_scheduler=False, SMS_INBOX_CHANNEL=INBOX, pace=QUICK_RETRY)
    await bot.command("help")  # Bolt checks the token once, before Slack fails
    fakes.slack.fail("chat.postMessage", "service_unavailable", status=503, times=2)
    fakes.sipgate.receive_sms(ANNA, "Yes, 3pm works")

    assert await poller(bot).round() == 1

    await poll_until(lambda: len(bot.slack.messages(INBOX)) == 1, 5, lambda: bot.slack.transcript())
    await bot.delivered()
    assert len(fakes.slack.calls_to("chat.postMessage")) == 3  # two refused, one posted
    assert await poll(bot) == 0
    assert len(showing(bot, INBOX, "Yes, 3pm works")) == 1


async def test_an_sms_claimed_while_slack_is_down_is_posted_by_the_next_instance(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    fakes.slack.limits.clock = lambda: clock().timestamp()
    first = await make_bot(run_scheduler=False, SMS_INBOX_CHANNEL=INBOX, pace=QUICK_RETRY)
    await first.command("help")  # Bolt checks the token once, before Slack goes down
    fakes.slack.limits.outage(60)
    fakes.sipgate.receive_sms(ANNA, "Yes, 3pm works")
    assert await poller(first).round() == 1
    await poll_until(lambda: len(fakes.slack.limits.refusals) >= 2, 5, lambda: "no outage")
    await first.close()

    clock.advance(timedelta(minutes=10))  # Slack is back; the retry time recorded has passed
    second = await inbox_bot(make_bot)

    await poll_until(
        lambda: len(second.slack.messages(INBOX)) == 1, 5, lambda: second.slack.transcript()
    )
    assert await poll(second) == 0
    assert len(showing(second, INBOX, "Yes, 3pm works")) == 1


async def test_a_failing_history_read_claims_nothing_and_the_next_round_posts(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot)
    entry = fakes.sipgate.receive_sms(ANNA, "Yes, 3pm works")
    fakes.sipgate.script_read("history", Scripted(status=503), Scripted(status=503))

    with pytest.raises(SendFailure):
        await poller(bot).round()

    assert await inbound_ledger(bot).claimed([entry["id"]]) == set()
    assert await poll(bot) == 1
    assert len(showing(bot, INBOX, "Yes, 3pm works")) == 1


async def test_one_history_5xx_is_tried_again_in_the_same_round(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await inbox_bot(make_bot)
    fakes.sipgate.receive_sms(ANNA, "Yes, 3pm works")
    fakes.sipgate.script_read("history", Scripted(status=502))

    assert await poll(bot) == 1
    assert len(fakes.sipgate.history_requests) == 2


# --- two instances -----------------------------------------------------------------------------


@pytest.fixture
async def postgres_url(postgres_database: PostgresDatabase) -> str:
    """The test session's PostgreSQL database, without ledger tables yet."""
    await drop_ledger_tables(postgres_database.url)
    return postgres_database.url


async def test_two_instances_polling_at_once_post_each_sms_exactly_once(
    make_bot: MakeBot, fakes: ScriptedFakes, postgres_url: str
) -> None:
    bots = [
        await inbox_bot(make_bot, DATABASE_URL=postgres_url),
        await inbox_bot(make_bot, DATABASE_URL=postgres_url),
    ]
    senders = [ANNA, BEN, "+4916012345678"]
    texts = []
    for round_number in range(4):
        for index in range(15):
            texts.append(f"round {round_number} sms {index}.")
            fakes.sipgate.receive_sms(senders[index % 3], texts[-1])
        new = await asyncio.gather(*(poller(bot).round() for bot in bots))
        assert sum(new) == 15
    await poll_until(  # a post behind the other instance's in its queue waits for a claim round
        lambda: len(fakes.slack.messages(INBOX)) >= len(texts),
        10,
        lambda: fakes.slack.transcript(),
    )
    for bot in bots:
        await bot.delivered()

    posted = Counter(
        line.removeprefix("&gt; ")
        for message in fakes.slack.messages(INBOX)
        for line in section(message).splitlines()
    )
    assert all(posted[text] == 1 for text in texts), posted
    assert len(fakes.slack.calls_to("chat.postMessage")) == len(texts)
    assert len(top_level(fakes.slack, INBOX)) == 3, fakes.slack.transcript()  # one per number
