"""A fake sipgate REST v2 server on 127.0.0.1, for tests and the offline demo.

It records every request, answers discovery from its configured extensions, checks
``POST /sessions/sms`` bodies the way the real API is documented to (three non-blank strings
and an optional integer ``sendAt``; 415 without JSON) and otherwise plays back scripted
answers: a status, a slow answer, a hang or a dropped connection. Invalid requests are refused
before the script is consulted, so a scripted answer is always used by a request the real
sipgate could have accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from bot.core import SmsExtension
from bot.sandbox.local import HOST, listen_locally
from bot.sipgate import SEND_SMS_PATH, USERINFO_PATH

__all__ = ["DROP", "HANG", "FakeSipgate", "ReceivedRequest", "Scripted"]

_SEND_PATH = "/v2" + SEND_SMS_PATH
_USERINFO_PATH = "/v2" + USERINFO_PATH
_SEND_FIELDS = frozenset({"smsId", "recipient", "message", "sendAt"})
_SHUTDOWN_TIMEOUT = 1.0  # backstop: close() never waits longer for a stuck handler


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as it arrived; ``json`` is None when the body is not JSON."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    json: Any
    at: float


@dataclass(frozen=True)
class Scripted:
    """The answer to one ``POST /sessions/sms``.

    ``delay`` waits before answering (longer than the client timeout = a hang);
    ``drop`` closes the connection instead of answering.
    """

    status: int = 204
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False


HANG = Scripted(status=204, delay=3600)
DROP = Scripted(drop=True)


class FakeSipgate:
    """An aiohttp app on a free port that behaves like the parts of sipgate the bot uses."""

    def __init__(
        self,
        *,
        extensions: Sequence[SmsExtension] = (SmsExtension("s0", "SMS", "+4915799912345"),),
        user_id: str = "w0",
    ) -> None:
        self.extensions = list(extensions)
        self.user_id = user_id
        self.received: list[ReceivedRequest] = []
        self._accepted: list[ReceivedRequest] = []
        self._script: deque[Scripted] = deque()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1 with a port the OS picks."""
        self._closing.clear()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner, port = await listen_locally(
            app, handler_cancellation=True, shutdown_timeout=_SHUTDOWN_TIMEOUT
        )
        self._url = f"http://{HOST}:{port}/v2"

    async def close(self) -> None:
        """Stop promptly: waiting handlers give up and drop their connection."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def url(self) -> str:
        """Base URL to give ``SipgateClient`` (``http://127.0.0.1:<port>/v2``)."""
        if self._url is None:
            raise RuntimeError("FakeSipgate is not started")
        return self._url

    # -- what the demo and tests look at and steer -----------------------------------

    @property
    def sms(self) -> list[ReceivedRequest]:
        """SMS posts that were answered 2xx, i.e. that sipgate "accepted"."""
        return list(self._accepted)

    @property
    def sms_posts(self) -> list[ReceivedRequest]:
        """Every ``POST /sessions/sms`` that arrived, whatever the answer."""
        return [r for r in self.received if r.method == "POST" and r.path == _SEND_PATH]

    def script_send(self, *responses: Scripted) -> None:
        """Queue answers for the next valid SMS posts, first in first out; then 204."""
        self._script.extend(responses)

    # -- hooks a subclass overrides ------------------------------------------------------

    async def admit(self, request: web.Request) -> bool:
        """Whether to answer ``request`` at all (False: drop the connection)."""
        return not self._closing.is_set()

    def authorized(self, request: web.Request) -> bool:
        """Whether the request's credentials are accepted (any Authorization header is)."""
        return request.headers.get("Authorization") is not None

    # -- request handling ------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        received = await self._record(request)
        if not await self.admit(request):
            return _drop(request)
        if not self.authorized(request):
            return _json(401, {"error": "Invalid token supplied"})
        if request.path == _USERINFO_PATH:
            return self._only_get(request) or self._userinfo()
        if request.path == f"/v2/{self.user_id}/sms":
            return self._only_get(request) or self._sms_extensions()
        if request.path != _SEND_PATH:
            return _status(404)
        return await self._send(request, received) if request.method == "POST" else _status(405)

    async def _record(self, request: web.Request) -> ReceivedRequest:
        body = await request.read()
        received = ReceivedRequest(
            method=request.method,
            path=request.path,
            headers=request.headers,
            body=body,
            json=_json_or_none(body),
            at=time.monotonic(),
        )
        self.received.append(received)
        return received

    @staticmethod
    def _only_get(request: web.Request) -> web.Response | None:
        return None if request.method == "GET" else _status(405)

    def _userinfo(self) -> web.Response:
        return _json(
            200,
            {
                "sub": self.user_id,
                "domain": "sipgate.de",
                "masterSipId": "0000000",
                "locale": "de_DE",
            },
        )

    def _sms_extensions(self) -> web.Response:
        items = [{"id": e.id, "alias": e.alias, "callerId": e.caller_id} for e in self.extensions]
        return _json(200, {"items": items})

    async def _send(self, request: web.Request, received: ReceivedRequest) -> web.StreamResponse:
        if request.content_type != "application/json":
            return _status(415)
        if not _valid_send_body(received.json):
            return _status(400)
        if received.json["smsId"] not in {e.id for e in self.extensions}:
            return _status(403)
        scripted = self._script.popleft() if self._script else Scripted()
        return await self._play(request, received, scripted)

    async def _play(
        self, request: web.Request, received: ReceivedRequest, scripted: Scripted
    ) -> web.StreamResponse:
        """Answer as scripted; a 2xx answer that goes out counts as accepted."""
        if scripted.drop or not await self._pause(scripted.delay):
            return _drop(request)
        if 200 <= scripted.status < 300:
            self._accepted.append(received)
        return web.Response(status=scripted.status, body=scripted.body, headers=scripted.headers)

    async def _pause(self, delay: float) -> bool:
        """Sleep ``delay`` seconds; False if the fake started closing meanwhile."""
        if delay <= 0:
            return not self._closing.is_set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), delay)
        return not self._closing.is_set()


def _valid_send_body(data: Any) -> bool:
    """SendWebSmsRequest: three non-blank strings, optional int sendAt, nothing else.

    Blank fields are refused like sipgate does (400).
    """
    if not isinstance(data, dict) or not set(data) <= _SEND_FIELDS:
        return False
    texts = [data.get(key) for key in ("smsId", "recipient", "message")]
    if not all(isinstance(t, str) and t.strip() for t in texts):
        return False
    send_at = data.get("sendAt", 0)
    return isinstance(send_at, int) and not isinstance(send_at, bool)


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except (ValueError, RecursionError):
        return None


def _json(status: int, payload: object) -> web.Response:
    return web.json_response(payload, status=status)


def _status(status: int) -> web.Response:
    return web.Response(status=status)


def _drop(request: web.Request) -> web.Response:
    """Close the connection without answering; aiohttp then skips writing the response."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=204)
