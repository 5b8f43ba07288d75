"""Reading what people type in Slack: the text after ``/sms``, the To field, request ids.

The command is a keyword, or recipients first and the message after. The parser never guesses
a number: when the text cannot be split one way only, it asks for the modal prefilled with
what it understood and says what is wrong (as data; ``texts`` words it).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core import (
    NUMBER_CHARS,
    NumberError,
    NumberProblem,
    PhoneNumber,
    distinct,
    parse_number,
)
from bot.slack.markup import unescape_slack

__all__ = [
    "BadNumber",
    "CancelCommand",
    "CancelNeedsId",
    "CommaBeforeMessage",
    "Command",
    "ComposeCommand",
    "ComposeProblem",
    "HelpCommand",
    "HelpProblem",
    "ListCommand",
    "ListTakesNothing",
    "MessageMissing",
    "NoNumberFirst",
    "NotAnId",
    "NumberEndUnclear",
    "OptOutCommand",
    "OptOutUsageProblem",
    "SendCommand",
    "parse_command",
    "read_recipients",
    "request_id",
]


@dataclass(frozen=True)
class ListTakesNothing:
    """``list`` with words after it."""


@dataclass(frozen=True)
class CancelNeedsId:
    """``cancel`` without exactly one request id."""


@dataclass(frozen=True)
class OptOutUsageProblem:
    """``optout`` followed by something other than add/remove and a number."""


@dataclass(frozen=True)
class NotAnId:
    """What should have been a request id (``#12``) is not one."""

    typed: str


HelpProblem = ListTakesNothing | CancelNeedsId | NotAnId | OptOutUsageProblem


@dataclass(frozen=True)
class MessageMissing:
    """Recipients but no message."""


@dataclass(frozen=True)
class CommaBeforeMessage:
    """A comma after the last number, then the message."""


@dataclass(frozen=True)
class NumberEndUnclear:
    """The number could end at more than one word: the readings, shortest first."""

    readings: tuple[str, ...]


@dataclass(frozen=True)
class NoNumberFirst:
    """The text does not start with a number."""


@dataclass(frozen=True)
class BadNumber:
    """A recipient is not a usable number; ``at_start``: the one the message follows."""

    typed: str
    problem: NumberProblem
    at_start: bool = False

    @classmethod
    def of(cls, error: NumberError, *, at_start: bool = False) -> BadNumber:
        return cls(error.typed, error.problem, at_start)


ComposeProblem = MessageMissing | CommaBeforeMessage | NumberEndUnclear | NoNumberFirst | BadNumber


@dataclass(frozen=True)
class HelpCommand:
    """Explain usage; ``problem`` says what was wrong with what was typed, if anything."""

    problem: HelpProblem | None = None


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
    problem: ComposeProblem | None = None


@dataclass(frozen=True)
class SendCommand:
    """Send at once: distinct recipients in the order typed, and the message as typed."""

    recipients: tuple[PhoneNumber, ...]
    message: str


@dataclass(frozen=True)
class OptOutCommand:
    """``optout`` (list), ``optout add <number>``, ``optout remove <number>`` (admins)."""

    action: str  # "list", "add", "remove"
    typed: str = ""


Command = HelpCommand | ListCommand | CancelCommand | ComposeCommand | SendCommand | OptOutCommand

_TEL_LINK = re.compile(r"<tel:([^<>|]*)(?:\|([^<>]*))?>")
_TOKEN = re.compile(r"<tel:[^<>]*>|\S+")
_REQUEST_ID = re.compile(r"#?([0-9]{1,18})")


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
    problem: ComposeProblem | None = None


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
    """``help``, ``list``, ``cancel <id>`` and ``optout …`` in any case; else a send."""
    first = words[0].lower()
    if first == "help":
        return HelpCommand()
    if first == "list" and len(words) > 1:
        return HelpCommand(problem=ListTakesNothing())
    if first == "list":
        return ListCommand()
    if first == "cancel":
        return _cancel_command(words[1:])
    if first == "optout":
        return _opt_out_command(words[1:])
    return None


def _opt_out_command(arguments: Sequence[str]) -> Command:
    if not arguments:
        return OptOutCommand("list")
    action = arguments[0].lower()
    if action in ("add", "remove") and len(arguments) > 1:
        return OptOutCommand(action, " ".join(arguments[1:]))
    return HelpCommand(problem=OptOutUsageProblem())


def _cancel_command(arguments: Sequence[str]) -> Command:
    found = request_id(arguments[0]) if len(arguments) == 1 else None
    return HelpCommand(problem=CancelNeedsId()) if found is None else CancelCommand(found)


def request_id(typed: str) -> int | None:
    """The request a ``#12`` or ``12`` names; None if it names none."""
    match = _REQUEST_ID.fullmatch(typed.strip())
    if match is None or int(match.group(1)) == 0:
        return None
    return int(match.group(1))


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
            return ComposeCommand(to=to, message=split.message, problem=BadNumber.of(exc))
    if heads and not split.to:
        return ComposeCommand(to=to, message=split.message, problem=_after_comma(split.message))
    if split.number is None:
        return ComposeCommand(to=to, message=split.message, problem=split.problem)
    if not split.message.strip():
        return ComposeCommand(to=to, message=split.message, problem=MessageMissing())
    return SendCommand(distinct([*numbers, split.number]), split.message)


def _after_comma(message: str) -> ComposeProblem:
    """A comma after the last number: say so rather than that no number was found."""
    return CommaBeforeMessage() if message.strip() else MessageMissing()


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
        problem = NumberEndUnclear(tuple(_join(tokens[:k]) for k, _ in readings))
        shortest = readings[0][0]
        return _Split(_join(tokens[:shortest]), _rest(part, tokens, shortest), problem=problem)
    return _no_number(part, tokens, region)


def _no_number(part: str, tokens: Sequence[_Token], region: str) -> _Split:
    """Explain why no number was found, keeping what was typed for the modal."""
    run = _number_run(tokens)
    if not run:
        return _Split("", part.lstrip(), problem=NoNumberFirst())
    problem = BadNumber.of(_why_invalid(_join(run), region), at_start=True)
    return _Split(_join(run), _rest(part, tokens, len(run)), problem=problem)


def _why_invalid(raw: str, region: str) -> NumberError:
    try:
        parse_number(raw, region)
    except NumberError as exc:
        return exc
    return NumberError(raw, NumberProblem.INVALID)  # valid only with a trailing separator


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


def read_recipients(text: str, region: str) -> tuple[tuple[PhoneNumber, ...], list[NumberError]]:
    """A To field: numbers separated by commas, semicolons or new lines; what cannot be read.

    The numbers are distinct, in the order typed.
    """
    numbers: list[PhoneNumber] = []
    errors: list[NumberError] = []
    for part in re.split(r"[,;\n]", text):
        if part.strip():
            try:
                numbers.append(parse_number(part, region))
            except NumberError as error:
                errors.append(error)
    return distinct(numbers), errors
