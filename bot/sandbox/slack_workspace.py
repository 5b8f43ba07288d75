"""What people in the sandbox workspace see, in the order it appeared.

:class:`Workspace` is the state behind the Slack stand-in: the messages of each conversation
(as edited and deleted since), ephemeral messages, opened modals and response_url posts. The
stand-in's Web API methods change it; :meth:`Workspace.transcript` turns it into the text a
person would read (rendered by :mod:`bot.sandbox.transcript`).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from bot.sandbox import transcript as tx
from bot.sandbox.slack_api import (
    TS_BASE,
    Ephemeral,
    JsonDict,
    Message,
    OpenedView,
    ResponsePost,
    dm_channel,
    parse_blocks,
)
from bot.sandbox.slack_requests import BOT_USER_ID

Settled = Mapping[int, tuple[Mapping[str, Any], bool]]


@dataclass
class ResponseUrl:
    """A response_url handed out: whose interaction it belongs to, and how often it was used."""

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


class Workspace:
    """Conversations, private messages, modals and response_url posts, in time order."""

    def __init__(self) -> None:
        self.ephemerals: list[Ephemeral] = []
        self.views: list[OpenedView] = []
        self.responses: list[ResponsePost] = []
        self.response_urls: dict[str, ResponseUrl] = {}  # by key, the url's last segment
        self._messages: dict[tuple[str, str], Message] = {}
        self._timeline: list[_Mark] = []
        self._applied: set[int] = set()  # response posts that edited/deleted a channel message
        self._ts_counter = itertools.count(1)

    def next_ts(self) -> str:
        """A fresh message ts, later than every one before it."""
        n = next(self._ts_counter)
        return f"{TS_BASE + n // 10_000}.{n % 10_000 * 100:06d}"

    # --- messages ----------------------------------------------------------------------------

    def messages(self, channel: str) -> list[Message]:
        """The conversation as it stands (a user id means the DM with them), in ts order."""
        where = dm_channel(channel)
        return [message for message in self._messages.values() if message.channel == where]

    def message(self, channel: str, ts: str) -> Message | None:
        return self._messages.get((channel, ts))

    def store(self, message: Message) -> None:
        """A new message; a top-level one opens a place in the transcript."""
        starts_thread = self._starts_thread(message)
        self._messages[(message.channel, message.ts)] = message
        if starts_thread:
            self._timeline.append(_Mark("thread", channel=message.channel, ts=message.ts))

    def edit(self, message: Message) -> None:
        """``message`` replaces the one with its channel and ts (which must exist)."""
        self._messages[(message.channel, message.ts)] = message

    def _starts_thread(self, message: Message) -> bool:
        """Top level unless it replies to an existing top-level message of the channel."""
        if message.thread_ts is None or message.thread_ts == message.ts:
            return True
        parent = self._messages.get((message.channel, message.thread_ts))
        return parent is None or parent.thread_ts not in (None, parent.ts)

    def add_ephemeral(self, ephemeral: Ephemeral) -> None:
        self._timeline.append(_Mark("ephemeral", len(self.ephemerals)))
        self.ephemerals.append(ephemeral)

    def add_view(self, view: OpenedView) -> None:
        self._timeline.append(_Mark("view", len(self.views)))
        self.views.append(view)

    # --- response_url posts ------------------------------------------------------------------

    def add_response(self, meta: ResponseUrl, body: JsonDict, at: float) -> None:
        """One accepted post to ``meta``'s url (it may edit or delete the message it is on)."""
        meta.uses += 1
        index = len(self.responses)
        self.responses.append(ResponsePost(meta.url, body, at))
        if self._apply_to_original(meta, body):
            self._applied.add(index)
        else:
            self._timeline.append(_Mark("response", index))

    def _apply_to_original(self, meta: ResponseUrl, body: JsonDict) -> bool:
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

    # --- transcript --------------------------------------------------------------------------

    def transcript(self, names: Mapping[str, str]) -> str:
        """Everything as people would read it, in time order."""
        replies = _replies_by_thread(self._messages.values())
        settled = tx.settle_responses(
            [(i, p.url, p.body) for i, p in enumerate(self.responses) if i not in self._applied]
        )
        entries = (self._entry(mark, replies, settled) for mark in self._timeline)
        return tx.render([entry for entry in entries if entry is not None], names)

    def _entry(
        self, mark: _Mark, replies: Mapping[tuple[str, str], list[Message]], settled: Settled
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

    def _response_entry(self, index: int, settled: Settled) -> tx.Entry | None:
        if index not in settled:
            return None
        body, edited = settled[index]
        meta = self.response_urls[self.responses[index].url.rsplit("/", 1)[1]]
        post = tx.Post(BOT_USER_ID, str(body.get("text") or ""), body.get("blocks"), edited)
        if body.get("response_type") == "in_channel":
            return tx.Thread(meta.channel, post)
        return tx.Private(meta.channel, meta.user, post)


def _post(message: Message) -> tx.Post:
    return tx.Post(message.user, message.text, message.blocks, message.edited)


def _replies_by_thread(messages: Iterable[Message]) -> dict[tuple[str, str], list[Message]]:
    replies: dict[tuple[str, str], list[Message]] = defaultdict(list)
    for message in messages:
        if message.thread_ts and message.thread_ts != message.ts:
            replies[(message.channel, message.thread_ts)].append(message)
    return replies
