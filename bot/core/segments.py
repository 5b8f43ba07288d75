"""How many SMS a text costs: GSM 03.38 (GSM-7) or UCS-2, single or concatenated.

Simplification: real encoders never split a GSM-7 escape pair (or a UTF-16 surrogate pair)
across two parts, which can occasionally cost one part more than counted here. The count is
shown to people as an estimate, so the plain ``ceil(units / per_part)`` is good enough.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = ["GSM7_BASIC", "GSM7_EXTENSION", "Segments", "count_segments"]

# GSM 03.38 basic character set, without ESC (0x1B), which only introduces the extension table.
GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# GSM 03.38 extension table: each is sent as ESC + character, so it costs two units.
GSM7_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")

_LIMITS = {"GSM-7": (160, 153), "UCS-2": (70, 67)}  # (single SMS, per part when concatenated)


@dataclass(frozen=True)
class Segments:
    """Encoding, length in that encoding's units, and the number of SMS it is sent as."""

    encoding: Literal["GSM-7", "UCS-2"]
    units: int
    parts: int


def count_segments(text: str) -> Segments:
    """Count the SMS a text is billed as; one character outside GSM-7 switches all to UCS-2."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        units = len(text) + sum(char in GSM7_EXTENSION for char in text)
        return Segments("GSM-7", units, _parts("GSM-7", units))
    units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    return Segments("UCS-2", units, _parts("UCS-2", units))


def _parts(encoding: Literal["GSM-7", "UCS-2"], units: int) -> int:
    single, per_part = _LIMITS[encoding]
    if units == 0:
        return 0
    return 1 if units <= single else math.ceil(units / per_part)
