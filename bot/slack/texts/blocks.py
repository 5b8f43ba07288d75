"""Slack message payloads and what every text is built from: escaping, sections, quotes, times."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

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


def format_time(moment: datetime, tz: ZoneInfo) -> str:
    """A time as the requester reads it: ``Tue 24 Nov 2026, 15:00 CET``."""
    local = moment.astimezone(tz)
    return f"{local:%a %d %b %Y, %H:%M} {local.tzname()}"


def plain_text(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def mrkdwn_text(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text[:_SECTION_LIMIT]}


def section_block(text: str) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn_text(text)}


def context_block(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn_text(text)]}


def quote(message: str) -> str:
    """The user's text as an escaped mrkdwn block quote."""
    return "\n".join(f"&gt; {line}" for line in escape_mrkdwn(message).splitlines() or [""])
