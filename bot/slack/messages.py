"""Everything the bot says in Slack, as plain functions returning message payloads.

Text typed by users is escaped before it goes into anything Slack parses as markup, so an
echoed ``<!channel>`` never pings and ``<http://x|y>`` never becomes a link.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

from bot.mrkdwn import escape_mrkdwn
from bot.records import SendRecord, SmsRequest, State
from bot.sipgate.errors import explain_kind

CANCEL_ACTION = "cancel_request"
_SECTION_LIMIT = 2900  # Slack allows 3000 characters in a section


@dataclass(frozen=True)
class SlackMessage:
    """A message body: the notification ``text`` plus optional Block Kit ``blocks``."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for chat.postMessage / chat.update / respond."""
        return {"text": self.text, "blocks": self.blocks} if self.blocks else {"text": self.text}


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


def display_number(e164: str) -> str:
    """A number in international format for people: +49 151 12345678."""
    return _international(e164)


@lru_cache(maxsize=4096)  # a status message shows each number several times per update
def _international(e164: str) -> str:
    """Pure (the same string always formats the same way), so it is memoised."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


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


def state_line(send: SendRecord, sms_id: str, when: str | None = None) -> str:
    """One recipient and where its SMS stands, with the explanation of a failure."""
    label = _LABELS[send.state]
    if send.state is State.SCHEDULED and when:
        label = f"scheduled for {when}"
    line = f"{_ICONS[send.state]} {display_number(send.recipient)}: {label}"
    if send.state in (State.FAILED, State.UNKNOWN) and send.error_kind:
        line += f" — {explain_kind(send.error_kind, sms_id)}"
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
    to = ", ".join(display_number(number) for number in request.recipients)
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
    return SlackMessage(f"SMS #{request.id} to {to}: {state}", blocks)


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
