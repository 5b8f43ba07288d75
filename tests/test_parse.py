"""Reading what people type: /sms keywords, recipients first and the message after, To fields."""

import phonenumbers
import pytest

from bot.core import NumberProblem, PhoneNumber, parse_number
from bot.slack.markup import unescape_slack
from bot.slack.parse import (
    BadNumber,
    CancelCommand,
    CancelNeedsId,
    CommaBeforeMessage,
    ComposeCommand,
    ExportCommand,
    ExportDays,
    HelpCommand,
    ListCommand,
    ListTakesNothing,
    Mention,
    MessageMissing,
    NoNumberFirst,
    NumberEndUnclear,
    SendCommand,
    parse_command,
    request_id,
)
from bot.slack.texts import compose_problem
from bot.slack.to_field import read_to


def problem_text(command: object) -> str:
    assert isinstance(command, ComposeCommand)
    assert command.problem is not None
    return compose_problem(command.problem)


def e164s(command: object) -> list[str]:
    assert isinstance(command, SendCommand)
    numbers = [number for number in command.recipients if isinstance(number, PhoneNumber)]
    assert len(numbers) == len(command.recipients)
    return [number.e164 for number in numbers]


# --- keywords ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "\n\t  "])
def test_empty_text_opens_empty_modal(text: str) -> None:
    assert parse_command(text, "DE") == ComposeCommand()


@pytest.mark.parametrize("text", ["help", "HELP", " Help ", "help me"])
def test_help(text: str) -> None:
    assert parse_command(text, "DE") == HelpCommand()


@pytest.mark.parametrize("text", ["list", "LIST", " list\n"])
def test_list(text: str) -> None:
    assert parse_command(text, "DE") == ListCommand()


def test_list_with_arguments_explains_usage() -> None:
    assert parse_command("list everything", "DE") == HelpCommand(ListTakesNothing())


@pytest.mark.parametrize(
    ("text", "request_id"),
    [("cancel 12", 12), ("cancel #12", 12), ("Cancel   #7 ", 7), ("CANCEL 100000", 100000)],
)
def test_cancel(text: str, request_id: int) -> None:
    assert parse_command(text, "DE") == CancelCommand(request_id)


@pytest.mark.parametrize(
    "text",
    [
        "cancel",
        "cancel abc",
        "cancel #",
        "cancel 0",
        "cancel -3",
        "cancel 12 13",
        "cancel # 12",
        "cancel ١٢",
        "cancel 1234567890123456789012",
    ],
)
def test_cancel_without_a_valid_id_explains_usage(text: str) -> None:
    assert parse_command(text, "DE") == HelpCommand(CancelNeedsId())


@pytest.mark.parametrize(
    ("typed", "found"),
    [("12", 12), ("#12", 12), (" #7 ", 7), ("0", None), ("#", None), ("x", None)],
)
def test_request_id(typed: str, found: int | None) -> None:
    assert request_id(typed) == found


# --- one recipient ----------------------------------------------------------------------------


def test_quick_send_international_mobile() -> None:
    command = parse_command("+49 151 12345678 Your technician arrives at 3pm", "DE")
    assert command == SendCommand(
        (parse_number("+4915112345678", "DE"),), "Your technician arrives at 3pm"
    )


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("0170 1234567 Hallo", "+491701234567"),
        ("0049 151 12345678 Hallo", "+4915112345678"),
        ("(0151) 123-45678 Hallo", "+4915112345678"),
        ("0151/12345678 Hallo", "+4915112345678"),
        ("+49 (0) 151 12345678 Hallo", "+4915112345678"),
        ("+4930123456789 Hallo", "+4930123456789"),  # Berlin landline
        ("+1 416 555 0123 Hallo", "+14165550123"),  # parsed; the country guard decides later
    ],
)
def test_number_forms(text: str, e164: str) -> None:
    command = parse_command(text, "DE")
    assert e164s(command) == [e164]
    assert isinstance(command, SendCommand)
    assert command.message == "Hallo"


def test_national_number_uses_default_region() -> None:
    assert e164s(parse_command("(416) 555-0123 hi", "CA")) == ["+14165550123"]


def test_message_keeps_newlines_and_inner_whitespace() -> None:
    command = parse_command("+4915112345678   Line one\n\n  Line  two\tend", "DE")
    assert isinstance(command, SendCommand)
    assert command.message == "Line one\n\n  Line  two\tend"


def test_message_may_start_on_the_next_line() -> None:
    command = parse_command("0170 1234567\nHallo", "DE")
    assert isinstance(command, SendCommand)
    assert command.message == "Hallo"


