"""Answers to what people typed: number problems, refusals, help, lists, cancellations."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, assert_never
from zoneinfo import ZoneInfo

from bot.core import (
    MAX_DAYS,
    CancelOutcome,
    CancelResult,
    Decision,
    EmptyMessage,
    ForeignNumbers,
    InThePast,
    Listing,
    NoRecipients,
    NumberError,
    NumberProblem,
    OptedOut,
    OverLimit,
    Reason,
    Refusal,
    SmsRequest,
    State,
    TooFarAhead,
    TooLong,
    TooManyRecipients,
    display_number,
)
from bot.slack.parse import (
    BadNumber,
    CancelNeedsId,
    CommaBeforeMessage,
    ComposeProblem,
    ExportDays,
    HelpProblem,
    ListTakesNothing,
    MessageMissing,
    NoNumberFirst,
    NoProfileNumber,
    NotAnId,
    NumberEndUnclear,
    OptOutUsageProblem,
)
from bot.slack.texts.blocks import escape_mrkdwn, format_time
from bot.slack.texts.status import overall, recipient_text


def number_problem(error: NumberError) -> str:
    """Why a typed number cannot be used, naming it as typed."""
    return _number_words(error.typed, error.problem)


def _number_words(typed: str, problem: NumberProblem) -> str:
    match problem:
        case NumberProblem.EMPTY:
            return "enter a phone number"
        case NumberProblem.TOO_LONG:
            return f"“{typed[:20]}…” is too long for a phone number"
        case NumberProblem.NOT_A_NUMBER:
            return f"“{typed}” is not a phone number: use only digits, +, spaces, - / ( )"
        case NumberProblem.NO_DIGITS:
            return f"“{typed}” has no digits"
        case NumberProblem.COUNTRY_CODE:
            return f"“{typed}” needs a valid country code, e.g. +49 …"
        case NumberProblem.INVALID:
            return f"“{typed}” is not a valid phone number"
        case _:
            assert_never(problem)


def numbers_problem(errors: Sequence[NumberError]) -> str:
    """Every unreadable number of a To field, for the error under To."""
    return " ".join(number_problem(error) for error in errors)[:2000]


def no_profile_number(names: Sequence[str]) -> str:
    """Colleagues named as recipients whose Slack profile has no number to text."""
    if len(names) == 1:
        return f"{names[0]} has no valid phone number in their Slack profile"
    return f"{', '.join(names)} have no valid phone number in their Slack profiles"


def to_problem(unreadable: Sequence[NumberError], no_number: Sequence[str]) -> str:
    """Everything in a To field that cannot be texted, for the error under To."""
    parts = [number_problem(error) for error in unreadable]
    if no_number:
        parts.append(no_profile_number(no_number) + ": type their number instead.")
    return " ".join(parts)[:2000]


_USAGE_CANCEL = "use “/sms cancel <id>”, e.g. “/sms cancel 12”; “/sms list” shows the ids"


def help_problem(problem: HelpProblem) -> str:
    """What was wrong with a keyword command."""
    match problem:
        case ListTakesNothing():
            return "“list” takes nothing after it but “all”"
        case CancelNeedsId():
            return f"“cancel” needs one request id: {_USAGE_CANCEL}"
        case NotAnId(typed):
            return f"“{typed}” is not an SMS number like #12."
        case OptOutUsageProblem():
            return "use “/sms optout”, “/sms optout add <number>” or “/sms optout remove <number>”"
        case ExportDays(typed):
            return (
                f"“{typed}” is not a number of days from 1 to {MAX_DAYS}:"
                " use “/sms export 30”, for example"
            )
        case _:
            assert_never(problem)


def compose_problem(problem: ComposeProblem) -> str:
    """Why a quick send opened the form instead of sending."""
    match problem:
        case MessageMissing():
            return "the message is empty"
        case CommaBeforeMessage():
            return "a comma must be followed by another number; remove the comma before the message"
        case NumberEndUnclear(readings):
            options = " or ".join(f"“{reading}”" for reading in readings)
            return f"could not tell where the number ends: {options}; check the number in To"
        case NoNumberFirst():
            return "no valid phone number at the start; write the number first, then the message"
        case BadNumber(typed, number, at_start=True):
            return f"no valid phone number at the start: {_number_words(typed, number)}"
        case BadNumber(typed, number):
            return _number_words(typed, number)
        case NoProfileNumber(names):
            return no_profile_number(names)
        case _:
            assert_never(problem)


def reason_text(reason: Reason) -> str:
    """One guard's refusal in plain words."""
    match reason:
        case NoRecipients():
            return "Add at least one recipient."
        case TooManyRecipients(count, most):
            return f"That is {count} recipients; at most {most} recipients per request."
        case ForeignNumbers(numbers, allowed):
            return _country_text(numbers, allowed)
        case EmptyMessage():
            return "The message is empty."
        case TooLong(length, most):
            return f"The message is {length} characters, {length - most} over the limit of {most}."
        case InThePast():
            return "That time is in the past; pick a time in the future."
        case TooFarAhead(days):
            return f"You can schedule at most {days} days ahead."
        case OptedOut(number, since):
            return opted_out_text(number, since)
        case _:
            assert_never(reason)


