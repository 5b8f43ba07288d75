"""Serving a sandbox stand-in on 127.0.0.1 with a port the OS picks."""

from __future__ import annotations

from typing import Any

from aiohttp import web

HOST = "127.0.0.1"


async def listen_locally(app: web.Application, **runner_options: Any) -> tuple[web.AppRunner, int]:
    """Start ``app`` on a free loopback port; the runner (to clean up) and the port."""
    runner = web.AppRunner(app, access_log=None, **runner_options)
    await runner.setup()
    await web.TCPSite(runner, HOST, 0).start()
    return runner, int(runner.addresses[0][1])
