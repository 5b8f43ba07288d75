"""A request's status in Slack (the core's ``StatusSink``): parent message, thread, fallbacks.

The parent message goes in the conversation the request came from and every state change is a
reply in its thread, with the parent updated. Where the bot cannot post (not in the channel, a
private conversation…) the first outcome goes once to the response_url, and every later update
goes to the requester as a direct message, so a status is never lost silently.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import assert_never

from bot.core import (
    Cancelled,
    Fired,
    LaterEvent,
    Ledger,
    Missed,
    NoLongerAllowed,
    Scheduler,
    SmsExtension,
    SmsRequest,
    State,
    Unknown,
)
from bot.slack import texts
from bot.slack.texts import SlackMessage, StatusView
from bot.slack.web import SlackWeb

log = logging.getLogger(__name__)

SenderOf = Callable[[str], SmsExtension]


class SlackStatus:
    """Posts and updates the status of requests."""

    def __init__(self, web: SlackWeb, ledger: Ledger, sender_of: SenderOf) -> None:
        self._web = web
        self._ledger = ledger
        self._sender_of = sender_of

    async def opened(self, request: SmsRequest) -> SmsRequest:
        """Post the parent message in the origin channel, if the bot can post there."""
        view = await self._view(request)
        ts = await self._web.post(request.channel_id, texts.status_message(request, view))
        if ts is None:
            return request
        await self._ledger.set_status_message(request.id, request.channel_id, ts)
        return dataclasses.replace(request, status_channel=request.channel_id, status_ts=ts)

    async def scheduled(self, request: SmsRequest) -> None:
        view = await self._view(request, cancellable=True)
        await self._first(request, texts.scheduled_reply(request, view, by_sipgate=False), view)

    async def outcome(self, request: SmsRequest) -> None:
        view = await self._view(request)
        await self._first(request, self._outcome_reply(request, view), view)

    async def later(self, request: SmsRequest, event: LaterEvent) -> None:
        view = await self._view(request)
        await self._reply(request, self._later_reply(request, event, view), view)

    @staticmethod
    def _outcome_reply(request: SmsRequest, view: StatusView) -> SlackMessage:
        by_sipgate = request.scheduler is Scheduler.SIPGATE and request.send_at is not None
        if by_sipgate and all(send.state is State.ACCEPTED for send in request.sends):
            return texts.scheduled_reply(request, view, by_sipgate=True)
        return texts.outcome_reply(request, request.sends, view.tz)

    @staticmethod
    def _later_reply(request: SmsRequest, event: LaterEvent, view: StatusView) -> SlackMessage:
        match event:
            case Fired(sends) | Unknown(sends):
                return texts.outcome_reply(request, sends, view.tz)
            case Cancelled(by_user):
                return texts.cancelled_reply(request.id, by_user)
            case Missed():
                return texts.missed_reply(request, view.tz)
            case NoLongerAllowed():
                return texts.no_longer_allowed_reply(request.id)
            case _:
                assert_never(event)

    async def _view(self, request: SmsRequest, *, cancellable: bool = False) -> StatusView:
        """How to present this request to its requester."""
        tz = await self._web.timezone(request.user_id)
        return StatusView(texts.sender_label(self._sender_of(request.sms_id)), tz, cancellable)

    async def _first(self, request: SmsRequest, reply: SlackMessage, view: StatusView) -> None:
        """The first status after acceptance; without a thread it goes to the response_url."""
        if (
            request.status_ts is None
            and request.response_url
            and await self._web.respond(request.response_url, texts.fallback_summary(request, view))
        ):
            return
        await self._reply(request, reply, view)

    async def _reply(self, request: SmsRequest, reply: SlackMessage, view: StatusView) -> None:
        """A state change: a reply in the thread and the parent updated, or a DM."""
        ts = request.status_ts
        if ts is not None and await self._web.post(request.channel_id, reply, ts):
            await self._web.update(request.channel_id, ts, texts.status_message(request, view))
            return
        if await self._web.dm(request.user_id, texts.dm_update(request, reply)):
            return
        log.error(
            "status could not be delivered anywhere",
            extra={"request_id": request.id, "user": request.user_id},
        )
