"""bot/slack/texts.py: what people read, with user text escaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.core import (
    Balance,
    CancelOutcome,
    CancelResult,
    Decision,
    EmptyMessage,
    Field,
    ForeignNumbers,
    InThePast,
    Listing,
    NoRecipients,
    NumberError,
    NumberProblem,
    OverLimit,
    Reason,
    Refusal,
    Scheduler,
    SendRecord,
    SmsExtension,
    SmsRequest,
    State,
    TooFarAhead,
    TooLong,
    TooManyRecipients,
    parse_number,
)
from bot.sipgate import SipgateForbidden, SipgateRateLimited
from bot.slack.parse import (
    BadNumber,
    CancelNeedsId,
    CommaBeforeMessage,
    ComposeProblem,
    ListTakesNothing,
    MessageMissing,
    NoNumberFirst,
    NoProfileNumber,
    NotAnId,
    NumberEndUnclear,
)
from bot.slack.texts import (
    CANCEL_ACTION,
    SlackMessage,
    StatusView,
    balance_line,
    cancel_text,
    cancelled_reply,
    compose_problem,
    denied_text,
    dm_update,
    explain,
    explain_failure,
    export_done,
    export_title,
    extension_label,
    fallback_summary,
    format_time,
    help_text,
    list_all_text,
    list_text,
    low_balance_warning,
    missed_reply,
    no_profile_number,
    outcome_reply,
    over_limit_text,
    overall,
    quote,
    reason_text,
    refusals_text,
    scheduled_reply,
    sender_label,
    state_line,
    status_message,
    to_problem,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
WINTER = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
SUMMER = datetime(2026, 7, 1, 14, 0, tzinfo=UTC)
NASTY = "<!channel> Tom & Jerry <https://evil.example|click> <@U_BOSS>"
ESCAPED = "&lt;!channel&gt; Tom &amp; Jerry &lt;https://evil.example|click&gt; &lt;@U_BOSS&gt;"
RAW_MARKUP = ("<!channel>", "<https://evil.example|click>", "<@U_BOSS>", "Tom & Jerry")


def send(recipient: str = "+4915112345678", state: State = State.ACCEPTED, **kw: Any) -> SendRecord:
    return SendRecord(id=kw.pop("id", 1), request_id=7, recipient=recipient, state=state, **kw)


def request(*sends: SendRecord, message: str = "Hello", **kw: Any) -> SmsRequest:
    fields: dict[str, Any] = {
        "id": 7,
        "interaction_key": "command:1",
        "team_id": "T1",
        "user_id": "U_ALICE",
        "channel_id": "C_GENERAL",
        "response_url": None,
        "message": message,
        "sms_id": "s0",
        "segments": 1,
        "requested_at": WINTER,
        "send_at": None,
        "scheduler": Scheduler.BOT,
        "status_channel": None,
        "status_ts": None,
        "sends": sends or (send(),),
    }
    fields.update(kw)
    return SmsRequest(**fields)


VIEW = StatusView("SMS (s0)", BERLIN)


def everything_parsed(message: SlackMessage) -> str:
    """The message's text and every mrkdwn text of its blocks."""
    parts = [message.text]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                parts.append(str(node["text"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.blocks)
    return "\n".join(parts)


def assert_no_raw_markup(shown: str) -> None:
    for raw in RAW_MARKUP:
        assert raw not in shown


# --- escaping -----------------------------------------------------------------------------------


def test_status_message_escapes_the_text() -> None:
    message = status_message(request(message=NASTY), VIEW)

    shown = everything_parsed(message)
    assert ESCAPED in shown
    assert_no_raw_markup(shown)
    assert "<@U_ALICE>" in shown  # the requester is mentioned on purpose


def test_multiline_text_is_quoted_line_by_line() -> None:
    assert quote("first <b>\nsecond & third") == "&gt; first &lt;b&gt;\n&gt; second &amp; third"
    assert quote("") == "&gt; "


def test_sender_label_is_escaped() -> None:
    message = status_message(request(), StatusView("<!here> (s0)", BERLIN))

    shown = everything_parsed(message)
    assert "&lt;!here&gt; (s0)" in shown
    assert "<!here>" not in shown


def test_fallback_and_dm_keep_the_text_escaped() -> None:
    summary = fallback_summary(request(message=NASTY), VIEW)
    dm = dm_update(request(message=NASTY), summary)

    for message in (summary, dm):
        shown = everything_parsed(message)
        assert ESCAPED in shown
        assert_no_raw_markup(shown)
    assert "only you see this" in summary.text
    assert "<#C_GENERAL>" in dm.text
    assert "SMS #7" in dm.text


def test_fallback_of_a_scheduled_request_carries_the_cancel_button() -> None:
    scheduled = request(send(state=State.SCHEDULED), send_at=WINTER)

    held = fallback_summary(scheduled, StatusView("s0", BERLIN, cancellable=True))
    sent = fallback_summary(request(send()), StatusView("s0", BERLIN, cancellable=True))
    by_sipgate = fallback_summary(scheduled, VIEW)

    (actions,) = [block for block in held.blocks if block["type"] == "actions"]
    assert actions["elements"][0]["action_id"] == CANCEL_ACTION
    assert actions["elements"][0]["value"] == "7"
    for message in (sent, by_sipgate):
        assert all(block["type"] != "actions" for block in message.blocks)


def test_list_escapes_the_preview() -> None:
    text = list_text([request(message=NASTY)], BERLIN)

    assert "&lt;!channel&gt; Tom &amp; Jerry" in text
    assert_no_raw_markup(text)


def test_help_escapes_what_was_typed() -> None:
    help_shown = help_text(NotAnId("<!channel>"))

    assert help_shown.startswith("⚠️ “&lt;!channel&gt;” is not an SMS number like #12.\n")
    assert "<!channel>" not in help_shown


def test_refusals_are_listed_one_field_per_line() -> None:
    refusals = [
        Refusal(Field.TO, (TooManyRecipients(12, 10), NoRecipients())),
        Refusal(Field.MESSAGE, (EmptyMessage(),)),
    ]

    assert refusals_text(refusals) == (
        "Nothing was sent:\n"
        "• That is 12 recipients; at most 10 recipients per request. Add at least one recipient.\n"
        "• The message is empty."
    )


def test_help_without_a_problem() -> None:
    text = help_text()

    assert text.startswith("*Send an SMS through sipgate*")
    assert "/sms list" in text
    assert "/sms cancel 12" in text


# --- state lines and the overall state ---------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (State.ACCEPTED, "✅ +49 1511 2345678: accepted by sipgate"),
        (State.SENDING, "📤 +49 1511 2345678: sending…"),
        (State.SCHEDULED, "🕒 +49 1511 2345678: scheduled"),
        (State.FAILED, "❌ +49 1511 2345678: failed"),
        (State.UNKNOWN, "❓ +49 1511 2345678: outcome unknown"),
        (State.CANCELLED, "🚫 +49 1511 2345678: cancelled"),
        (State.MISSED, "⏰ +49 1511 2345678: missed"),
        (State.DENIED, "⛔ +49 1511 2345678: not allowed"),
    ],
)
def test_state_line(state: State, expected: str) -> None:
    assert state_line(send(state=state), "s0") == expected


