"""A local stand-in for Slack: the Web API, response_urls, and what people would see.

:class:`FakeSlack` is an aiohttp server on ``127.0.0.1:<free port>``. Point a real
``AsyncWebClient(base_url=fake.api_url)`` at it; hand out ``fake.new_response_url()`` as the
``response_url`` of the requests you build with :mod:`bot.sandbox.slack_requests`. It records
every call, keeps the state of each conversation (``chat.update`` edits it), can be scripted to
fail like Slack does, and renders the conversation with :meth:`FakeSlack.transcript`.

Each Web API method is one small function in :attr:`FakeSlack.handlers` (method name → handler
taking the call's arguments and returning the fields of an ``ok`` answer, or raising
:class:`ApiError`); a subclass adds or replaces entries after ``super().__init__()``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from types import TracebackType
from typing import Any, Self
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.sandbox import transcript as tx
from bot.sandbox.local import HOST, listen_locally
from bot.sandbox.slack_requests import APP_ID, BOT_ID, BOT_USER_ID, TEAM_ID, new_trigger_id

JsonDict = dict[str, Any]
Handler = Callable[[JsonDict], JsonDict]

TEAM_NAME = "Sandbox"

RESPONSE_URL_USES = 5  # Slack: a response_url works 5 times (within 30 minutes)
MAX_MESSAGE_BLOCKS = 50
MAX_UPDATE_TEXT = 4000
POLL_INTERVAL = 0.005
SHUTDOWN_TIMEOUT = 1.0  # close() waits this long for answers still in flight
_TS_BASE = 1_700_000_000


class ApiError(Exception):
    """Raised by a handler: the call answers ``{"ok": false, "error": error}``."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass(frozen=True)
class SlackUser:
    """A workspace member. ``tz_offset`` (seconds) defaults to ``tz``'s current offset."""

    id: str
    name: str
    tz: str = "Europe/Berlin"
    tz_offset: int | None = None

    def info(self) -> JsonDict:
        """The ``user`` object of ``users.info``."""
        now = datetime.now(ZoneInfo(self.tz))
        offset = now.utcoffset()
        current = int(offset.total_seconds()) if offset is not None else 0
        seconds = self.tz_offset if self.tz_offset is not None else current
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "real_name": self.name.capitalize(),
            "tz": self.tz,
            "tz_label": now.tzname(),
            "tz_offset": seconds,
            "is_bot": False,
            "deleted": False,
        }


DEFAULT_USERS: Mapping[str, SlackUser] = {
    user.id: user
    for user in (
        SlackUser("U_ALICE", "alice"),
        SlackUser("U_BOB", "bob", "America/New_York"),
        SlackUser("U_MALLORY", "mallory"),
    )
}


@dataclass(frozen=True)
class ApiCall:
    """One Web API call as received; ``at`` is ``time.monotonic()`` on arrival."""

    method: str
    args: JsonDict
    token: str | None
    at: float


@dataclass(frozen=True)
class ResponsePost:
    """One accepted POST to a response_url."""

    url: str
    body: JsonDict
    at: float


@dataclass(frozen=True)
class Message:
    """A message as it currently stands in a conversation (``user``: the bot's user id)."""

    channel: str
    ts: str
    thread_ts: str | None
    text: str
    blocks: list[JsonDict] | None
    user: str
    edited: bool = False


@dataclass(frozen=True)
class Ephemeral:
    """A ``chat.postEphemeral`` message, visible only to ``user``."""

    channel: str
    ts: str
    user: str
    text: str
    blocks: list[JsonDict] | None
    thread_ts: str | None = None


@dataclass(frozen=True)
class OpenedView:
    """A view received by ``views.open`` (with its trigger) or ``views.update`` (without)."""

    trigger_id: str | None
    view: JsonDict
    view_id: str
    user: str | None = None
    method: str = "views.open"