def opted_out_text(number: str, since: datetime) -> str:
    """Why a number is not texted: it asked not to be."""
    return f"{display_number(number)} opted out of SMS on {since:%d %b %Y}."


def _country_text(foreign: Iterable[Any], allowed: frozenset[str]) -> str:
    """Name every refused number and its country, and what is allowed instead."""
    where = ", ".join(f"{number.international} is in {number.region}" for number in foreign)
    if not allowed:
        return f"{where}; this workspace may not text any country."
    return f"{where}; this workspace may only text {', '.join(sorted(allowed))}."


def refusal_text(refusal: Refusal) -> str:
    """Everything refused about one field."""
    return " ".join(reason_text(reason) for reason in refusal.reasons)


def refusals_text(refusals: Sequence[Refusal]) -> str:
    """Guard refusals of a quick send, one per line."""
    lines = "\n".join(f"• {escape_mrkdwn(refusal_text(refusal))}" for refusal in refusals)
    return f"Nothing was sent:\n{lines}"


def help_text(problem: HelpProblem | None = None) -> str:
    """How to use ``/sms``; ``problem`` first when the command was not understood."""
    lines = [
        "*Send an SMS through sipgate*",
        "• `/sms +49 151 12345678 Your technician arrives at 3pm` sends at once.",
        "• Several recipients: `/sms +4915112345678, 0170 1234567 Meeting moved`.",
        "• A colleague: `/sms @anna Please call the customer` texts the number in their"
        " Slack profile.",
        "• `/sms` opens a form where you can also pick a time to send later.",
        "• `/sms list` shows your scheduled and recent SMS; `/sms cancel 12` cancels #12.",
        "• Admins: `/sms list all` shows everyone's; `/sms export 30` sends a CSV of the last"
        " 30 days to your DM with the bot.",
        "The status of every SMS is posted in this channel, in a thread.",
    ]
    if problem:
        lines.insert(0, f"⚠️ {escape_mrkdwn(help_problem(problem))}")
    return "\n".join(lines)


def denied_text(decision: Decision, admins: Iterable[str]) -> str:
    """Why nothing was sent to someone the allowlist refused, and who to ask."""
    if decision is Decision.CHANNEL_DENIED:
        return "⛔ SMS cannot be sent from this conversation, so nothing was sent."
    mentions = ", ".join(f"<@{admin}>" for admin in sorted(admins))
    who = mentions or "your Slack admin"
    return f"⛔ You are not allowed to send SMS from Slack here, so nothing was sent. Ask {who}."


