"""Ephemeral answers to the requester: help, refusals, the list, cancel results (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.guards import Refusal
from bot.mrkdwn import escape_mrkdwn
from bot.records import SmsRequest, State
from bot.slack.messages import SlackMessage, display_number, format_time, overall
from bot.store.base import CancelOutcome, CancelResult, OverLimit


def help_text(problem: str | None = None) -> str:
    """How to use ``/sms``; ``problem`` first when the command was not understood."""
    lines = [
        "*Send an SMS through sipgate*",
        "• `/sms +49 151 12345678 Your technician arrives at 3pm` sends at once.",
        "• Several recipients: `/sms +4915112345678, 0170 1234567 Meeting moved`.",
        "• `/sms` opens a form where you can also pick a time to send later.",
        "• `/sms list` shows your scheduled and recent SMS; `/sms cancel 12` cancels #12.",
        "The status of every SMS is posted in this channel, in a thread.",
    ]
    if problem:
        lines.insert(0, f"⚠️ {escape_mrkdwn(problem)}")
    return "\n".join(lines)


def denied_text(admins: Iterable[str]) -> str:
    """Why nothing was sent to someone who is not on the allowlist, and who to ask."""
    mentions = ", ".join(f"<@{admin}>" for admin in sorted(admins))
    who = mentions or "your Slack admin"
    return f"⛔ You are not allowed to send SMS from Slack here, so nothing was sent. Ask {who}."


def channel_denied_text() -> str:
    return "⛔ SMS cannot be sent from this conversation, so nothing was sent."


def refusal_text(refusals: Sequence[Refusal]) -> str:
    """Guard refusals of a quick send, one per line."""
    lines = "\n".join(f"• {escape_mrkdwn(refusal.text)}" for refusal in refusals)
    return f"Nothing was sent:\n{lines}"


def over_limit_text(limit: int, refused: OverLimit, tz: ZoneInfo) -> str:
    """The hourly limit refusal: how many remain and when more are free."""
    text = f"Nothing was sent: you may send {limit} SMS per hour"
    text += f" and have {refused.remaining} left right now."
    if refused.next_free_at is not None:
        text += f" More are free from {format_time(refused.next_free_at, tz)}."
    return text


def list_message(requests: Sequence[SmsRequest], tz: ZoneInfo) -> SlackMessage:
    """The caller's scheduled SMS first, then the recent ones."""
    if not requests:
        return SlackMessage("You have no scheduled or recent SMS.")
    scheduled = [r for r in requests if any(s.state is State.SCHEDULED for s in r.sends)]
    recent = [r for r in requests if r not in scheduled]
    lines = _section_lines("*Scheduled*", scheduled, tz) + _section_lines("*Recent*", recent, tz)
    return SlackMessage("\n".join(lines))


def _section_lines(title: str, requests: Sequence[SmsRequest], tz: ZoneInfo) -> list[str]:
    return [title, *(_list_line(request, tz) for request in requests)] if requests else []


def _list_line(request: SmsRequest, tz: ZoneInfo) -> str:
    moment: datetime = request.send_at or request.requested_at
    to = ", ".join(display_number(number) for number in request.recipients)
    preview = request.message if len(request.message) <= 40 else request.message[:39] + "…"
    return (
        f"`#{request.id}` {format_time(moment, tz)} → {escape_mrkdwn(to)}: "
        f"“{escape_mrkdwn(preview)}” {overall(request.sends)}"
    )


def cancel_text(result: CancelResult, request_id: int) -> str:
    """What ``/sms cancel`` (or the button) did, for the person who asked."""
    outcome = result.outcome
    if outcome is CancelOutcome.CANCELLED:
        return f"🚫 SMS #{request_id} is cancelled; nothing will be sent."
    if outcome is CancelOutcome.NOT_FOUND:
        return f"There is no SMS #{request_id}. `/sms list` shows yours."
    if outcome is CancelOutcome.NOT_ALLOWED:
        return f"Only the person who scheduled SMS #{request_id} or an SMS admin may cancel it."
    state = overall(result.request.sends) if result.request else "already handled"
    return f"Too late to cancel SMS #{request_id}: it is no longer waiting ({state})."
