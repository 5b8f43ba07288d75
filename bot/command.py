"""Reading the text after ``/sms``: a keyword, or recipients first and the message after.

The parser never guesses a number. When the text cannot be split one way only, it asks for the
modal prefilled with what it understood and says what is wrong (PRODUCT.md §2.1).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.mrkdwn import unescape_slack
from bot.phone import NUMBER_CHARS, NumberError, PhoneNumber, parse_number

__all__ = [
    "CancelCommand",
    "Command",
    "ComposeCommand",
    "HelpCommand",
    "ListCommand",
    "SendCommand",
    "parse_command",
]


@dataclass(frozen=True)
class HelpCommand:
    """Explain usage; ``problem`` says what was wrong with what was typed, if anything."""

    problem: str | None = None


@dataclass(frozen=True)
class ListCommand:
    """Show the caller's scheduled and recent sends."""


@dataclass(frozen=True)
class CancelCommand:
    """Cancel the scheduled request shown as ``#<request_id>``."""

    request_id: int


@dataclass(frozen=True)
class ComposeCommand:
    """Open the modal prefilled; ``problem`` is shown under the To or Message field."""

    to: str = ""
    message: str = ""
    problem: str | None = None


@dataclass(frozen=True)
class SendCommand:
    """Send at once: distinct recipients in the order typed, and the message as typed."""

    recipients: tuple[PhoneNumber, ...]
    message: str


Command = HelpCommand | ListCommand | CancelCommand | ComposeCommand | SendCommand

_TEL_LINK = re.compile(r"<tel:([^<>|]*)(?:\|([^<>]*))?>")
_TOKEN = re.compile(r"<tel:[^<>]*>|\S+")
_REQUEST_ID = re.compile(r"#?([0-9]{1,18})")
_USAGE_CANCEL = "use “/sms cancel <id>”, e.g. “/sms cancel 12”; “/sms list” shows the ids"


@dataclass(frozen=True)
class _Token:
    """A whitespace-separated word; a Slack ``<tel:…|…>`` link is one token, its text the value."""

    value: str
    end: int
    is_number: bool
    is_link: bool = False


@dataclass(frozen=True)
class _Split:
    """What the part holding the last recipient and the message was read as."""

    to: str
    message: str
    number: PhoneNumber | None = None
    problem: str | None = None


def parse_command(text: str, default_region: str) -> Command:
    """Read the slash command text; never raises, whatever was typed."""
    words = text.split()
    if not words:
        return ComposeCommand()
    keyword = _keyword_command(words)
    if keyword is not None:
        return keyword
    command = _parse_send(text, default_region)
    # Slack sends & < > as entities; the SMS and the prefilled modal carry what was typed.
    return dataclasses.replace(command, message=unescape_slack(command.message))


def _keyword_command(words: Sequence[str]) -> Command | None:
    """``help``, ``list`` and ``cancel <id>`` in any case; anything else is a send."""
    first = words[0].lower()
    if first == "help":
        return HelpCommand()
    if first == "list" and len(words) > 1:
        return HelpCommand(problem="“list” takes nothing after it")
    if first == "list":
        return ListCommand()
    if first == "cancel":
        return _cancel_command(words[1:])
    return None


def _cancel_command(arguments: Sequence[str]) -> Command:
    match = _REQUEST_ID.fullmatch(arguments[0]) if len(arguments) == 1 else None
    if match is None or int(match.group(1)) == 0:
        return HelpCommand(problem=f"“cancel” needs one request id: {_USAGE_CANCEL}")
    return CancelCommand(int(match.group(1)))


def _parse_send(text: str, region: str) -> ComposeCommand | SendCommand:
    """Recipients separated by commas, then the last recipient followed by the message."""
    heads, last = _split_recipient_list(text, region)
    split = _split_last(last, region)
    to = ", ".join([_display(head) for head in heads] + ([split.to] if split.to else []))
    numbers: list[PhoneNumber] = []
    for head in heads:
        try:
            numbers.append(parse_number(_display(head), region))
        except NumberError as exc:
            return ComposeCommand(to=to, message=split.message, problem=exc.reason)
    if heads and not split.to:
        return ComposeCommand(to=to, message=split.message, problem=_after_comma(split.message))
    if split.number is None:
        return ComposeCommand(to=to, message=split.message, problem=split.problem)
    if not split.message.strip():
        return ComposeCommand(to=to, message=split.message, problem="the message is empty")
    return SendCommand(_distinct([*numbers, split.number]), split.message)


def _after_comma(message: str) -> str:
    """A comma after the last number: say so rather than that no number was found."""
    if not message.strip():
        return "the message is empty"
    return "a comma must be followed by another number; remove the comma before the message"


