"""Reading what people type in Slack: the text after ``/sms``, the To field, request ids.

The command is a keyword, or recipients first and the message after. A recipient is a number
or a colleague mentioned by name (``<@U…|anna>``, which Slack sends with ``should_escape``);
the handlers look the colleague's number up. The parser never guesses a number: when the text
cannot be split one way only, it asks for the modal prefilled with what it understood and says
what is wrong (as data; ``texts`` words it). The message is what the person typed
(``markup.typed_text``).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core import (
    DEFAULT_DAYS,
    MAX_DAYS,
    NUMBER_CHARS,
    NumberError,
    NumberProblem,
    PhoneNumber,
    parse_number,
)
from bot.slack.markup import typed_text, unescape_slack

__all__ = [
    "BadNumber",
    "CancelCommand",
    "CancelNeedsId",
    "CommaBeforeMessage",
    "Command",
    "ComposeCommand",
    "ComposeProblem",
    "ExportCommand",
    "ExportDays",
    "HelpCommand",
    "HelpProblem",
    "ListCommand",
    "ListTakesNothing",
    "Mention",
    "MessageMissing",
    "NoNumberFirst",
    "NoProfileNumber",
    "NotAnId",
    "NumberEndUnclear",
    "OptOutCommand",
    "OptOutUsageProblem",
    "Recipient",
    "SendCommand",
    "parse_command",
    "request_id",
]


@dataclass(frozen=True)
class ListTakesNothing:
    """``list`` with words after it other than ``all``."""


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


@dataclass(frozen=True)
class ExportDays:
    """``export`` with something other than a number of days from 1 to ``MAX_DAYS``."""

    typed: str


HelpProblem = ListTakesNothing | CancelNeedsId | NotAnId | ExportDays | OptOutUsageProblem


@dataclass(frozen=True)
class Mention:
    """A colleague named as a recipient (``<@U…|anna>``); ``name`` as Slack gave it."""

    user_id: str
    name: str

    @property
    def label(self) -> str:
        return "@" + self.name


Recipient = PhoneNumber | Mention


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


@dataclass(frozen=True)
class NoProfileNumber:
    """Colleagues named as recipients whose Slack profile holds no valid number (``@anna``)."""

    names: tuple[str, ...]


ComposeProblem = (
    MessageMissing | CommaBeforeMessage | NumberEndUnclear | NoNumberFirst | BadNumber
    | NoProfileNumber
)  # fmt: skip


@dataclass(frozen=True)
class HelpCommand:
    """Explain usage; ``problem`` says what was wrong with what was typed, if anything."""

    problem: HelpProblem | None = None


@dataclass(frozen=True)
class ListCommand:
    """Show the caller's scheduled and recent sends (``everyone``: all of them, for admins)."""

    everyone: bool = False


@dataclass(frozen=True)
class ExportCommand:
    """Upload the audit export of the last ``days`` days to the admin's DM."""

    days: int = DEFAULT_DAYS


@dataclass(frozen=True)
class CancelCommand:
    """Cancel the scheduled request shown as ``#<request_id>``."""

    request_id: int


@dataclass(frozen=True)
class ComposeCommand:
    """Open the modal prefilled; ``problem`` is shown under the To or Message field.

    ``mentions``: the colleagues named in ``to`` (as ``@name``), to look up for the form.
    """

    to: str = ""
    message: str = ""
    problem: ComposeProblem | None = None
    mentions: tuple[Mention, ...] = ()


@dataclass(frozen=True)
class SendCommand:
    """Send at once: distinct recipients in the order typed, and the message as typed."""

    recipients: tuple[Recipient, ...]
    message: str

    @property
    def mentions(self) -> tuple[Mention, ...]:
        return tuple(r for r in self.recipients if isinstance(r, Mention))


@dataclass(frozen=True)
class OptOutCommand:
    """``optout`` (list), ``optout add <number>``, ``optout remove <number>`` (admins)."""

    action: str  # "list", "add", "remove"
    typed: str = ""


Command = (
    HelpCommand
    | ListCommand
    | CancelCommand
    | ComposeCommand
    | SendCommand
    | ExportCommand
    | OptOutCommand
)

_TEL_LINK = re.compile(r"<tel:([^<>|]*)(?:\|([^<>]*))?>")
_MENTION = re.compile(r"<@([UW][A-Z0-9_]*)(?:\|([^<>]*))?>")
_RECIPIENT_LINK = re.compile(r"<(?:tel:|@)[^<>]*>")
_TOKEN = re.compile(r"<(?:tel:|@)[^<>]*>|\S+")
_REQUEST_ID = re.compile(r"#?([0-9]{1,18})")
_DAYS = re.compile(r"[0-9]{1,5}")


@dataclass(frozen=True)
class _Token:
    """A whitespace-separated word; a Slack ``<tel:…|…>`` link or ``<@U…|name>`` mention is
    one token, its text the value."""

    value: str
    end: int
    is_number: bool
    is_link: bool = False
    mention: Mention | None = None


