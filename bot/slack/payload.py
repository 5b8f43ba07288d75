"""Slack's request payloads: their shape checked before any listener sees them, and what
the handlers read from them.

Bolt's own listener matchers index into the body (``body["actions"][0]["action_id"]``,
``body["view"]["type"]``) and a payload of the wrong shape makes them raise, which Bolt answers
with a 500. Slack always sends these fields with these types, so a body without them is not
from Slack: it gets a 400 and nothing happens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.core import Origin, OriginKind
from bot.slack.views import ModalMetadata

log = logging.getLogger(__name__)

#: Fields a slash command always carries; without trigger_id a retry could not be recognised.
_COMMAND_FIELDS = ("user_id", "channel_id", "trigger_id")


def payload_problem(body: object) -> str | None:
    """What is wrong with the shape of a Slack request body, or None."""
    if not isinstance(body, dict):
        return "the body is not an object"
    if body.get("command") is not None:
        return _command_problem(body)
    kind = body.get("type")
    if kind is not None and not isinstance(kind, str):
        return "type is not a string"
    for name in ("team", "channel", "container", "message", "enterprise"):
        if body.get(name) is not None and not isinstance(body[name], dict):
            return f"{name} is not an object"
    check = _BY_KIND.get(kind) if isinstance(kind, str) else None
    return check(body) if check is not None else None


def _user_problem(body: dict[str, Any]) -> str | None:
    return None if _has_id(body.get("user")) else "user is missing"


def _interaction_problem(body: dict[str, Any]) -> str | None:
    """block_actions, view_submission, view_closed: someone did it, on something."""
    if (problem := _user_problem(body)) is not None:
        return problem
    if body.get("type") == "block_actions":
        return _actions_problem(body.get("actions"))
    return _view_problem(body.get("view"))


def _has_id(value: object) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id"), str) and bool(value["id"])


def _command_problem(body: dict[str, Any]) -> str | None:
    if not isinstance(body.get("command"), str):
        return "command is not a string"
    if not isinstance(body.get("text", ""), str):
        return "text is not a string"
    for name in _COMMAND_FIELDS:
        value = body.get(name)
        if not isinstance(value, str) or not value:
            return f"{name} is missing"
    return None


def _actions_problem(actions: object) -> str | None:
    if not isinstance(actions, list) or not actions:
        return "actions is not a list"
    for action in actions:
        if not isinstance(action, dict) or not isinstance(action.get("action_id"), str):
            return "an action has no action_id"
        if not isinstance(action.get("block_id", ""), str):
            return "an action's block_id is not a string"
    return None


def _shortcut_problem(body: dict[str, Any]) -> str | None:
    """A message shortcut: who ran it on which message, where, with a trigger for the form."""
    if not _has_id(body.get("user")) or not _has_id(body.get("channel")):
        return "user or channel is missing"
    for name in ("callback_id", "trigger_id"):
        if not isinstance(body.get(name), str):
            return f"{name} is not a string"
    message = body.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("ts"), str):
        return "message is not an object with a ts"
    return None


def _event_problem(body: dict[str, Any]) -> str | None:
    event = body.get("event")
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return "event is not an object with a type"
    return None


def _view_problem(view: object) -> str | None:
    if not isinstance(view, dict):
        return "view is not an object"
    for name in ("type", "id", "callback_id"):
        if not isinstance(view.get(name), str):
            return f"view.{name} is not a string"
    if view.get("state") is not None and not isinstance(view["state"], dict):
        return "view.state is not an object"
    return None


_BY_KIND: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "block_actions": _interaction_problem,
    "view_submission": _interaction_problem,
    "view_closed": _interaction_problem,
    "message_action": _shortcut_problem,
    "event_callback": _event_problem,
}


class CheckedApp(AsyncApp):
    """The Bolt app, answering 400 to a body of the wrong shape before Bolt looks into it.

    (A Bolt middleware comes too late: Bolt builds every listener argument — indexing into
    the body — before it calls the first custom middleware.) Socket Mode dispatches here too.
    """

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        problem = payload_problem(req.body)
        if problem is None:
            return await super().async_dispatch(req)
        log.warning("rejected a malformed Slack payload", extra={"problem": problem})
        return BoltResponse(status=400, body={"error": "malformed request"})


# --- what the handlers read from a payload ---------------------------------------------------


def command_origin(body: dict[str, Any]) -> Origin:
    """The origin of a slash command; its trigger_id is the interaction's identity."""
    return Origin(
        interaction_key=f"command:{body.get('trigger_id', '')}",
        team_id=str(body.get("team_id", "")),
        user_id=str(body.get("user_id", "")),
        channel_id=str(body.get("channel_id", "")),
        response_url=body.get("response_url") or None,
    )


