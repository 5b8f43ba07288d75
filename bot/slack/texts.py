"""Everything the bot says in Slack, as plain functions returning text or message payloads.

The core and the other edges hand over *what* happened (states, failure kinds, refusal reasons,
parse problems); this module alone decides the words. Text typed by users is escaped before it
goes into anything Slack parses as markup, so an echoed ``<!channel>`` never pings and
``<http://x|y>`` never becomes a link; in ``plain_text`` it is shown as typed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, assert_never
from zoneinfo import ZoneInfo

from bot.core import (
    DENIED_KIND,
    INTERRUPTED_KIND,
    MAX_DAYS,
    OPTED_OUT,
    Balance,
    CancelOutcome,
    CancelResult,
    Decision,
    EmptyMessage,
    ForeignNumbers,
    Inbound,
    InThePast,
    Listing,
    NoRecipients,
    NumberError,
    NumberProblem,
    OptedOut,
    OptOut,
    OverLimit,
    Reason,
    Refusal,
    SendFailure,
    SendRecord,
    SmsExtension,
    SmsRequest,
    State,
    TooFarAhead,
    TooLong,
    TooManyRecipients,
    UserCounts,
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

CANCEL_ACTION = "cancel_request"
REPLY_ACTION = "reply_sms"
_SECTION_LIMIT = 2900  # Slack allows 3000 characters in a section


@dataclass(frozen=True)
class SlackMessage:
    """A message body: the notification ``text`` plus optional Block Kit ``blocks``."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for chat.postMessage / chat.update / respond."""
        return {"text": self.text, "blocks": self.blocks} if self.blocks else {"text": self.text}


def escape_mrkdwn(text: str) -> str:
    """Escape ``&``, ``<``, ``>`` so echoed text can never ping (``<!channel>``) or link.

    ``&`` goes first so the entities added for ``<`` and ``>`` are not escaped twice. Nothing
    else is touched: ``*bold*`` and the like stay as typed, which is harmless.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- failures ------------------------------------------------------------------------------

_KIND_TEXTS = {
    "invalid": (
        "sipgate rejected the SMS as invalid (empty text, number or time it could not accept)"
    ),
    "auth": "the bot's sipgate credentials are wrong — ask the admin",
    "balance": "the sipgate account balance is too low — ask the admin to top up",
    "bug": "the bot sent a malformed request — a bug; nothing was sent",
    "server": (
        "sipgate had an internal error (it also answers 500 when the extension id is "
        "missing); the SMS may not have gone out — it was not retried, "
        "check before sending it again"
    ),
    "no_answer": (
        "no answer from sipgate; the SMS may or may not have gone out; "
        "not retried to avoid a double send — check before sending it again"
    ),
    "unreachable": "could not reach sipgate; nothing was sent — try again in a few minutes",
    "unreadable": "sipgate sent an answer the bot could not read — ask the admin to check the log",
    "login": (
        "the bot's sipgate login has expired; nothing was sent — ask the admin to run"
        " `python -m bot sipgate-login`"
    ),
    "no_extension": (
        "Web SMS not booked for this user: sipgate lists no SMS extension "
        "for the bot's account — ask the admin"
    ),
    DENIED_KIND: "the requester is no longer allowed to send SMS from Slack; nothing was sent",
    OPTED_OUT: "the recipient opted out of SMS before it fell due; nothing was sent",
    INTERRUPTED_KIND: (
        "the bot stopped while waiting for sipgate's answer; the SMS may or may not have gone"
        " out — check before sending it again"
    ),
}
_UNEXPECTED = "sipgate gave an unexpected answer; nothing is known to have been sent"


def explain(kind: str, *, sms_id: str | None = None, retry_after: float | None = None) -> str:
    """What a failure of ``kind`` means for the requester and what to do."""
    if kind == "forbidden":
        return _forbidden_text(sms_id)
    if kind == "rate_limited":
        return f"sipgate is rate-limiting; try again in {_wait_words(retry_after)}"
    return _KIND_TEXTS.get(kind, _UNEXPECTED)


def explain_failure(failure: SendFailure) -> str:
    """``explain`` for a failure as it was raised (it still knows its Retry-After)."""
    return explain(failure.kind, sms_id=failure.sms_id, retry_after=failure.retry_after)


def _forbidden_text(sms_id: str | None) -> str:
    if sms_id is None:
        return (
            "sipgate refused permission for this request (feature not booked, "
            "or the token lacks a scope such as sms:read) — ask the admin"
        )
    return (
        f"no permission to send from extension {sms_id} (Web SMS not booked, "
        "wrong extension, or token lacks the sessions:sms:write scope)"
    )


def _wait_words(seconds: float | None) -> str:
    """How long to wait, rounded up, in words a requester reads at a glance."""
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        return "a minute"
    if seconds <= 90:
        whole = math.ceil(seconds)
        return "1 second" if whole == 1 else f"{whole} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


DATABASE_DOWN = (
    "⚠️ Nothing was sent: the bot cannot reach its database right now, and it sends no SMS"
    " it cannot record. Try again in a few minutes; if it keeps happening, tell your Slack admin."
)
SOMETHING_WRONG = (
    "⚠️ Something went wrong on the bot's side while handling this. Check `/sms list` before"
    " trying again."
)
STALE_FORM = "This form is out of date. Close it and open a new one with /sms."
NOT_ALLOWED_HERE = "You are not allowed to send SMS from here."


def sipgate_login_expired() -> str:
    """To every admin, once: the OAuth refresh token stopped working."""
    return (
        "⚠️ The bot's sipgate login has expired, so it cannot send SMS any more. Run"
        " `python -m bot sipgate-login` where the bot runs to log in again."
    )


def nothing_sent(failure: SendFailure) -> str:
    return f"Nothing was sent: {explain_failure(failure)}"


def form_cannot_open(failure: SendFailure) -> str:
    return f"The SMS form cannot open: {explain_failure(failure)}"


def form_did_not_open(code: str) -> str:
    return f"The SMS form could not open ({code}). Please run /sms again."


# --- numbers, guards and what was typed ----------------------------------------------------


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


# --- ephemeral answers ---------------------------------------------------------------------


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


# --- the compose form ----------------------------------------------------------------------

FORM_TITLE = "Send an SMS"
FORM_SUBMIT = "Send"
FORM_CLOSE = "Cancel"
TO_LABEL = "To"
TO_PLACEHOLDER = "+49 151 12345678, 0170 1234567"
TO_HINT = "One or more numbers, separated by commas."
MESSAGE_LABEL = "Message"
SEGMENT_HINT = (
    "One SMS holds 160 characters (153 per part when longer, and ^ { } [ ] ~ | \\ € count twice); "
    "any character outside the GSM-7 set, such as an emoji, makes it 70 (67 per part)."
)
FROM_LABEL = "From"
PICK_EXTENSION = "Pick the extension to send from."
PICK_LISTED_EXTENSION = "Pick one of the listed extensions."
WHEN_LABEL = "When"
PICK_TIME = "Pick a date and time."


def when_hint(max_days: int) -> str:
    return f"Leave empty to send now. At most {max_days} days ahead."


def form_problem(problem: ComposeProblem) -> str:
    """A quick send's problem, shown under the field of the form it concerns."""
    return f"⚠️ {compose_problem(problem)}"[:2000]


