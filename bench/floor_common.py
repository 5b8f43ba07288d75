"""What both floors share: configuration from the environment and the outbound calls.

Per quick send the bot makes one sipgate POST and, on Slack, ``users.info`` (cached after the
first), ``chat.postMessage`` (parent), ``chat.postMessage`` (thread reply) and ``chat.update``.
The floors make the same calls with one shared aiohttp session, the sipgate POST concurrently
with the parent message, as the bot does.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web


@dataclass(frozen=True)
class FloorConfig:
    port: int
    signing_secret: str
    bot_token: str
    slack_api_url: str
    sipgate_api_url: str
    sipgate_token_id: str
    sipgate_token: str

    @classmethod
    def from_env(cls) -> FloorConfig:
        env = os.environ
        return cls(
            port=int(env["PORT"]),
            signing_secret=env["SLACK_SIGNING_SECRET"],
            bot_token=env["SLACK_BOT_TOKEN"],
            slack_api_url=env["SLACK_API_URL"].rstrip("/") + "/",
            sipgate_api_url=env["SIPGATE_API_URL"].rstrip("/"),
            sipgate_token_id=env["SIPGATE_TOKEN_ID"],
            sipgate_token=env["SIPGATE_TOKEN"],
        )


def split_command(text: str) -> tuple[str, str]:
    """``+49151… message`` → (recipient, message); no validation (that is the bot's job)."""
    recipient, _, message = text.strip().partition(" ")
    return recipient, message


def parent_blocks(user: str, recipient: str, message: str, state: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"📱 SMS from <@{user}> to {recipient}\n&gt; {message}",
            },
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{recipient}: {state}"}},
    ]


class Outbound:
    """The bot's outbound calls for one quick send, on one shared session."""

    def __init__(self, config: FloorConfig, session: aiohttp.ClientSession) -> None:
        self.config = config
        self.session = session
        self._auth = aiohttp.BasicAuth(config.sipgate_token_id, config.sipgate_token)
        self._headers = {"Authorization": f"Bearer {config.bot_token}"}
        self._user_cache: dict[str, Any] = {}

    async def slack(self, method: str, **args: Any) -> dict[str, Any]:
        url = self.config.slack_api_url + method
        async with self.session.post(url, json=args, headers=self._headers) as response:
            result: dict[str, Any] = await response.json()
            return result

    async def sipgate(self, recipient: str, message: str) -> int:
        body = {"smsId": "s0", "recipient": recipient, "message": message}
        url = f"{self.config.sipgate_api_url}/sessions/sms"
        async with self.session.post(url, json=body, auth=self._auth) as response:
            await response.read()
            return response.status

    async def user(self, user_id: str) -> Any:
        if user_id not in self._user_cache:
            answer = await self.slack("users.info", user=user_id)
            self._user_cache[user_id] = answer.get("user")
        return self._user_cache[user_id]

    async def quick_send(self, user: str, channel: str, text: str) -> None:
        recipient, message = split_command(text)
        sending = asyncio.create_task(self.sipgate(recipient, message))
        await self.user(user)
        parent = await self.slack(
            "chat.postMessage",
            channel=channel,
            text=f"SMS to {recipient}: sending…",
            blocks=parent_blocks(user, recipient, message, "sending…"),
        )
        status = await sending
        state = "accepted by sipgate" if 200 <= status < 300 else f"failed ({status})"
        ts = parent.get("ts")
        await self.slack("chat.postMessage", channel=channel, thread_ts=ts, text=state)
        await self.slack(
            "chat.update",
            channel=channel,
            ts=ts,
            text=f"SMS to {recipient}: {state}",
            blocks=parent_blocks(user, recipient, message, state),
        )


def spawn(tasks: set[asyncio.Task[None]], work: Coroutine[Any, Any, None]) -> None:
    """Keep a reference to background work until it finishes."""
    task = asyncio.create_task(work)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def serve_until_signal(web_app: web.Application, port: int) -> None:
    """Serve ``web_app`` on 127.0.0.1:``port`` until SIGTERM or SIGINT."""
    runner = web.AppRunner(web_app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()
