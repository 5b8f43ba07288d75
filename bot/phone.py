"""Phone numbers as users type them, read strictly with ``phonenumbers``.

Numbers are never guessed: anything that is not exactly one valid number is refused with a
reason the requester can act on, because a wrong guess texts a stranger (and costs money).
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

__all__ = ["NUMBER_CHARS", "NumberError", "PhoneNumber", "mask_number", "parse_number"]

_DIGITS = "0123456789"
_SEPARATORS = " -/()"
NUMBER_CHARS: frozenset[str] = frozenset(_DIGITS + "+" + _SEPARATORS)
"""What may appear inside a typed number: ASCII digits, ``+`` and the separators people use."""

_MAX_RAW_LENGTH = 64  # far above any real number with separators; bounds the work on junk input


@dataclass(frozen=True)
class PhoneNumber:
    """A valid number: E.164 for sipgate, region for the country guard, international for people."""

    e164: str
    region: str
    international: str


class NumberError(ValueError):
    """A typed number that cannot be used; ``reason`` is plain words for the requester."""

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(reason)
        self.raw = raw
        self.reason = reason


def parse_number(raw: str, default_region: str) -> PhoneNumber:
    """Read one number; national numbers are read in ``default_region``, ``00`` means ``+``."""
    typed = " ".join(raw.split())
    _check_characters(raw, typed)
    try:
        parsed = phonenumbers.parse(_international_prefix_as_plus(typed), default_region)
    except phonenumbers.NumberParseException as exc:
        raise NumberError(raw, _parse_failure_reason(typed, exc)) from None
    region = phonenumbers.region_code_for_number(parsed)
    if not phonenumbers.is_valid_number(parsed) or region is None:
        raise NumberError(raw, f"“{typed}” is not a valid phone number")
    return PhoneNumber(
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        region=region,
        international=phonenumbers.format_number(
            parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL
        ),
    )


def _check_characters(raw: str, typed: str) -> None:
    """Refuse what phonenumbers would otherwise bend into a number (vanity letters, junk)."""
    if not typed:
        raise NumberError(raw, "enter a phone number")
    if len(typed) > _MAX_RAW_LENGTH:
        raise NumberError(raw, f"“{typed[:20]}…” is too long for a phone number")
    if any(char not in NUMBER_CHARS for char in typed):
        raise NumberError(
            raw, f"“{typed}” is not a phone number: use only digits, +, spaces, - / ( )"
        )
    if not any(char in _DIGITS for char in typed):
        raise NumberError(raw, f"“{typed}” has no digits")


def _international_prefix_as_plus(typed: str) -> str:
    """Accept ``0049 …`` whatever the default region's own international prefix is."""
    compact = "".join(char for char in typed if char not in _SEPARATORS)
    return "+" + compact[2:] if compact.startswith("00") else typed


def _parse_failure_reason(typed: str, exc: phonenumbers.NumberParseException) -> str:
    """Say what to do when phonenumbers cannot even read the number."""
    if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
        return f"“{typed}” needs a valid country code, e.g. +49 …"
    return f"“{typed}” is not a valid phone number"


def mask_number(number: str) -> str:
    """Hide the middle of a number for logs; never reveals the whole number."""
    if len(number) < 10:
        return number[: min(2, len(number) - 1)] + "****"  # even "+4" keeps a digit hidden
    return number[:6] + "****" + number[-3:]
