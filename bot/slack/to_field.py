"""Reading the compose form's To field: numbers, and colleagues the form already knows.

Numbers are separated by commas, semicolons or new lines. A colleague named in a ``/sms``
command shows in To as ``@anna``; the form carries what their Slack profile gave (their number,
or that it has none), so ``@anna`` can be submitted as it stands.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.core import NumberError, PhoneNumber, distinct, parse_number

__all__ = ["ToField", "read_to"]


@dataclass(frozen=True)
class ToField:
    """A To field as read: the numbers (distinct, in order) and who some of them are (E.164 →
    ``@anna``); what cannot be used: unreadable numbers, colleagues without a number."""

    numbers: tuple[PhoneNumber, ...] = ()
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    unreadable: tuple[NumberError, ...] = ()
    no_number: tuple[str, ...] = ()

    @property
    def typed_others(self) -> tuple[str, ...]:
        """What was typed that is no number, as typed (a denial records it)."""
        return (*(error.typed for error in self.unreadable), *self.no_number)


def read_to(text: str, region: str, people: Mapping[str, str | None]) -> ToField:
    """A To field: numbers and colleagues the form knows (``people``: ``@anna`` → E.164, or
    None when their profile has no valid number), separated by commas, semicolons, lines."""
    numbers: list[PhoneNumber] = []
    labels: dict[str, str] = {}
    unreadable: list[NumberError] = []
    no_number: list[str] = []
    for part in (part.strip() for part in re.split(r"[,;\n]", text)):
        read = _to_part(part, region, people) if part else None
        if isinstance(read, NumberError):
            unreadable.append(read)
        elif read is None and part:
            no_number.append(part)
        elif read is not None:
            numbers.append(read)
            if part in people:
                labels.setdefault(read.e164, part)
    return ToField(distinct(numbers), labels, tuple(unreadable), tuple(no_number))


def _to_part(
    part: str, region: str, people: Mapping[str, str | None]
) -> PhoneNumber | NumberError | None:
    """One recipient of a To field: its number, why it is none, or None for a known colleague
    without a number."""
    if part in people:
        known = people[part]
        return None if known is None else parse_number(known, region)
    try:
        return parse_number(part, region)
    except NumberError as error:
        return error
