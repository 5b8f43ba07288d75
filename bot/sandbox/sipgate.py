"""A fake sipgate REST v2 server on 127.0.0.1, for tests and the offline demo.

It records every request and answers the calls the bot makes: discovery (who am I, which SMS
extensions), sending an SMS, the SMS history (incoming SMS are added with
:meth:`FakeSipgate.receive_sms`; accepted sends appear as outgoing entries), contacts, account
details and the balance. Each call needs one of its scopes (``all`` grants every one); a call
without a granted scope is answered 403.

``POST /sessions/sms`` bodies are checked the way the real API documents them (three non-blank
strings and an optional integer ``sendAt``; 415 without JSON); a valid one plays the next
scripted answer: a status, a slow answer, a hang or a dropped connection. Invalid requests are
refused before the script is consulted, so a scripted answer is always used by a request the
real sipgate could have accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from aiohttp import web

from bot.core import Clock, SmsExtension
from bot.sandbox.local import LocalServer
from bot.sandbox.sipgate_account import (
    CONTACTS_DEFAULT_LIMIT,
    contacts_page,
    default_account,
    default_balance,
)
from bot.sandbox.sipgate_history import QueryError, SmsHistory, iso, read_query
from bot.sipgate import SEND_SMS_PATH, USERINFO_PATH

__all__ = ["DROP", "HANG", "FakeSipgate", "ReceivedRequest", "Scripted"]

SEND_PATH = "/v2" + SEND_SMS_PATH
HISTORY_PATH = "/v2/history"
_USERINFO_PATH = "/v2" + USERINFO_PATH
_SEND_FIELDS = frozenset({"smsId", "recipient", "message", "sendAt"})
_SHUTDOWN_TIMEOUT = 1.0  # backstop: close() never waits longer for a stuck handler

Answer = Callable[[web.Request, "ReceivedRequest"], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as it arrived; ``json`` is None when the body is not JSON.

    ``query`` holds the decoded query parameters in order, repeated keys repeated.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    json: Any
    at: float
    query: tuple[tuple[str, str], ...] = ()

    def param(self, name: str) -> list[str]:
        """Every value of query parameter ``name``."""
        return [value for key, value in self.query if key == name]


@dataclass(frozen=True)
class Scripted:
    """A scripted answer to one request.

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


@dataclass(frozen=True)
class _Route:
    method: str
    scopes: frozenset[str]  # any one of them suffices ("all" always does); empty: none needed
    answer: Answer


def _scopes(*names: str) -> frozenset[str]:
    return frozenset(names)