def over_limit_text(refused: OverLimit, tz: ZoneInfo) -> str:
    """The hourly limit refusal: how many remain and when more are free."""
    text = f"Nothing was sent: you may send {refused.limit} SMS per hour"
    text += f" and have {refused.remaining} left right now."
    if refused.next_free_at is not None:
        text += f" More are free from {format_time(refused.next_free_at, tz)}."
    return text


def list_text(requests: Sequence[SmsRequest], tz: ZoneInfo) -> str:
    """The caller's scheduled SMS first, then the recent ones."""
    if not requests:
        return "You have no scheduled or recent SMS."
    scheduled = [r for r in requests if any(s.state is State.SCHEDULED for s in r.sends)]
    recent = [r for r in requests if r not in scheduled]
    lines = _section_lines("*Scheduled*", scheduled, tz) + _section_lines("*Recent*", recent, tz)
    return "\n".join(lines)


def _section_lines(title: str, requests: Sequence[SmsRequest], tz: ZoneInfo) -> list[str]:
    return [title, *(_list_line(request, tz) for request in requests)] if requests else []


def _list_line(request: SmsRequest, tz: ZoneInfo, *, who: bool = False) -> str:
    moment: datetime = request.send_at or request.requested_at
    to = ", ".join(recipient_text(send) for send in request.sends)
    by = f"<@{request.user_id}> " if who else ""
    return (
        f"`#{request.id}` {format_time(moment, tz)} {by}→ {escape_mrkdwn(to)}: "
        f"“{escape_mrkdwn(preview(request.message))}” {overall(request.sends)}"
    )


def preview(message: str, length: int = 40) -> str:
    """The start of a message, for lists."""
    return message if len(message) <= length else message[: length - 1] + "…"


def list_all_text(listing: Listing, tz: ZoneInfo) -> str:
    """Everyone's scheduled SMS first (soonest first), then the latest, with who asked."""
    if not listing.requests:
        return "Nobody has scheduled or sent an SMS yet."
    scheduled = [r for r in listing.requests if any(s.state is State.SCHEDULED for s in r.sends)]
    recent = [r for r in listing.requests if r not in scheduled]
    lines = ["*Everyone's scheduled SMS*"] if scheduled else []
    lines += [_list_line(request, tz, who=True) for request in scheduled]
    if listing.more_scheduled:
        lines.append(and_more(listing.more_scheduled))
    if recent:
        lines += ["*Everyone's latest SMS*", *(_list_line(r, tz, who=True) for r in recent)]
    return _fit("\n".join(lines))


def and_more(count: int) -> str:
    return f"…and {count} more"


def _fit(text: str, most: int = 3900) -> str:
    """A long text cut at a line so that Slack shows it whole."""
    if len(text) <= most:
        return text
    cut = text[:most].rsplit("\n", 1)[0]
    left = text[len(cut) :].count("\n")
    return f"{cut}\n{and_more(left)}"


ADMINS_ONLY_LIST = "“/sms list all” is for SMS admins; “/sms list” shows your own SMS."
ADMINS_ONLY_EXPORT = "“/sms export” is for SMS admins; ask one of them for the audit export."


def cancel_text(result: CancelResult, request_id: int) -> str:
    """What ``/sms cancel`` (or the button) did, for the person who asked."""
    match result.outcome:
        case CancelOutcome.CANCELLED:
            return f"🚫 SMS #{request_id} is cancelled; nothing will be sent."
        case CancelOutcome.NOT_FOUND:
            return f"There is no SMS #{request_id}. `/sms list` shows yours."
        case CancelOutcome.NOT_ALLOWED:
            return f"Only the person who scheduled SMS #{request_id} or an SMS admin may cancel it."
        case CancelOutcome.TOO_LATE:
            state = overall(result.request.sends) if result.request else "already handled"
            return f"Too late to cancel SMS #{request_id}: it is no longer waiting ({state})."
        case _:
            assert_never(result.outcome)
