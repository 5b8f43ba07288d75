"""Malformed Slack payloads, signed, into the app and through the real HTTP endpoint.

Whatever arrives: a clean 4xx or an explanation to the requester, never a 500, never a send.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import GuardPolicy, SmsExtension
from bot.sandbox.harness import SIGNING_SECRET, Sandbox
from bot.sandbox.slack_events import JSON_CONTENT_TYPE, event_body, event_callback
from bot.sandbox.slack_requests import (
    form_body,
    interactive_body,
    message_shortcut_payload,
    modal_state,
    slash_command_fields,
    view_submission_payload,
)
from bot.slack.http import MAX_BODY_BYTES
from bot.slack.texts import STALE_FORM
from bot.slack.views import Submission, SubmissionRules, read_submission
from tests.fakes import ScriptedFakes
from tests.helpers import MakeBot, assert_settled

NUMBER = "+49 151 12345678"
BIG = "x" * 100_000


def command(fakes: ScriptedFakes, drop: str | None = None, **changes: str) -> str:
    fields = slash_command_fields(
        text=f"{NUMBER} hi", response_url=fakes.slack.new_response_url(user_id="U_ALICE")
    )
    fields.update(changes)
    if drop:
        del fields[drop]
    return form_body(fields)


def submission(
    bot: Sandbox, state: Any = None, *, drop: tuple[str, ...] = (), **view_changes: Any
) -> dict[str, Any]:
    """A view_submission of the bot's last modal, changed to be malformed."""
    values = modal_state(to=NUMBER, message="hi") if state is None else state
    payload = view_submission_payload(view=bot.slack.views[-1].view, state=values)
    payload["view"].update(view_changes)
    for name in drop:
        payload["view"].pop(name, None)
    return payload


def errors_of(body: str) -> dict[str, str]:
    answer = json.loads(body)
    assert answer["response_action"] == "errors"
    errors: dict[str, str] = answer["errors"]
    return errors


@pytest.fixture
async def bot(make_bot: MakeBot, fakes: ScriptedFakes) -> Sandbox:
    """A bot whose modal is open (so submissions have a view to refer to)."""
    started = await make_bot(run_scheduler=False)
    await started.command("")
    await fakes.slack.wait_for("views.open")
    return started


async def assert_nothing_sent(bot: Sandbox, fakes: ScriptedFakes) -> None:
    """Once the bot finished what the request started, no SMS went out."""
    await assert_settled(bot, lambda: not fakes.sipgate.sms_posts, "an SMS was sent")


@pytest.mark.parametrize("field", ["user_id", "channel_id", "trigger_id"])
async def test_command_missing_a_field_is_400(
    bot: Sandbox, fakes: ScriptedFakes, field: str
) -> None:
    response = await bot.dispatch(command(fakes, drop=field))

    assert response.status == 400
    await assert_nothing_sent(bot, fakes)
    assert await bot.ledger.list_for_user("U_ALICE") == []


async def test_command_with_100kb_text_is_explained(bot: Sandbox, fakes: ScriptedFakes) -> None:
    response = await bot.dispatch(command(fakes, text=f"{NUMBER} {BIG}"))

    assert response.status == 200
    (answer,) = await fakes.slack.wait_for_responses(1)
    assert "over the limit of 1600" in str(answer.body["text"])
    await assert_nothing_sent(bot, fakes)


@pytest.mark.parametrize(
    ("state", "field", "words"),
    [
        ({}, "to", "recipient"),  # no fields at all
        ({"nonsense": {"x": {"value": NUMBER}}}, "to", "recipient"),  # unknown block ids
        ({**modal_state(to=NUMBER), "message": {"message": {"value": ["hi"]}}}, "message", ""),
        ({**modal_state(to=NUMBER, message="hi"), "when": {"when": {"selected_date_time": "soon"}}},
         "when", "Pick a date and time"),
        (modal_state(to=NUMBER, message=BIG), "message", "over the limit"),
        (modal_state(to=BIG, message="hi"), "to", ""),
        ({"to": "not a block", "message": [], "when": None}, "to", ""),
    ],
    ids=["empty", "unknown-blocks", "text-as-list", "time-as-string", "100kb-message",
         "100kb-to", "wrong-types"],
)  # fmt: skip
async def test_bad_state_is_answered_with_field_errors(
    bot: Sandbox, fakes: ScriptedFakes, state: dict[str, Any], field: str, words: str
) -> None:
    response = await bot.dispatch(interactive_body(submission(bot, state)))

    assert response.status == 200
    errors = errors_of(response.body)
    assert field in errors
    assert words in errors[field]
    await assert_nothing_sent(bot, fakes)


