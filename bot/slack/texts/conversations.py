"""SMS coming back: incoming messages, how to reply, the opt-out list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from bot.core import (
    Inbound,
    OptOut,
    display_number,
)
from bot.slack.texts.blocks import (
    REPLY_ACTION,
    SlackMessage,
    escape_mrkdwn,
    format_time,
    quote,
    section_block,
)


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
    blocks = [section_block(text), _reply_button(inbound.conversation.id)]
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