@dataclass
class _Failure:
    method: str
    error: str
    channel: str | None
    remaining: int | None
    status: int
    headers: dict[str, str]

    def matches(self, method: str, channels: set[str]) -> bool:
        return method == self.method and (self.channel is None or self.channel in channels)

    def consume(self) -> bool:
        """Use it once; whether it is spent."""
        if self.remaining is None:
            return False
        self.remaining -= 1
        return self.remaining <= 0


@dataclass
class _ResponseUrl:
    url: str
    user: str | None
    channel: str | None
    message_ts: str | None
    uses: int = 0


@dataclass(frozen=True)
class _Mark:
    """One place in the transcript's time order."""

    kind: str  # "thread", "ephemeral", "response", "view"
    index: int = 0
    channel: str = ""
    ts: str = ""


class FakeSlack:
    """Slack's Web API and response_urls on a local port, recording everything."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-sandbox",  # noqa: S107 - the sandbox's made-up token
        users: Mapping[str, SlackUser] | None = None,
        usergroups: Mapping[str, Sequence[str]] | None = None,
        latency: float = 0.0,
    ) -> None:
        self.bot_token = bot_token
        self.users: dict[str, SlackUser] = dict(DEFAULT_USERS if users is None else users)
        self.usergroups = {group: list(ids) for group, ids in (usergroups or {}).items()}
        self.latency = latency
        self.calls: list[ApiCall] = []
        self.responses: list[ResponsePost] = []
        self.views: list[OpenedView] = []
        self.ephemerals: list[Ephemeral] = []
        self.handlers: dict[str, Handler] = self._default_handlers()
        self._init_state()

    def _init_state(self) -> None:
        self._messages: dict[tuple[str, str], Message] = {}
        self._timeline: list[_Mark] = []
        self._failures: list[_Failure] = []
        self._removed_from: set[str] = set()
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._applied: set[int] = set()  # response posts that edited/deleted a channel message
        self._triggers_used: set[str] = set()
        self._trigger_users: dict[str, str] = {}
        self._ts_counter = itertools.count(1)
        self._view_counter = itertools.count(1)  # views are V1, V2, … in the order opened
        self._url_counter = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._origin = ""

    def _default_handlers(self) -> dict[str, Handler]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "conversations.open": self._conversations_open,
            "apps.connections.open": self._apps_connections_open,
        }

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on ``127.0.0.1`` on a free port."""
        self._runner, port = await listen_locally(self.web_app(), shutdown_timeout=SHUTDOWN_TIMEOUT)
        self._origin = f"http://{HOST}:{port}"

    def web_app(self) -> web.Application:
        """The routes: the Web API and response_urls (a subclass adds its own)."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._serve_api)
        app.router.add_post("/response/{key}", self._serve_response)
        return app

    async def close(self) -> None:
        """Stop listening (idempotent)."""
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
    def origin(self) -> str:
        """``http://127.0.0.1:<port>`` (only once started)."""
        if not self._origin:
            raise RuntimeError("FakeSlack is not started: use `async with FakeSlack()` or start()")
        return self._origin

    @property
    def api_url(self) -> str:
        """The Web API base URL for ``AsyncWebClient(base_url=...)``."""
        return f"{self.origin}/api/"

    # --- scripting ---------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        error: str,
        *,
        channel: str | None = None,
        times: int | None = 1,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Make the next ``times`` calls (``None``: all) of ``method`` answer ``error``.

        With ``channel``, only calls whose ``channel`` argument is that conversation (a user id
        and its ``D_<user>`` DM count as the same). Scripted failures are used in order.
        """
        failure = _Failure(method, error, channel, times, status, dict(headers or {}))
        self._failures.append(failure)

    def remove_bot_from(self, channel: str) -> None:
        """From now on, posting, updating or posting ephemerally there fails ``not_in_channel``."""
        self._removed_from.add(channel)

    def new_response_url(
        self,
        *,
        user_id: str | None = None,
        channel_id: str | None = None,
        message_ts: str | None = None,
    ) -> str:
        """A fresh response_url (5 uses, then 404).

        The optional keywords say whose interaction it belongs to, for the transcript; with
        ``channel_id`` and ``message_ts`` (a button on that message), ``replace_original`` and
        ``delete_original`` edit or delete that message, as Slack does.
        """
        key = str(next(self._url_counter))
        url = f"{self.origin}/response/{key}"
        self._response_urls[key] = _ResponseUrl(url, user_id, channel_id, message_ts)
        return url

    def new_trigger_id(self, user_id: str = "U_ALICE") -> str:
        """A fresh ``trigger_id`` of ``user_id``: a modal it opens is shown as theirs."""
        trigger_id = new_trigger_id()
        self._trigger_users[trigger_id] = user_id
        return trigger_id

    # --- inspection --------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[ApiCall]:
        """Every call of ``method`` so far, in order."""
        return [call for call in self.calls if call.method == method]

    def messages(self, channel: str) -> list[Message]:
        """The conversation as it stands (a user id means the DM with them), in ts order."""
        where = dm_channel(channel)
        return [message for message in self._messages.values() if message.channel == where]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,
    ) -> list[ApiCall]:
        """Wait until ``method`` was called ``count`` times; all its calls so far."""
        await poll_until(
            lambda: len(self.calls_to(method)) >= count,
            timeout,
            lambda: (
                f"expected {count} call(s) to {method} within {timeout}s; "
                f"calls so far:\n{describe_calls(self.calls)}"
            ),
        )
        return self.calls_to(method)

    async def wait_for_responses(
        self,
        count: int = 1,
        timeout: float = 5.0,
    ) -> list[ResponsePost]:
        """Wait until ``count`` response_url posts arrived; all of them so far."""
        await poll_until(
            lambda: len(self.responses) >= count,
            timeout,
            lambda: (
                f"expected {count} response_url post(s) within {timeout}s, got "
                f"{len(self.responses)}: {[post.body for post in self.responses]}; "
                f"Web API calls so far:\n{describe_calls(self.calls)}"
            ),
        )
        return list(self.responses)

    # --- transcript --------------------------------------------------------------------------

    def transcript(self) -> str:
        """The whole conversation as people would read it, in time order."""
        replies = _replies_by_thread(self._messages.values())
        settled = tx.settle_responses(
            [(i, p.url, p.body) for i, p in enumerate(self.responses) if i not in self._applied]
        )
        entries = (self._entry(mark, replies, settled) for mark in self._timeline)
        return tx.render([entry for entry in entries if entry is not None], self.names())

    def names(self) -> dict[str, str]:
        """User id → display name, the bot included."""
        return {BOT_USER_ID: "bot", **{uid: user.name for uid, user in self.users.items()}}

    def _entry(
        self,
        mark: _Mark,
        replies: Mapping[tuple[str, str], list[Message]],
        settled: Mapping[int, tuple[Mapping[str, Any], bool]],
    ) -> tx.Entry | None:
        if mark.kind == "thread":
            return self._thread_entry(mark, replies.get((mark.channel, mark.ts), []))
        if mark.kind == "ephemeral":
            eph = self.ephemerals[mark.index]
            return tx.Private(eph.channel, eph.user, tx.Post(BOT_USER_ID, eph.text, eph.blocks))
        if mark.kind == "response":
            return self._response_entry(mark.index, settled)
        view = self.views[mark.index]
        return tx.Modal(view.user, view.view, updated=view.method == "views.update")

    def _thread_entry(self, mark: _Mark, replies: list[Message]) -> tx.Thread | None:
        parent = self._messages.get((mark.channel, mark.ts))
        if parent is None and not replies:
            return None
        shown = _post(parent) if parent else tx.Post("", tx.DELETED_TEXT)
        return tx.Thread(mark.channel, shown, [_post(reply) for reply in replies])

    def _response_entry(
        self, index: int, settled: Mapping[int, tuple[Mapping[str, Any], bool]]
    ) -> tx.Entry | None:
        if index not in settled:
            return None
        body, edited = settled[index]
        meta = self._response_url_of(self.responses[index].url)
        post = tx.Post(BOT_USER_ID, str(body.get("text") or ""), body.get("blocks"), edited)
        if body.get("response_type") == "in_channel":
            return tx.Thread(meta.channel, post)
        return tx.Private(meta.channel, meta.user, post)

    def _response_url_of(self, url: str) -> _ResponseUrl:
        return self._response_urls[url.rsplit("/", 1)[1]]

    # --- HTTP --------------------------------------------------------------------------------

    async def _serve_api(self, request: web.Request) -> web.Response:
        status, body, headers = await self._answer_request(request)
        await self._delay()
        return web.json_response(body, status=status, headers=headers)

    async def _answer_request(
        self, request: web.Request
    ) -> tuple[int, JsonDict, Mapping[str, str]]:
        method, at = request.match_info["method"], time.monotonic()
        try:
            args, token = await read_api_args(request)
        except ApiError as err:
            self.calls.append(ApiCall(method, {}, None, at))
            return 200, error_body(err.error), {}
        self.calls.append(ApiCall(method, args, token, at))
        return self.answer(method, args, token)

    def answer(
        self, method: str, args: JsonDict, token: str | None
    ) -> tuple[int, JsonDict, Mapping[str, str]]:
        """HTTP status, JSON body and headers for one Web API call."""
        if not token:
            return 200, error_body("not_authed"), {}
        if not self.token_ok(method, token):
            return 200, error_body("invalid_auth"), {}
        failure = self._take_failure(method, args)
        if failure is not None:
            return failure.status, error_body(failure.error), failure.headers
        return 200, self._handle(method, args), {}

    def token_ok(self, method: str, token: str) -> bool:
        """Whether ``token`` may call ``method`` (a subclass may accept an app token too)."""
        return token == self.bot_token

    def _handle(self, method: str, args: JsonDict) -> JsonDict:
        handler = self.handlers.get(method, _no_op)
        try:
            return {"ok": True, **handler(args)}
        except ApiError as err:
            return error_body(err.error)

    def _take_failure(self, method: str, args: JsonDict) -> _Failure | None:
        raw = args.get("channel")
        channels = {raw, dm_channel(raw)} if isinstance(raw, str) else set()
        for failure in self._failures:
            if failure.matches(method, channels):
                if failure.consume():
                    self._failures.remove(failure)
                return failure
        return None

    async def _delay(self) -> None:
        if self.latency > 0:
            await asyncio.sleep(self.latency)

    async def _serve_response(self, request: web.Request) -> web.Response:
        at = time.monotonic()
        await self._delay()
        meta = self._response_urls.get(request.match_info["key"])
        if meta is None:
            return web.Response(status=404, text="no_service")
        try:
            body = await read_response_body(request)
        except ApiError as err:
            return web.Response(status=400, text=err.error)
        if meta.uses >= RESPONSE_URL_USES:  # checked after the last await: no race
            return web.Response(status=404, text="used_url")
        self._record_response(meta, body, at)
        return web.Response(text="ok")

    def _record_response(self, meta: _ResponseUrl, body: JsonDict, at: float) -> None:
        meta.uses += 1
        index = len(self.responses)
        self.responses.append(ResponsePost(meta.url, body, at))
        if self._apply_to_original(meta, body):
            self._applied.add(index)
        else:
            self._timeline.append(_Mark("response", index))

    def _apply_to_original(self, meta: _ResponseUrl, body: JsonDict) -> bool:
        """replace_original / delete_original on a url bound to a channel message."""
        key = (meta.channel or "", meta.message_ts or "")
        if key not in self._messages:
            return False
        if body.get("delete_original"):
            del self._messages[key]
            return True
        if body.get("replace_original"):
            text, blocks = str(body.get("text") or ""), parse_blocks(body.get("blocks"))
            self._messages[key] = replace(
                self._messages[key], text=text, blocks=blocks, edited=True
            )
            return True
        return False

    # --- state -------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        n = next(self._ts_counter)
        return f"{_TS_BASE + n // 10_000}.{n % 10_000 * 100:06d}"

    def _writable_channel(self, args: JsonDict) -> str:
        raw = args.get("channel")
        if not isinstance(raw, str) or not raw:
            raise ApiError("channel_not_found")
        channel = dm_channel(raw)
        if {raw, channel} & self._removed_from:
            raise ApiError("not_in_channel")
        return channel

    def _store(self, message: Message) -> None:
        starts_thread = self._starts_thread(message)
        self._messages[(message.channel, message.ts)] = message
        if starts_thread:
            self._timeline.append(_Mark("thread", channel=message.channel, ts=message.ts))

    def _starts_thread(self, message: Message) -> bool:
        """Top level unless it replies to an existing top-level message of the channel."""
        if message.thread_ts is None or message.thread_ts == message.ts:
            return True
        parent = self._messages.get((message.channel, message.thread_ts))
        return parent is None or parent.thread_ts not in (None, parent.ts)

    def _record_view(self, view: OpenedView) -> JsonDict:
        self._timeline.append(_Mark("view", len(self.views)))
        self.views.append(view)
        return view_json(view.view_id, view.view)

    # --- Web API methods ---------------------------------------------------------------------

    def _auth_test(self, args: JsonDict) -> JsonDict:
        return {
            "url": "https://sandbox.slack.com/",
            "team": TEAM_NAME,
            "user": "sandbox-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: JsonDict) -> JsonDict:
        channel = self._writable_channel(args)
        text, blocks = message_content(args)
        thread_ts = args.get("thread_ts")
        message = Message(
            channel,
            self._next_ts(),
            str(thread_ts) if thread_ts else None,
            text,
            blocks,
            BOT_USER_ID,
        )
        self._store(message)
        return {"channel": channel, "ts": message.ts, "message": message_json(message)}

    def _chat_update(self, args: JsonDict) -> JsonDict:
        channel = self._writable_channel(args)
        old = self._messages.get((channel, str(args.get("ts") or "")))
        if old is None:
            raise ApiError("message_not_found")
        new = updated_message(old, args)
        self._messages[(channel, old.ts)] = new
        return {"channel": channel, "ts": new.ts, "text": new.text, "message": message_json(new)}

    def _chat_post_ephemeral(self, args: JsonDict) -> JsonDict:
        channel = self._writable_channel(args)
        user = str(args.get("user") or "")
        if user not in self.users:
            raise ApiError("user_not_found")
        text, blocks = message_content(args)
        thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
        self._timeline.append(_Mark("ephemeral", len(self.ephemerals)))
        self.ephemerals.append(Ephemeral(channel, self._next_ts(), user, text, blocks, thread_ts))
        return {"message_ts": self.ephemerals[-1].ts}

    def _views_open(self, args: JsonDict) -> JsonDict:
        trigger_id = str(args.get("trigger_id") or "")
        if not trigger_id:
            raise ApiError("invalid_trigger_id")
        if trigger_id in self._triggers_used:
            raise ApiError("exchanged_trigger_id")
        view = parse_view(args.get("view"))
        self._triggers_used.add(trigger_id)
        view_id = f"V{next(self._view_counter)}"
        user = self._trigger_users.get(trigger_id)
        return {"view": self._record_view(OpenedView(trigger_id, view, view_id, user))}

    def _views_update(self, args: JsonDict) -> JsonDict:
        previous = self._find_view(args)
        view = parse_view(args.get("view"))
        updated = OpenedView(None, view, previous.view_id, previous.user, "views.update")
        return {"view": self._record_view(updated)}

    def _find_view(self, args: JsonDict) -> OpenedView:
        wanted_id, external_id = args.get("view_id"), args.get("external_id")
        for view in reversed(self.views):
            if view.view_id == wanted_id or (
                external_id and view.view.get("external_id") == external_id
            ):
                return view
        raise ApiError("not_found")

    def _users_info(self, args: JsonDict) -> JsonDict:
        user = self.users.get(str(args.get("user") or ""))
        if user is None:
            raise ApiError("user_not_found")
        return {"user": user.info()}

    def _usergroups_users_list(self, args: JsonDict) -> JsonDict:
        members = self.usergroups.get(str(args.get("usergroup") or ""))
        if members is None:
            raise ApiError("no_such_subteam")
        return {"users": list(members)}

    def _conversations_open(self, args: JsonDict) -> JsonDict:
        ids = [uid.strip() for uid in str(args.get("users") or "").split(",") if uid.strip()]
        if not ids:
            raise ApiError("users_list_not_supplied")
        if any(uid not in self.users for uid in ids):
            raise ApiError("user_not_found")
        channel = dm_channel(ids[0]) if len(ids) == 1 else "G_" + "_".join(sorted(ids))
        return {"channel": {"id": channel}}

    def _apps_connections_open(self, args: JsonDict) -> JsonDict:
        raise ApiError("not_allowed_token_type")


# --- pure helpers ------------------------------------------------------------------------------


def dm_channel(channel: str) -> str:
    """The conversation a ``channel`` argument names: a user id means the DM ``D_<user>``."""
    return f"D_{channel}" if channel.startswith(("U", "W")) else channel


def error_body(error: str) -> JsonDict:
    """Slack's error answer."""
    return {"ok": False, "error": error}


