"""Slack's Web API on the wire, for the Slack stand-in: arguments in, objects and errors out.

Pure apart from reading a request body: how a call's arguments arrive (query, form or JSON,
token in a header or a field), what Slack refuses (too many blocks, a modal title over 24
characters) and the objects Slack answers with (a message, a view, a user).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.sandbox.slack_requests import APP_ID, BOT_ID, BOT_USER_ID, TEAM_ID

JsonDict = dict[str, Any]
Handler = Callable[[JsonDict], JsonDict]

TEAM_NAME = "Sandbox"
TEAM_URL = "https://sandbox.slack.com/"
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_UPDATE_TEXT = 4000
TS_BASE = 1_700_000_000


class ApiError(Exception):
    """Raised by a handler: the call answers ``{"ok": false, "error": error}``."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass(frozen=True)
class SlackUser:
    """A workspace member. ``tz_offset`` (seconds) defaults to ``tz``'s current offset.

    ``display_name`` ``None`` means the same as ``name``; ``""`` is a profile without one
    (Slack then shows the real name).
    """

    id: str
    name: str
    tz: str = "Europe/Berlin"
    tz_offset: int | None = None
    phone: str = ""
    display_name: str | None = None

    @property
    def real_name(self) -> str:
        return self.name.capitalize()

    def info(self) -> JsonDict:
        """The ``user`` object of ``users.info``."""
        now = datetime.now(ZoneInfo(self.tz))
        offset = now.utcoffset()
        current = int(offset.total_seconds()) if offset is not None else 0
        seconds = self.tz_offset if self.tz_offset is not None else current
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": now.tzname(),
            "tz_offset": seconds,
            "is_bot": False,
            "deleted": False,
            "profile": self.profile(),
        }

    def profile(self) -> JsonDict:
        """The ``profile`` object of ``users.profile.get`` (and of ``users.info``)."""
        display = self.name if self.display_name is None else self.display_name
        return {
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": display,
            "display_name_normalized": display,
            "first_name": self.real_name,
            "last_name": "",
            "title": "",
            "phone": self.phone,
            "skype": "",
            "status_text": "",
            "status_emoji": "",
            "team": TEAM_ID,
        }


DEFAULT_USERS: Mapping[str, SlackUser] = {
    user.id: user
    for user in (
        SlackUser("U_ALICE", "alice", phone="+49 151 12345678"),
        SlackUser("U_BOB", "bob", "America/New_York"),
        SlackUser("U_MALLORY", "mallory"),
    )
}


@dataclass(frozen=True)
class ApiCall:
    """One Web API call as received; ``at`` is ``time.monotonic()`` on arrival."""

    method: str
    args: JsonDict
    token: str | None
    at: float


@dataclass(frozen=True)
class ResponsePost:
    """One accepted POST to a response_url."""

    url: str
    body: JsonDict
    at: float


@dataclass(frozen=True)
class Message:
    """A message as it currently stands in a conversation; ``user`` is its author."""

    channel: str
    ts: str
    thread_ts: str | None
    text: str
    blocks: list[JsonDict] | None
    user: str
    edited: bool = False


@dataclass(frozen=True)
class Ephemeral:
    """A ``chat.postEphemeral`` message, visible only to ``user``."""

    channel: str
    ts: str
    user: str
    text: str
    blocks: list[JsonDict] | None
    thread_ts: str | None = None


@dataclass(frozen=True)
class OpenedView:
    """A view received by ``views.open`` (with its trigger) or ``views.update`` (without)."""

    trigger_id: str | None
    view: JsonDict
    view_id: str
    user: str | None = None
    method: str = "views.open"


def dm_channel(channel: str) -> str:
    """The conversation a ``channel`` argument names: a user id means the DM ``D_<user>``."""
    return f"D_{channel}" if channel.startswith(("U", "W")) else channel


def error_body(error: str) -> JsonDict:
    """Slack's error answer."""
    return {"ok": False, "error": error}


async def read_api_args(request: web.Request) -> tuple[JsonDict, str | None]:
    """A call's arguments (query, then form or JSON body) and its token."""
    args: JsonDict = dict(request.query)
    if request.content_type == "application/json":
        args.update(await _json_object(request, "invalid_json"))
    elif request.can_read_body:
        form = await request.post()
        args.update({key: value for key, value in form.items() if isinstance(value, str)})
    form_token = args.pop("token", None)
    return args, bearer_token(request.headers.get("Authorization")) or form_token


async def read_response_body(request: web.Request) -> JsonDict:
    """A response_url post: JSON, or a form with a JSON ``payload`` field."""
    if request.content_type == "application/json":
        body = await _json_object(request, "invalid_payload")
    else:
        body = loads_object(str((await request.post()).get("payload") or ""), "invalid_payload")
    if not (body.get("text") or body.get("blocks") or body.get("delete_original")):
        raise ApiError("no_text")
    return body


