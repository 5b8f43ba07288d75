"""Floor (i): a bare aiohttp responder that verifies the signature, answers 200 and then makes
the bot's outbound calls for a quick send. No framework. ``python -m bench.floor_bare``."""

from __future__ import annotations

import asyncio
import urllib.parse

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from bench.floor_common import FloorConfig, Outbound, serve_until_signal, spawn


async def main() -> None:
    config = FloorConfig.from_env()
    verifier = SignatureVerifier(config.signing_secret)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    outbound = Outbound(config, session)
    tasks: set[asyncio.Task[None]] = set()

    async def events(request: web.Request) -> web.Response:
        body = await request.text()
        if not verifier.is_valid_request(body, dict(request.headers)):
            return web.json_response({"error": "invalid request"}, status=401)
        form = dict(urllib.parse.parse_qsl(body))
        spawn(tasks, outbound.quick_send(form["user_id"], form["channel_id"], form["text"]))
        return web.Response(status=200)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", healthz)
    await serve_until_signal(app, config.port)
    await session.close()


if __name__ == "__main__":
    asyncio.run(main())
