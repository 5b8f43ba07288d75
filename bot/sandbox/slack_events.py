"""What Slack's Events API delivers to the bot: ``event_callback`` bodies and retry headers.

Pure builders (apart from fresh ids and the current time). An event is wrapped by
:func:`event_callback`, encoded as JSON by :func:`event_body`, and signed like every other
request (``signed_headers(body, secret, content_type=JSON_CONTENT_TYPE)``). Slack delivers an
event again when the bot did not answer 2xx within 3 seconds; a redelivery carries the same
``event_id`` and the :func:`retry_headers`.

A person's message carries ``client_msg_id``; an edit, a deletion or a bot's message does not.
Pass ``ts`` (e.g. of a message stored with ``FakeSlack.post_as``) to refer to a real message.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

from bot.sandbox.slack_requests import APP_ID, BOT_ID, BOT_USER_ID, TEAM_ID, VERIFICATION_TOKEN

JSON_CONTENT_TYPE = "application/json"
RETRY_REASONS = frozenset(
    {"http_timeout", "too_many_redirects", "connection_failed", "ssl_error", "http_error",
     "unknown_error"}
)  # fmt: skip

_ts_counter = itertools.count(1)

Event = dict[str, Any]


def new_message_ts() -> str:
    """A fresh message ts (now, with a counter in the microseconds so that none repeats)."""
    return f"{int(time.time())}.{next(_ts_counter) % 1_000_000:06d}"


def new_event_id() -> str:
    """A fresh ``event_id`` shaped like Slack's (``Ev`` and ten characters)."""
    return "Ev" + secrets.token_hex(5).upper()


def event_callback(
    event: Mapping[str, Any], *, event_id: str | None = None, event_time: int | None = None
) -> Event:
    """The envelope Slack POSTs for one event (pass the same ``event_id`` for a redelivery)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + secrets.token_hex(12),
    }


def event_body(envelope: Mapping[str, Any]) -> str:
    """The request body of an event delivery: the envelope as JSON."""
    return json.dumps(envelope)


def retry_headers(num: int, reason: str = "http_timeout") -> dict[str, str]:
    """The headers of Slack's ``num``-th redelivery (1 to 3) of an event."""
    if not 1 <= num <= 3 or reason not in RETRY_REASONS:
        raise ValueError(f"Slack retries 1 to 3 times with a known reason, not {num} {reason!r}")
    return {"X-Slack-Retry-Num": str(num), "X-Slack-Retry-Reason": reason}


def _person_message(
    kind: str, text: str, user: str, channel: str, ts: str | None, thread_ts: str | None
) -> Event:
    stamp = ts or new_message_ts()
    event: Event = {
        "type": kind,
        "client_msg_id": str(uuid.uuid4()),
        "text": text,
        "user": user,
        "ts": stamp,
        "team": TEAM_ID,
        "channel": channel,
        "event_ts": stamp,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def app_mention_event(
    *,
    text: str,
    user: str = "U_ALICE",
    channel: str = "C_GENERAL",
    ts: str | None = None,
    thread_ts: str | None = None,
) -> Event:
    """A message that mentions the bot; ``text`` holds the mention, e.g. ``"<@U_BOT> hi"``."""
    return _person_message("app_mention", text, user, channel, ts, thread_ts)


def message_event(
    *,
    text: str,
    user: str = "U_ALICE",
    channel: str = "C_GENERAL",
    ts: str | None = None,
    thread_ts: str | None = None,
    channel_type: str = "channel",
) -> Event:
    """A person's new message (in the thread of ``thread_ts``)."""
    event = _person_message("message", text, user, channel, ts, thread_ts)
    event["channel_type"] = channel_type
    return event


def thread_broadcast_event(
    *,
    text: str,
    thread_ts: str,
    user: str = "U_ALICE",
    channel: str = "C_GENERAL",
    ts: str | None = None,
) -> Event:
    """A thread reply also sent to the channel ("Also send to #channel")."""
    event = message_event(text=text, user=user, channel=channel, ts=ts, thread_ts=thread_ts)
    event["subtype"] = "thread_broadcast"
    event["root"] = {"type": "message", "ts": thread_ts, "thread_ts": thread_ts, "team": TEAM_ID}
    return event


def message_changed_event(
    *,
    text: str,
    previous_text: str,
    ts: str,
    user: str = "U_ALICE",
    channel: str = "C_GENERAL",
    thread_ts: str | None = None,
) -> Event:
    """A person edited their message ``ts`` from ``previous_text`` to ``text``."""
    now = new_message_ts()
    before = _inner_message(previous_text, user, ts, thread_ts)
    after = {**_inner_message(text, user, ts, thread_ts), "edited": {"user": user, "ts": now}}
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "message": after,
        "previous_message": before,
        "channel": channel,
        "channel_type": "channel",
        "ts": now,
        "event_ts": now,
    }


def message_deleted_event(
    *,
    ts: str,
    previous_text: str = "",
    user: str = "U_ALICE",
    channel: str = "C_GENERAL",
    thread_ts: str | None = None,
) -> Event:
    """A person deleted their message ``ts``."""
    now = new_message_ts()
    return {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "deleted_ts": ts,
        "previous_message": _inner_message(previous_text, user, ts, thread_ts),
        "channel": channel,
        "channel_type": "channel",
        "ts": now,
        "event_ts": now,
    }


def _inner_message(text: str, user: str, ts: str, thread_ts: str | None) -> Event:
    message: Event = {"type": "message", "text": text, "user": user, "ts": ts, "team": TEAM_ID}
    if thread_ts is not None:
        message["thread_ts"] = thread_ts
    return message


def bot_message_event(
    *,
    text: str,
    bot_id: str = "B_OTHER",
    channel: str = "C_GENERAL",
    ts: str | None = None,
    thread_ts: str | None = None,
    own: bool = False,
) -> Event:
    """A message posted by an app: another one (subtype ``bot_message``) or, ``own``, this bot.

    This bot's own posts arrive as plain messages from its bot user that carry its ``bot_id``.
    """
    stamp = ts or new_message_ts()
    event: Event = {"type": "message", "text": text, "ts": stamp, "channel": channel}
    if own:
        event.update(user=BOT_USER_ID, bot_id=BOT_ID, app_id=APP_ID, team=TEAM_ID)
    else:
        event.update(subtype="bot_message", bot_id=bot_id, username="other-app")
    event.update(event_ts=stamp, channel_type="channel")
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def app_home_opened_event(
    *, user: str = "U_ALICE", tab: str = "home", view: Mapping[str, Any] | None = None
) -> Event:
    """``user`` opened the app's Home (``view``: the home view published before, if any)."""
    event: Event = {
        "type": "app_home_opened",
        "user": user,
        "channel": f"D_{user}",
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }
    if view is not None:
        event["view"] = dict(view)
    return event
