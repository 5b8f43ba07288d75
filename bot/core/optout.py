"""Opt-out and opt-in by SMS: the whole text is the keyword (trimmed, any case, trailing ``.``
and ``!`` ignored), so "Stopp." opts out and "stop by at 3" does not."""

from __future__ import annotations

from typing import Literal

OUT_KEYWORDS = frozenset(
    {"STOP", "STOPP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ABMELDEN"}
)
IN_KEYWORDS = frozenset({"START", "UNSTOP", "ANMELDEN"})

Opt = Literal["out", "in"]


def keyword(text: str) -> str:
    """The text as a keyword would be written: trimmed, upper case, no trailing ``.``/``!``."""
    return text.strip().rstrip(".!").strip().upper()


def opt_of(text: str) -> Opt | None:
    """Whether an incoming SMS opts its sender out, back in, or neither."""
    word = keyword(text)
    if word in OUT_KEYWORDS:
        return "out"
    if word in IN_KEYWORDS:
        return "in"
    return None
