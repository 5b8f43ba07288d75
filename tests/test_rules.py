"""Cost and abuse guards (one refusal per form field) and the hourly limit."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.core import (
    Field,
    GuardPolicy,
    OverLimit,
    PhoneNumber,
    Refusal,
    Usage,
    check_request,
    over_limit,
    parse_number,
)
from bot.slack.texts import refusal_text

NOW = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)
POLICY = GuardPolicy(
    allowed_countries=frozenset({"DE"}), max_recipients=3, max_length=20, schedule_max_days=30
)
MOBILE = parse_number("+4915112345678", "DE")
LANDLINE = parse_number("030 12345678", "DE")
CANADA = parse_number("+1 416 555 0123", "DE")
UK = parse_number("+44 20 7946 0958", "DE")


def check(
    recipients: list[PhoneNumber] | None = None,
    message: str = "Hallo",
    send_at: datetime | None = None,
    policy: GuardPolicy = POLICY,
) -> list[Refusal]:
    return check_request(
        [MOBILE] if recipients is None else recipients, message, send_at, NOW, policy
    )


def only(refusals: list[Refusal], field: Field) -> str:
    assert [refusal.field for refusal in refusals] == [field]
    return refusal_text(refusals[0])


def test_valid_request_passes() -> None:
    assert check([MOBILE, LANDLINE], "Hallo", NOW + timedelta(minutes=1)) == []


def test_field_values_are_the_modal_block_ids() -> None:
    assert [field.value for field in Field] == ["to", "message", "when", "from"]
    assert Field("to") is Field.TO


def test_no_recipients() -> None:
    assert "at least one recipient" in only(check([]), Field.TO)


def test_too_many_recipients() -> None:
    text = only(check([MOBILE] * 4), Field.TO)
    assert "at most 3 recipients per request" in text


def test_exactly_max_recipients_is_fine() -> None:
    assert check([MOBILE] * 3) == []


def test_country_not_allowed() -> None:
    text = only(check([MOBILE, CANADA]), Field.TO)
    assert text == "+1 416-555-0123 is in CA; this workspace may only text DE."


def test_us_does_not_allow_canada() -> None:
    policy = GuardPolicy(frozenset({"US"}), 10, 1600, 30)
    assert "is in CA" in only(check([CANADA], policy=policy), Field.TO)


def test_several_foreign_numbers_in_one_refusal() -> None:
    text = only(check([CANADA, MOBILE, UK]), Field.TO)
    assert text == (
        "+1 416-555-0123 is in CA, +44 20 7946 0958 is in GB; this workspace may only text DE."
    )


def test_several_allowed_countries_are_listed() -> None:
    policy = GuardPolicy(frozenset({"DE", "AT", "CH"}), 10, 1600, 30)
    assert only(check([UK], policy=policy), Field.TO).endswith("may only text AT, CH, DE.")


def test_too_many_and_foreign_combine_into_one_refusal() -> None:
    text = only(check([CANADA] * 4), Field.TO)
    assert "at most 3 recipients" in text
    assert "is in CA" in text


@pytest.mark.parametrize("message", ["", "   ", "\n\t"])
def test_empty_message(message: str) -> None:
    assert "empty" in only(check(message=message), Field.MESSAGE)


def test_message_at_the_limit_is_fine() -> None:
    assert check(message="x" * 20) == []


def test_message_too_long_says_how_many_over() -> None:
    text = only(check(message="x" * 25), Field.MESSAGE)
    assert text == "The message is 25 characters, 5 over the limit of 20."


def test_length_counts_python_characters_not_segments() -> None:
    assert check(message="👍" * 20) == []


def test_time_in_the_past() -> None:
    assert "in the past" in only(check(send_at=NOW - timedelta(minutes=1)), Field.WHEN)


def test_time_now_is_the_past() -> None:
    assert "in the past" in only(check(send_at=NOW), Field.WHEN)


def test_next_minute_is_fine() -> None:
    assert check(send_at=NOW + timedelta(seconds=30)) == []


def test_time_exactly_at_the_horizon_is_fine() -> None:
    assert check(send_at=NOW + timedelta(days=30)) == []


def test_time_too_far_ahead() -> None:
    text = only(check(send_at=NOW + timedelta(days=30, minutes=1)), Field.WHEN)
    assert "at most 30 days ahead" in text


def test_other_time_zones_compare_correctly() -> None:
    berlin = timezone(timedelta(hours=1))
    assert check(send_at=datetime(2025, 3, 10, 10, 31, tzinfo=berlin)) == []
    assert check(send_at=datetime(2025, 3, 10, 10, 29, tzinfo=berlin)) != []


def test_naive_datetimes_are_a_bug() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check(send_at=datetime(2025, 3, 11, 9, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        check_request([MOBILE], "Hallo", None, datetime(2025, 3, 10), POLICY)


def test_every_field_reported_once() -> None:
    refusals = check([CANADA] * 5, "", NOW - timedelta(days=1))
    assert [refusal.field for refusal in refusals] == [Field.TO, Field.MESSAGE, Field.WHEN]


# --- the hourly limit ---------------------------------------------------------------------------


def test_requests_that_fit_the_hour_pass() -> None:
    assert over_limit(Usage(0, None), 30, 30) is None
    assert over_limit(Usage(28, NOW), 2, 30) is None


def test_a_request_over_the_limit_says_how_many_remain_and_when() -> None:
    assert over_limit(Usage(28, NOW), 3, 30) == OverLimit(30, 2, NOW)
    assert over_limit(Usage(30, NOW), 1, 30) == OverLimit(30, 0, NOW)


def test_remaining_is_never_negative_after_the_limit_was_lowered() -> None:
    assert over_limit(Usage(40, None), 1, 30) == OverLimit(30, 0, None)
