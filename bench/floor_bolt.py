"""Floor (ii): slack_bolt's AsyncApp whose /sms listener only acks and makes the bot's outbound
calls for a quick send, served by ``app.web_app()``. ``python -m bench.floor_bolt``."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench.floor_common import FloorConfig, Outbound, serve_until_signal, split_command


async def main() -> None:
    config = FloorConfig.from_env()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    client = AsyncWebClient(token=config.bot_token, base_url=config.slack_api_url, session=session)
    app = AsyncApp(client=client, signing_secret=config.signing_secret)
    outbound = Outbound(config, session)

    @app.command("/sms")
    async def sms(ack: Any, command: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        recipient, message = split_command(command["text"])
        user, channel = command["user_id"], command["channel_id"]
        sending = asyncio.create_task(outbound.sipgate(recipient, message))
        await outbound.user(user)  # via the shared session, cached like the bot's
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"&gt; {message}"}}]
        parent = await client.chat_postMessage(
            channel=channel, text=f"SMS to {recipient}: sending…", blocks=blocks
        )
        status = await sending
        state = "accepted by sipgate" if 200 <= status < 300 else f"failed ({status})"
        ts = parent.get("ts")
        await client.chat_postMessage(channel=channel, thread_ts=ts, text=state)
        await client.chat_update(channel=channel, ts=ts, text=state, blocks=blocks)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    web_app = app.web_app(path="/slack/events")
    web_app.router.add_get("/healthz", healthz)
    await serve_until_signal(web_app, config.port)
    await session.close()


if __name__ == "__main__":
    asyncio.run(main())
