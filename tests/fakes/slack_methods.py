"""The Web API methods the sandbox's Slack stand-in leaves out, for tests.

:class:`FullApiSlack` is :class:`~bot.sandbox.slack.FakeSlack` plus ``views.update``,
``views.publish`` (App Home), ``conversations.open``, ``users.profile.get``,
``chat.getPermalink``, ``apps.connections.open`` (refused for a bot token) and the three calls
behind slack_sdk's ``files_upload_v2``: ``files.getUploadURLExternal`` hands out an upload URL on
this server, the file's bytes are POSTed there, and ``files.completeUploadExternal`` shares it.
Each answers what Slack answers and refuses what Slack refuses.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack_api import (
    TEAM_URL,
    ApiError,
    JsonDict,
    Message,
    OpenedView,
    dm_channel,
    parse_view,
    view_json,
)
from bot.sandbox.slack_requests import BOT_USER_ID


@dataclass
class Upload:
    """A file uploaded the ``files_upload_v2`` way; ``content`` once its bytes arrived."""

    file_id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None

    @property
    def shared(self) -> bool:
        """Whether ``files.completeUploadExternal`` finished it."""
        return self.title is not None


@dataclass(frozen=True)
class Published:
    """One ``views.publish``: the home tab ``view`` shown to ``user``."""

    user: str
    view: JsonDict
    view_id: str


class FullApiSlack(FakeSlack):
    """FakeSlack with every Web API method the bot calls or is about to call."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.handlers.update(
            {
                "views.update": self._views_update,
                "views.publish": self._views_publish,
                "conversations.open": self._conversations_open,
                "users.profile.get": self._users_profile_get,
                "chat.getPermalink": self._chat_get_permalink,
                "apps.connections.open": self._apps_connections_open,
                "files.getUploadURLExternal": self._files_get_upload_url,
                "files.completeUploadExternal": self._files_complete_upload,
            }
        )
        self.published: list[Published] = []
        self.uploads: dict[str, Upload] = {}
        self._file_ids = itertools.count(1)

    def web_app(self) -> web.Application:
        """FakeSlack's routes plus the upload URLs ``/upload/<file id>``."""
        app = super().web_app()
        app.router.add_post("/upload/{file_id}", self._serve_upload)
        return app

    def home(self, user: str) -> JsonDict | None:
        """The home tab ``user`` sees now (the last view published for them)."""
        views = [published.view for published in self.published if published.user == user]
        return views[-1] if views else None

    # --- views -------------------------------------------------------------------------------

    def _views_update(self, args: JsonDict) -> JsonDict:
        previous = self._find_view(args)
        view = parse_view(args.get("view"))
        updated = OpenedView(None, view, previous.view_id, previous.user, "views.update")
        return {"view": self.record_view(updated)}

    def _find_view(self, args: JsonDict) -> OpenedView:
        wanted_id, external_id = args.get("view_id"), args.get("external_id")
        for view in reversed(self.views):
            if view.view_id == wanted_id or (
                external_id and view.view.get("external_id") == external_id
            ):
                return view
        raise ApiError("not_found")

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

    # --- people and conversations ------------------------------------------------------------

    def _conversations_open(self, args: JsonDict) -> JsonDict:
        ids = [uid.strip() for uid in str(args.get("users") or "").split(",") if uid.strip()]
        if not ids:
            raise ApiError("users_list_not_supplied")
        if any(uid not in self.users for uid in ids):
            raise ApiError("user_not_found")
        channel = dm_channel(ids[0]) if len(ids) == 1 else "G_" + "_".join(sorted(ids))
        return {"channel": {"id": channel}}

    def _users_profile_get(self, args: JsonDict) -> JsonDict:
        user = self.users.get(str(args.get("user") or ""))
        if user is None:
            raise ApiError("user_not_found")
        return {"profile": user.profile()}

    def _chat_get_permalink(self, args: JsonDict) -> JsonDict:
        channel = dm_channel(str(args.get("channel") or ""))
        if not self.messages(channel):
            raise ApiError("channel_not_found")
        message = self.workspace.message(channel, str(args.get("message_ts") or ""))
        if message is None:
            raise ApiError("message_not_found")
        return {"channel": channel, "permalink": permalink(message)}

    def _apps_connections_open(self, args: JsonDict) -> JsonDict:
        raise ApiError("not_allowed_token_type")

    # --- files -------------------------------------------------------------------------------

    def _files_get_upload_url(self, args: JsonDict) -> JsonDict:
        filename, length = str(args.get("filename") or ""), str(args.get("length") or "")
        if not filename or not length.isdigit() or int(length) <= 0:
            raise ApiError("invalid_arguments")
        file_id = f"F{next(self._file_ids):07d}"
        self.uploads[file_id] = Upload(file_id, filename, int(length))
        return {"upload_url": f"{self.origin}/upload/{file_id}", "file_id": file_id}

    async def _serve_upload(self, request: web.Request) -> web.Response:
        upload = self.uploads.get(request.match_info["file_id"])
        if upload is None or upload.content is not None:
            return web.Response(status=404, text="upload_url_invalid")
        upload.content = await request.read()
        return web.Response(text=f"OK - {len(upload.content)}")

    def _files_complete_upload(self, args: JsonDict) -> JsonDict:
        wanted = _file_list(args.get("files"))
        uploads = [self._uploaded(str(item.get("id"))) for item in wanted]
        target = args.get("channel_id")
        channel = self.writable_channel({"channel": target}) if target else None
        shared = [
            self._share(u, item, channel, args) for u, item in zip(uploads, wanted, strict=True)
        ]
        return {"files": shared}

    def _uploaded(self, file_id: str) -> Upload:
        upload = self.uploads.get(file_id)
        if upload is None or upload.content is None:
            raise ApiError("file_not_found")
        return upload

    def _share(
        self, upload: Upload, item: JsonDict, channel: str | None, args: JsonDict
    ) -> JsonDict:
        upload.title = str(item.get("title") or upload.filename)
        upload.channel, upload.thread_ts = channel, args.get("thread_ts")
        upload.initial_comment = args.get("initial_comment")
        if channel is not None:
            text = f"{upload.initial_comment or ''}\n[file: {upload.title}]".strip()
            ts = self.workspace.next_ts()
            self.workspace.store(Message(channel, ts, upload.thread_ts, text, None, BOT_USER_ID))
        size = len(upload.content or b"")
        return {"id": upload.file_id, "name": upload.filename, "title": upload.title, "size": size}


def permalink(message: Message) -> str:
    """A message's permalink, as Slack builds it (a reply names its thread)."""
    link = f"{TEAM_URL}archives/{message.channel}/p{message.ts.replace('.', '')}"
    if message.thread_ts and message.thread_ts != message.ts:
        link += f"?thread_ts={message.thread_ts}&cid={message.channel}"
    return link


def _file_list(raw: object) -> list[JsonDict]:
    """``files`` of completeUploadExternal: a JSON list of ``{"id", "title"}``."""
    try:
        files = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as err:
        raise ApiError("invalid_arguments") from err
    if not isinstance(files, list) or not files or not all(isinstance(f, dict) for f in files):
        raise ApiError("invalid_arguments")
    return files
