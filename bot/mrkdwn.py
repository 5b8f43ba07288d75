"""Escaping user text for the places where Slack parses markup (mrkdwn, message ``text``)."""

from __future__ import annotations

__all__ = ["escape_mrkdwn", "unescape_slack"]


def escape_mrkdwn(text: str) -> str:
    """Escape ``&``, ``<``, ``>`` so echoed text can never ping (``<!channel>``) or link.

    ``&`` goes first so the entities added for ``<`` and ``>`` are not escaped twice. Nothing
    else is touched: ``*bold*`` and the like stay as typed, which is harmless.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape_slack(text: str) -> str:
    """Undo the entity escaping Slack applies to slash command text (``&lt;`` → ``<``).

    Slack always sends ``&``, ``<`` and ``>`` as entities; the SMS must carry what was typed.
    ``&amp;`` goes last so ``&amp;lt;`` (a typed ``&lt;``) comes back as ``&lt;``.
    """
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
