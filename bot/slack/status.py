"""A request's status in Slack: the parent message, thread replies, and the fallbacks.

Where the bot cannot post (not in the channel, a private conversation…) the outcome goes once
to the response_url, and every later update goes to the requester as a direct message, so a
status is never lost silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.records import SmsRequest
from bot.slack.messages import (
    SlackMessage,
    StatusView,
    dm_update,
    fallback_summary,
    status_message,
)
from bot.slack.outbox import SlackOutbox
from bot.store.base import Ledger

log = logging.getLogger(__name__)

SenderLabel = Callable[[str], str]


class StatusReporter:
    """Posts and updates the status of requests."""

    def __init__(self, outbox: SlackOutbox, ledger: Ledger, sender_label: SenderLabel) -> None:
        self._outbox = outbox
        self._ledger = ledger
        self._sender_label = sender_label

    async def view(self, request: SmsRequest, *, cancellable: bool = False) -> StatusView:
        """How to present this request to its requester."""
        tz = await self._outbox.timezone(request.user_id)
        return StatusView(self._sender_label(request.sms_id), tz, cancellable)

    async def open_thread(self, request: SmsRequest, view: StatusView) -> str | None:
        """Post the parent message in the origin channel; its ts, or None if not possible."""
        ts = await self._outbox.post(request.channel_id, status_message(request, view))
        if ts is not None:
            await self._ledger.set_status_message(request.id, request.channel_id, ts)
        return ts

    async def reply(
        self, request: SmsRequest, ts: str | None, reply: SlackMessage, view: StatusView
    ) -> None:
        """A state change: a reply in the thread and the parent updated, or a fallback."""
        if ts is not None and await self._outbox.post(request.channel_id, reply, ts):
            await self._outbox.update(request.channel_id, ts, status_message(request, view))
            return
        await self._fallback(request, reply)

    async def first_outcome(
        self, request: SmsRequest, ts: str | None, reply: SlackMessage, view: StatusView
    ) -> None:
        """The first status after acceptance; without a thread it goes to the response_url."""
        if (
            ts is None
            and request.response_url
            and await self._outbox.respond(request.response_url, fallback_summary(request, view))
        ):
            return
        await self.reply(request, ts, reply, view)

    async def later(self, request: SmsRequest, reply: SlackMessage, view: StatusView) -> None:
        """A later update (fired, cancelled, missed) for a stored request."""
        await self.reply(request, request.status_ts, reply, view)

    async def _fallback(self, request: SmsRequest, reply: SlackMessage) -> None:
        if await self._outbox.dm(request.user_id, dm_update(request, reply)):
            return
        log.error(
            "status could not be delivered anywhere",
            extra={"request_id": request.id, "user": request.user_id},
        )