def extension_label(extension: SmsExtension) -> str:
    """An extension in the form's From list: ``Support · +49… (s1)``."""
    label = " · ".join(part for part in (extension.alias, extension.caller_id) if part)
    return (f"{label} ({extension.id})" if label else extension.id)[:75]


def sender_label(extension: SmsExtension) -> str:
    """An extension in a status message: ``Support (s1)``, or just ``s1``."""
    return f"{extension.alias} ({extension.id})" if extension.alias else extension.id


# --- status messages -----------------------------------------------------------------------

_ICONS = {
    State.DENIED: "⛔",
    State.SCHEDULED: "🕒",
    State.SENDING: "📤",
    State.ACCEPTED: "✅",
    State.FAILED: "❌",
    State.UNKNOWN: "❓",
    State.CANCELLED: "🚫",
    State.MISSED: "⏰",
}
_LABELS = {
    State.DENIED: "not allowed",
    State.SCHEDULED: "scheduled",
    State.SENDING: "sending…",
    State.ACCEPTED: "accepted by sipgate",
    State.FAILED: "failed",
    State.UNKNOWN: "outcome unknown",
    State.CANCELLED: "cancelled",
    State.MISSED: "missed",
}


def format_time(moment: datetime, tz: ZoneInfo) -> str:
    """A time as the requester reads it: ``Tue 24 Nov 2026, 15:00 CET``."""
    local = moment.astimezone(tz)
    return f"{local:%a %d %b %Y, %H:%M} {local.tzname()}"


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text[:_SECTION_LIMIT]}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(text)]}


def quote(message: str) -> str:
    """The user's text as an escaped mrkdwn block quote."""
    return "\n".join(f"&gt; {line}" for line in escape_mrkdwn(message).splitlines() or [""])


