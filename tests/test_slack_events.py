"""Events API deliveries and message shortcuts: their shapes, and Bolt routes them as Slack's."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import slack_events as se
from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack_requests import (
    BOT_ID,
    BOT_USER_ID,
    interactive_body,
    message_shortcut_payload,
    signed_headers,
)
from tests.fakes import ScriptedFakes
from tests.helpers import MakeBot

SECRET = "s"


@pytest.fixture
async def app() -> AsyncIterator[AsyncApp]:
    """A Bolt app whose Web API is the sandbox's Slack (Bolt authorizes each request with it)."""
    async with FakeSlack() as fake:
        client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
        yield AsyncApp(client=client, signing_secret=SECRET, process_before_response=True)


async def deliver(app: AsyncApp, envelope: dict[str, Any], **extra: str) -> BoltResponse:
    body = se.event_body(envelope)
    headers: dict[str, str | Sequence[str]] = {
        **signed_headers(body, SECRET, content_type=se.JSON_CONTENT_TYPE),
        **extra,
    }
    return await app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))


# --- shapes ------------------------------------------------------------------------------------


def test_event_callback_envelope() -> None:
    event = se.app_mention_event(text=f"<@{BOT_USER_ID}> hi", thread_ts="1.1")
    envelope = se.event_callback(event, event_time=1_800_000_000)
    assert envelope["type"] == "event_callback"
    assert envelope["event"] == event
    assert envelope["event_id"].startswith("Ev")
    assert envelope["event_time"] == 1_800_000_000
    assert envelope["authorizations"][0]["user_id"] == BOT_USER_ID
    assert se.event_callback(event)["event_id"] != envelope["event_id"]
    assert se.event_callback(event, event_id="Ev1")["event_id"] == "Ev1"  # a redelivery


def test_a_persons_messages_carry_a_client_msg_id() -> None:
    mention = se.app_mention_event(text=f"<@{BOT_USER_ID}> hi", thread_ts="1.1")
    message = se.message_event(text="hi", ts="2.2", thread_ts="1.1")
    broadcast = se.thread_broadcast_event(text="hi", thread_ts="1.1")
    for event in (mention, message, broadcast):
        assert event["client_msg_id"]
        assert (event["user"], event["channel"], event["team"]) == (
            "U_ALICE",
            "C_GENERAL",
            "T_SANDBOX",
        )
        assert event["thread_ts"] == "1.1"
        assert event["ts"] == event["event_ts"]
    assert mention["type"] == "app_mention"
    assert (message["type"], message["ts"]) == ("message", "2.2")
    assert "subtype" not in message
    assert broadcast["subtype"] == "thread_broadcast"
    assert broadcast["root"]["ts"] == "1.1"
    assert len({mention["client_msg_id"], message["client_msg_id"]}) == 2


def test_edits_deletions_and_bot_messages_carry_no_client_msg_id() -> None:
    edited = se.message_changed_event(text="new", previous_text="old", ts="2.2", thread_ts="1.1")
    deleted = se.message_deleted_event(ts="2.2", previous_text="old")
    other = se.bot_message_event(text="beep")
    own = se.bot_message_event(text="📤 SMS #1", own=True)
    assert (edited["subtype"], edited["message"]["text"]) == ("message_changed", "new")
    assert edited["previous_message"]["text"] == "old"
    assert edited["message"]["edited"]["user"] == "U_ALICE"
    assert edited["message"]["thread_ts"] == "1.1"
    assert (deleted["subtype"], deleted["deleted_ts"]) == ("message_deleted", "2.2")
    assert (other["subtype"], other["bot_id"]) == ("bot_message", "B_OTHER")
    assert "user" not in other
    assert (own["user"], own["bot_id"]) == (BOT_USER_ID, BOT_ID)
    assert "subtype" not in own
    for event in (edited, deleted, other, own):
        assert "client_msg_id" not in event


def test_app_home_opened() -> None:
    first = se.app_home_opened_event(user="U_BOB")
    again = se.app_home_opened_event(view={"type": "home", "id": "V1"})
    assert (first["type"], first["user"], first["tab"]) == ("app_home_opened", "U_BOB", "home")
    assert first["channel"] == "D_U_BOB"
    assert "view" not in first
    assert again["view"]["id"] == "V1"