class FakeSipgate(LocalServer):
    """An aiohttp app on a free port that behaves like the parts of sipgate the bot uses."""

    runner_options: ClassVar[dict[str, Any]] = {
        "handler_cancellation": True,
        "shutdown_timeout": _SHUTDOWN_TIMEOUT,
    }

    def __init__(
        self,
        *,
        extensions: Sequence[SmsExtension] = (SmsExtension("s0", "SMS", "+4915799912345"),),
        user_id: str = "w0",
    ) -> None:
        super().__init__()
        self.extensions = list(extensions)
        self.user_id = user_id
        self.scopes: set[str] = {"all"}  # granted to the token the bot uses
        self.clock: Clock = lambda: datetime.now(UTC)  # when SMS arrive and are sent
        self.history = SmsHistory()
        self.contacts: dict[str, str] = {}  # E.164 number → contact name
        self.account = default_account()
        self.balance = default_balance()
        self.received: list[ReceivedRequest] = []
        self._accepted: list[ReceivedRequest] = []
        self._script: deque[Scripted] = deque()
        self._closing = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------

    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def start(self) -> None:
        """Listen on 127.0.0.1 with a port the OS picks."""
        self._closing.clear()
        await super().start()

    async def close(self) -> None:
        """Stop promptly: waiting handlers give up and drop their connection."""
        self._closing.set()
        await super().close()

    @property
    def url(self) -> str:
        """Base URL to give ``SipgateClient`` (``http://127.0.0.1:<port>/v2``)."""
        return f"{self.origin}/v2"

    # -- what the demo and tests look at and steer -----------------------------------

    @property
    def sms(self) -> list[ReceivedRequest]:
        """SMS posts that were answered 2xx, i.e. that sipgate "accepted"."""
        return list(self._accepted)

    @property
    def sms_posts(self) -> list[ReceivedRequest]:
        """Every ``POST /sessions/sms`` that arrived, whatever the answer."""
        return [r for r in self.received if r.method == "POST" and r.path == SEND_PATH]

    @property
    def history_requests(self) -> list[ReceivedRequest]:
        """Every ``GET /history`` that arrived, whatever the answer."""
        return [r for r in self.received if r.path == HISTORY_PATH]

    def script_send(self, *responses: Scripted) -> None:
        """Queue answers for the next valid SMS posts, first in first out; then 204."""
        self._script.extend(responses)

    def receive_sms(
        self, source: str, text: str, at: datetime | None = None, *, sms_id: str | None = None
    ) -> dict[str, Any]:
        """An SMS from ``source`` arrives (at ``at``, default now); its history entry."""
        extension = self._extension(sms_id)
        return self.history.add(
            incoming=True,
            source=source,
            target=extension.caller_id,
            text=text,
            at=at or self.clock(),
            connection_id=extension.id,
        )

    def _extension(self, sms_id: str | None) -> SmsExtension:
        wanted = sms_id or self.extensions[0].id
        return next(e for e in self.extensions if e.id == wanted)

    # -- hooks a subclass overrides ------------------------------------------------------

    async def admit(self, request: web.Request) -> bool:
        """Whether to answer ``request`` at all (False: drop the connection)."""
        return not self._closing.is_set()

    def authorized(self, request: web.Request) -> bool:
        """Whether the request's credentials are accepted (any Authorization header is)."""
        return request.headers.get("Authorization") is not None

    def scripted_read(self, name: str) -> Scripted | None:
        """A scripted answer to the next read of ``name`` ("history", "balance", …), if any."""
        return None

    def next_send_answer(self) -> Scripted:
        """The answer to the next valid SMS post: the next scripted one, else 204."""
        return self._script.popleft() if self._script else Scripted()

    # -- request handling ------------------------------------------------------------

    def _routes(self) -> dict[str, _Route]:
        return {
            _USERINFO_PATH: _Route("GET", _scopes(), self._userinfo),
            f"/v2/{self.user_id}/sms": _Route("GET", _scopes("sms:read"), self._sms_extensions),
            SEND_PATH: _Route("POST", _scopes("sessions:write", "sessions:sms:write"), self._send),
            HISTORY_PATH: _Route("GET", _scopes("history:read"), self._history),
            "/v2/contacts": _Route("GET", _scopes("contacts:read"), self._contacts),
            "/v2/account": _Route("GET", _scopes("account:read"), self._account),
            "/v2/balance": _Route("GET", _scopes("balance:read"), self._balance),
        }

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        received = await self._record(request)
        if not await self.admit(request):
            return _drop(request)
        if not self.authorized(request):
            return _json(401, {"error": "Invalid token supplied"})
        route = self._routes().get(request.path)
        if route is None:
            return _status(404)
        if request.method != route.method:
            return _status(405)
        if route.scopes and not self.scopes & (route.scopes | {"all"}):
            return _status(403)
        return await route.answer(request, received)

    async def _record(self, request: web.Request) -> ReceivedRequest:
        body = await request.read()
        received = ReceivedRequest(
            method=request.method,
            path=request.path,
            headers=request.headers,
            body=body,
            json=_json_or_none(body),
            at=time.monotonic(),
            query=tuple(request.query.items()),
        )
        self.received.append(received)
        return received

    async def _userinfo(self, request: web.Request, _: ReceivedRequest) -> web.StreamResponse:
        info = {"sub": self.user_id, "domain": "sipgate.de", "masterSipId": "0000000"}
        return _json(200, {**info, "locale": "de_DE"})

    async def _sms_extensions(self, request: web.Request, _: ReceivedRequest) -> web.StreamResponse:
        items = [{"id": e.id, "alias": e.alias, "callerId": e.caller_id} for e in self.extensions]
        return _json(200, {"items": items})

    async def _history(self, request: web.Request, _: ReceivedRequest) -> web.StreamResponse:
        return await self._read(
            request, "history", lambda: self.history.page(read_query(request.query))
        )

    async def _contacts(self, request: web.Request, _: ReceivedRequest) -> web.StreamResponse:
        def page() -> dict[str, Any]:
            limit = _int(request.query.get("limit"), CONTACTS_DEFAULT_LIMIT)
            offset = _int(request.query.get("offset"), 0)
            wanted = request.query.getall("phonenumbers", [])
            return contacts_page(self.contacts, wanted, limit, offset)

        return await self._read(request, "contacts", page)

    async def _account(self, request: web.Request, _: ReceivedRequest) -> web.StreamResponse:
        return await self._read(request, "account", lambda: dict(self.account))

    async def _balance(self, request: web.Request, _: ReceivedRequest) -> web.StreamResponse:
        return await self._read(request, "balance", lambda: dict(self.balance))

    async def _read(
        self, request: web.Request, name: str, answer: Callable[[], dict[str, Any]]
    ) -> web.StreamResponse:
        """A read: its scripted answer if there is one, else ``answer()`` (400 if invalid)."""
        scripted = self.scripted_read(name)
        if scripted is not None:
            return await self._play(request, scripted)
        try:
            return _json(200, answer())
        except QueryError as err:
            return _json(400, {"error": str(err)})

    async def _send(self, request: web.Request, received: ReceivedRequest) -> web.StreamResponse:
        if request.content_type != "application/json":
            return _status(415)
        if not _valid_send_body(received.json):
            return _status(400)
        if received.json["smsId"] not in {e.id for e in self.extensions}:
            return _status(403)
        answer = await self._scripted_answer(self.next_send_answer())
        if answer is None:
            return _drop(request)
        if 200 <= answer.status < 300:  # a 2xx answer that goes out counts as accepted
            self._accept(received)
        return answer

    def _accept(self, received: ReceivedRequest) -> None:
        """An SMS that went out: counted as accepted and shown in the history."""
        self._accepted.append(received)
        body = received.json
        entry = self.history.add(
            incoming=False,
            source=self._extension(body["smsId"]).caller_id,
            target=body["recipient"],
            text=body["message"],
            at=self.clock(),
            connection_id=body["smsId"],
        )
        if body.get("sendAt"):
            entry["scheduled"] = iso(datetime.fromtimestamp(body["sendAt"], UTC))

    async def _play(self, request: web.Request, scripted: Scripted) -> web.StreamResponse:
        """Answer as scripted (after its delay), or drop the connection."""
        answer = await self._scripted_answer(scripted)
        return _drop(request) if answer is None else answer

    async def _scripted_answer(self, scripted: Scripted) -> web.Response | None:
        """The scripted answer once its delay is over; None: drop the connection instead."""
        if scripted.drop or not await self._pause(scripted.delay):
            return None
        return web.Response(status=scripted.status, body=scripted.body, headers=scripted.headers)

    async def _pause(self, delay: float) -> bool:
        """Sleep ``delay`` seconds; False if the fake started closing meanwhile."""
        if delay <= 0:
            return not self._closing.is_set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._closing.wait()
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


def _int(raw: str | None, default: int) -> int:
    if raw is None:
        return default
    value = int(raw) if raw.isdigit() else -1
    if value < 0:
        raise QueryError(f"{raw!r} is not a whole number")
    return value


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
