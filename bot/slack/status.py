"""How a request's status posts look in Slack, and how one of them gets there.

The status message goes in the conversation the request came from (or, for a reply or a
shortcut, into that thread) and every later post is a reply in its thread, with the status
message updated. Where the bot cannot post, the first reply goes once to the response_url as
a summary and every later one to the requester as a direct message, so a status is never lost
silently. A transient failure (429, 5xx, a dropped connection) raises ``SlackCallFailed`` for
the outbox to try again; a reply already posted is not posted again by this instance.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence

from bot.core import (
    DENIED_KIND,
    Inbound,
    InboundLedger,
    Ledger,
    Scheduler,
    SmsExtension,
    SmsRequest,
    State,
    StatusKind,
    StatusPost,
)
from bot.slack import texts
from bot.slack.pacing import Pacer
from bot.slack.texts import SlackMessage, StatusView
from bot.slack.web import SlackCallFailed, SlackWeb

log = logging.getLogger(__name__)

SenderOf = Callable[[str], SmsExtension]


@dataclasses.dataclass(frozen=True)
class StatusChannels:
    """The Slack calls a delivery needs: paced posts, and the direct ones for time zones."""

    posts: SlackWeb  # no retries inside the client: the outbox decides when to try again
    direct: SlackWeb  # time zones, response_urls
    pacer: Pacer


class StatusDelivery:
    """Delivers one batch of a request's status posts (one post, or several to coalesce)."""

    def __init__(
        self,
        ledger: Ledger,
        channels: StatusChannels,
        sender_of: SenderOf,
        inbox: InboundLedger | None = None,
        inbox_channel: str | None = None,
    ) -> None:
        self._ledger = ledger
        self._slack = channels
        self._sender_of = sender_of
        self._inbox = inbox
        self._inbox_channel = inbox_channel
        self._replied: set[int] = set()  # posts whose reply is in Slack; only the update failed

    @property
    def pacer(self) -> Pacer:
        return self._slack.pacer

    async def deliver(self, posts: Sequence[StatusPost], request: SmsRequest) -> SmsRequest:
        """Deliver ``posts``; the request as it now stands (with its status message, if any)."""
        if posts[0].kind is StatusKind.OPENED:
            return await self._open(request)
        view = await self._view(request, cancellable=posts[0].kind is StatusKind.SCHEDULED)
        await self._reply(posts, request, self._message(posts, request, view), view)
        return request

    async def deliver_inbound(self, inbound: Inbound) -> None:
        """An incoming SMS into its conversation's thread (a new inbox thread if it has none,
        or if the bot cannot post in the request thread it was meant for)."""
        conversation = inbound.conversation
        if conversation.thread_ts is None:
            await self._start_conversation(inbound)
            return
        message = texts.inbound_message(inbound, first=False)
        try:
            await self._post(conversation.channel_id, message, conversation.thread_ts)
        except SlackCallFailed as failed:
            if failed.transient or self._inbox is None or self._inbox_channel is None:
                raise
            moved = await self._inbox.move_to_inbox(conversation.id, self._inbox_channel)
            await self._start_conversation(dataclasses.replace(inbound, conversation=moved))

    async def _start_conversation(self, inbound: Inbound) -> None:
        conversation = inbound.conversation
        message = texts.inbound_message(inbound, first=True)
        ts = await self._post(conversation.channel_id, message)
        if self._inbox is not None:
            await self._inbox.set_conversation_thread(conversation.id, ts)

    async def _open(self, request: SmsRequest) -> SmsRequest:
        message = texts.status_message(request, await self._view(request))
        try:
            ts = await self._post(request.channel_id, message, request.thread_ts)
        except SlackCallFailed as failed:
            if failed.transient:
                raise
            return request  # the bot cannot post there: the replies take the fallback
        return dataclasses.replace(request, status_channel=request.channel_id, status_ts=ts)

    def _message(
        self, posts: Sequence[StatusPost], request: SmsRequest, view: StatusView
    ) -> SlackMessage:
        post = posts[0]
        match post.kind:
            case StatusKind.SCHEDULED:
                return texts.scheduled_reply(request, view, by_sipgate=False)
            case StatusKind.CANCELLED:
                return texts.cancelled_reply(request.id, post.detail or "")
            case StatusKind.MISSED:
                return texts.missed_reply(request, view.tz)
            case _:
                ids = {send_id for each in posts for send_id in each.send_ids}
                return _outcome(request, ids, view)

    async def _reply(
        self,
        posts: Sequence[StatusPost],
        request: SmsRequest,
        reply: SlackMessage,
        view: StatusView,
    ) -> None:
        ts = request.status_ts
        if ts is None:
            await self._fallback(request, reply, view)
            return
        told = posts[-1].id in self._replied or _shown_by_update(posts, request)
        if not told and not await self._in_thread(request, reply):
            await self._dm(request, reply)
            return
        self._replied.add(posts[-1].id)
        await self._slack.posts.updated(request.channel_id, ts, texts.status_message(request, view))
        self._replied.discard(posts[-1].id)

    async def _in_thread(self, request: SmsRequest, reply: SlackMessage) -> bool:
        thread = request.thread_ts or request.status_ts
        try:
            await self._post(request.channel_id, reply, thread)
        except SlackCallFailed as failed:
            if failed.transient:
                raise
            return False
        return True

    async def _fallback(self, request: SmsRequest, reply: SlackMessage, view: StatusView) -> None:
        """No status message: the first reply as a summary to the response_url, else a DM."""
        if request.response_url and await self._ledger.use_response_url(request.id):
            summary = texts.fallback_summary(request, view)
            if await self._slack.direct.respond(request.response_url, summary):
                return
        await self._dm(request, reply)

    async def _dm(self, request: SmsRequest, reply: SlackMessage) -> None:
        try:
            await self._post(request.user_id, texts.dm_update(request, reply))
        except SlackCallFailed as failed:
            if failed.transient:
                raise
            log.error(
                "status could not be delivered anywhere",
                extra={"request_id": request.id, "user": request.user_id, "error": failed.code},
            )

    async def _post(self, channel: str, message: SlackMessage, thread: str | None = None) -> str:
        await self._slack.pacer.turn(channel)
        try:
            return await self._slack.posts.posted(channel, message, thread)
        except SlackCallFailed as failed:
            if failed.retry_after is not None:
                self._slack.pacer.close_for(channel, failed.retry_after)
            raise

    async def _view(self, request: SmsRequest, *, cancellable: bool = False) -> StatusView:
        """How to present this request to its requester."""
        tz = await self._slack.direct.timezone(request.user_id)
        label = texts.sender_label(self._sender_of(request.sms_id))
        return StatusView(label, tz, cancellable)


def _shown_by_update(posts: Sequence[StatusPost], request: SmsRequest) -> bool:
    """An outcome of a request whose status is itself a reply in a thread (a reply to an SMS,
    a shortcut's send): updating it tells everything, a second reply would repeat it."""
    return request.thread_ts is not None and posts[0].kind is StatusKind.OUTCOME


def _outcome(request: SmsRequest, send_ids: set[int], view: StatusView) -> SlackMessage:
    """The reply for sends that got their outcome (all of them when the posts name none)."""
    sends = [send for send in request.sends if send.id in send_ids] or list(request.sends)
    by_sipgate = request.scheduler is Scheduler.SIPGATE and request.send_at is not None
    if by_sipgate and all(send.state is State.ACCEPTED for send in sends):
        return texts.scheduled_reply(request, view, by_sipgate=True)
    if all(send.state is State.CANCELLED and send.error_kind == DENIED_KIND for send in sends):
        return texts.no_longer_allowed_reply(request.id)
    return texts.outcome_reply(request, sends, view.tz)
