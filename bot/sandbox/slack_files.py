"""File uploads in the Slack stand-in: the three calls behind slack_sdk's ``files_upload_v2``.

``files.getUploadURLExternal`` hands out an upload URL on the stand-in's own server, the file's
bytes are POSTed there, and ``files.completeUploadExternal`` shares the file (in a conversation,
where it shows as a message ``[file: <title>]``). Each answers what Slack answers and refuses
what Slack refuses.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from bot.sandbox.slack_api import ApiError, Handler, JsonDict, Message
from bot.sandbox.slack_requests import BOT_USER_ID
from bot.sandbox.slack_workspace import Workspace


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


class FileUploads:
    """The uploads of one stand-in: its two Web API methods and its upload URLs."""

    def __init__(
        self,
        workspace: Workspace,
        origin: Callable[[], str],
        writable_channel: Callable[[JsonDict], str],
    ) -> None:
        self.uploads: dict[str, Upload] = {}
        self._workspace = workspace
        self._origin = origin
        self._writable_channel = writable_channel
        self._file_ids = itertools.count(1)

    def handlers(self) -> dict[str, Handler]:
        return {
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }

    def add_routes(self, app: web.Application) -> None:
        """The upload URLs ``/upload/<file id>``."""
        app.router.add_post("/upload/{file_id}", self._serve_upload)

    def _get_upload_url(self, args: JsonDict) -> JsonDict:
        filename, length = str(args.get("filename") or ""), str(args.get("length") or "")
        if not filename or not length.isdigit() or int(length) <= 0:
            raise ApiError("invalid_arguments")
        file_id = f"F{next(self._file_ids):07d}"
        self.uploads[file_id] = Upload(file_id, filename, int(length))
        return {"upload_url": f"{self._origin()}/upload/{file_id}", "file_id": file_id}

    async def _serve_upload(self, request: web.Request) -> web.Response:
        upload = self.uploads.get(request.match_info["file_id"])
        if upload is None or upload.content is not None:
            return web.Response(status=404, text="upload_url_invalid")
        upload.content = await request.read()
        return web.Response(text=f"OK - {len(upload.content)}")

    def _complete_upload(self, args: JsonDict) -> JsonDict:
        wanted = _file_list(args.get("files"))
        uploads = [self._uploaded(str(item.get("id"))) for item in wanted]
        target = args.get("channel_id")
        channel = self._writable_channel({"channel": target}) if target else None
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
            ts = self._workspace.next_ts()
            self._workspace.store(Message(channel, ts, upload.thread_ts, text, None, BOT_USER_ID))
        size = len(upload.content or b"")
        return {"id": upload.file_id, "name": upload.filename, "title": upload.title, "size": size}


def _file_list(raw: object) -> list[JsonDict]:
    """``files`` of completeUploadExternal: a JSON list of ``{"id", "title"}``."""
    try:
        files = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as err:
        raise ApiError("invalid_arguments") from err
    if not isinstance(files, list) or not files or not all(isinstance(f, dict) for f in files):
        raise ApiError("invalid_arguments")
    return files
