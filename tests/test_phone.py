"""Reading typed numbers strictly, and masking them for logs."""

import pytest

from bot.core import NUMBER_CHARS, NumberError, PhoneNumber, display_number, parse_number
from bot.logs import mask_number
from bot.slack.texts import number_problem


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+49 151 12345678", "+4915112345678"),  # mobile, international
        ("+4915112345678", "+4915112345678"),
        ("0170 1234567", "+491701234567"),  # mobile, national
        ("0049 151 12345678", "+4915112345678"),  # 00 international prefix
        ("(0151) 123-45678", "+4915112345678"),
        ("0151/12345678", "+4915112345678"),
        ("0151-123 456 78", "+4915112345678"),
        ("+49 (0) 151 12345678", "+4915112345678"),
        ("030 12345678", "+493012345678"),  # Berlin landline
        ("+49 89 1234567", "+49891234567"),  # Munich landline
        ("  0170 1234567  ", "+491701234567"),
        ("0170\u00a01234567", "+491701234567"),  # a no-break space pasted from elsewhere
    ],
)
def test_german_numbers_normalise_to_e164(raw: str, e164: str) -> None:
    number = parse_number(raw, "DE")
    assert number.e164 == e164
    assert number.region == "DE"


def test_parse_gives_international_format_for_display() -> None:
    assert parse_number("0170 1234567", "DE") == PhoneNumber(
        e164="+491701234567", region="DE", international="+49 170 1234567"
    )
    assert parse_number("030 12345678", "DE").international == "+49 30 12345678"


def test_canadian_number_has_region_ca_not_us() -> None:
    number = parse_number("+1 416 555 0123", "DE")
    assert (number.e164, number.region) == ("+14165550123", "CA")
    assert number.international == "+1 416-555-0123"


def test_national_number_read_in_default_region() -> None:
    assert parse_number("(416) 555-0123", "CA").e164 == "+14165550123"
    assert parse_number("020 7946 0958", "GB").e164 == "+442079460958"


def test_double_zero_prefix_works_whatever_the_default_region() -> None:
    assert parse_number("0049 151 12345678", "US").e164 == "+4915112345678"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("0170 12", "“0170 12” is not a valid phone number"),
        ("+49 151 1234567", "“+49 151 1234567” is not a valid phone number"),
        ("", "enter a phone number"),
        ("   ", "enter a phone number"),
        (
            "0800 FLOWERS",
            "“0800 FLOWERS” is not a phone number: use only digits, +, spaces, - / ( )",
        ),
        (
            "+49 151 1234567a",
            "“+49 151 1234567a” is not a phone number: use only digits, +, spaces, - / ( )",
        ),
        ("--", "“--” has no digits"),
        ("+", "“+” has no digits"),
        ("+999 1234567", "“+999 1234567” needs a valid country code, e.g. +49 …"),
        ("0049", "“0049” is not a valid phone number"),
    ],
)
def test_invalid_numbers_are_refused_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(NumberError) as caught:
        parse_number(raw, "DE")
    assert number_problem(caught.value) == reason
    assert caught.value.typed == " ".join(raw.split())


def test_number_error_is_a_value_error() -> None:
    assert issubclass(NumberError, ValueError)


def test_unknown_default_region_asks_for_a_country_code() -> None:
    with pytest.raises(NumberError) as caught:
        parse_number("0151 12345678", "ZZ")
    assert "country code" in number_problem(caught.value)


def test_unicode_digits_are_not_numbers() -> None:
    with pytest.raises(NumberError):
        parse_number("０１５１ １２３４５６７８", "DE")  # fullwidth digits


def test_absurdly_long_input_is_refused_quickly() -> None:
    with pytest.raises(NumberError) as caught:
        parse_number("1 " * 200, "DE")
    assert "too long" in number_problem(caught.value)


@pytest.mark.parametrize(
    ("e164", "shown"),
    [
        ("+4915112345678", "+49 1511 2345678"),
        ("+493012345678", "+49 30 12345678"),
        ("+14165550123", "+1 416-555-0123"),
        ("not a number", "not a number"),
    ],
)
def test_display_number(e164: str, shown: str) -> None:
    assert display_number(e164) == shown


def test_parse_and_display_agree() -> None:
    number = parse_number("0151 12345678", "DE")
    assert number.international == display_number(number.e164)


def test_number_chars() -> None:
    assert frozenset("0123456789+-/() ") == NUMBER_CHARS


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+4915112345678", "+49151****678"),
        ("+491701234567", "+49170****567"),
        ("+14165550123", "+14165****123"),
        ("+4930123", "+4****"),
        ("+49301234", "+4****"),
        ("+493012345", "+49301****345"),
        ("+4", "+****"),
        ("", "****"),
    ],
)
def test_mask_number(number: str, masked: str) -> None:
    assert mask_number(number) == masked


def test_mask_never_reveals_the_whole_number() -> None:
    for length in range(1, 20):
        number = "+" + "123456789012345678"[: length - 1]
        assert "****" in mask_number(number)
        assert number not in mask_number(number)