def _no_op(args: JsonDict) -> JsonDict:
    return {}


async def read_api_args(request: web.Request) -> tuple[JsonDict, str | None]:
    """A call's arguments (query, then form or JSON body) and its token."""
    args: JsonDict = dict(request.query)
    if request.content_type == "application/json":
        args.update(await _json_object(request, "invalid_json"))
    elif request.can_read_body:
        form = await request.post()
        args.update({key: value for key, value in form.items() if isinstance(value, str)})
    form_token = args.pop("token", None)
    return args, bearer_token(request.headers.get("Authorization")) or form_token


async def read_response_body(request: web.Request) -> JsonDict:
    """A response_url post: JSON, or a form with a JSON ``payload`` field."""
    if request.content_type == "application/json":
        body = await _json_object(request, "invalid_payload")
    else:
        body = _loads_object(str((await request.post()).get("payload") or ""), "invalid_payload")
    if not (body.get("text") or body.get("blocks") or body.get("delete_original")):
        raise ApiError("no_text")
    return body


async def _json_object(request: web.Request, error: str) -> JsonDict:
    return _loads_object(await request.text(), error)


def _loads_object(raw: str, error: str) -> JsonDict:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ApiError(error) from err
    if not isinstance(value, dict):
        raise ApiError(error)
    return value


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header."""
    if header and header.startswith("Bearer "):
        return header.removeprefix("Bearer ").strip() or None
    return None


def parse_blocks(raw: object) -> list[JsonDict] | None:
    """``blocks`` as sent (JSON string or list); ``invalid_blocks`` if malformed or too many."""
    if raw is None or raw == "":
        return None
    try:
        blocks = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as err:
        raise ApiError("invalid_blocks") from err
    if not isinstance(blocks, list) or not all(isinstance(block, dict) for block in blocks):
        raise ApiError("invalid_blocks")
    if len(blocks) > MAX_MESSAGE_BLOCKS:
        raise ApiError("invalid_blocks")
    return blocks or None


def message_content(args: JsonDict) -> tuple[str, list[JsonDict] | None]:
    """``text`` and ``blocks`` of a message; ``no_text`` when both are missing."""
    text = str(args.get("text") or "")
    blocks = parse_blocks(args.get("blocks"))
    if not text and not blocks:
        raise ApiError("no_text")
    return text, blocks


def updated_message(old: Message, args: JsonDict) -> Message:
    """``chat.update``: given fields replace the old ones, missing ones are kept."""
    text = str(args["text"]) if args.get("text") is not None else old.text
    blocks = parse_blocks(args["blocks"]) if "blocks" in args else old.blocks
    if not text and not blocks:
        raise ApiError("no_text")
    if len(text) > MAX_UPDATE_TEXT:
        raise ApiError("msg_too_long")
    return replace(old, text=text, blocks=blocks, edited=True)


def message_json(message: Message) -> JsonDict:
    """The ``message`` object Slack returns for a bot message."""
    body: JsonDict = {
        "type": "message",
        "user": message.user,
        "bot_id": BOT_ID,
        "app_id": APP_ID,
        "team": TEAM_ID,
        "text": message.text,
        "ts": message.ts,
    }
    if message.blocks:
        body["blocks"] = message.blocks
    if message.thread_ts:
        body["thread_ts"] = message.thread_ts
    if message.edited:
        body["edited"] = {"user": message.user, "ts": message.ts}
    return body


def parse_view(raw: object) -> JsonDict:
    """A view as sent (JSON string or object); ``invalid_arguments`` if Slack would refuse it."""
    view = _loads_object(raw, "invalid_arguments") if isinstance(raw, str) else raw
    if not isinstance(view, dict) or view_problem(view):
        raise ApiError("invalid_arguments")
    return view


def view_problem(view: Mapping[str, Any]) -> str | None:
    """What Slack would reject in a modal (Block Kit limits), or ``None``."""
    title = view.get("title")
    title_text = str(title.get("text", "")) if isinstance(title, Mapping) else ""
    if view.get("type", "modal") == "modal" and not 0 < len(title_text) <= 24:
        return "title must be 1 to 24 characters"
    if len(str(view.get("private_metadata") or "")) > 3000:
        return "private_metadata is over 3000 characters"
    if len(view.get("blocks") or ()) > 100:
        return "more than 100 blocks"
    return None


def view_json(view_id: str, view: Mapping[str, Any]) -> JsonDict:
    """The ``view`` object Slack returns from views.open / views.update."""
    return {
        **view,
        "id": view_id,
        "team_id": TEAM_ID,
        "type": view.get("type", "modal"),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "external_id": view.get("external_id", ""),
        "state": {"values": {}},
        "hash": f"{_TS_BASE}.{secrets.token_hex(4)}",
        "clear_on_close": bool(view.get("clear_on_close", False)),
        "notify_on_close": bool(view.get("notify_on_close", False)),
        "root_view_id": view_id,
        "previous_view_id": None,
        "app_id": APP_ID,
        "app_installed_team_id": TEAM_ID,
        "bot_id": BOT_ID,
    }


def describe_calls(calls: Sequence[ApiCall], width: int = 200) -> str:
    """One line per call, for assertion messages."""
    if not calls:
        return "  (none)"
    return "\n".join(f"  {call.method} {call.args!r}"[:width] for call in calls)


def _post(message: Message) -> tx.Post:
    return tx.Post(message.user, message.text, message.blocks, message.edited)


def _replies_by_thread(messages: Iterable[Message]) -> dict[tuple[str, str], list[Message]]:
    replies: dict[tuple[str, str], list[Message]] = defaultdict(list)
    for message in messages:
        if message.thread_ts and message.thread_ts != message.ts:
            replies[(message.channel, message.thread_ts)].append(message)
    return replies


async def poll_until(done: Callable[[], bool], within: float, describe: Callable[[], str]) -> None:
    """Check ``done`` every 5 ms; after ``within`` seconds, AssertionError(describe())."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not done():
        if loop.time() >= deadline:
            raise AssertionError(describe())
        await asyncio.sleep(POLL_INTERVAL)
