"""The HTTP side: ``POST /slack/events``, ``GET /healthz``, ``GET /metrics``.

Requests are checked in this order: a body that is not UTF-8 (Slack never sends one) → 400; a
missing, wrong or stale signature → 401 and nothing happens; a signed body Bolt cannot read →
400; everything else goes to the Bolt app, whose listeners ack first and work afterwards.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.metrics import METRICS

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024  # Slack's largest payload (a view) is far below this
Health = Callable[[], Awaitable[bool]]


class SlackEndpoint:
    """Serves Slack's requests to the Bolt app and reports health."""

    def __init__(self, app: AsyncApp, signing_secret: str, connected: Health | None = None) -> None:
        self.app = app
        self.stopping = False
        self._connected = connected
        # Socket Mode runs without a signing secret (and serves no /slack/events).
        self._verifier = SignatureVerifier(signing_secret) if signing_secret else None

    async def events(self, request: web.Request) -> web.Response:
        """Slack's Request URL for commands and interactivity."""
        if self.stopping:
            return web.json_response({"error": "shutting down"}, status=503)
        started = time.perf_counter()
        try:
            body = (await request.read()).decode("utf-8")
        except UnicodeDecodeError:
            log.warning("rejected a request whose body is not UTF-8")
            return web.json_response({"error": "malformed request"}, status=400)
        if not self._signed(body, request):
            log.warning("rejected a request with a bad or stale signature")
            return web.json_response({"error": "invalid request"}, status=401)
        bolt_request = _bolt_request(body, request)
        if bolt_request is None:
            return web.json_response({"error": "malformed request"}, status=400)
        METRICS.requests.labels(kind=_kind(bolt_request.body)).inc()
        response = await self.app.async_dispatch(bolt_request)
        METRICS.ack_latency.observe(time.perf_counter() - started)
        return await to_aiohttp_response(response)

    def _signed(self, body: str, request: web.Request) -> bool:
        if self._verifier is None:
            return False
        try:
            return self._verifier.is_valid_request(body, dict(request.headers))
        except (ValueError, TypeError):  # a timestamp header that is not a number
            return False

    async def healthz(self, _: web.Request) -> web.Response:
        """200 while the bot takes work; 503 when stopping or Socket Mode is disconnected."""
        if self.stopping:
            return web.json_response({"status": "stopping"}, status=503)
        if self._connected is not None and not await self._connected():
            return web.json_response({"status": "disconnected"}, status=503)
        return web.json_response({"status": "ok"})

    async def metrics(self, _: web.Request) -> web.Response:
        body = METRICS.render()
        return web.Response(body=body, headers={"Content-Type": METRICS.content_type})


def _bolt_request(body: str, request: web.Request) -> AsyncBoltRequest | None:
    """Bolt's view of the request; None when the signed body is not a Slack payload."""
    try:
        bolt_request = AsyncBoltRequest(
            body=body, query=request.query_string, headers=dict(request.headers)
        )
    except (ValueError, TypeError, AttributeError, KeyError):
        return None
    parsed: Any = bolt_request.body
    if not isinstance(parsed, dict) or not (parsed.get("command") or parsed.get("type")):
        return None
    return bolt_request


def _kind(body: dict[str, Any]) -> str:
    return "command" if body.get("command") else str(body.get("type", "other"))[:32]


def build_web_app(endpoint: SlackEndpoint, *, slack_routes: bool = True) -> web.Application:
    """The aiohttp application; Socket Mode serves only health and metrics."""
    web_app = web.Application(client_max_size=MAX_BODY_BYTES)
    if slack_routes:
        web_app.router.add_post("/slack/events", endpoint.events)
    web_app.router.add_get("/healthz", endpoint.healthz)
    web_app.router.add_get("/metrics", endpoint.metrics)
    return web_app


async def start_site(
    web_app: web.Application,
    port: int,
    host: str = "0.0.0.0",  # noqa: S104
) -> web.AppRunner:
    """Listen on ``host:port``; the runner is cleaned up by the caller."""
    runner = web.AppRunner(web_app, access_log=None, handle_signals=False, shutdown_timeout=5)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port a site listens on (useful with port 0)."""
    return int(runner.addresses[0][1])
