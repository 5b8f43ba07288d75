"""Floor (ii): slack_bolt's AsyncApp whose /sms listener only acks and makes the bot's outbound
calls for a quick send, served by ``app.web_app()``. ``python -m bench.floor_bolt``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench.floor_common import FloorConfig, Outbound, serve_until_signal, split_command

Listener = Callable[[AsyncAck, dict[str, Any], AsyncWebClient], Awaitable[None]]


async def main() -> None:
    config = FloorConfig.from_env()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    web_app = bolt_app(config, session).web_app(path="/slack/events")
    web_app.router.add_get("/healthz", healthz)
    await serve_until_signal(web_app, config.port)
    await session.close()


def bolt_app(config: FloorConfig, session: aiohttp.ClientSession) -> AsyncApp:
    client = AsyncWebClient(token=config.bot_token, base_url=config.slack_api_url, session=session)
    app = AsyncApp(client=client, signing_secret=config.signing_secret)
    app.command("/sms")(sms_listener(Outbound(config, session)))
    return app


def sms_listener(outbound: Outbound) -> Listener:
    """Ack, then the quick send's calls; Bolt passes arguments by these parameter names."""

    async def sms(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        recipient, message = split_command(command["text"])
        sending = asyncio.create_task(outbound.sipgate(recipient, message))
        await outbound.user(command["user_id"])  # via the shared session, cached like the bot's
        await post_status(client, command["channel_id"], recipient, message, sending)

    return sms


async def post_status(
    client: AsyncWebClient, channel: str, recipient: str, message: str, sending: Awaitable[int]
) -> None:
    """The parent message, then (once sipgate answered) the thread reply and the update."""
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"&gt; {message}"}}]
    parent = await client.chat_postMessage(
        channel=channel, text=f"SMS to {recipient}: sending…", blocks=blocks
    )
    status = await sending
    state = "accepted by sipgate" if 200 <= status < 300 else f"failed ({status})"
    ts: str = parent["ts"]  # chat.postMessage raised unless it answered ok, with a ts
    await client.chat_postMessage(channel=channel, thread_ts=ts, text=state)
    await client.chat_update(channel=channel, ts=ts, text=state, blocks=blocks)


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


if __name__ == "__main__":
    asyncio.run(main())