def test_retry_headers() -> None:
    assert se.retry_headers(1) == {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert se.retry_headers(3, "http_error")["X-Slack-Retry-Num"] == "3"
    with pytest.raises(ValueError, match="1 to 3"):
        se.retry_headers(4)
    with pytest.raises(ValueError, match="known reason"):
        se.retry_headers(1, "bored")


def test_message_shortcut_payload() -> None:
    payload = message_shortcut_payload(
        callback_id="send_as_sms", text="Call <@U_BOB>", message_ts="3.3", thread_ts="1.1"
    )
    assert (payload["type"], payload["callback_id"]) == ("message_action", "send_as_sms")
    assert payload["trigger_id"].startswith("1337.42.")
    assert payload["message"]["text"] == "Call <@U_BOB>"
    assert (payload["message"]["ts"], payload["message"]["thread_ts"]) == ("3.3", "1.1")
    assert (payload["message"]["user"], payload["user"]["id"]) == ("U_BOB", "U_ALICE")
    assert payload["channel"]["id"] == "C_GENERAL"
    assert "response_url" not in payload


# --- Bolt routes them --------------------------------------------------------------------------


async def test_events_reach_their_bolt_listeners_with_the_retry_headers(app: AsyncApp) -> None:
    seen: list[tuple[str, Any]] = []

    @app.event("app_mention")
    async def mentioned(event: dict[str, Any], request: AsyncBoltRequest) -> None:
        seen.append((event["text"], request.headers.get("x-slack-retry-num")))

    @app.event("app_home_opened")
    async def home(event: dict[str, Any]) -> None:
        seen.append((event["tab"], None))

    mention = se.event_callback(se.app_mention_event(text=f"<@{BOT_USER_ID}> hi"))
    first = await deliver(app, mention)
    again = await deliver(app, mention, **se.retry_headers(1))
    opened = await deliver(app, se.event_callback(se.app_home_opened_event()))

    assert (first.status, again.status, opened.status) == (200, 200, 200)
    assert seen == [(f"<@{BOT_USER_ID}> hi", None), (f"<@{BOT_USER_ID}> hi", ["1"]), ("home", None)]


async def test_message_subtypes_reach_bolt_as_messages(app: AsyncApp) -> None:
    subtypes: list[str | None] = []

    @app.event("message")
    async def message(event: dict[str, Any]) -> None:
        subtypes.append(event.get("subtype"))

    for event in (
        se.message_event(text="hi"),
        se.thread_broadcast_event(text="hi", thread_ts="1.1"),
        se.message_changed_event(text="b", previous_text="a", ts="2.2"),
        se.message_deleted_event(ts="2.2"),
        se.bot_message_event(text="beep"),
    ):
        assert (await deliver(app, se.event_callback(event))).status == 200

    assert subtypes == [
        None,
        "thread_broadcast",
        "message_changed",
        "message_deleted",
        "bot_message",
    ]


async def test_a_message_shortcut_reaches_bolt(app: AsyncApp) -> None:
    seen: list[str] = []

    @app.shortcut("send_as_sms")
    async def shortcut(ack: AsyncAck, shortcut: dict[str, Any]) -> None:
        await ack()
        seen.append(shortcut["message"]["text"])

    body = interactive_body(
        message_shortcut_payload(callback_id="send_as_sms", text="hello", message_ts="3.3")
    )
    headers: dict[str, str | Sequence[str]] = dict(signed_headers(body, SECRET))
    response = await app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))

    assert response.status == 200
    assert seen == ["hello"]


async def test_the_sandbox_delivers_signed_events_and_shortcuts_to_the_real_bot(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()
    seen: list[Any] = []

    @bot.bot.app.event("pin_added")  # an event the bot itself does not handle
    async def pinned(event: dict[str, Any], request: AsyncBoltRequest) -> None:
        seen.append((event["item"]["message"]["text"], request.headers.get("x-slack-retry-reason")))

    @bot.bot.app.shortcut("sandbox_test_shortcut")
    async def shortcut(ack: AsyncAck, shortcut: dict[str, Any]) -> None:
        await ack()
        seen.append(json.dumps(shortcut["message"]))

    said = fakes.slack.post_as("U_ALICE", "C_GENERAL", f"<@{BOT_USER_ID}> Thanks")
    message = se.message_event(text=said.text, ts=said.ts)
    pin = {"type": "pin_added", "user": "U_ALICE", "channel_id": "C_GENERAL",
           "item": {"type": "message", "message": message}, "event_ts": said.ts}  # fmt: skip
    event = se.event_callback(pin)
    delivered = await bot.deliver(event, retry=2, reason="http_error")
    clicked = await bot.dispatch(bot.shortcut_body("sandbox_test_shortcut", said))

    assert (delivered.status, clicked.status) == (200, 200)
    assert seen[0] == (f"<@{BOT_USER_ID}> Thanks", ["http_error"])
    assert json.loads(seen[1])["ts"] == said.ts
