"""Builders of what Slack sends to the bot: shapes match the reference samples, signing is real."""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any

from slack_sdk.signature import SignatureVerifier

from bot.sandbox import slack_requests as sr
from tests.helpers import reference_file

URL = "http://127.0.0.1:1/response/1"


def sample(name: str) -> dict[str, Any]:
    """A payload Slack sent, from the reference samples beside the repository."""
    path = reference_file("slack-payloads", name)
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def test_slash_command_has_the_real_field_set() -> None:
    fields = sr.slash_command_fields(text="+49 151 1 hi", response_url=URL)
    real = set(sample("slash_command.fields.json")) - {"enterprise_id", "enterprise_name"}
    assert real <= set(fields)
    assert set(fields) - real == {"api_app_id", "is_enterprise_install"}
    assert fields["command"] == "/sms"
    assert fields["user_id"] == "U_ALICE"
    assert fields["channel_id"] == "C_GENERAL"
    assert fields["response_url"] == URL
    assert all(isinstance(value, str) for value in fields.values())


def test_trigger_ids_are_fresh_unless_given() -> None:
    first = sr.slash_command_fields(text="", response_url=URL)["trigger_id"]
    second = sr.slash_command_fields(text="", response_url=URL)["trigger_id"]
    given = sr.slash_command_fields(text="", response_url=URL, trigger_id="1.2.3")["trigger_id"]
    assert first.startswith("1337.42.")
    assert first != second
    assert given == "1.2.3"


def test_form_body_round_trips() -> None:
    fields = sr.slash_command_fields(text="a b&c=d +49 ü", response_url=URL)
    assert dict(urllib.parse.parse_qsl(sr.form_body(fields), keep_blank_values=True)) == fields


def test_modal_state_shapes() -> None:
    state = sr.modal_state(to="+4915112345678", message="Hi", sms_id="s0", when=1_800_000_000)
    assert state["to"] == {"to": {"type": "plain_text_input", "value": "+4915112345678"}}
    assert state["message"]["message"]["value"] == "Hi"
    assert state["from"]["from"]["selected_option"]["value"] == "s0"
    assert state["from"]["from"]["selected_option"]["text"]["text"] == "s0"
    assert state["when"] == {
        "when": {"type": "datetimepicker", "selected_date_time": 1_800_000_000}
    }


def test_modal_state_empty_fields_and_no_from_block() -> None:
    state = sr.modal_state()
    assert set(state) == {"to", "message", "when"}
    assert state["to"]["to"]["value"] is None
    assert state["when"]["when"]["selected_date_time"] is None


def test_view_submission_has_the_real_shape() -> None:
    view = {
        "type": "modal",
        "callback_id": "sms_compose",
        "private_metadata": '{"c": 1}',
        "title": {"type": "plain_text", "text": "Send an SMS"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [],
    }
    payload = sr.view_submission_payload(view=view, state=sr.modal_state(to="x"), view_id="V7")
    real = sample("view_submission.plain_text_input.json")
    assert set(real) | {"is_enterprise_install", "enterprise"} == set(payload)
    assert set(real["view"]) <= set(payload["view"])
    assert payload["view"]["id"] == "V7"
    assert payload["view"]["callback_id"] == "sms_compose"
    assert payload["view"]["private_metadata"] == '{"c": 1}'
    assert payload["view"]["state"]["values"]["to"]["to"]["value"] == "x"
    assert payload["user"]["id"] == "U_ALICE"
    assert payload["response_urls"] == []


def test_block_actions_payload() -> None:
    payload = sr.block_actions_payload(
        action_id="cancel", value="42", message_ts="1700000000.000100", response_url=URL
    )
    assert payload["type"] == "block_actions"
    assert payload["actions"][0]["action_id"] == "cancel"
    assert payload["actions"][0]["value"] == "42"
    assert payload["container"]["message_ts"] == "1700000000.000100"
    assert payload["channel"]["id"] == "C_GENERAL"
    assert payload["response_url"] == URL


def test_block_actions_without_response_url_has_none_and_keeps_thread() -> None:
    payload = sr.block_actions_payload(action_id="cancel", value="1", thread_ts="1.0")
    assert "response_url" not in payload
    assert payload["container"]["thread_ts"] == "1.0"
    assert payload["message"]["thread_ts"] == "1.0"


def test_interactive_body_round_trips() -> None:
    payload = {"type": "block_actions", "text": "a&b=c +% ü"}
    body = sr.interactive_body(payload)
    assert body.startswith("payload=")
    assert json.loads(urllib.parse.parse_qs(body)["payload"][0]) == payload


def test_signed_headers_verify_with_the_secret_only() -> None:
    body = sr.form_body(sr.slash_command_fields(text="hi", response_url=URL))
    headers = sr.signed_headers(body, "s3cret")
    assert SignatureVerifier("s3cret").is_valid_request(body, headers)
    assert not SignatureVerifier("other").is_valid_request(body, headers)
    assert not SignatureVerifier("s3cret").is_valid_request(body + "x", headers)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_signed_headers_use_the_given_timestamp() -> None:
    old = int(time.time()) - 301
    headers = sr.signed_headers("a=b", "s", timestamp=old, content_type="application/json")
    assert headers["X-Slack-Request-Timestamp"] == str(old)
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Slack-Signature"].startswith("v0=")
    assert not SignatureVerifier("s").is_valid_request("a=b", headers)  # too old
