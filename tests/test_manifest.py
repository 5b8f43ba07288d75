"""``manifest.yml`` creates the app in one paste: valid against Slack's manifest schema, and it
asks for what the bot uses (the home tab, the message shortcut, escaped mentions, the events
of conversation threads, the scopes)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from bot.slack.handlers import SHORTCUT_ID
from tests.helpers import ROOT, reference_file

#: Each event the bot listens to, and the bot scope Slack needs to deliver it (none: "").
EVENT_SCOPES = {
    "app_home_opened": "",
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    return loaded


def test_the_manifest_is_valid_against_slacks_schema(manifest: dict[str, Any]) -> None:
    schema = json.loads(reference_file("slack-app-manifest.schema.v1.json").read_text("utf-8"))
    Draft7Validator.check_schema(schema)
    problems = [error.message for error in Draft7Validator(schema).iter_errors(manifest)]
    assert problems == []


def test_conversation_events_are_subscribed_with_their_scopes(manifest: dict[str, Any]) -> None:
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert set(EVENT_SCOPES) <= set(events)
    assert set(EVENT_SCOPES.values()) - {""} <= set(scopes)


def test_the_home_tab_the_shortcut_and_escaped_mentions_are_on(manifest: dict[str, Any]) -> None:
    features = manifest["features"]
    assert features["app_home"]["home_tab_enabled"] is True
    (shortcut,) = features["shortcuts"]
    assert (shortcut["type"], shortcut["callback_id"]) == ("message", SHORTCUT_ID)
    (command,) = features["slash_commands"]
    assert command["should_escape"] is True
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "im:write", "files:write", "users.profile:read"} <= scopes


def test_every_request_url_is_the_bots_one_endpoint(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    urls = [command["url"] for command in manifest["features"]["slash_commands"]]
    urls += [settings["interactivity"]["request_url"]]
    urls += [settings["event_subscriptions"]["request_url"]]
    assert set(urls) == {"https://YOUR-HOST/slack/events"}
