"""Slack's message markup made readable, for text that leaves Slack as an SMS.

``<@U123>`` → ``@name``, ``<#C123|general>`` → ``#general``, ``<!here>`` → ``@here``,
``<https://x|label>`` → ``label (https://x)``, ``<https://x>`` → ``https://x``, and the three
HTML entities back to ``& < >``. Pure: names of people come from the caller.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_ANGLE = re.compile(r"<([^<>]*)>")
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>")


def unescape_slack(text: str) -> str:
    """Undo the entity escaping Slack applies to typed text (``&lt;`` → ``<``).

    ``&amp;`` goes last so ``&amp;lt;`` (a typed ``&lt;``) comes back as ``&lt;``.
    """
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mentioned_users(text: str) -> list[str]:
    """The user ids mentioned in ``text``, in order, each once."""
    return list(dict.fromkeys(_USER.findall(text)))


def without_mention(text: str, user_id: str) -> str:
    """``text`` without mentions of ``user_id`` (the bot, when it is addressed)."""
    cleaned = re.sub(rf"<@{re.escape(user_id)}(?:\|[^<>]*)?>", "", text)
    return " ".join(cleaned.split(" ")).strip()


def readable(text: str, names: Mapping[str, str]) -> str:
    """The text as people read it in Slack (``names``: user id → display name)."""
    return unescape_slack(_ANGLE.sub(lambda match: _entity(match.group(1), names), text))


def _entity(inner: str, names: Mapping[str, str]) -> str:
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return "@" + (names.get(target[1:]) or label or target[1:])
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!"):
        return _special(target[1:], label)
    if label and label != target:
        return f"{label} ({target})"
    return target


def _special(command: str, label: str) -> str:
    """``<!here>``, ``<!channel>``, ``<!subteam^S1|@ops>``, ``<!date^…|fallback>``."""
    if label:
        return label
    return "@" + command.split("^")[0]