def test_message_starting_with_digits_that_cannot_extend_the_number() -> None:
    # "+49 151 12345678 10" is not a valid number, so the split is unambiguous.
    command = parse_command("+49 151 12345678 10 Uhr passt", "DE")
    assert isinstance(command, SendCommand)
    assert command.message == "10 Uhr passt"


def test_lone_dash_after_the_number_belongs_to_the_message() -> None:
    command = parse_command("+49 170 1234567 - bin gleich da", "DE")
    assert isinstance(command, SendCommand)
    assert command.message == "- bin gleich da"


# With ``should_escape: true`` Slack sends what was typed with & < > as entities and mentions,
# channels and links as <…>; the SMS carries what was typed.
@pytest.mark.parametrize(
    ("arrives", "typed"),
    [
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("a &lt; b &gt; c", "a < b > c"),
        ("&lt;!channel&gt; as text", "<!channel> as text"),
        ("&amp;lt; stays", "&lt; stays"),
        ("see <https://example.com/a?b=1&amp;c=2>", "see https://example.com/a?b=1&c=2"),
        ("see <http://example.com|example.com> now", "see example.com now"),
        ("see <https://x.test/p|the plan>", "see the plan"),
        ("mail <mailto:a@b.test|a@b.test>", "mail a@b.test"),
        ("ask <@U123ABC|anna> first", "ask @anna first"),
        ("<!here> and <!channel> and <!everyone>", "@here and @channel and @everyone"),
        ("in <#C123ABC|support>", "in #support"),
        ("team <!subteam^S123ABC|@oncall>", "team @oncall"),
    ],
)
def test_the_message_reaches_sipgate_as_typed(arrives: str, typed: str) -> None:
    command = parse_command(f"+4915112345678 {arrives}", "DE")
    assert isinstance(command, SendCommand)
    assert command.message == typed


# --- several recipients -----------------------------------------------------------------------


def test_several_recipients() -> None:
    command = parse_command("+4915112345678, 0170 1234567 Meeting moved", "DE")
    assert e164s(command) == ["+4915112345678", "+491701234567"]
    assert isinstance(command, SendCommand)
    assert command.message == "Meeting moved"


def test_several_recipients_with_spaces_inside_numbers() -> None:
    command = parse_command("0151 123 456 78 , (030) 1234-5678,+49 170 1234567 Hi", "DE")
    assert e164s(command) == ["+4915112345678", "+493012345678", "+491701234567"]


def test_commas_in_the_message_stay_in_the_message() -> None:
    command = parse_command("+4915112345678, 0170 1234567 Moved, sorry, see you", "DE")
    assert e164s(command) == ["+4915112345678", "+491701234567"]
    assert isinstance(command, SendCommand)
    assert command.message == "Moved, sorry, see you"


def test_comma_in_a_message_that_starts_with_digits() -> None:
    # "+49 151 12345678 10" is no number, but it starts with one: the comma is message text.
    command = parse_command("+49 151 12345678 10,50 € sind noch offen", "DE")
    assert e164s(command) == ["+4915112345678"]
    assert isinstance(command, SendCommand)
    assert command.message == "10,50 € sind noch offen"


def test_duplicate_recipients_are_collapsed_in_order() -> None:
    text = "0170 1234567, +4915112345678, +49 170 1234567, 0049 151 12345678 Hi"
    assert e164s(parse_command(text, "DE")) == ["+491701234567", "+4915112345678"]


def test_one_bad_recipient_opens_the_modal_naming_it() -> None:
    command = parse_command("+4915112345678, 0170 12, 030 12345678 Hallo", "DE")
    assert command == ComposeCommand(
        to="+4915112345678, 0170 12, 030 12345678",
        message="Hallo",
        problem=BadNumber("0170 12", NumberProblem.INVALID),
    )


def test_recipient_with_letters_before_a_comma_is_read_as_the_message() -> None:
    # "0800 FLOWERS" is not number-only, so the text is one number plus a message.
    command = parse_command("0170 1234567 FLOWERS, more text", "DE")
    assert isinstance(command, SendCommand)
    assert command.message == "FLOWERS, more text"


def test_comma_after_the_last_number_is_explained() -> None:
    command = parse_command("+4915112345678, Hallo", "DE")
    assert isinstance(command, ComposeCommand)
    assert (command.to, command.message) == ("+4915112345678", "Hallo")
    assert command.problem == CommaBeforeMessage()