async def test_view_without_state_is_answered_with_errors(
    bot: Sandbox, fakes: ScriptedFakes
) -> None:
    response = await bot.dispatch(interactive_body(submission(bot, drop=("state",))))

    assert response.status == 200
    assert "to" in errors_of(response.body)
    await assert_nothing_sent(bot, fakes)


@pytest.mark.parametrize(
    "metadata", ["{not json", "[1, 2]", '"C_GENERAL"', '{"channel": 7}', ""],
    ids=["not-json", "json-list", "json-string", "channel-not-a-string", "empty"],
)  # fmt: skip
async def test_tampered_private_metadata_is_a_stale_form(
    bot: Sandbox, fakes: ScriptedFakes, metadata: str
) -> None:
    response = await bot.dispatch(interactive_body(submission(bot, private_metadata=metadata)))

    assert response.status == 200
    assert errors_of(response.body) == {"to": STALE_FORM}
    await assert_nothing_sent(bot, fakes)


def _shapes(bot: Sandbox) -> dict[str, dict[str, Any]]:
    good = submission(bot)
    return {
        "no-user": {k: v for k, v in good.items() if k != "user"},
        "user-as-string": {**good, "user": "U_ALICE"},
        "team-as-string": {**good, "team": "T_SANDBOX"},
        "view-as-string": {**good, "view": "V1"},
        "view-without-type": submission(bot, drop=("type",)),
        "view-without-id": submission(bot, drop=("id",)),
        "state-as-list": submission(bot, state=None) | {"view": {**good["view"], "state": []}},
        "actions-as-object": {"type": "block_actions", "user": {"id": "U_ALICE"}, "actions": {}},
        "actions-of-strings": {
            "type": "block_actions", "user": {"id": "U_ALICE"}, "actions": ["cancel_request"]
        },
        "actions-empty": {"type": "block_actions", "user": {"id": "U_ALICE"}, "actions": []},
        "action-without-user": {
            "type": "block_actions",
            "actions": [{"action_id": "cancel_request", "value": "1"}],
        },
        "type-as-number": {"type": 7},
        "channel-as-list": {**good, "type": "block_actions", "channel": [],
                            "actions": [{"action_id": "cancel_request", "value": "1"}]},
    }  # fmt: skip


SHAPES = [
    "no-user", "user-as-string", "team-as-string", "view-as-string", "view-without-type",
    "view-without-id", "state-as-list", "actions-as-object", "actions-of-strings",
    "actions-empty", "action-without-user", "type-as-number", "channel-as-list",
]  # fmt: skip


@pytest.mark.parametrize("shape", SHAPES)
async def test_payload_of_the_wrong_shape_is_400(
    bot: Sandbox, fakes: ScriptedFakes, shape: str
) -> None:
    response = await bot.dispatch(interactive_body(_shapes(bot)[shape]))

    assert response.status == 400
    await assert_nothing_sent(bot, fakes)


def _shortcut(**changes: Any) -> dict[str, Any]:
    payload = message_shortcut_payload(callback_id="send_as_sms", text="hi", message_ts="1.1")
    return {k: v for k, v in {**payload, **changes}.items() if v is not None}


SHORTCUT_SHAPES = {
    "shortcut-without-message": _shortcut(message=None),
    "shortcut-message-as-string": _shortcut(message="hi"),
    "shortcut-without-channel": _shortcut(channel=None),
    "shortcut-without-trigger": _shortcut(trigger_id=None),
    "shortcut-callback-as-number": _shortcut(callback_id=7),
    "shortcut-without-user": _shortcut(user=None),
}


@pytest.mark.parametrize("shape", sorted(SHORTCUT_SHAPES))
async def test_a_message_shortcut_of_the_wrong_shape_is_400(
    bot: Sandbox, fakes: ScriptedFakes, shape: str
) -> None:
    opened = len(fakes.slack.views)

    response = await bot.dispatch(interactive_body(SHORTCUT_SHAPES[shape]))

    assert response.status == 400
    await assert_nothing_sent(bot, fakes)
    assert len(fakes.slack.views) == opened


@pytest.mark.parametrize("event", ["app_home_opened", 7, {"user": "U_ALICE"}, {"type": 7}])
async def test_an_event_of_the_wrong_shape_is_400(
    bot: Sandbox, fakes: ScriptedFakes, event: object
) -> None:
    envelope = {**event_callback({"type": "app_home_opened"}), "event": event}

    response = await bot.dispatch(event_body(envelope), content_type=JSON_CONTENT_TYPE)

    assert response.status == 400
    await assert_settled(bot, lambda: not fakes.slack.published, "a home tab was published")