def test_state_line_of_a_scheduled_send_names_the_time() -> None:
    line = state_line(send(state=State.SCHEDULED), "s0", "Tue 24 Nov 2026, 15:00 CET")

    assert line == "🕒 +49 1511 2345678: scheduled for Tue 24 Nov 2026, 15:00 CET"


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("invalid", "rejected the SMS as invalid"),
        ("auth", "credentials are wrong"),
        ("balance", "ask the admin to top up"),
        ("forbidden", "extension s0"),
        ("bug", "malformed request"),
        ("rate_limited", "rate-limiting"),
        ("server", "internal error"),
        ("no_answer", "may or may not have gone out"),
        ("denied", "no longer allowed"),
        ("interrupted", "bot stopped"),
    ],
)
def test_failure_lines_explain_what_happened(kind: str, words: str) -> None:
    state = State.UNKNOWN if kind in ("server", "no_answer", "interrupted") else State.FAILED

    line = state_line(send(state=state, error_kind=kind), "s0")

    assert " — " in line
    assert words in line


def test_overall_of_one_state_and_of_a_partial_outcome() -> None:
    accepted = send(id=1)
    failed = send("+491701234567", State.FAILED, id=2, error_kind="balance")

    assert overall([accepted, send(id=3)]) == "✅ accepted by sipgate"
    assert overall([accepted, failed]) == "⚠️ 1 accepted by sipgate, 1 failed"
    assert overall([failed, accepted, send(id=3)]) == "⚠️ 2 accepted by sipgate, 1 failed"


