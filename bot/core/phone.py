"""Phone numbers as users type them, read strictly with ``phonenumbers``.

Numbers are never guessed: anything that is not exactly one valid number is refused with the
reason, because a wrong guess texts a stranger (and costs money).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

__all__ = [
    "NUMBER_CHARS",
    "NumberError",
    "NumberProblem",
    "PhoneNumber",
    "display_number",
    "distinct",
    "parse_number",
]

_DIGITS = "0123456789"
_SEPARATORS = " -/()"
NUMBER_CHARS: frozenset[str] = frozenset(_DIGITS + "+" + _SEPARATORS)
"""What may appear inside a typed number: ASCII digits, ``+`` and the separators people use."""

MAX_TYPED_LENGTH = 64  # far above any real number with separators; bounds the work on junk input


@dataclass(frozen=True)
class PhoneNumber:
    """A valid number: E.164 for sipgate, region for the country guard, international for people."""

    e164: str
    region: str
    international: str


class NumberProblem(enum.Enum):
    """Why a typed number cannot be used."""

    EMPTY = "empty"
    TOO_LONG = "too_long"
    NOT_A_NUMBER = "not_a_number"  # letters or other characters
    NO_DIGITS = "no_digits"
    COUNTRY_CODE = "country_code"
    INVALID = "invalid"


class NumberError(ValueError):
    """A typed number that cannot be used; ``typed`` is it with spacing normalised."""

    def __init__(self, typed: str, problem: NumberProblem) -> None:
        super().__init__(problem.value)
        self.typed = typed
        self.problem = problem


def parse_number(raw: str, default_region: str) -> PhoneNumber:
    """Read one number; national numbers are read in ``default_region``, ``00`` means ``+``."""
    typed = " ".join(raw.split())
    _check_characters(typed)
    try:
        parsed = phonenumbers.parse(_international_prefix_as_plus(typed), default_region)
    except phonenumbers.NumberParseException as exc:
        raise NumberError(typed, _parse_failure(exc)) from None
    region = phonenumbers.region_code_for_number(parsed)
    if not phonenumbers.is_valid_number(parsed) or region is None:
        raise NumberError(typed, NumberProblem.INVALID)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return PhoneNumber(e164=e164, region=region, international=display_number(e164))


@lru_cache(maxsize=4096)  # a status message shows each number several times per update
def display_number(e164: str) -> str:
    """A number in international format for people: ``+49 151 12345678``."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def distinct(numbers: Iterable[PhoneNumber]) -> tuple[PhoneNumber, ...]:
    """Collapse repeats of the same E.164 number, keeping the first and the order."""
    unique: dict[str, PhoneNumber] = {}
    for number in numbers:
        unique.setdefault(number.e164, number)
    return tuple(unique.values())


def _check_characters(typed: str) -> None:
    """Refuse what phonenumbers would otherwise bend into a number (vanity letters, junk)."""
    if not typed:
        raise NumberError(typed, NumberProblem.EMPTY)
    if len(typed) > MAX_TYPED_LENGTH:
        raise NumberError(typed, NumberProblem.TOO_LONG)
    if any(char not in NUMBER_CHARS for char in typed):
        raise NumberError(typed, NumberProblem.NOT_A_NUMBER)
    if not any(char in _DIGITS for char in typed):
        raise NumberError(typed, NumberProblem.NO_DIGITS)


def _international_prefix_as_plus(typed: str) -> str:
    """Accept ``0049 …`` whatever the default region's own international prefix is."""
    compact = "".join(char for char in typed if char not in _SEPARATORS)
    return "+" + compact[2:] if compact.startswith("00") else typed


def _parse_failure(exc: phonenumbers.NumberParseException) -> NumberProblem:
    if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
        return NumberProblem.COUNTRY_CODE
    return NumberProblem.INVALID