async def test_unknown_callback_id_and_type_are_4xx(bot: Sandbox, fakes: ScriptedFakes) -> None:
    for payload in (submission(bot, callback_id="something_else"), {"type": "shortcut"}):
        response = await bot.dispatch(interactive_body(payload))
        assert 400 <= response.status < 500
    await assert_nothing_sent(bot, fakes)


@pytest.mark.parametrize("value", ["abc", "", "#", "1e3", "-1"])
async def test_cancel_button_with_a_bad_value_is_explained(
    bot: Sandbox, fakes: ScriptedFakes, value: str
) -> None:
    response = await bot.dispatch(bot.click_body("cancel_request", value))

    assert response.status == 200
    (answer,) = await fakes.slack.wait_for_responses(1)
    assert "is not an SMS number like #12" in str(answer.body["text"])


# --- through the real HTTP endpoint ----------------------------------------------------------


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_malformed_payloads_over_http_are_4xx(
    bot: Sandbox, fakes: ScriptedFakes, http: aiohttp.ClientSession
) -> None:
    await bot.serve_http()
    shapes = _shapes(bot)
    bodies = [
        command(fakes, drop="trigger_id"),
        interactive_body(shapes["view-without-type"]),
        interactive_body(shapes["actions-of-strings"]),
        interactive_body(shapes["user-as-string"]),
        "payload=" + urllib.parse.quote("[1, 2]"),
        "payload=" + urllib.parse.quote('"text"'),
        "payload=",
        "",
        "text=%ZZ&command=",
    ]
    statuses = []
    for body in bodies:
        async with await bot.post(http, body) as response:
            statuses.append(response.status)
            assert "Traceback" not in await response.text()

    assert all(400 <= status < 500 for status in statuses), statuses
    await assert_nothing_sent(bot, fakes)


def signed_bytes(body: bytes, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """Slack's v0 signature over raw bytes (slack_sdk's signer only takes text)."""
    timestamp = str(int(time.time()))
    mac = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={mac.hexdigest()}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
async def test_a_body_that_is_not_utf8_is_400(
    bot: Sandbox, fakes: ScriptedFakes, http: aiohttp.ClientSession, signed: bool
) -> None:
    await bot.serve_http()
    body = b"command=%2Fsms&text=\xff\xfe+0151+12345678+hi&user_id=U_ALICE&trigger_id=T1"
    headers = (
        signed_bytes(body) if signed else {"Content-Type": "application/x-www-form-urlencoded"}
    )

    async with http.post(f"{bot.url}/slack/events", data=body, headers=headers) as response:
        assert response.status == 400
        assert "Traceback" not in await response.text()
    await assert_nothing_sent(bot, fakes)


async def test_submission_with_bad_fields_over_http_gets_errors(
    bot: Sandbox, fakes: ScriptedFakes, http: aiohttp.ClientSession
) -> None:
    await bot.serve_http()
    state = {**modal_state(to=NUMBER, message="hi"), "when": {"when": {"selected_date_time": "x"}}}

    async with await bot.post(http, interactive_body(submission(bot, state))) as response:
        assert response.status == 200
        assert "when" in (await response.json())["errors"]
    await assert_nothing_sent(bot, fakes)


async def test_body_over_the_size_bound_is_413(
    bot: Sandbox, fakes: ScriptedFakes, http: aiohttp.ClientSession
) -> None:
    await bot.serve_http()
    body = command(fakes, text=NUMBER + " " + "y" * MAX_BODY_BYTES)

    async with await bot.post(http, body) as response:
        assert response.status == 413
    await assert_nothing_sent(bot, fakes)
    assert fakes.slack.responses == []


# --- read_submission never raises ---------------------------------------------------------------

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)  # fmt: skip
FIELD = st.sampled_from(["to", "message", "from", "when", "value", "selected_date_time",
                         "selected_option", "other"])  # fmt: skip
ELEMENT = st.dictionaries(FIELD, JSONISH | st.text(max_size=40), max_size=4)
STATE = st.dictionaries(FIELD, st.dictionaries(FIELD, ELEMENT | JSONISH, max_size=3) | JSONISH,
                        max_size=5)  # fmt: skip
RULES = [
    SubmissionRules(
        "DE",
        GuardPolicy(frozenset({"DE"}), 10, 1600, 30),
        extensions,
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    for extensions in ((), (SmsExtension("s0", "", ""),),
                       (SmsExtension("s0", "A", ""), SmsExtension("s1", "B", "")))
]  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(STATE, st.sampled_from(RULES))
def test_read_submission_never_raises(state: dict[str, Any], rules: SubmissionRules) -> None:
    result = read_submission(state, rules)
    assert isinstance(result, Submission | dict)
    if isinstance(result, dict):
        assert result
        assert all(isinstance(text, str) for text in result.values())