def test_partial_outcome_reply_lists_every_recipient() -> None:
    sends = (send(id=1), send("+491701234567", State.FAILED, id=2, error_kind="balance"))

    reply = outcome_reply(request(*sends), sends, BERLIN)

    lines = reply.text.splitlines()
    assert lines[0] == "✅ +49 1511 2345678: accepted by sipgate"
    assert lines[1].startswith("❌ +49 170 1234567: failed — the sipgate account balance")
    assert len(lines) == 2


def test_unknown_outcome_asks_to_check_before_resending() -> None:
    sends = (send(state=State.UNKNOWN, error_kind="no_answer"),)

    reply = outcome_reply(request(*sends), sends, BERLIN)

    assert "check with the recipient before sending again" in reply.text


def test_status_message_counts_parts_and_names_the_request() -> None:
    sends = (send(id=1), send("+491701234567", State.FAILED, id=2, error_kind="auth"))

    message = status_message(request(*sends, segments=3), VIEW)

    assert (
        message.text
        == "SMS #7 to +49 1511 2345678, +49 170 1234567: ⚠️ 1 accepted by sipgate, 1 failed"
    )
    shown = everything_parsed(message)
    assert "📱 SMS #7 from <@U_ALICE>" in shown
    assert "3 SMS parts · from SMS (s0)" in shown
    assert "credentials are wrong" in shown


# --- times --------------------------------------------------------------------------------------


def test_format_time_in_the_requesters_zone() -> None:
    assert format_time(WINTER, BERLIN) == "Tue 24 Nov 2026, 15:00 CET"
    assert format_time(SUMMER, BERLIN) == "Wed 01 Jul 2026, 16:00 CEST"
    assert format_time(WINTER, NEW_YORK) == "Tue 24 Nov 2026, 09:00 EST"
    assert format_time(WINTER, ZoneInfo("UTC")) == "Tue 24 Nov 2026, 14:00 UTC"


def test_scheduled_reply_by_the_bot_has_a_cancel_button() -> None:
    scheduled = request(send(state=State.SCHEDULED), send_at=WINTER)

    reply = scheduled_reply(
        scheduled, StatusView("s0", NEW_YORK, cancellable=True), by_sipgate=False
    )

    assert reply.text.startswith("🕒 Scheduled for Tue 24 Nov 2026, 09:00 EST.")
    assert "/sms cancel 7" in reply.text
    (actions,) = [block for block in reply.blocks if block["type"] == "actions"]
    (button,) = actions["elements"]
    assert button["action_id"] == CANCEL_ACTION
    assert button["value"] == "7"


def test_scheduled_reply_by_sipgate_cannot_be_cancelled() -> None:
    scheduled = request(send(), send_at=WINTER, scheduler=Scheduler.SIPGATE)

    reply = scheduled_reply(scheduled, VIEW, by_sipgate=True)

    assert "sipgate holds it" in reply.text
    assert "cannot be cancelled" in reply.text
    assert all(block["type"] != "actions" for block in reply.blocks)


def test_status_of_a_scheduled_request_shows_when() -> None:
    scheduled = request(send(state=State.SCHEDULED), send_at=SUMMER)

    shown = everything_parsed(status_message(scheduled, VIEW))

    assert "scheduled for Wed 01 Jul 2026, 16:00 CEST" in shown


def test_missed_and_cancelled_replies() -> None:
    missed = missed_reply(request(send(state=State.MISSED), send_at=WINTER), BERLIN)

    assert "was due Tue 24 Nov 2026, 15:00 CET" in missed.text
    assert "not sent late" in missed.text
    assert cancelled_reply(7, "U_BOB").text.startswith("🚫 SMS #7 was cancelled by <@U_BOB>")


def test_over_limit_says_how_many_remain_and_when() -> None:
    text = over_limit_text(OverLimit(30, 2, WINTER + timedelta(minutes=5)), BERLIN)

    assert "30 SMS per hour" in text
    assert "have 2 left right now" in text
    assert "More are free from Tue 24 Nov 2026, 15:05 CET" in text
    assert "More are free" not in over_limit_text(OverLimit(30, 0, None), BERLIN)


