"""A local stand-in for Slack: the Web API the bot calls, response_urls, and what people see.

:class:`FakeSlack` is an aiohttp server on ``127.0.0.1:<free port>``. Point a real
``AsyncWebClient(base_url=fake.api_url)`` at it; hand out ``fake.new_response_url()`` as the
``response_url`` of the requests you build with :mod:`bot.sandbox.slack_requests`. It records
every call, keeps the state of each conversation (``chat.update`` edits it) in a
:class:`~bot.sandbox.slack_workspace.Workspace`, and renders it with :meth:`FakeSlack.transcript`.

Each Web API method is one small function in :attr:`FakeSlack.handlers` (method name → handler
taking the call's arguments and returning the fields of an ``ok`` answer, or raising
:class:`ApiError`); a method without a handler answers ``unknown_method``, as Slack does. A
subclass adds or replaces entries after ``super().__init__()``, and may answer a call before its
handler runs by overriding :meth:`FakeSlack.intercept`.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from aiohttp import web

from bot.sandbox.local import LocalServer
from bot.sandbox.slack_api import (
    DEFAULT_USERS,
    TEAM_NAME,
    TEAM_URL,
    ApiCall,
    ApiError,
    Ephemeral,
    Handler,
    JsonDict,
    Message,
    OpenedView,
    ResponsePost,
    SlackUser,
    describe_calls,
    dm_channel,
    error_body,
    message_content,
    message_json,
    parse_view,
    read_api_args,
    read_response_body,
    updated_message,
    view_json,
)
from bot.sandbox.slack_files import FileUploads, Upload
from bot.sandbox.slack_requests import BOT_ID, BOT_USER_ID, TEAM_ID, new_trigger_id
from bot.sandbox.slack_workspace import ResponseUrl, Workspace
from bot.sandbox.transcript import home_tab
from bot.sandbox.waiting import poll_until

Answer = tuple[int, JsonDict, Mapping[str, str]]  # HTTP status, JSON body, headers

RESPONSE_URL_USES = 5  # Slack: a response_url works 5 times (within 30 minutes)
SHUTDOWN_TIMEOUT = 1.0  # close() waits this long for answers still in flight


@dataclass(frozen=True)
class Published:
    """One ``views.publish``: the home tab ``view`` shown to ``user``."""

    user: str
    view: JsonDict
    view_id: str


class FakeSlack(LocalServer):
    """Slack's Web API and response_urls on a local port, recording everything."""

    runner_options: ClassVar[dict[str, Any]] = {"shutdown_timeout": SHUTDOWN_TIMEOUT}

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-sandbox",  # noqa: S107 - the sandbox's made-up token
        users: Mapping[str, SlackUser] | None = None,
        usergroups: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.users: dict[str, SlackUser] = dict(DEFAULT_USERS if users is None else users)
        self.usergroups = {group: list(ids) for group, ids in (usergroups or {}).items()}
        self.calls: list[ApiCall] = []
        self.workspace = Workspace()
        self.published: list[Published] = []
        self.files = FileUploads(self.workspace, lambda: self.origin, self.writable_channel)
        self.handlers: dict[str, Handler] = self._default_handlers()
        self._triggers_used: set[str] = set()
        self._trigger_users: dict[str, str] = {}
        self._view_counter = itertools.count(1)
        self._url_counter = itertools.count(1)

    def _default_handlers(self) -> dict[str, Handler]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "views.open": self._views_open,
            "users.info": self._users_info,
            "users.profile.get": self._users_profile_get,
            "usergroups.users.list": self._usergroups_users_list,
            "views.publish": self._views_publish,
            "conversations.open": self._conversations_open,
            **self.files.handlers(),
        }

    # --- lifecycle ---------------------------------------------------------------------------

    def web_app(self) -> web.Application:
        """The routes: the Web API and response_urls (a subclass adds its own)."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._serve_api)
        app.router.add_post("/response/{key}", self._serve_response)
        self.files.add_routes(app)
        return app

    @property
    def api_url(self) -> str:
        """The Web API base URL for ``AsyncWebClient(base_url=...)``."""
        return f"{self.origin}/api/"

    # --- what people do ----------------------------------------------------------------------

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
        self.workspace.response_urls[key] = ResponseUrl(url, user_id, channel_id, message_ts)
        return url

    def new_trigger_id(self, user_id: str = "U_ALICE") -> str:
        """A fresh ``trigger_id`` of ``user_id``: a modal it opens is shown as theirs."""
        trigger_id = new_trigger_id()
        self._trigger_users[trigger_id] = user_id
        return trigger_id

    def post_as(
        self, user: str, channel: str, text: str, *, thread_ts: str | None = None
    ) -> Message:
        """A person posts ``text`` (in the thread of ``thread_ts``); the message as stored.

        Build the event Slack would deliver for it with :mod:`bot.sandbox.slack_requests`.
        """
        message = Message(
            dm_channel(channel), self.workspace.next_ts(), thread_ts, text, None, user
        )
        self.workspace.store(message)
        return message

    # --- inspection --------------------------------------------------------------------------

    @property
    def responses(self) -> list[ResponsePost]:
        """Every accepted response_url post, in order."""
        return self.workspace.responses

    @property
    def views(self) -> list[OpenedView]:
        """Every modal opened or updated, in order."""
        return self.workspace.views

    @property
    def ephemerals(self) -> list[Ephemeral]:
        return self.workspace.ephemerals

    @property
    def uploads(self) -> dict[str, Upload]:
        """Every file uploaded, by file id."""
        return self.files.uploads

    def home(self, user: str) -> JsonDict | None:
        """The home tab ``user`` sees now (the last view published for them)."""
        views = [published.view for published in self.published if published.user == user]
        return views[-1] if views else None

    def home_text(self, user: str) -> str:
        """The home tab ``user`` sees now, as text (as the transcript renders messages)."""
        view = self.home(user)
        return "" if view is None else home_tab(view, user, self.names())

    def calls_to(self, method: str) -> list[ApiCall]:
        """Every call of ``method`` so far, in order."""
        return [call for call in self.calls if call.method == method]

    def messages(self, channel: str) -> list[Message]:
        """The conversation as it stands (a user id means the DM with them), in ts order."""
        return self.workspace.messages(channel)

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

    def transcript(self) -> str:
        """The whole conversation as people would read it, in time order."""
        return self.workspace.transcript(self.names())

    def names(self) -> dict[str, str]:
        """User id → display name, the bot included."""
        return {BOT_USER_ID: "bot", **{uid: user.name for uid, user in self.users.items()}}

    # --- HTTP --------------------------------------------------------------------------------

    async def _serve_api(self, request: web.Request) -> web.Response:
        status, body, headers = await self._answer_request(request)
        return web.json_response(body, status=status, headers=headers)

    async def _answer_request(self, request: web.Request) -> Answer:
        method, at = request.match_info["method"], time.monotonic()
        try:
            args, token = await read_api_args(request)
        except ApiError as err:
            self.calls.append(ApiCall(method, {}, None, at))
            return 200, error_body(err.error), {}
        self.calls.append(ApiCall(method, args, token, at))
        return self.answer(method, args, token)

    def answer(self, method: str, args: JsonDict, token: str | None) -> Answer:
        """HTTP status, JSON body and headers for one Web API call."""
        if method not in self.handlers:
            return 200, {**error_body("unknown_method"), "req_method": method}, {}
        if not token:
            return 200, error_body("not_authed"), {}
        if not self.token_ok(method, token):
            return 200, error_body("invalid_auth"), {}
        intercepted = self.intercept(method, args)
        if intercepted is not None:
            return intercepted
        return 200, self._handle(method, args), {}

    def token_ok(self, method: str, token: str) -> bool:
        """Whether ``token`` may call ``method`` (a subclass may accept an app token too)."""
        return token == self.bot_token

    def intercept(self, method: str, args: JsonDict) -> Answer | None:
        """An answer given instead of the handler's (a subclass scripts failures here)."""
        return None

    def _handle(self, method: str, args: JsonDict) -> JsonDict:
        try:
            return {"ok": True, **self.handlers[method](args)}
        except ApiError as err:
            return error_body(err.error)

    async def _serve_response(self, request: web.Request) -> web.Response:
        at = time.monotonic()
        meta = self.workspace.response_urls.get(request.match_info["key"])
        if meta is None:
            return web.Response(status=404, text="no_service")
        try:
            body = await read_response_body(request)
        except ApiError as err:
            return web.Response(status=400, text=err.error)
        if meta.uses >= RESPONSE_URL_USES:  # checked after the last await: no race
            return web.Response(status=404, text="used_url")
        self.workspace.add_response(meta, body, at)
        return web.Response(text="ok")

    # --- Web API methods ---------------------------------------------------------------------

    def writable_channel(self, args: JsonDict) -> str:
        """The conversation a posting call names (a subclass may refuse some)."""
        raw = args.get("channel")
        if not isinstance(raw, str) or not raw:
            raise ApiError("channel_not_found")
        return dm_channel(raw)

    def _auth_test(self, args: JsonDict) -> JsonDict:
        return {
            "url": TEAM_URL,
            "team": TEAM_NAME,
            "user": "sandbox-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: JsonDict) -> JsonDict:
        channel = self.writable_channel(args)
        text, blocks = message_content(args)
        thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
        ts = self.workspace.next_ts()
        message = Message(channel, ts, thread_ts, text, blocks, BOT_USER_ID)
        self.workspace.store(message)
        return {"channel": channel, "ts": message.ts, "message": message_json(message)}

    def _chat_update(self, args: JsonDict) -> JsonDict:
        channel = self.writable_channel(args)
        old = self.workspace.message(channel, str(args.get("ts") or ""))
        if old is None:
            raise ApiError("message_not_found")
        new = updated_message(old, args)
        self.workspace.edit(new)
        return {"channel": channel, "ts": new.ts, "text": new.text, "message": message_json(new)}

    def _chat_post_ephemeral(self, args: JsonDict) -> JsonDict:
        channel = self.writable_channel(args)
        user = str(args.get("user") or "")
        if user not in self.users:
            raise ApiError("user_not_found")
        text, blocks = message_content(args)
        thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
        ts = self.workspace.next_ts()
        self.workspace.add_ephemeral(Ephemeral(channel, ts, user, text, blocks, thread_ts))
        return {"message_ts": ts}

    def _views_open(self, args: JsonDict) -> JsonDict:
        trigger_id = str(args.get("trigger_id") or "")
        if not trigger_id:
            raise ApiError("invalid_trigger_id")
        if trigger_id in self._triggers_used:
            raise ApiError("exchanged_trigger_id")
        view = parse_view(args.get("view"))
        self._triggers_used.add(trigger_id)
        user = self._trigger_users.get(trigger_id)
        return {"view": self.record_view(OpenedView(trigger_id, view, self.next_view_id(), user))}

    def next_view_id(self) -> str:
        """A fresh view id: V1, V2, … in the order views are made."""
        return f"V{next(self._view_counter)}"

    def record_view(self, view: OpenedView) -> JsonDict:
        """Show ``view`` in the workspace; the ``view`` object Slack answers with."""
        self.workspace.add_view(view)
        return view_json(view.view_id, view.view)

    def _users_info(self, args: JsonDict) -> JsonDict:
        user = self.users.get(str(args.get("user") or ""))
        if user is None:
            raise ApiError("user_not_found")
        return {"user": user.info()}

    def _users_profile_get(self, args: JsonDict) -> JsonDict:
        user = self.users.get(str(args.get("user") or ""))
        if user is None:
            raise ApiError("user_not_found")
        return {"profile": user.profile()}

    def _views_publish(self, args: JsonDict) -> JsonDict:
        user = str(args.get("user_id") or "")
        if user not in self.users:
            raise ApiError("user_not_found")
        view = parse_view(args.get("view"))
        if view.get("type") != "home":
            raise ApiError("invalid_arguments")
        earlier = [p.view_id for p in self.published if p.user == user]
        view_id = earlier[0] if earlier else self.next_view_id()
        self.published.append(Published(user, view, view_id))
        return {"view": view_json(view_id, view)}

    def _conversations_open(self, args: JsonDict) -> JsonDict:
        ids = [uid.strip() for uid in str(args.get("users") or "").split(",") if uid.strip()]
        if not ids:
            raise ApiError("users_list_not_supplied")
        if any(uid not in self.users for uid in ids):
            raise ApiError("user_not_found")
        channel = dm_channel(ids[0]) if len(ids) == 1 else "G_" + "_".join(sorted(ids))
        return {"channel": {"id": channel}}

    def _usergroups_users_list(self, args: JsonDict) -> JsonDict:
        members = self.usergroups.get(str(args.get("usergroup") or ""))
        if members is None:
            raise ApiError("no_such_subteam")
        return {"users": list(members)}