def action_origin(body: dict[str, Any]) -> Origin:
    """The origin of a button click (block_actions)."""
    channel = body.get("channel") or {}
    return Origin(
        interaction_key=f"action:{body.get('trigger_id', '')}",
        team_id=_id_of(body.get("team")),
        user_id=_id_of(body.get("user")),
        channel_id=_id_of(channel),
        response_url=body.get("response_url") or None,
    )


def view_origin(body: dict[str, Any], metadata: ModalMetadata) -> Origin:
    """The origin of a modal submission (what opened the modal is in its metadata); the view
    id is the interaction's identity."""
    view = body.get("view") or {}
    return Origin(
        interaction_key=f"view:{view.get('id')}",
        team_id=_id_of(body.get("team")),
        user_id=_id_of(body.get("user")),
        channel_id=metadata.channel_id,
        response_url=metadata.response_url,
        kind=metadata.origin,
        thread_ts=metadata.thread_ts,
    )


def shortcut_origin(body: dict[str, Any]) -> Origin:
    """The origin of "Send as SMS" on a message: its status goes into that message's thread
    (the thread it is a reply in, or the one it starts)."""
    message = body.get("message") or {}
    return Origin(
        interaction_key=f"shortcut:{body.get('trigger_id', '')}",
        team_id=_id_of(body.get("team")),
        user_id=_id_of(body.get("user")),
        channel_id=_id_of(body.get("channel")),
        response_url=body.get("response_url") or None,
        kind=OriginKind.SHORTCUT,
        thread_ts=str(message.get("thread_ts") or message.get("ts") or "") or None,
    )


def shortcut_text(body: dict[str, Any]) -> str:
    """The text of the message a shortcut was run on."""
    text = (body.get("message") or {}).get("text")
    return text if isinstance(text, str) else ""


def home_origin(body: dict[str, Any]) -> Origin:
    """The origin of a button on the home tab: what it starts answers in the person's DM
    (its channel is found when something is posted there)."""
    return Origin(
        interaction_key=f"action:{body.get('trigger_id', '')}",
        team_id=_id_of(body.get("team")),
        user_id=_id_of(body.get("user")),
        channel_id="",
        response_url=None,
        kind=OriginKind.HOME,
    )


def event_origin(body: dict[str, Any], thread_ts: str | None) -> Origin:
    """The origin of a reply written in a conversation thread (an Events API delivery).

    The message's ``client_msg_id`` is the interaction's identity (else the event id), so
    however often Slack delivers the event, the reply is sent at most once.
    """
    event = body.get("event") or {}
    key = event.get("client_msg_id") or body.get("event_id") or event.get("ts")
    return Origin(
        interaction_key=f"event:{key}",
        team_id=str(body.get("team_id") or event.get("team") or ""),
        user_id=str(event.get("user") or ""),
        channel_id=str(event.get("channel") or ""),
        response_url=None,
        kind=OriginKind.REPLY,
        thread_ts=thread_ts,
    )


def action_value(body: dict[str, Any]) -> str:
    """The value of the (first) button clicked."""
    return str((body.get("actions") or [{}])[0].get("value", ""))


def view_values(body: dict[str, Any]) -> dict[str, Any]:
    """``view.state.values`` of a submission (empty when missing)."""
    state = (body.get("view") or {}).get("state")
    values = state.get("values") if isinstance(state, dict) else None
    return values if isinstance(values, dict) else {}


def _id_of(value: object) -> str:
    return str(value.get("id", "")) if isinstance(value, dict) else ""