async def _json_object(request: web.Request, error: str) -> JsonDict:
    return loads_object(await request.text(), error)


def loads_object(raw: str, error: str) -> JsonDict:
    """A JSON object; ``ApiError(error)`` for anything else."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ApiError(error) from err
    if not isinstance(value, dict):
        raise ApiError(error)
    return value


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header."""
    if header and header.startswith("Bearer "):
        return header.removeprefix("Bearer ").strip() or None
    return None


def parse_blocks(raw: object) -> list[JsonDict] | None:
    """``blocks`` as sent (JSON string or list); ``invalid_blocks`` if malformed or too many."""
    if raw is None or raw == "":
        return None
    try:
        blocks = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as err:
        raise ApiError("invalid_blocks") from err
    if not isinstance(blocks, list) or not all(isinstance(block, dict) for block in blocks):
        raise ApiError("invalid_blocks")
    if len(blocks) > MAX_MESSAGE_BLOCKS:
        raise ApiError("invalid_blocks")
    return blocks or None


def message_content(args: JsonDict) -> tuple[str, list[JsonDict] | None]:
    """``text`` and ``blocks`` of a message; ``no_text`` when both are missing."""
    text = str(args.get("text") or "")
    blocks = parse_blocks(args.get("blocks"))
    if not text and not blocks:
        raise ApiError("no_text")
    return text, blocks


def updated_message(old: Message, args: JsonDict) -> Message:
    """``chat.update``: given fields replace the old ones, missing ones are kept."""
    text = str(args["text"]) if args.get("text") is not None else old.text
    blocks = parse_blocks(args["blocks"]) if "blocks" in args else old.blocks
    if not text and not blocks:
        raise ApiError("no_text")
    if len(text) > MAX_UPDATE_TEXT:
        raise ApiError("msg_too_long")
    return replace(old, text=text, blocks=blocks, edited=True)


def message_json(message: Message) -> JsonDict:
    """The ``message`` object Slack returns (a bot message carries the app's ids)."""
    body: JsonDict = {"type": "message", "user": message.user, "team": TEAM_ID}
    if message.user == BOT_USER_ID:
        body.update(bot_id=BOT_ID, app_id=APP_ID)
    body.update(text=message.text, ts=message.ts)
    if message.blocks:
        body["blocks"] = message.blocks
    if message.thread_ts:
        body["thread_ts"] = message.thread_ts
    if message.edited:
        body["edited"] = {"user": message.user, "ts": message.ts}
    return body


def parse_view(raw: object) -> JsonDict:
    """A view as sent (JSON string or object); ``invalid_arguments`` if Slack would refuse it."""
    view = loads_object(raw, "invalid_arguments") if isinstance(raw, str) else raw
    if not isinstance(view, dict) or view_problem(view):
        raise ApiError("invalid_arguments")
    return view


def view_problem(view: Mapping[str, Any]) -> str | None:
    """What Slack would reject in a modal or home tab (Block Kit limits), or ``None``."""
    title = view.get("title")
    title_text = str(title.get("text", "")) if isinstance(title, Mapping) else ""
    if view.get("type", "modal") == "modal" and not 0 < len(title_text) <= 24:
        return "title must be 1 to 24 characters"
    if len(str(view.get("private_metadata") or "")) > 3000:
        return "private_metadata is over 3000 characters"
    if len(view.get("blocks") or ()) > MAX_VIEW_BLOCKS:
        return "more than 100 blocks"
    return None


def view_json(view_id: str, view: Mapping[str, Any]) -> JsonDict:
    """The ``view`` object Slack returns from views.open / views.update / views.publish."""
    return {
        **view,
        "id": view_id,
        "team_id": TEAM_ID,
        "type": view.get("type", "modal"),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "external_id": view.get("external_id", ""),
        "state": {"values": {}},
        "hash": f"{TS_BASE}.{secrets.token_hex(4)}",
        "clear_on_close": bool(view.get("clear_on_close", False)),
        "notify_on_close": bool(view.get("notify_on_close", False)),
        "root_view_id": view_id,
        "previous_view_id": None,
        "app_id": APP_ID,
        "app_installed_team_id": TEAM_ID,
        "bot_id": BOT_ID,
    }


def describe_calls(calls: Sequence[ApiCall], width: int = 200) -> str:
    """One line per call, for assertion messages."""
    if not calls:
        return "  (none)"
    return "\n".join(f"  {call.method} {call.args!r}"[:width] for call in calls)
