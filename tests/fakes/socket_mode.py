"""The fake Slack with Socket Mode: ``apps.connections.open`` and a websocket on the same port.

:class:`FakeSocketModeSlack` is :class:`~tests.fakes.slack.ScriptedSlack` plus what a Socket Mode
app talks to: ``apps.connections.open`` (called with the app-level ``xapp-…`` token) answers
``ws://127.0.0.1:<port>/link``; a client connecting there gets ``hello``; the test pushes
``slash_commands`` and ``interactive`` envelopes and waits for the client's acks; and it can
make the server end the connection (a ``disconnect`` message and/or closing the socket) or
refuse new connections for a while, to exercise the client's reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from bot.sandbox.slack_api import JsonDict
from bot.sandbox.slack_requests import APP_ID
from bot.sandbox.waiting import poll_until
from tests.fakes.slack import ScriptedSlack

APP_TOKEN = "xapp-1-A_SANDBOX-1-sandboxapptoken"
LINK_PATH = "/link"


@dataclass(frozen=True)
class Ack:
    """One message the client sent back: ``{"envelope_id": ..., "payload": {...}}``."""

    envelope_id: str | None
    payload: JsonDict | None
    raw: JsonDict
    connection: int


class FakeSocketModeSlack(ScriptedSlack):
    """ScriptedSlack that also serves Socket Mode connections on ``/link``."""

    def __init__(self, *, app_token: str = APP_TOKEN, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app_token = app_token
        self.handlers["apps.connections.open"] = self._apps_connections_open_ok
        self.acks: list[Ack] = []
        self.sent: list[JsonDict] = []  # every envelope pushed to a client
        self.connections = 0  # websocket connections accepted so far
        self.refused = 0  # websocket connections refused so far
        self.refusing = False
        self._sockets: dict[int, web.WebSocketResponse] = {}
        self._current: int | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def web_app(self) -> web.Application:
        """ScriptedSlack's routes plus the websocket ``/link``."""
        app = super().web_app()
        app.router.add_get(LINK_PATH, self._serve_link)
        return app

    async def close(self) -> None:
        """Close every open socket, then stop listening (idempotent)."""
        for socket in list(self._sockets.values()):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await socket.close()
        await super().close()

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:<port>/link``."""
        return f"ws://{self.origin.removeprefix('http://')}{LINK_PATH}"

    # --- Web API -----------------------------------------------------------------------------

    def token_ok(self, method: str, token: str) -> bool:
        """The app-level token opens connections; everything else needs the bot token."""
        if method == "apps.connections.open":
            return token == self.app_token
        return super().token_ok(method, token)

    def _apps_connections_open_ok(self, args: JsonDict) -> JsonDict:
        return {"url": self.ws_url}

    # --- steering ----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether a client is connected right now."""
        socket = self._socket()
        return socket is not None and not socket.closed

    async def wait_connected(
        self,
        connections: int = 1,
        timeout: float = 5.0,
    ) -> None:
        """Wait until ``connections`` connections were made and the latest is open."""
        await poll_until(
            lambda: self.connections >= connections and self.connected,
            timeout,
            lambda: (
                f"expected connection #{connections}; got {self.connections} "
                f"(open now: {self.connected}, refused: {self.refused})"
            ),
        )

    async def push(
        self, kind: str, payload: Mapping[str, Any], *, accepts_response_payload: bool = True
    ) -> str:
        """Send one envelope to the connected client; its ``envelope_id``."""
        socket = self._socket()
        if socket is None or socket.closed:
            raise RuntimeError("no Socket Mode client is connected")
        envelope_id = str(uuid.uuid4())
        envelope: JsonDict = {
            "envelope_id": envelope_id,
            "payload": dict(payload),
            "type": kind,
            "accepts_response_payload": accepts_response_payload,
        }
        if kind == "interactive":
            envelope["retry_attempt"] = 0
            envelope["retry_reason"] = ""
        self.sent.append(envelope)
        await socket.send_json(envelope)
        return envelope_id

    async def slash_command(self, fields: Mapping[str, str]) -> str:
        """Push a ``slash_commands`` envelope (``fields`` as from ``slash_command_fields``)."""
        return await self.push("slash_commands", fields)

    async def interactive(self, payload: Mapping[str, Any]) -> str:
        """Push an ``interactive`` envelope (a view_submission or block_actions payload)."""
        return await self.push("interactive", payload)

    def acks_for(self, envelope_id: str) -> list[Ack]:
        return [ack for ack in self.acks if ack.envelope_id == envelope_id]

    async def wait_for_ack(
        self,
        envelope_id: str,
        timeout: float = 5.0,
    ) -> Ack:
        """The client's ack of ``envelope_id`` (waits up to ``timeout`` seconds)."""
        await poll_until(
            lambda: bool(self.acks_for(envelope_id)),
            timeout,
            lambda: f"no ack for {envelope_id} within {timeout}s; acks: {self.acks}",
        )
        return self.acks_for(envelope_id)[0]

    async def request_disconnect(self, reason: str = "refresh_requested") -> None:
        """Warn the client, as Slack does before it rotates a connection (the client reconnects)."""
        socket = self._socket()
        if socket is not None and not socket.closed:
            await socket.send_json(
                {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
            )

    async def drop(self) -> None:
        """Close the current connection from the server side."""
        socket = self._socket()
        if socket is not None:
            await socket.close(code=1001, message=b"going away")

    # --- websocket ---------------------------------------------------------------------------

    def _socket(self) -> web.WebSocketResponse | None:
        return None if self._current is None else self._sockets.get(self._current)

    async def _serve_link(self, request: web.Request) -> web.StreamResponse:
        if self.refusing:
            self.refused += 1
            return web.Response(status=503, text="refusing connections")
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self.connections += 1
        number = self.connections
        self._sockets[number] = socket
        self._current = number
        try:
            await socket.send_json(_hello(len(self._sockets)))
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self._record_ack(message.data, number)
        finally:
            self._sockets.pop(number, None)
        return socket

    def _record_ack(self, data: str, connection: int) -> None:
        with contextlib.suppress(ValueError):
            raw = json.loads(data)
            if isinstance(raw, dict):
                payload = raw.get("payload")
                envelope_id = raw.get("envelope_id")
                self.acks.append(
                    Ack(
                        str(envelope_id) if envelope_id is not None else None,
                        payload if isinstance(payload, dict) else None,
                        raw,
                        connection,
                    )
                )


_build = itertools.count(1)


def _hello(connections: int) -> JsonDict:
    return {
        "type": "hello",
        "num_connections": connections,
        "debug_info": {
            "host": "applink-fake",
            "build_number": next(_build),
            "approximate_connection_time": 18060,
        },
        "connection_info": {"app_id": APP_ID},
    }


async def wait_closed(fake: FakeSocketModeSlack, timeout: float = 5.0) -> None:
    """Wait until no client is connected."""
    await poll_until(lambda: not fake.connected, timeout, lambda: "the client is still connected")
    await asyncio.sleep(0)