def test_list_puts_scheduled_first_with_ids() -> None:
    recent = request(send(), id=3)
    later = request(send(state=State.SCHEDULED), id=4, send_at=WINTER, message="x" * 60)

    text = list_text([recent, later], BERLIN)

    assert text.index("*Scheduled*") < text.index("`#4`") < text.index("*Recent*")
    assert text.index("*Recent*") < text.index("`#3`")
    assert "x" * 39 + "…" in text
    assert "x" * 40 not in text
    assert list_text([], BERLIN) == "You have no scheduled or recent SMS."


# --- ephemeral answers --------------------------------------------------------------------------


def test_denied_names_who_to_ask() -> None:
    user_denied = Decision.USER_DENIED
    assert "Ask <@U_ADMIN1>, <@U_ADMIN2>." in denied_text(user_denied, ["U_ADMIN2", "U_ADMIN1"])
    assert "Ask your Slack admin." in denied_text(user_denied, [])
    channel = denied_text(Decision.CHANNEL_DENIED, ["U_ADMIN1"])
    assert channel == "⛔ SMS cannot be sent from this conversation, so nothing was sent."


@pytest.mark.parametrize(
    ("outcome", "words"),
    [
        (CancelOutcome.CANCELLED, "SMS #7 is cancelled"),
        (CancelOutcome.NOT_FOUND, "There is no SMS #7"),
        (CancelOutcome.NOT_ALLOWED, "Only the person who scheduled SMS #7 or an SMS admin"),
        (CancelOutcome.TOO_LATE, "Too late to cancel SMS #7"),
    ],
)
def test_cancel_text(outcome: CancelOutcome, words: str) -> None:
    assert words in cancel_text(CancelResult(outcome, None), 7)


def test_too_late_names_the_state() -> None:
    result = CancelResult(CancelOutcome.TOO_LATE, request(send()))

    assert "accepted by sipgate" in cancel_text(result, 7)


def test_message_kwargs() -> None:
    assert SlackMessage("hi").as_kwargs() == {"text": "hi"}
    blocks = [{"type": "divider"}]
    assert SlackMessage("hi", blocks).as_kwargs() == {"text": "hi", "blocks": blocks}


# --- failures, reasons and problems -------------------------------------------------------------


def test_rate_limit_says_how_long_to_wait_when_sipgate_said() -> None:
    assert explain("rate_limited").endswith("try again in a minute")
    assert explain("rate_limited", retry_after=1).endswith("try again in 1 second")
    assert explain("rate_limited", retry_after=7.2).endswith("try again in 8 seconds")
    assert explain("rate_limited", retry_after=600).endswith("try again in 10 minutes")
    live = explain_failure(SipgateRateLimited(429, retry_after=30))
    assert live.endswith("try again in 30 seconds")


def test_forbidden_names_the_extension_only_on_a_send() -> None:
    assert "extension s3" in explain_failure(SipgateForbidden(403, sms_id="s3"))
    assert "sms:read" in explain("forbidden")


def test_an_unknown_kind_is_unexpected_and_says_nothing_known_was_sent() -> None:
    assert explain("something new") == (
        "sipgate gave an unexpected answer; nothing is known to have been sent"
    )


REASONS: list[tuple[Reason, str]] = [
    (NoRecipients(), "Add at least one recipient."),
    (TooManyRecipients(11, 10), "That is 11 recipients; at most 10 recipients per request."),
    (
        ForeignNumbers((parse_number("+1 416 555 0123", "DE"),), frozenset({"DE", "AT"})),
        "+1 416-555-0123 is in CA; this workspace may only text AT, DE.",
    ),
    (
        ForeignNumbers((parse_number("+43 664 1234567", "DE"),), frozenset()),
        "+43 664 1234567 is in AT; this workspace may not text any country.",
    ),
    (EmptyMessage(), "The message is empty."),
    (TooLong(1700, 1600), "The message is 1700 characters, 100 over the limit of 1600."),
    (InThePast(), "That time is in the past; pick a time in the future."),
    (TooFarAhead(30), "You can schedule at most 30 days ahead."),
]


@pytest.mark.parametrize(("reason", "text"), REASONS)
def test_reason_text(reason: Reason, text: str) -> None:
    assert reason_text(reason) == text


