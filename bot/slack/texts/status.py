"""The status of a request in its thread: the parent message, its replies, the fallbacks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from bot.core import (
    SendRecord,
    SmsRequest,
    State,
    display_number,
)
from bot.slack.texts.blocks import (
    CANCEL_ACTION,
    SlackMessage,
    context_block,
    escape_mrkdwn,
    format_time,
    quote,
    section_block,
)
from bot.slack.texts.failures import explain

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
        section_block(f"{head}\n{quote(request.message)}"),
        section_block("\n".join(lines)),
        context_block(f"{detail} · {state}"),
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
    return SlackMessage("\n".join(lines), [section_block("\n".join(lines))])


def scheduled_reply(request: SmsRequest, view: StatusView, *, by_sipgate: bool) -> SlackMessage:
    """The 🕒 reply of a scheduled request, with a Cancel button when the bot holds it."""
    when = format_time(request.send_at, view.tz) if request.send_at else "later"
    text = f"🕒 Scheduled for {when}."
    if by_sipgate:
        text += " sipgate holds it and sends it then; it cannot be cancelled."
    else:
        text += f" Cancel it with the button or `/sms cancel {request.id}`."
    blocks = [section_block(text)]
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
    return SlackMessage(text, [section_block(text)])


def missed_reply(request: SmsRequest, tz: ZoneInfo) -> SlackMessage:
    when = format_time(request.send_at, tz) if request.send_at else "its time"
    text = (
        f"⏰ SMS #{request.id} was due {when}, but the bot was not running then. It was"
        " not sent late; send it again if it is still needed."
    )
    return SlackMessage(text, [section_block(text)])


def no_longer_allowed_reply(request_id: int) -> SlackMessage:
    text = (
        f"🚫 SMS #{request_id} was cancelled when it fell due: you are no longer allowed to"
        " send SMS from Slack."
    )
    return SlackMessage(text, [section_block(text)])


def fallback_summary(request: SmsRequest, view: StatusView) -> SlackMessage:
    """One combined ephemeral message for the response_url when the bot cannot post."""
    status = status_message(request, view)
    note = (
        "I can't post in this conversation, so only you see this. Later updates come as a"
        " direct message."
    )
    blocks = [*status.blocks, context_block(note)]
    if view.cancellable and any(send.state is State.SCHEDULED for send in request.sends):
        blocks.append(_cancel_button(request.id))  # the 🕒 reply's button has nowhere else to go
    return SlackMessage(f"{status.text}\n{note}", blocks)


def dm_update(request: SmsRequest, reply: SlackMessage) -> SlackMessage:
    """A later update sent by direct message, naming the request it belongs to."""
    intro = f"Update on SMS #{request.id} (I can't post in <#{request.channel_id}>):"
    return SlackMessage(f"{intro}\n{reply.text}", [section_block(intro), *reply.blocks])