def test_trailing_comma_without_message() -> None:
    command = parse_command("+4915112345678,", "DE")
    assert command == ComposeCommand(to="+4915112345678", problem=MessageMissing())


# --- Slack tel: links -------------------------------------------------------------------------


def test_tel_link_with_label() -> None:
    command = parse_command("<tel:+4915112345678|+49 151 12345678> Hallo  Welt", "DE")
    assert e164s(command) == ["+4915112345678"]
    assert isinstance(command, SendCommand)
    assert command.message == "Hallo  Welt"


def test_tel_link_without_label() -> None:
    assert e164s(parse_command("<tel:+4915112345678> Hallo", "DE")) == ["+4915112345678"]


def test_tel_links_among_several_recipients() -> None:
    text = "<tel:+4915112345678|0151 1234 5678>, <tel:01701234567|0170 1234567> Hi, you"
    command = parse_command(text, "DE")
    assert e164s(command) == ["+4915112345678", "+491701234567"]
    assert isinstance(command, SendCommand)
    assert command.message == "Hi, you"


def test_tel_link_ends_the_number() -> None:
    # Slack already marked where the number ends, so a digit after it is message text.
    command = parse_command("<tel:+491701234567|+49 170 1234567> 8 Uhr", "DE")
    assert e164s(command) == ["+491701234567"]
    assert isinstance(command, SendCommand)
    assert command.message == "8 Uhr"


def test_invalid_tel_link_is_reported() -> None:
    command = parse_command("<tel:0170 12|0170 12> Hallo", "DE")
    assert "“0170 12” is not a valid phone number" in problem_text(command)


# --- not guessing -----------------------------------------------------------------------------


def test_real_ambiguity_0170_with_seven_or_eight_digits() -> None:
    # 0170 numbers exist with 7 and with 8 digits after the prefix; check with phonenumbers.
    for candidate in ("+491701234567", "+4917012345678"):
        assert phonenumbers.is_valid_number(phonenumbers.parse(candidate))
    command = parse_command("+49 170 1234567 8 Uhr passt", "DE")
    assert isinstance(command, ComposeCommand)
    assert command.to == "+49 170 1234567"
    assert command.message == "8 Uhr passt"
    assert command.problem == NumberEndUnclear(("+49 170 1234567", "+49 170 1234567 8"))


def test_0151_is_not_ambiguous_because_seven_digits_are_invalid() -> None:
    assert not phonenumbers.is_valid_number(phonenumbers.parse("+491511234567"))
    command = parse_command("+49 151 1234567 8 Uhr passt", "DE")
    assert e164s(command) == ["+4915112345678"]
    assert isinstance(command, SendCommand)
    assert command.message == "Uhr passt"


def test_landline_with_grouped_digits_is_ambiguous() -> None:
    # Berlin numbers have 3 to 9 digits, so "030 1234" is valid on its own.
    command = parse_command("030 1234 5678 Hallo", "DE")
    assert isinstance(command, ComposeCommand)
    assert (command.to, command.message) == ("030 1234", "5678 Hallo")


def test_ambiguity_after_a_comma_keeps_earlier_recipients() -> None:
    command = parse_command("+4915112345678, 0170 1234567 8 Uhr", "DE")
    assert isinstance(command, ComposeCommand)
    assert command.to == "+4915112345678, 0170 1234567"
    assert command.message == "8 Uhr"


def test_ambiguous_number_before_a_comma_is_read_whole() -> None:
    # The comma says where the number ends, so "0170 1234567 8" is one 8-digit number.
    command = parse_command("0170 1234567 8, 0151 12345678 Hi", "DE")
    assert e164s(command) == ["+4917012345678", "+4915112345678"]


def test_no_number_at_all() -> None:
    command = parse_command("hello world", "DE")
    assert isinstance(command, ComposeCommand)
    assert (command.to, command.message) == ("", "hello world")
    assert command.problem == NoNumberFirst()


def test_invalid_number_at_the_start_is_reported_with_its_reason() -> None:
    command = parse_command("0170 12 Hallo", "DE")
    assert command == ComposeCommand(
        to="0170 12",
        message="Hallo",
        problem=BadNumber("0170 12", NumberProblem.INVALID, at_start=True),
    )


def test_vanity_number_is_not_guessed() -> None:
    command = parse_command("0800 FLOWERS order now", "DE")
    assert problem_text(command).startswith("no valid phone number at the start")