def recipient_text(send: SendRecord) -> str:
    """A recipient for people: ``+49 151 12345678``, or ``@anna (+49 151 12345678)``."""
    number = display_number(send.recipient)
    return f"{send.label} ({number})" if send.label else number


def state_line(send: SendRecord, sms_id: str, when: str | None = None) -> str:
    """One recipient and where its SMS stands, with the explanation of a failure."""
    label = _LABELS[send.state]
    if send.state is State.SCHEDULED and when:
        label = f"scheduled for {when}"
    line = f"{_ICONS[send.state]} {escape_mrkdwn(recipient_text(send))}: {label}"
    if send.state in (State.FAILED, State.UNKNOWN, State.CANCELLED) and send.error_kind:
        line += f" — {explain(send.error_kind, sms_id=sms_id)}"
    return line


def overall(sends: Sequence[SendRecord]) -> str:
    """The request's state in a few words: one state, or how the recipients split."""
    counts = Counter(send.state for send in sends)
    if len(counts) == 1:
        state = next(iter(counts))
        return f"{_ICONS[state]} {_LABELS[state]}"
    parts = [f"{count} {_LABELS[state]}" for state, count in counts.most_common()]
    return "⚠️ " + ", ".join(parts)


@dataclass(frozen=True)
class StatusView:
    """How to present a request: its sender extension label and the requester's zone."""

    sender: str
    tz: ZoneInfo
    cancellable: bool = False


def status_message(request: SmsRequest, view: StatusView) -> SlackMessage:
    """The parent message of a request's thread: who, to whom, what, and where it stands."""
    to = ", ".join(recipient_text(send) for send in request.sends)
    head = f"📱 SMS #{request.id} from <@{request.user_id}> to {escape_mrkdwn(to)}"
    when = format_time(request.send_at, view.tz) if request.send_at else None
    lines = [state_line(send, request.sms_id, when) for send in request.sends]
    detail = f"{_segments_label(request.segments)} · from {escape_mrkdwn(view.sender)}"
    state = overall(request.sends)
    blocks = [
        _section(f"{head}\n{quote(request.message)}"),
        _section("\n".join(lines)),
        _context(f"{detail} · {state}"),
    ]
    return SlackMessage(f"SMS #{request.id} to {escape_mrkdwn(to)}: {state}", blocks)


def _segments_label(segments: int) -> str:
    return "1 SMS" if segments == 1 else f"{segments} SMS parts"


def outcome_reply(request: SmsRequest, sends: Sequence[SendRecord], tz: ZoneInfo) -> SlackMessage:
    """A thread reply for a change of state of some sends of a request."""
    when = format_time(request.send_at, tz) if request.send_at else None
    lines = [state_line(send, request.sms_id, when) for send in sends]
    if any(send.state is State.UNKNOWN for send in sends):
        lines.append(
            "Please check with the recipient before sending again: the bot does not"
            " resend by itself, to avoid a double SMS."
        )
    return SlackMessage("\n".join(lines), [_section("\n".join(lines))])


def scheduled_reply(request: SmsRequest, view: StatusView, *, by_sipgate: bool) -> SlackMessage:
    """The 🕒 reply of a scheduled request, with a Cancel button when the bot holds it."""
    when = format_time(request.send_at, view.tz) if request.send_at else "later"
    text = f"🕒 Scheduled for {when}."
    if by_sipgate:
        text += " sipgate holds it and sends it then; it cannot be cancelled."
    else:
        text += f" Cancel it with the button or `/sms cancel {request.id}`."
    blocks = [_section(text)]
    if view.cancellable:
        blocks.append(_cancel_button(request.id))
    return SlackMessage(text, blocks)


def _cancel_button(request_id: int) -> dict[str, Any]:
    button = {
        "type": "button",
        "action_id": CANCEL_ACTION,
        "value": str(request_id),
        "text": {"type": "plain_text", "text": "Cancel"},
        "style": "danger",
    }
    return {"type": "actions", "block_id": f"cancel-{request_id}", "elements": [button]}


def cancelled_reply(request_id: int, by_user: str) -> SlackMessage:
    text = f"🚫 SMS #{request_id} was cancelled by <@{by_user}>; nothing was sent."
    return SlackMessage(text, [_section(text)])


