"""Properties of the pure parsing and counting functions, checked with hypothesis."""

import phonenumbers
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.core import GSM7_BASIC, GSM7_EXTENSION, count_segments, parse_number
from bot.slack.parse import (
    CancelCommand,
    ComposeCommand,
    ExportCommand,
    HelpCommand,
    ListCommand,
    SendCommand,
    parse_command,
)
from bot.slack.texts import escape_mrkdwn

FAST = settings(max_examples=200, deadline=None)
COMMANDS = (HelpCommand, ListCommand, CancelCommand, ComposeCommand, SendCommand, ExportCommand)
MOBILE_PREFIXES = ("151", "152", "157", "160", "162", "163", "170", "171", "172", "175", "176")

# Text that hits the parser's corners: digits, separators, commas, tel links, letters, keywords.
TRICKY = st.lists(
    st.sampled_from(
        [
            "0",
            "1",
            "5",
            "7",
            "+49",
            "0049",
            "0170",
            "151",
            "1234567",
            "12345678",
            " ",
            "  ",
            "\n",
            ",",
            "-",
            "/",
            "(",
            ")",
            "<tel:",
            "|",
            ">",
            "<tel:+4915112345678>",
            "a",
            "Hi",
            "cancel",
            "help",
            "list",
            "export",
            "all",
            "<@U1|anna>",
            "<@U2>",
            "&amp;",
            "<https://x.test|x>",
            "#",
            "€",
            "👍",
        ]
    ),
    max_size=20,
).map("".join)


@FAST
@given(st.text() | TRICKY)
def test_parse_command_never_raises(text: str) -> None:
    assert isinstance(parse_command(text, "DE"), COMMANDS)


@st.composite
def german_mobile(draw: st.DrawFn) -> tuple[str, str]:
    """A valid German mobile number: (E.164, area code + subscriber digits)."""
    prefix = draw(st.sampled_from(MOBILE_PREFIXES))
    subscriber = draw(st.text(alphabet="0123456789", min_size=7, max_size=8))
    e164 = f"+49{prefix}{subscriber}"
    assume(phonenumbers.is_valid_number(phonenumbers.parse(e164)))
    return e164, prefix + subscriber


@st.composite
def typed_forms(draw: st.DrawFn, national: str) -> str:
    """One way a person might type the number: prefix style, parentheses, random grouping."""
    area, subscriber = national[:3], national[3:]
    style = draw(st.sampled_from(["+49 {a}", "0{a}", "0049 {a}", "(0{a})", "+49 (0){a}"]))
    cuts = sorted(draw(st.sets(st.integers(1, len(subscriber) - 1), max_size=3)))
    groups = [subscriber[i:j] for i, j in zip([0, *cuts], [*cuts, len(subscriber)], strict=True)]
    separators = draw(st.lists(st.sampled_from([" ", "-", "/", ""]), min_size=len(groups)))
    body = "".join(sep + group for sep, group in zip(separators, groups, strict=False))
    return style.format(a=area) + draw(st.sampled_from([" ", "-", "/"])) + body.lstrip("-/ ")


@FAST
@given(st.data(), german_mobile())
def test_formatted_numbers_round_trip_to_e164(data: st.DataObject, mobile: tuple[str, str]) -> None:
    e164, national = mobile
    typed = data.draw(typed_forms(national))
    assert parse_number(typed, "DE").e164 == e164


MESSAGES = st.tuples(st.characters(categories=["L"]), st.text()).map("".join)


@FAST
@given(german_mobile(), MESSAGES)
def test_number_then_message_is_a_send(mobile: tuple[str, str], message: str) -> None:
    e164, national = mobile
    command = parse_command(f"+49 {national} {message}", "DE")
    assert isinstance(command, SendCommand)
    assert command.recipients == (parse_number(e164, "DE"),)
    assert command.message == message


GSM7_TEXT = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION))
NON_GSM7 = st.characters(codec="utf-16", exclude_categories=["Cs"]).filter(
    lambda char: char not in GSM7_BASIC and char not in GSM7_EXTENSION
)


def expected_parts(units: int, single: int, per_part: int) -> int:
    if units == 0:
        return 0
    return 1 if units <= single else -(-units // per_part)


@FAST
@given(GSM7_TEXT)
def test_gsm7_units_and_parts(text: str) -> None:
    segments = count_segments(text)
    assert segments.encoding == "GSM-7"
    assert segments.units == len(text) + sum(char in GSM7_EXTENSION for char in text)
    assert segments.parts == expected_parts(segments.units, 160, 153)


@FAST
@given(GSM7_TEXT, NON_GSM7, st.integers(min_value=0))
def test_one_non_gsm7_character_switches_to_ucs2(text: str, char: str, where: int) -> None:
    position = where % (len(text) + 1)
    mixed = text[:position] + char + text[position:]
    segments = count_segments(mixed)
    units = len(mixed.encode("utf-16-le")) // 2
    assert segments.encoding == "UCS-2"
    assert segments.units == units
    assert segments.parts == expected_parts(units, 70, 67)
    assert segments.parts >= count_segments(text).parts


def unescape(text: str) -> str:
    return text.replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")


@FAST
@given(st.text() | st.text(alphabet="<>&;!@#|amplgt"))
def test_escape_mrkdwn_round_trips(text: str) -> None:
    escaped = escape_mrkdwn(text)
    assert "<" not in escaped
    assert ">" not in escaped
    assert unescape(escaped) == text