def test_number_without_message() -> None:
    command = parse_command("+49 151 12345678", "DE")
    assert command == ComposeCommand(to="+49 151 12345678", problem=MessageMissing())


def test_number_without_message_after_several() -> None:
    command = parse_command("+4915112345678, 0170 1234567  ", "DE")
    assert isinstance(command, ComposeCommand)
    assert command.to == "+4915112345678, 0170 1234567"
    assert command.problem == MessageMissing()


def test_long_run_of_digits_does_not_hang() -> None:
    command = parse_command("1 " * 5000 + "Hallo", "DE")
    assert isinstance(command, ComposeCommand)


# --- the To field of the form -------------------------------------------------------------------


def test_to_field_reads_commas_semicolons_and_new_lines_once_each() -> None:
    read = read_to("0170 1234567; +49 151 12345678\n0170-1234567,,", "DE", {})
    assert [number.e164 for number in read.numbers] == ["+491701234567", "+4915112345678"]
    assert read.unreadable == ()


def test_to_field_names_every_unreadable_number() -> None:
    read = read_to("0170 12, +4915112345678, abc", "DE", {})
    assert [number.e164 for number in read.numbers] == ["+4915112345678"]
    assert [(error.typed, error.problem) for error in read.unreadable] == [
        ("0170 12", NumberProblem.INVALID),
        ("abc", NumberProblem.NOT_A_NUMBER),
    ]


def test_unescape_slack_gives_back_what_was_typed() -> None:
    assert unescape_slack("a &lt;b&gt; &amp; c") == "a <b> & c"
    assert unescape_slack("&amp;lt;") == "&lt;"


# --- colleagues by mention, list all, export ---------------------------------------------------

ANNA = Mention("U0ANNA", "anna")


def test_a_mentioned_colleague_is_a_recipient() -> None:
    command = parse_command("<@U0ANNA|anna> Please call the customer", "DE")
    assert command == SendCommand((ANNA,), "Please call the customer")


def test_mentions_and_numbers_mix_in_the_order_typed() -> None:
    command = parse_command("<@U0ANNA|anna>, +49 151 12345678, <@U0BEN|ben> Call &amp; go", "DE")
    assert isinstance(command, SendCommand)
    assert command.recipients == (
        ANNA,
        parse_number("+4915112345678", "DE"),
        Mention("U0BEN", "ben"),
    )
    assert command.mentions == (ANNA, Mention("U0BEN", "ben"))
    assert command.message == "Call & go"


def test_a_colleague_named_twice_is_texted_once() -> None:
    command = parse_command("<@U0ANNA|anna>, <@U0ANNA|anna> hi", "DE")
    assert command == SendCommand((ANNA,), "hi")


def test_a_mention_without_a_name_is_named_by_its_id() -> None:
    assert parse_command("<@U0ANNA> hi", "DE") == SendCommand((Mention("U0ANNA", "U0ANNA"),), "hi")


def test_a_mention_without_a_message_opens_the_form_naming_the_colleague() -> None:
    command = parse_command("+49 151 12345678, <@U0ANNA|anna>", "DE")
    assert command == ComposeCommand(
        "+49 151 12345678, @anna", "", MessageMissing(), mentions=(ANNA,)
    )


def test_a_bad_number_next_to_a_mention_opens_the_form_keeping_both() -> None:
    command = parse_command("<@U0ANNA|anna>, 0170 12 hi", "DE")
    assert isinstance(command, ComposeCommand)
    assert command.to == "@anna, 0170 12"
    assert command.mentions == (ANNA,)


def test_a_mention_inside_the_message_is_text() -> None:
    command = parse_command("+4915112345678 ask <@U0ANNA|anna>", "DE")
    assert command == SendCommand((parse_number("+4915112345678", "DE"),), "ask @anna")


@pytest.mark.parametrize(("typed", "everyone"), [("list", False), ("list all", True),
                                                 ("LIST All", True)])  # fmt: skip
def test_list_and_list_all(typed: str, everyone: bool) -> None:
    assert parse_command(typed, "DE") == ListCommand(everyone)


@pytest.mark.parametrize(("typed", "days"), [("export", 30), ("export 7", 7), ("Export 366", 366)])
def test_export_takes_days(typed: str, days: int) -> None:
    assert parse_command(typed, "DE") == ExportCommand(days)


@pytest.mark.parametrize("days", ["0", "367", "1000000", "x", "7 days", "-3", "١٢"])
def test_export_refuses_other_days(days: str) -> None:
    assert parse_command(f"export {days}", "DE") == HelpCommand(ExportDays(days))