@dataclass(frozen=True)
class _Split:
    """What the part holding the last recipient and the message was read as."""

    to: str
    message: str
    number: Recipient | None = None
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
    # Slack sends & < > as entities and links and mentions as <…>; the SMS and the prefilled
    # modal carry what was typed.
    return dataclasses.replace(command, message=typed_text(command.message))


def _keyword_command(words: Sequence[str]) -> Command | None:
    """``help``, ``list [all]``, ``cancel <id>``, ``export [days]``, ``optout …`` in any case;
    else a send."""
    first, rest = words[0].lower(), words[1:]
    if first == "help":
        return HelpCommand()
    if first == "list":
        return _list_command(rest)
    if first == "cancel":
        return _cancel_command(rest)
    if first == "export":
        return _export_command(rest)
    if first == "optout":
        return _opt_out_command(rest)
    return None


def _list_command(arguments: Sequence[str]) -> Command:
    if not arguments:
        return ListCommand()
    if len(arguments) == 1 and arguments[0].lower() == "all":
        return ListCommand(everyone=True)
    return HelpCommand(problem=ListTakesNothing())


def _export_command(arguments: Sequence[str]) -> Command:
    if not arguments:
        return ExportCommand()
    typed = " ".join(arguments)
    days = int(typed) if _DAYS.fullmatch(typed) else 0
    if not 1 <= days <= MAX_DAYS:
        return HelpCommand(problem=ExportDays(typed[:20]))
    return ExportCommand(days)


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
    compose = functools.partial(ComposeCommand, to, split.message, mentions=_mentions(heads, last))
    recipients: list[Recipient] = []
    for head in heads:
        try:
            recipients.append(_head_recipient(head, region))
        except NumberError as exc:
            return compose(BadNumber.of(exc))
    if heads and not split.to:
        return compose(_after_comma(split.message))
    if split.number is None:
        return compose(split.problem)
    if not split.message.strip():
        return compose(MessageMissing())
    return SendCommand(_distinct_recipients([*recipients, split.number]), split.message)


def _mentions(heads: Sequence[str], last: str) -> tuple[Mention, ...]:
    """The colleagues among the recipients: a part that starts with a mention."""
    firsts = (_tokenize(part)[:1] for part in (*heads, last))
    return tuple(first[0].mention for first in firsts if first and first[0].mention)


def _head_recipient(head: str, region: str) -> Recipient:
    """A whole comma-separated recipient: a mentioned colleague or a number."""
    tokens = _tokenize(head)
    if len(tokens) == 1 and tokens[0].mention is not None:
        return tokens[0].mention
    return parse_number(_display(head), region)


def _distinct_recipients(recipients: Sequence[Recipient]) -> tuple[Recipient, ...]:
    """Repeats collapsed (numbers by E.164, colleagues by user id), first kept, in order."""
    unique: dict[str, Recipient] = {}
    for recipient in recipients:
        key = recipient.user_id if isinstance(recipient, Mention) else recipient.e164
        unique.setdefault(key, recipient)
    return tuple(unique.values())


def _after_comma(message: str) -> ComposeProblem:
    """A comma after the last number: say so rather than that no number was found."""
    return CommaBeforeMessage() if message.strip() else MessageMissing()


def _split_recipient_list(text: str, region: str) -> tuple[list[str], str]:
    """Cut off the comma-separated parts that are meant as whole numbers.

    A part counts as a recipient when it holds only number tokens, unless it is not a number
    as a whole but starts with one (``+49 151 12345678 10,50 € due``): then the comma belongs
    to the message, as that is the only reading in which everything parses.
    """
    masked = _RECIPIENT_LINK.sub(lambda match: "x" * len(match.group()), text)  # commas inside
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
    if len(tokens) == 1 and tokens[0].mention is not None:
        return True
    if not all(token.is_number for token in tokens):
        return False
    if _number_or_none(_join(tokens), region) is not None:
        return True
    return not _valid_readings(tokens, region)


def _split_last(part: str, region: str) -> _Split:
    """Find where the number ends: exactly one valid prefix of number tokens, or a problem.

    A mentioned colleague first is the recipient, and the message follows it.
    """
    tokens = _tokenize(part)
    if tokens and tokens[0].mention is not None:
        return _Split(tokens[0].value, _rest(part, tokens, 1), number=tokens[0].mention)
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
    """Split on whitespace, keeping each Slack ``<tel:…>`` link and ``<@U…>`` mention (which
    may hold spaces) whole."""
    return [_token(match) for match in _TOKEN.finditer(text)]


def _token(match: re.Match[str]) -> _Token:
    word, end = match.group(), match.end()
    if (link := _TEL_LINK.fullmatch(word)) is not None:
        value = _link_text(link)
        return _Token(value, end, is_number=bool(value), is_link=True)
    if (mentioned := _MENTION.fullmatch(word)) is not None:
        user_id = mentioned.group(1)
        mention = Mention(user_id, unescape_slack(mentioned.group(2) or "").strip() or user_id)
        return _Token(mention.label, end, is_number=False, is_link=True, mention=mention)
    return _Token(word, end, is_number=set(word) <= NUMBER_CHARS)


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
