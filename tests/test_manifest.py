"""``manifest.yml`` creates the app in one paste: valid against Slack's manifest schema, and it
asks for what the bot uses (the home tab, the message shortcut, escaped mentions, the scopes)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import yaml

from bot.slack.handlers import SHORTCUT_ID
from tests.helpers import ROOT, reference_file


def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_the_manifest_is_valid_against_slack_s_schema() -> None:
    schema = json.loads(reference_file("slack-app-manifest.schema.v1.json").read_text())

    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(manifest()), key=str)

    assert errors == []


def test_the_manifest_asks_for_what_the_bot_uses() -> None:
    found = manifest()
    features, settings = found["features"], found["settings"]
    assert features["app_home"]["home_tab_enabled"] is True
    (shortcut,) = features["shortcuts"]
    assert (shortcut["type"], shortcut["callback_id"]) == ("message", SHORTCUT_ID)
    (command,) = features["slash_commands"]
    assert command["should_escape"] is True
    scopes = set(found["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "im:write", "files:write", "users.profile:read"} <= scopes
    assert settings["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    urls = {command["url"], settings["interactivity"]["request_url"],
            settings["event_subscriptions"]["request_url"]}  # fmt: skip
    assert urls == {"https://YOUR-HOST/slack/events"}
