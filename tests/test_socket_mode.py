"""Socket Mode for real: ``bot.app.serve`` against a fake Slack that speaks Socket Mode.

The bot connects with its app-level token, acks envelopes over the websocket, survives the
server rotating or dropping the connection, reports the connection state on ``/healthz``,
and stops cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

import bot.app
from bot.sandbox.harness import sandbox_environ
from bot.sandbox.slack_requests import modal_state, slash_command_fields, view_submission_payload
from bot.sandbox.waiting import poll_until, probe_until
from bot.settings import load_settings
from tests.fakes.sipgate import ScriptedSipgate
from tests.fakes.socket_mode import APP_TOKEN, FakeSocketModeSlack
from tests.helpers import free_port

PING_INTERVAL = 1.0  # the SDK's reconnect retries sleep this long; 10 s by default


class QuickPingHandler(AsyncSocketModeHandler):
    """The production handler, with a short ping interval so retries do not slow the test."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ping_interval"] = PING_INTERVAL
        super().__init__(*args, **kwargs)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSocketModeSlack]:
    async with FakeSocketModeSlack() as fake:
        yield fake


@pytest.fixture
async def sipgate() -> AsyncIterator[ScriptedSipgate]:
    async with ScriptedSipgate() as fake:
        yield fake


async def health(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(url) as response:
        return response.status


async def wait_health(session: aiohttp.ClientSession, url: str, status: int) -> None:
    """Wait until ``url`` answers ``status`` (-1: nothing listens)."""
    seen: list[int] = []

    async def answered() -> bool:
        try:
            seen.append(await health(session, url))
        except aiohttp.ClientConnectionError:
            seen.append(-1)
        return seen[-1] == status

    await probe_until(
        answered, 10, lambda: f"/healthz never answered {status}; saw {sorted(set(seen))}"
    )


def command(slack: FakeSocketModeSlack, text: str) -> dict[str, str]:
    return slash_command_fields(
        text=text,
        response_url=slack.new_response_url(user_id="U_ALICE", channel_id="C_GENERAL"),
        trigger_id=slack.new_trigger_id("U_ALICE"),
    )


async def quick_send(
    slack: FakeSocketModeSlack, sipgate: ScriptedSipgate, number: str, sends_before: int
) -> None:
    """Push a quick send; it is acked, one SMS reaches sipgate, the status thread appears."""
    threads_before = _thread_replies(slack)
    envelope_id = await slack.slash_command(command(slack, f"{number} Socket hello"))
    ack = await slack.wait_for_ack(envelope_id)
    assert ack.connection == slack.connections  # acked on the current connection
    posts = await sipgate.wait_for_posts(sends_before + 1)
    assert len(posts) == sends_before + 1
    await poll_until(
        lambda: _thread_replies(slack) > threads_before,
        5,
        lambda: f"no status thread reply:\n{slack.transcript()}",
    )


def _thread_replies(slack: FakeSocketModeSlack) -> int:
    return sum(
        1
        for message in slack.messages("C_GENERAL")
        if message.thread_ts and message.thread_ts != message.ts
    )


async def test_socket_mode_acks_reconnects_and_reports_health(
    slack: FakeSocketModeSlack,
    sipgate: ScriptedSipgate,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bot.app, "AsyncSocketModeHandler", QuickPingHandler)
    port = free_port()
    environ = sandbox_environ(
        slack,
        sipgate,
        SLACK_APP_TOKEN=APP_TOKEN,
        PORT=str(port),
        DATABASE_URL=f"sqlite:///{tmp_path}/bot.db",
    )
    del environ["SLACK_SIGNING_SECRET"]  # Socket Mode needs no signing secret
    settings = load_settings(environ)
    assert settings.socket_mode
    stop = asyncio.Event()
    served = asyncio.create_task(bot.app.serve(settings, stop=stop))
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        async with aiohttp.ClientSession() as session:
            await slack.wait_connected(1)
            await wait_health(session, url, 200)
            opened = slack.calls_to("apps.connections.open")
            assert [call.token for call in opened] == [APP_TOKEN]
            async with session.post(f"http://127.0.0.1:{port}/slack/events") as response:
                assert response.status == 404  # Socket Mode: no Request URL is served

            await quick_send(slack, sipgate, "+4915112345678", 0)

            # Slack rotates the connection: a "disconnect" warning, then a fresh connection.
            await slack.request_disconnect()
            await slack.wait_connected(2)
            assert len(slack.calls_to("apps.connections.open")) == 2
            await wait_health(session, url, 200)
            await quick_send(slack, sipgate, "+4915112345679", 1)

            # The connection drops and new ones are refused: /healthz says so, then recovers.
            slack.refusing = True
            await slack.drop()
            await wait_health(session, url, 503)
            await poll_until(lambda: slack.refused >= 1, 5, lambda: "no reconnect attempt")
            assert await health(session, url) == 503
            slack.refusing = False
            await slack.wait_connected(3, timeout=10)
            await wait_health(session, url, 200)
            await quick_send(slack, sipgate, "+4915112345670", 2)

            # A modal submission over the socket: errors come back in the ack's payload.
            modal = await slack.slash_command(command(slack, ""))
            await slack.wait_for_ack(modal)
            await slack.wait_for("views.open")
            payload = view_submission_payload(
                view=slack.views[-1].view,
                state=modal_state(to="not a number", message="hi"),
                view_id=slack.views[-1].view_id,
            )
            submitted = await slack.wait_for_ack(await slack.interactive(payload))
            assert submitted.payload is not None
            assert submitted.payload.get("response_action") == "errors"
            assert len(sipgate.sms_posts) == 3

            stop.set()
            assert await asyncio.wait_for(served, 15) == 0
            assert not slack.connected
            with pytest.raises(aiohttp.ClientConnectionError):
                await health(session, url)
    finally:
        stop.set()
        if not served.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(served, 15)