def missed_reply(request: SmsRequest, tz: ZoneInfo) -> SlackMessage:
    when = format_time(request.send_at, tz) if request.send_at else "its time"
    text = (
        f"⏰ SMS #{request.id} was due {when}, but the bot was not running then. It was"
        " not sent late; send it again if it is still needed."
    )
    return SlackMessage(text, [_section(text)])


def no_longer_allowed_reply(request_id: int) -> SlackMessage:
    text = (
        f"🚫 SMS #{request_id} was cancelled when it fell due: you are no longer allowed to"
        " send SMS from Slack."
    )
    return SlackMessage(text, [_section(text)])


def fallback_summary(request: SmsRequest, view: StatusView) -> SlackMessage:
    """One combined ephemeral message for the response_url when the bot cannot post."""
    status = status_message(request, view)
    note = (
        "I can't post in this conversation, so only you see this. Later updates come as a"
        " direct message."
    )
    blocks = [*status.blocks, _context(note)]
    if view.cancellable and any(send.state is State.SCHEDULED for send in request.sends):
        blocks.append(_cancel_button(request.id))  # the 🕒 reply's button has nowhere else to go
    return SlackMessage(f"{status.text}\n{note}", blocks)


def dm_update(request: SmsRequest, reply: SlackMessage) -> SlackMessage:
    """A later update sent by direct message, naming the request it belongs to."""
    intro = f"Update on SMS #{request.id} (I can't post in <#{request.channel_id}>):"
    return SlackMessage(f"{intro}\n{reply.text}", [_section(intro), *reply.blocks])


# --- incoming SMS ------------------------------------------------------------------------------


def sender(number: str, contact_name: str | None) -> str:
    """Who sent an SMS: the number, with the contact's name when there is one."""
    shown = display_number(number)
    return f"{shown} ({contact_name})" if contact_name else shown


def inbound_message(inbound: Inbound, *, first: bool) -> SlackMessage:
    """An incoming SMS: the parent of a new inbox conversation (``first``), else a reply."""
    who = escape_mrkdwn(sender(inbound.number, inbound.contact_name))
    head = f"📥 SMS from {who}" if first else f"📥 {who}:"
    lines = [f"{head}\n{quote(inbound.text)}"]
    if inbound.opt is not None:
        lines.append(_opt_note(inbound))
    text = "\n".join(lines)
    blocks = [_section(text), _reply_button(inbound.conversation.id)]
    return SlackMessage(f"SMS from {who}", blocks)  # the notification: escaped too


def _opt_note(inbound: Inbound) -> str:
    shown = display_number(inbound.number)
    if inbound.opt == "out":
        return f"⛔ {shown} opted out of SMS: the bot sends this number nothing any more."
    return f"✅ {shown} opted in to SMS again."


def _reply_button(conversation_id: int) -> dict[str, Any]:
    button = {
        "type": "button",
        "action_id": REPLY_ACTION,
        "value": str(conversation_id),
        "text": {"type": "plain_text", "text": "Reply"},
    }
    return {"type": "actions", "block_id": f"reply-{conversation_id}", "elements": [button]}


def cannot_answer(sender_name: str) -> str:
    return f"“{sender_name}” is a name, not a number: an SMS cannot be sent to it."


HOW_TO_REPLY = (
    "To answer an SMS, mention me in the thread where it was posted (or use its Reply"
    " button); here I do not know whom to text."
)


# --- the opt-out list ----------------------------------------------------------------------------

ADMINS_ONLY = "Only SMS admins may see or change the opt-out list."


def opt_out_list(opt_outs: Sequence[OptOut], tz: ZoneInfo) -> str:
    """``/sms optout``: every number that asked not to be texted."""
    if not opt_outs:
        return "Nobody has opted out of SMS."
    lines = [f"*{len(opt_outs)} numbers opted out of SMS*"]
    for entry in opt_outs:
        how = "by an admin" if entry.how == "admin" else f"“{entry.how}”"
        lines.append(
            f"• {display_number(entry.number)} since {format_time(entry.since, tz)} ({how})"
        )
    return "\n".join(lines)


def opt_out_changed(number: str, action: str, changed: bool) -> str:
    """What ``/sms optout add|remove`` did."""
    shown = display_number(number)
    if action == "add":
        return f"{shown} is on the opt-out list now." if changed else f"{shown} was on it already."
    return f"{shown} may be texted again." if changed else f"{shown} was not on the opt-out list."


# --- the balance ---------------------------------------------------------------------------


def balance_text(balance: Balance) -> str:
    """A balance as people read it: two decimals and the currency (``3.50 EUR``)."""
    return f"{balance.amount:.2f} {balance.currency}"


