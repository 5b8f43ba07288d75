"""bot/slack/modal.py: the compose view, its private_metadata, and reading a submission."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.core import GuardPolicy, NumberProblem, SmsExtension
from bot.sandbox.slack_api import view_problem
from bot.sandbox.slack_requests import modal_state
from bot.slack.parse import BadNumber, MessageMissing
from bot.slack.views import (
    CALLBACK_ID,
    ComposeForm,
    ModalMetadata,
    Submission,
    SubmissionRules,
    compose_view,
    decode_metadata,
    read_submission,
)

ONE = (SmsExtension("s0", "SMS", "+4915799912345"),)
TWO = (*ONE, SmsExtension("s1", "Sales", "+4915799954321"))
NOW = datetime(2026, 11, 24, 14, 0, 37, tzinfo=UTC)
POLICY = GuardPolicy(
    allowed_countries=frozenset({"DE", "AT"}),
    max_recipients=3,
    max_length=160,
    schedule_max_days=30,
)
RESPONSE_URL = "https://hooks.slack.com/commands/T1/2/abc"


def form(**changes: Any) -> ComposeForm:
    fields: dict[str, Any] = {
        "metadata": ModalMetadata("C_GENERAL", RESPONSE_URL),
        "extensions": ONE,
        "max_length": 1600,
        "max_days": 30,
    }
    fields.update(changes)
    return ComposeForm(**fields)


def blocks(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {block["block_id"]: block for block in view["blocks"]}


def rules(extensions: tuple[SmsExtension, ...] = ONE) -> SubmissionRules:
    return SubmissionRules("DE", POLICY, extensions, NOW)


def at(delta: timedelta) -> int:
    """A datetimepicker value: whole minutes, as Unix seconds."""
    return int((NOW + delta).replace(second=0).timestamp())


# --- compose_view -----------------------------------------------------------------------------


def test_view_with_one_extension() -> None:
    view = compose_view(form())

    assert view["type"] == "modal"
    assert view["callback_id"] == CALLBACK_ID
    assert view["submit"]["text"] == "Send"
    assert view_problem(view) is None  # what Slack itself would refuse
    shown = blocks(view)
    assert list(shown) == ["to", "message", "when"]
    for block_id, block in shown.items():
        assert block["type"] == "input"
        assert block["element"]["action_id"] == block_id
    assert shown["to"]["element"]["type"] == "plain_text_input"
    assert "initial_value" not in shown["to"]["element"]
    message = shown["message"]["element"]
    assert message["multiline"] is True
    assert message["max_length"] == 1600
    assert "initial_value" not in message
    assert "153 per part" in shown["message"]["hint"]["text"]
    assert shown["when"]["element"]["type"] == "datetimepicker"
    assert shown["when"]["optional"] is True
    assert "30 days" in shown["when"]["hint"]["text"]


def test_view_with_several_extensions_offers_from() -> None:
    view = compose_view(form(extensions=TWO))

    shown = blocks(view)
    assert list(shown) == ["to", "message", "from", "when"]
    select = shown["from"]["element"]
    assert select["type"] == "static_select"
    assert select["action_id"] == "from"
    assert [option["value"] for option in select["options"]] == ["s0", "s1"]
    assert select["initial_option"] == select["options"][0]
    assert "Sales" in select["options"][1]["text"]["text"]
    assert all(len(option["text"]["text"]) <= 75 for option in select["options"])


def test_prefilled_view_shows_what_was_typed_exactly() -> None:
    view = compose_view(
        form(
            to="0170 12",
            message="<!channel> & <b>",
            problem=BadNumber("0170 12", NumberProblem.INVALID, at_start=True),
        )
    )

    shown = blocks(view)
    assert shown["to"]["element"]["initial_value"] == "0170 12"
    assert shown["message"]["element"]["initial_value"] == "<!channel> & <b>"
    assert shown["to"]["hint"]["type"] == "plain_text"
    assert shown["to"]["hint"]["text"] == (
        "⚠️ no valid phone number at the start: “0170 12” is not a valid phone number"
    )
    assert "⚠️" not in shown["message"]["hint"]["text"]


def test_problem_with_a_number_but_no_message_goes_under_message() -> None:
    view = compose_view(form(to="+49 151 12345678", problem=MessageMissing()))

    shown = blocks(view)
    assert shown["message"]["hint"]["text"] == "⚠️ the message is empty"
    assert "⚠️" not in shown["to"]["hint"]["text"]


def test_prefilled_message_is_cut_to_max_length() -> None:
    view = compose_view(form(max_length=10, message="x" * 25))

    assert blocks(view)["message"]["element"]["initial_value"] == "x" * 10


def test_metadata_travels_in_the_view() -> None:
    view = compose_view(form())

    assert decode_metadata(view["private_metadata"]) == ModalMetadata("C_GENERAL", RESPONSE_URL)
    assert len(view["private_metadata"]) <= 3000


# --- private_metadata --------------------------------------------------------------------------


def test_metadata_round_trip() -> None:
    for metadata in (ModalMetadata("C_GENERAL", RESPONSE_URL), ModalMetadata("D_1", None)):
        assert decode_metadata(metadata.encode()) == metadata


def test_metadata_too_long_drops_the_response_url() -> None:
    encoded = ModalMetadata("C_GENERAL", "https://x/" + "a" * 3100).encode()

    assert len(encoded) <= 3000
    assert decode_metadata(encoded) == ModalMetadata("C_GENERAL", None)


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "not json",
        "{",
        "[]",
        "42",
        '"C_GENERAL"',
        "{}",
        '{"channel": 5}',
        '{"channel": null}',
        '{"channel_id": "C_GENERAL"}',
        12,
        {"channel": "C_GENERAL"},
    ],
)
def test_garbage_or_tampered_metadata_is_none(raw: object) -> None:
    assert decode_metadata(raw) is None


def test_metadata_with_a_tampered_response_url_keeps_only_the_channel() -> None:
    raw = json.dumps({"channel": "C_GENERAL", "response_url": ["http://evil"]})

    assert decode_metadata(raw) == ModalMetadata("C_GENERAL", None)


# --- read_submission ---------------------------------------------------------------------------


def test_valid_submission_now() -> None:
    result = read_submission(
        modal_state(to="+49 151 12345678; 0170 1234567\n+4915112345678", message="Hello"),
        rules(),
    )

    assert isinstance(result, Submission)
    assert [number.e164 for number in result.recipients] == ["+4915112345678", "+491701234567"]
    assert result.message == "Hello"
    assert result.sms_id == "s0"
    assert result.send_at is None


def test_valid_submission_next_minute() -> None:
    when = at(timedelta(minutes=1))

    result = read_submission(modal_state(to="0170 1234567", message="Hi", when=when), rules())

    assert isinstance(result, Submission)
    assert result.send_at == datetime.fromtimestamp(when, UTC)


def test_valid_submission_with_a_chosen_extension() -> None:
    result = read_submission(modal_state(to="0170 1234567", message="Hi", sms_id="s1"), rules(TWO))

    assert isinstance(result, Submission)
    assert result.sms_id == "s1"


def test_tampered_from_value_is_an_error_on_from() -> None:
    result = read_submission(modal_state(to="0170 1234567", message="Hi", sms_id="s9"), rules(TWO))

    assert result == {"from": "Pick one of the listed extensions."}


def test_from_value_is_ignored_when_there_is_one_extension() -> None:
    result = read_submission(modal_state(to="0170 1234567", message="Hi", sms_id="s9"), rules())

    assert isinstance(result, Submission)
    assert result.sms_id == "s0"


def test_no_extension_at_all_is_an_error() -> None:
    result = read_submission(modal_state(to="0170 1234567", message="Hi"), rules(()))

    assert isinstance(result, dict)
    assert set(result) == {"from"}


@pytest.mark.parametrize(
    ("state", "block", "words"),
    [
        (modal_state(to="0170 12", message="Hi"), "to", "0170 12"),
        (modal_state(to="", message="Hi"), "to", "at least one recipient"),
        (modal_state(to=None, message="Hi"), "to", "at least one recipient"),
        (modal_state(to="call me", message="Hi"), "to", "not a phone number"),
        (modal_state(to="+1 416 555 0123", message="Hi"), "to", "is in CA"),
        (
            modal_state(to="0170 1234567, 0170 1234568, 0170 1234569, 0170 1234560", message="Hi"),
            "to",
            "at most 3",
        ),
        (modal_state(to="0170 1234567", message=""), "message", "empty"),
        (modal_state(to="0170 1234567", message="   "), "message", "empty"),
        (modal_state(to="0170 1234567", message=None), "message", "empty"),
        (modal_state(to="0170 1234567", message="x" * 161), "message", "over the limit of 160"),
        (
            modal_state(to="0170 1234567", message="Hi", when=at(timedelta(0))),
            "when",
            "in the past",
        ),
        (
            modal_state(to="0170 1234567", message="Hi", when=at(-timedelta(days=1))),
            "when",
            "in the past",
        ),
        (
            modal_state(to="0170 1234567", message="Hi", when=at(timedelta(days=31))),
            "when",
            "30 days",
        ),
    ],
)
def test_one_bad_field(state: dict[str, Any], block: str, words: str) -> None:
    result = read_submission(state, rules())

    assert isinstance(result, dict)
    assert set(result) == {block}
    assert words in result[block]


@pytest.mark.parametrize("when", [True, "1764000000", -5, 2**40, 1.5])
def test_unreadable_time_is_an_error_on_when(when: Any) -> None:
    state = modal_state(to="0170 1234567", message="Hi")
    state["when"]["when"]["selected_date_time"] = when

    result = read_submission(state, rules())

    assert result == {"when": "Pick a date and time."}


def test_every_bad_field_at_once() -> None:
    result = read_submission(
        modal_state(to="0170 12", message="", when=at(-timedelta(hours=1))), rules()
    )

    assert isinstance(result, dict)
    assert set(result) == {"to", "message", "when"}


@pytest.mark.parametrize("values", [{}, {"to": "x"}, {"to": {"to": 5}}, {"message": []}])
def test_malformed_state_is_errors_not_a_crash(values: dict[str, Any]) -> None:
    result = read_submission(values, rules())

    assert isinstance(result, dict)
    assert "to" in result
