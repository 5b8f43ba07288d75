"""What Slack sends to the bot: slash commands and interactivity payloads, encoded and signed.

Pure builders (apart from fresh random ``trigger_id``s and the current time when signing). The
shapes are those of the payloads Slack posts; bodies are encoded as Slack does in HTTP mode and
signed with the real v0 scheme, so
``AsyncApp.async_dispatch(AsyncBoltRequest(body=body, headers=signed_headers(body, secret)))``
accepts them. The workspace is a plain (non-Enterprise Grid) one, so no ``enterprise_*`` fields.
Events API deliveries are built by :mod:`bot.sandbox.slack_events`.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from typing import Any

from slack_sdk.signature import SignatureVerifier

TEAM_ID = "T_SANDBOX"
TEAM_DOMAIN = "sandbox"
APP_ID = "A_SANDBOX"
BOT_USER_ID = "U_BOT"
BOT_ID = "B_BOT"
VERIFICATION_TOKEN = "verification_token"  # noqa: S105 - Slack's deprecated field, unused
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def new_trigger_id() -> str:
    """A fresh, unique ``trigger_id`` shaped like Slack's."""
    return f"1337.42.{secrets.token_hex(16)}"


def slash_command_fields(
    *,
    text: str,
    user_id: str = "U_ALICE",
    channel_id: str = "C_GENERAL",
    response_url: str,
    trigger_id: str | None = None,
    team_id: str = "T_SANDBOX",
    command: str = "/sms",
    channel_name: str = "general",
    user_name: str = "alice",
) -> dict[str, str]:
    """The form fields of a slash command request, as Slack posts them."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }


def form_body(fields: Mapping[str, str]) -> str:
    """``application/x-www-form-urlencoded`` body of a slash command."""
    return urllib.parse.urlencode(fields)


def modal_state(
    *,
    to: str | None = None,
    message: str | None = None,
    sms_id: str | None = None,
    when: int | None = None,
) -> dict[str, Any]:
    """``view.state.values`` of our ``/sms`` modal as Slack reports it on submission.

    Block id and action id are both ``to``, ``message``, ``from``, ``when``; the ``from``
    block exists only when an extension is chosen (the modal shows it only for several).
    """
    values: dict[str, Any] = {
        "to": {"to": {"type": "plain_text_input", "value": to}},
        "message": {"message": {"type": "plain_text_input", "value": message}},
        "when": {"when": {"type": "datetimepicker", "selected_date_time": when}},
    }
    if sms_id is not None:
        values["from"] = {"from": {"type": "static_select", "selected_option": _option(sms_id)}}
    return values


def _option(value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": value, "emoji": True}, "value": value}


def view_submission_payload(
    *,
    view: Mapping[str, Any],
    state: Mapping[str, Any],
    user_id: str = "U_ALICE",
    view_id: str = "V1",
    trigger_id: str | None = None,
    team_id: str = "T_SANDBOX",
) -> dict[str, Any]:
    """A ``view_submission`` payload for ``view`` (as the bot opened it).

    ``state`` is the ``view.state.values`` mapping, e.g. from :func:`modal_state`.
    """
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user(user_id, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": submitted_view(view, state, view_id=view_id, team_id=team_id),
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def submitted_view(
    view: Mapping[str, Any], state: Mapping[str, Any], *, view_id: str, team_id: str
) -> dict[str, Any]:
    """``view`` as Slack echoes it in a submission: ids, hash and the entered ``state``."""
    return {
        "type": "modal",
        "private_metadata": "",
        "callback_id": "",
        "external_id": "",
        "clear_on_close": False,
        "notify_on_close": False,
        **view,
        "id": view_id,
        "team_id": team_id,
        "state": {"values": dict(state)},
        "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": APP_ID,
        "app_installed_team_id": team_id,
        "bot_id": BOT_ID,
    }


def block_actions_payload(
    *,
    action_id: str,
    value: str,
    user_id: str = "U_ALICE",
    channel_id: str = "C_GENERAL",
    message_ts: str = "1.1",
    block_id: str = "actions",
    response_url: str | None = None,
    trigger_id: str | None = None,
    thread_ts: str | None = None,
) -> dict[str, Any]:
    """A button click on a bot message (``thread_ts``: the message is a thread reply).

    Without ``response_url`` the payload has none, so ``respond()`` cannot reach real Slack.
    """
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, TEAM_ID),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": _container(channel_id, message_ts, thread_ts),
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_id},
        "message": _bot_message(message_ts, thread_ts),
        "state": {"values": {}},
        "actions": [_button_action(action_id, value, block_id)],
    }
    if response_url is not None:
        payload["response_url"] = response_url
    return payload


def home_actions_payload(
    *,
    action_id: str,
    value: str,
    view: Mapping[str, Any],
    view_id: str,
    user_id: str = "U_ALICE",
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """A button click on the home tab ``view`` (as the bot published it): a view container,
    no channel, no response_url."""
    return {
        "type": "block_actions",
        "user": _user(user_id, TEAM_ID),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {"type": "view", "view_id": view_id},
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": {**view, "id": view_id, "team_id": TEAM_ID, "state": {"values": {}}},
        "actions": [_button_action(action_id, value, "home")],
    }


def message_shortcut_payload(
    *,
    callback_id: str,
    text: str,
    message_ts: str,
    author: str = "U_BOB",
    user_id: str = "U_ALICE",
    channel_id: str = "C_GENERAL",
    thread_ts: str | None = None,
    response_url: str | None = None,
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """``user_id`` runs the message shortcut ``callback_id`` on ``author``'s message.

    ``thread_ts``: the message is a reply in that thread. Without ``response_url`` the payload
    has none, as in the block_actions builder.
    """
    payload: dict[str, Any] = {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": f"{time.time():.6f}",
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "user": _user(user_id, TEAM_ID),
        "channel": {"id": channel_id, "name": channel_id},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id or new_trigger_id(),
        "message_ts": message_ts,
        "message": _person_message(text, author, message_ts, thread_ts),
    }
    if response_url is not None:
        payload["response_url"] = response_url
    return payload


def _person_message(text: str, author: str, ts: str, thread_ts: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "client_msg_id": str(uuid.uuid4()),
        "type": "message",
        "text": text,
        "user": author,
        "ts": ts,
        "team": TEAM_ID,
    }
    if thread_ts is not None:
        message["thread_ts"] = thread_ts
    return message


def _container(channel_id: str, message_ts: str, thread_ts: str | None) -> dict[str, Any]:
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel_id,
        "is_ephemeral": False,
    }
    if thread_ts is not None:
        container["thread_ts"] = thread_ts
    return container


def _bot_message(ts: str, thread_ts: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "app_id": APP_ID,
        "ts": ts,
        "text": "",
    }
    if thread_ts is not None:
        message["thread_ts"] = thread_ts
    return message


def _button_action(action_id: str, value: str, block_id: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "block_id": block_id,
        "text": {"type": "plain_text", "text": action_id, "emoji": True},
        "value": value,
        "action_ts": f"{time.time():.6f}",
    }


def _user(user_id: str, team_id: str) -> dict[str, str]:
    name = user_id.removeprefix("U_").lower()
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


def interactive_body(payload: Mapping[str, Any]) -> str:
    """Form body of an interactivity request: ``payload=<url-quoted JSON>``."""
    return "payload=" + urllib.parse.quote(json.dumps(payload))


def signed_headers(
    body: str,
    signing_secret: str,
    *,
    timestamp: int | None = None,
    content_type: str = FORM_CONTENT_TYPE,
) -> dict[str, str]:
    """Headers Slack sends with ``body``: content type, timestamp and v0 signature."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=stamp, body=body)
    if signature is None:
        raise ValueError("slack_sdk produced no signature (empty signing secret?)")
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }
