"""Opt-out: the keywords (properties of ``opt_of``), STOP and START by SMS, every send path
refusing an opted-out number, and ``/sms optout`` for admins.

The negative checks ("sipgate got nothing") follow the bot's own answer, which proves it got
as far as deciding.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import cast

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.core import LedgerUnavailable, OptOut, OptOutList, State, opt_of
from bot.sandbox import slack_events as se
from bot.sandbox.harness import ManualClock, Sandbox
from bot.sandbox.slack_api import Message
from bot.sandbox.slack_requests import BOT_USER_ID
from bot.sandbox.waiting import poll_until
from tests.fakes import ScriptedFakes
from tests.helpers import (
    ANNA,
    INBOX,
    NUMBER,
    MakeBot,
    fire_due,
    inbox_bot,
    only_send,
    response_texts,
    schedule,
    sms_arrives,
    wait_thread,
)

FAST = settings(max_examples=100, deadline=None)
#: PRODUCT.md §8's keywords (the whole text, trimmed, any case, trailing "." and "!" ignored).
OUT_KEYWORDS = ("STOP", "STOPP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ABMELDEN")
IN_KEYWORDS = ("START", "UNSTOP", "ANMELDEN")
SHOWN = "+49 1511 2345678"

WHITESPACE = st.text(alphabet=" \t\n\r", max_size=4)
ENDING = st.text(alphabet=".!", max_size=3)
WORD = st.text(alphabet=st.characters(categories=("L", "N")), min_size=1, max_size=8)


def in_any_case(word: str, upper: list[bool]) -> str:
    """``word`` with its letters upper case where ``upper`` says (as long as any keyword)."""
    return "".join(c.upper() if up else c.lower() for c, up in zip(word, upper, strict=False))


# --- the keywords ------------------------------------------------------------------------------


@FAST
@given(
    keyword=st.sampled_from(OUT_KEYWORDS),
    upper=st.lists(st.booleans(), min_size=11, max_size=11),
    before=WHITESPACE,
    after=WHITESPACE,
    ending=ENDING,
)
@example(keyword="STOPP", upper=[True] + [False] * 10, before="", after="", ending=".")
def test_an_opt_out_keyword_in_any_case_and_dress_opts_out(
    keyword: str, upper: list[bool], before: str, after: str, ending: str
) -> None:
    assert opt_of(f"{before}{in_any_case(keyword, upper)}{ending}{after}") == "out"


@FAST
@given(
    keyword=st.sampled_from(IN_KEYWORDS),
    upper=st.lists(st.booleans(), min_size=11, max_size=11),
    before=WHITESPACE,
    after=WHITESPACE,
    ending=ENDING,
)
def test_an_opt_in_keyword_in_any_case_and_dress_opts_in(
    keyword: str, upper: list[bool], before: str, after: str, ending: str
) -> None:
    assert opt_of(f"{before}{in_any_case(keyword, upper)}{ending}{after}") == "in"


@FAST
@given(
    words=st.lists(
        st.one_of(WORD, st.sampled_from(OUT_KEYWORDS + IN_KEYWORDS)),
        min_size=2,
        max_size=5,
    ),
    gaps=st.lists(st.sampled_from([" ", "  ", "\n", "\t", ", "]), min_size=4, max_size=4),
)
@example(words=["stop", "by", "at", "3"], gaps=[" ", " ", " ", " "])
@example(words=["STOP", "STOP"], gaps=[" ", " ", " ", " "])
def test_text_with_other_words_is_never_an_opt(words: list[str], gaps: list[str]) -> None:
    text = words[0] + "".join(gap + word for gap, word in zip(gaps, words[1:], strict=False))
    assert opt_of(text) is None


@FAST
@given(text=st.text(max_size=30))
def test_only_a_keyword_is_an_opt(text: str) -> None:
    word = text.strip().rstrip(".!").strip().upper()
    expected = "out" if word in OUT_KEYWORDS else "in" if word in IN_KEYWORDS else None
    assert opt_of(text) == expected


def test_near_keywords_are_not_opts() -> None:
    for text in ("STOPS", "unstoppable", "stop?", "S T O P", "start now", "¡STOP", "END OF"):
        assert opt_of(text) is None, text


# --- STOP and START by SMS ---------------------------------------------------------------------


def content(message: Message) -> str:
    return json.dumps(message.blocks or [], ensure_ascii=False)


async def test_stop_by_sms_opts_out_and_start_opts_back_in_each_shown_with_a_note(
    make_bot: MakeBot, clock: ManualClock
) -> None:
    bot = await inbox_bot(make_bot)

    stop = await sms_arrives(bot, "Stopp.")
    listed = await bot.bot.service.opt_outs.opted_out([ANNA])
    clock.advance(timedelta(hours=1))
    start = await sms_arrives(bot, " start ")

    assert "&gt; Stopp." in content(stop)
    assert f"⛔ {SHOWN} opted out of SMS" in content(stop)
    assert (listed[ANNA].how, listed[ANNA].since) == ("STOPP", clock() - timedelta(hours=1))
    assert "start" in content(start)
    assert f"✅ {SHOWN} opted in to SMS again" in content(start)
    assert await bot.bot.service.opt_outs.opted_out([ANNA]) == {}


async def test_an_sms_that_only_mentions_stop_changes_nothing(make_bot: MakeBot) -> None:
    bot = await inbox_bot(make_bot)

    shown = await sms_arrives(bot, "stop by at 3")

    assert "opted" not in content(shown)
    assert await bot.bot.service.opt_outs.opted_out([ANNA]) == {}


# --- every send path refuses an opted-out number -----------------------------------------------


async def opted_out_by_sms(make_bot: MakeBot) -> Sandbox:
    """A bot with inbound on to whom Anna has texted STOP."""
    bot = await inbox_bot(make_bot)
    await sms_arrives(bot, "STOP")
    return bot


def refusal(clock: ManualClock) -> str:
    return f"{SHOWN} opted out of SMS on {clock():%d %b %Y}."


async def test_a_quick_send_to_an_opted_out_number_is_refused(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await opted_out_by_sms(make_bot)

    await bot.command(f"{NUMBER} Still there?")

    await fakes.slack.wait_for_responses(1)
    assert refusal(clock) in response_texts(fakes.slack)[0]
    await bot.settle()
    assert fakes.sipgate.sms_posts == []


async def test_a_modal_send_to_an_opted_out_number_errors_on_to(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await opted_out_by_sms(make_bot)
    await bot.command("", trigger_id=fakes.slack.new_trigger_id("U_ALICE"))
    await fakes.slack.wait_for("views.open")

    answer = await bot.submit(to=f"+49 170 12345678, {NUMBER}", message="Still there?")

    body = json.loads(answer.body)
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == ["to"]
    assert refusal(clock) in body["errors"]["to"]
    await bot.settle()
    assert fakes.sipgate.sms_posts == []


async def test_a_reply_to_an_opted_out_number_is_refused(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await opted_out_by_sms(make_bot)
    (parent,) = bot.slack.messages(INBOX)

    mention = se.app_mention_event(
        text=f"<@{BOT_USER_ID}> Sorry to see you go", channel=INBOX, thread_ts=parent.ts
    )
    await bot.deliver(se.event_callback(mention))

    await poll_until(lambda: bool(fakes.slack.ephemerals), 5, fakes.slack.transcript)
    (told,) = fakes.slack.ephemerals
    assert refusal(clock) in told.text
    await bot.settle()
    assert fakes.sipgate.sms_posts == []


async def test_a_scheduled_send_to_a_number_that_opted_out_since_is_cancelled_when_due(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await inbox_bot(make_bot)
    await schedule(bot, clock, minutes=30)
    await sms_arrives(bot, "stop!")

    await fire_due(bot, clock)

    _, replies = await wait_thread(fakes.slack, "C_GENERAL", replies=2)
    assert replies[1].text.startswith(f"🚫 {SHOWN}: cancelled")
    assert "opted out of SMS before it fell due; nothing was sent" in replies[1].text
    send = await only_send(bot)
    assert (send.state, send.error_kind) == (State.CANCELLED, "opted_out")
    assert fakes.sipgate.sms_posts == []


async def test_an_opted_in_number_may_be_texted_again(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await opted_out_by_sms(make_bot)
    await sms_arrives(bot, "START")

    await bot.command(f"{NUMBER} Welcome back")

    (post,) = await fakes.sipgate.wait_for_posts(1)
    assert (post.json["recipient"], post.json["message"]) == (ANNA, "Welcome back")


# --- /sms optout -------------------------------------------------------------------------------


async def optout(bot: Sandbox, text: str, user: str) -> str:
    """``/sms <text>`` by ``user``; what the bot answered."""
    answered = len(bot.slack.responses)
    await bot.command(text, user=user)
    await poll_until(lambda: len(bot.slack.responses) > answered, 5, bot.slack.transcript)
    return response_texts(bot.slack)[answered]


async def test_admins_list_add_and_remove_opt_outs_without_inbound(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False, SMS_ADMINS="U_BOB")  # no inbox channel

    assert "Nobody has opted out of SMS." in await optout(bot, "optout", "U_BOB")
    added = await optout(bot, "optout add 0151 12345678", "U_BOB")
    again = await optout(bot, "OPTOUT ADD +4915112345678", "U_BOB")
    listed = await optout(bot, "optout", "U_BOB")
    refused = await optout(bot, f"{NUMBER} hello", "U_ALICE")
    removed = await optout(bot, "optout remove +49 151 12345678", "U_BOB")
    not_there = await optout(bot, "optout remove +49 151 12345678", "U_BOB")

    assert f"{SHOWN} is on the opt-out list now." in added
    assert f"{SHOWN} was on it already." in again
    assert "1 numbers opted out of SMS" in listed
    assert SHOWN in listed
    assert "by an admin" in listed
    assert refusal(clock) in refused
    assert f"{SHOWN} may be texted again." in removed
    assert f"{SHOWN} was not on the opt-out list." in not_there
    assert await bot.bot.service.opt_outs.opt_outs() == []
    await bot.command(f"{NUMBER} hello again")
    (post,) = await fakes.sipgate.wait_for_posts(1)
    assert post.json["message"] == "hello again"  # refused while listed, sent once removed


async def test_the_opt_out_list_is_for_admins_only(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False, SMS_ADMINS="U_BOB")
    await optout(bot, "optout add +49 170 12345678", "U_BOB")

    for text in ("optout", "optout add +49 151 12345678", "optout remove +49 170 12345678"):
        assert "Only SMS admins may see or change the opt-out list." in await optout(
            bot, text, "U_ALICE"
        )

    (entry,) = await bot.bot.service.opt_outs.opt_outs()
    assert (entry.number, entry.how, entry.by) == ("+4917012345678", "admin", "U_BOB")


async def test_an_opt_out_change_with_a_bad_number_explains_it(make_bot: MakeBot) -> None:
    bot = await make_bot(run_scheduler=False, SMS_ADMINS="U_BOB")

    answer = await optout(bot, "optout add 0170 12", "U_BOB")

    assert "0170 12" in answer
    assert await bot.bot.service.opt_outs.opt_outs() == []


class OptOutsDownOnce:
    """The opt-out list of a database that is away for its first read, then back."""

    def __init__(self, real: OptOutList) -> None:
        self.real = real
        self.reads = 0

    async def opted_out(self, numbers: Sequence[str]) -> dict[str, OptOut]:
        self.reads += 1
        if self.reads == 1:
            raise LedgerUnavailable("OperationalError")
        return await self.real.opted_out(numbers)


async def test_a_scheduled_send_whose_opt_out_check_meets_the_database_away_is_sent_once_back(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot()
    await schedule(bot, clock, minutes=30)
    flaky = OptOutsDownOnce(bot.bot.service.opt_outs)
    bot.bot.service.opt_outs = cast(OptOutList, flaky)  # its first read meets an outage

    await fire_due(bot, clock)

    (post,) = await fakes.sipgate.wait_for_posts(1)
    assert post.json["recipient"] == ANNA
    assert flaky.reads == 2  # read again once the database answered, not left claimed
    send = await only_send(bot)
    assert send.state is State.ACCEPTED