def _split_recipient_list(text: str, region: str) -> tuple[list[str], str]:
    """Cut off the comma-separated parts that are meant as whole numbers.

    A part counts as a recipient when it holds only number tokens, unless it is not a number
    as a whole but starts with one (``+49 151 12345678 10,50 € due``): then the comma belongs
    to the message, as that is the only reading in which everything parses.
    """
    masked = _TEL_LINK.sub(lambda match: "x" * len(match.group()), text)  # commas inside links
    heads: list[str] = []
    start = 0
    while (comma := masked.find(",", start)) != -1:
        part = text[start:comma]
        if not _is_recipient_part(part, region):
            break
        if part.strip():
            heads.append(part)
        start = comma + 1
    return heads, text[start:]


def _is_recipient_part(part: str, region: str) -> bool:
    tokens = _tokenize(part)
    if not all(token.is_number for token in tokens):
        return False
    if _number_or_none(_join(tokens), region) is not None:
        return True
    return not _valid_readings(tokens, region)


def _split_last(part: str, region: str) -> _Split:
    """Find where the number ends: exactly one valid prefix of number tokens, or a problem."""
    tokens = _tokenize(part)
    readings = _valid_readings(tokens, region)
    if len(readings) == 1:
        k, number = readings[0]
        return _Split(_join(tokens[:k]), _rest(part, tokens, k), number=number)
    if readings:
        options = " or ".join(f"“{_join(tokens[:k])}”" for k, _ in readings)
        problem = f"could not tell where the number ends: {options}; check the number in To"
        shortest = readings[0][0]
        return _Split(_join(tokens[:shortest]), _rest(part, tokens, shortest), problem=problem)
    return _no_number(part, tokens, region)


def _no_number(part: str, tokens: Sequence[_Token], region: str) -> _Split:
    """Explain why no number was found, keeping what was typed for the modal."""
    run = _number_run(tokens)
    if not run:
        problem = "no valid phone number at the start; write the number first, then the message"
        return _Split("", part.lstrip(), problem=problem)
    problem = f"no valid phone number at the start: {_why_invalid(_join(run), region)}"
    return _Split(_join(run), _rest(part, tokens, len(run)), problem=problem)


def _why_invalid(raw: str, region: str) -> str:
    try:
        parse_number(raw, region)
    except NumberError as exc:
        return exc.reason
    return f"“{raw}” is not a valid phone number"  # valid only with a trailing separator


def _valid_readings(tokens: Sequence[_Token], region: str) -> list[tuple[int, PhoneNumber]]:
    """Every count of leading number tokens that reads as a valid number.

    Only prefixes ending in a token with a digit count, so a lone ``-`` after the number is
    message text rather than a second reading of the same number.
    """
    readings = []
    run = _number_run(tokens)
    for k in range(1, len(run) + 1):
        if len(_join(run[:k])) > 64:
            break
        number = _number_or_none(_join(run[:k]), region) if _has_digit(run[k - 1]) else None
        if number is not None:
            readings.append((k, number))
    return readings


def _number_run(tokens: Sequence[_Token]) -> list[_Token]:
    """The leading tokens that could be part of a number.

    A Slack tel link already marks where its number ends, so it is a number on its own.
    """
    if tokens and tokens[0].is_link:
        return [tokens[0]] if tokens[0].is_number else []
    run = []
    for token in tokens:
        if not token.is_number or token.is_link:
            break
        run.append(token)
    return run


def _number_or_none(raw: str, region: str) -> PhoneNumber | None:
    try:
        return parse_number(raw, region)
    except NumberError:
        return None


def _tokenize(text: str) -> list[_Token]:
    """Split on whitespace, keeping each Slack ``<tel:…>`` link (which may hold spaces) whole."""
    tokens = []
    for match in _TOKEN.finditer(text):
        link = _TEL_LINK.fullmatch(match.group())
        if link is None:
            word = match.group()
            tokens.append(_Token(word, match.end(), is_number=set(word) <= NUMBER_CHARS))
        else:
            value = _link_text(link)
            tokens.append(_Token(value, match.end(), is_number=bool(value), is_link=True))
    return tokens


def _link_text(link: re.Match[str]) -> str:
    """``<tel:+4915112345678|+49 151 12345678>`` → the shown text, else the number after tel:."""
    shown = link.group(2) if link.group(2) is not None else link.group(1)
    return " ".join(shown.split())


def _display(part: str) -> str:
    """A recipient part as the user meant it: tel links unwrapped, spacing normalised."""
    return _join(_tokenize(part))


def _join(tokens: Sequence[_Token]) -> str:
    return " ".join(token.value for token in tokens)


def _rest(part: str, tokens: Sequence[_Token], k: int) -> str:
    """The message: everything after the k-th token, leading whitespace removed."""
    return part[tokens[k - 1].end :].lstrip()


def _has_digit(token: _Token) -> bool:
    return any(char.isdigit() for char in token.value)


def _distinct(numbers: Sequence[PhoneNumber]) -> tuple[PhoneNumber, ...]:
    """Collapse repeats of the same E.164 number, keeping the first and the order."""
    unique: dict[str, PhoneNumber] = {}
    for number in numbers:
        unique.setdefault(number.e164, number)
    return tuple(unique.values())