PROBLEMS: list[tuple[ComposeProblem, str]] = [
    (MessageMissing(), "the message is empty"),
    (
        CommaBeforeMessage(),
        "a comma must be followed by another number; remove the comma before the message",
    ),
    (
        NumberEndUnclear(("+49 170 1234567", "+49 170 1234567 8")),
        "could not tell where the number ends: “+49 170 1234567” or “+49 170 1234567 8”;"
        " check the number in To",
    ),
    (
        NoNumberFirst(),
        "no valid phone number at the start; write the number first, then the message",
    ),
    (
        BadNumber("0170 12", NumberProblem.INVALID, at_start=True),
        "no valid phone number at the start: “0170 12” is not a valid phone number",
    ),
    (
        BadNumber("+999 1", NumberProblem.COUNTRY_CODE),
        "“+999 1” needs a valid country code, e.g. +49 …",
    ),
]


@pytest.mark.parametrize(("problem", "text"), PROBLEMS)
def test_compose_problem(problem: ComposeProblem, text: str) -> None:
    assert compose_problem(problem) == text


def test_help_problems() -> None:
    assert help_text(ListTakesNothing()).startswith("⚠️ “list” takes nothing after it but “all”\n")
    assert "“/sms cancel 12”" in help_text(CancelNeedsId()).splitlines()[0]


def test_extension_labels() -> None:
    support = SmsExtension("s1", "Support", "+4915799912345")
    bare = SmsExtension("s0", "", "")

    assert sender_label(support) == "Support (s1)"
    assert sender_label(bare) == "s0"
    assert extension_label(support) == "Support · +4915799912345 (s1)"
    assert extension_label(bare) == "s0"
    assert len(extension_label(SmsExtension("s2", "x" * 100, ""))) == 75


# --- colleagues, everyone's list, the export, the balance ----------------------------------------


def test_a_colleague_is_shown_by_name_and_number() -> None:
    anna = send(label="@anna")

    assert state_line(anna, "s0") == "✅ @anna (+49 1511 2345678): accepted by sipgate"
    message = status_message(request(anna, send("+491701234567", id=2)), VIEW)
    assert "to @anna (+49 1511 2345678), +49 170 1234567" in message.text


def test_a_colleague_s_label_is_escaped_where_slack_parses_markup() -> None:
    line = state_line(send(label="@<!here>"), "s0")

    assert "<!here>" not in line
    assert "@&lt;!here&gt;" in line


def test_colleagues_without_a_number_are_named() -> None:
    assert no_profile_number(["@anna"]) == "@anna has no valid phone number in their Slack profile"
    assert no_profile_number(["@anna", "@ben"]) == (
        "@anna, @ben have no valid phone number in their Slack profiles"
    )
    assert compose_problem(NoProfileNumber(("@anna",))) == no_profile_number(["@anna"])


def test_the_to_field_names_bad_numbers_and_colleagues_without_one() -> None:
    bad = NumberError("0170 12", NumberProblem.INVALID)

    assert to_problem([bad], ["@ben"]) == (
        "“0170 12” is not a valid phone number @ben has no valid phone number in their Slack"
        " profile: type their number instead."
    )


def test_everyone_s_list_names_who_asked_and_how_many_more_wait() -> None:
    waiting = request(send(state=State.SCHEDULED), send_at=WINTER, message=NASTY)
    done = request(send(), id=8, user_id="U_BOB")

    text = list_all_text(Listing((waiting, done), more_scheduled=4), BERLIN)

    assert text.splitlines()[0] == "*Everyone's scheduled SMS*"
    assert "`#7` Tue 24 Nov 2026, 15:00 CET <@U_ALICE> →" in text
    assert "…and 4 more" in text
    assert "`#8` Tue 24 Nov 2026, 15:00 CET <@U_BOB> →" in text.split("*Everyone's latest SMS*")[1]
    assert_no_raw_markup(text)


def test_a_long_list_of_everyone_is_cut_to_fit_a_message() -> None:
    many = tuple(request(send(), id=i, message="x" * 40) for i in range(300))

    text = list_all_text(Listing(many), BERLIN)

    assert len(text) <= 4000
    assert text.splitlines()[-1].startswith("…and ")


def test_the_export_and_balance_words() -> None:
    assert (
        export_done(1, 30)
        == "📄 The export of the last 30 days (1 row) is in your DM with the bot."
    )
    assert "(2 rows)" in export_done(2, 7)
    assert export_title(366) == "SMS audit export, last 366 days"
    warning = low_balance_warning(Balance(35000, "EUR"), Decimal(5))
    assert warning.text.startswith("⚠️ The sipgate balance is 3.50 EUR, below 5.00 EUR")
    assert balance_line(Balance(35000, "EUR")) == "*sipgate balance:* 3.50 EUR"