def low_balance_warning(balance: Balance, threshold: Decimal) -> SlackMessage:
    """The DM every admin gets once when the balance drops below SIPGATE_LOW_BALANCE."""
    limit = f"{threshold:.2f} {balance.currency}"
    text = (
        f"⚠️ The sipgate balance is {balance_text(balance)}, below {limit}"
        " (SIPGATE_LOW_BALANCE). Top up the sipgate account: without credit sipgate refuses"
        " every SMS. You hear this again only after the balance was above the limit."
    )
    return SlackMessage(text, [_section(text)])


def balance_line(reading: Balance | SendFailure) -> str:
    """The balance on an admin's home tab, or why it cannot be shown."""
    if isinstance(reading, Balance):
        return f"*sipgate balance:* {balance_text(reading)}"
    if reading.kind == "forbidden":
        return "*sipgate balance:* not shown — the sipgate token lacks the balance:read scope"
    return f"*sipgate balance:* not shown — {explain_failure(reading)}"


# --- the audit export ------------------------------------------------------------------------


def export_title(days: int) -> str:
    return f"SMS audit export, last {days} days"


def _rows(count: int) -> str:
    return "1 row" if count == 1 else f"{count} rows"


def export_comment(rows: int, days: int) -> str:
    return (
        f"📄 Every SMS request of the last {days} days: {_rows(rows)}, one per recipient"
        " (times in UTC)."
    )


def export_done(rows: int, days: int) -> str:
    return f"📄 The export of the last {days} days ({_rows(rows)}) is in your DM with the bot."


def export_failed(code: str) -> str:
    return f"The export could not be uploaded ({code}). Please try again in a few minutes."


# --- the home tab ----------------------------------------------------------------------------

HOME_TITLE = "📱 SMS through sipgate"
COMPOSE_BUTTON = "Compose an SMS"
CANCEL_BUTTON = "Cancel"
HOME_SCHEDULED = "Your scheduled SMS"
HOME_NOTHING_SCHEDULED = "Nothing scheduled."
HOME_LATEST = "Your latest SMS"
HOME_NOTHING_SENT = "You have not sent an SMS from Slack yet."
HOME_ADMIN = "For SMS admins"
HOME_EVERYONE = "Everyone's latest SMS"
HOME_NOBODY = "Nobody has sent an SMS from Slack yet."
HOME_HELP = "Or type `/sms help` in any conversation."


def home_not_allowed(decision: Decision, admins: Iterable[str]) -> str:
    """Why there is no Compose button: not on the allowlist, or not from this conversation."""
    if decision is Decision.CHANNEL_DENIED:
        return (
            "⛔ SMS cannot be sent from the home tab here: only from the conversations the"
            " admin allowed. Use `/sms` there."
        )
    mentions = ", ".join(f"<@{admin}>" for admin in sorted(admins)) or "your Slack admin"
    return f"⛔ You are not allowed to send SMS from Slack. Ask {mentions}."


def home_sent(request_id: int) -> str:
    return f"📤 SMS #{request_id} is on its way; its status is in your DM with the bot."


def usage_text(count: int, limit: int) -> str:
    return f"{count} of {limit} SMS this hour"


def export_button(days: int) -> str:
    return f"Export {days} days (CSV)"


def home_request_text(request: SmsRequest, tz: ZoneInfo, *, who: bool = False) -> str:
    """A request on the home tab: id, when, who (for admins), the text, each recipient."""
    moment = request.send_at or request.requested_at
    head = f"`#{request.id}` · {format_time(moment, tz)}"
    if who:
        head += f" · <@{request.user_id}>"
    head += f" · “{escape_mrkdwn(preview(request.message, 60))}”"
    lines = (f"{_ICONS[s.state]} {escape_mrkdwn(recipient_text(s))}: {_LABELS[s.state]}"
             for s in request.sends)  # fmt: skip
    return "\n".join([head, *lines])


def per_user_text(counts: Sequence[UserCounts], shown: int) -> str:
    """SMS per user over the last 24 hours and 30 days, busiest first."""
    if not counts:
        return "*SMS per user:* none in the last 30 days"
    lines = [f"<@{c.user_id}>: {c.day} in 24 h · {c.month} in 30 days" for c in counts[:shown]]
    if len(counts) > shown:
        lines.append(and_more(len(counts) - shown))
    return "\n".join(["*SMS per user*", *lines])


def opt_outs_text(count: int) -> str:
    numbers = "1 number" if count == 1 else f"{count} numbers"
    return f"*Opt-out list:* {numbers}"
