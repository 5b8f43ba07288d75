"""Slack's markup in text people wrote, turned back into plain text (pure).

Slack sends ``&``, ``<`` and ``>`` as entities, and with ``should_escape: true`` a slash
command's mentions, channels and links arrive as ``<…>`` entities too. Two readings:

* ``typed_text``: what the person typed (the rest of a ``/sms`` command goes to sipgate as
  typed): ``<url|label>`` → ``label``, ``<url>`` → ``url``, ``<@U…|anna>`` → ``@anna``,
  ``<#C…|general>`` → ``#general``, ``<!here>`` → ``@here``.
* ``readable_text``: a message as a person reads it in Slack, for an SMS ("Send as SMS"):
  ``<@U…>`` → ``@display name``, ``<https://x|label>`` → ``label (https://x)``.

Each ``<…>`` entity and each character entity is read once, in one pass, so text a person typed
that looks like an entity (``&amp;lt;`` for a typed ``&lt;``) comes back exactly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

__all__ = ["mentioned_users", "readable_text", "typed_text", "unescape_slack", "without_mention"]

_MARKUP = re.compile(r"<([^<>]*)>|&(amp|lt|gt);")
_CHARACTERS = {"amp": "&", "lt": "<", "gt": ">"}
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9_]+)(?:\|[^<>]*)?>")
_SCHEMES = ("mailto:", "tel:")  # dropped from a link without a label; web links keep theirs


def unescape_slack(text: str) -> str:
    """Undo the entity escaping Slack applies to typed text (``&lt;`` → ``<``).

    ``&amp;`` goes last so ``&amp;lt;`` (a typed ``&lt;``) comes back as ``&lt;``.
    """
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def typed_text(text: str) -> str:
    """Command text (``should_escape: true``) as the person typed it."""
    return _rewrite(text, _typed_entity)


def readable_text(text: str, names: Mapping[str, str]) -> str:
    """A message as people read it; ``names``: user id → display name (else the mention's
    label, else the id)."""
    return _rewrite(text, lambda target, label: _readable_entity(target, label, names))


def mentioned_users(text: str) -> list[str]:
    """The user ids mentioned in a message (``<@U…>``), each once, in order."""
    return list(dict.fromkeys(_USER_MENTION.findall(text)))


def _rewrite(text: str, entity: Callable[[str, str], str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(2) is not None:
            return _CHARACTERS[match.group(2)]
        target, _, label = match.group(1).partition("|")
        return entity(unescape_slack(target), unescape_slack(label))

    return _MARKUP.sub(one, text)


def _typed_entity(target: str, label: str) -> str:
    """One ``<target|label>`` as it was typed."""
    special = _special(target, label)
    return special if special is not None else label or target


def _readable_entity(target: str, label: str, names: Mapping[str, str]) -> str:
    """One ``<target|label>`` as people read it; a link keeps its address next to its label."""
    if target.startswith("@"):
        return "@" + (names.get(target[1:]) or label or target[1:])
    special = _special(target, label)
    if special is not None:
        return special
    if not label or target.startswith("tel:") or label in (target, _bare(target)):
        return label or _bare(target, _SCHEMES)
    return f"{label} ({target})"


def _special(target: str, label: str) -> str | None:
    """Mentions, channels, groups, dates; None for a link."""
    if target.startswith("@"):
        return "@" + (label or target[1:])
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!subteam^"):
        return label or "@" + target.removeprefix("!subteam^")
    if target.startswith("!date^"):
        return label or target
    if target.startswith("!"):
        return "@" + target[1:]
    return None


def _bare(target: str, schemes: tuple[str, ...] = ("https://", "http://", *_SCHEMES)) -> str:
    """The target without its scheme (how people write an address)."""
    for scheme in schemes:
        if target.startswith(scheme):
            return target.removeprefix(scheme)
    return target


def without_mention(text: str, user_id: str) -> str:
    """``text`` without mentions of ``user_id`` (the bot, when it is addressed), the spaces
    around a removed mention made one."""
    cleaned = re.sub(rf"\s*<@{re.escape(user_id)}(?:\|[^<>]*)?>\s*", " ", text)
    return cleaned.strip()
