"""What the Slack handlers need, bundled once per process."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from bot.guards import GuardPolicy
from bot.logs import about_interaction
from bot.records import Clock, RequestDraft
from bot.segments import count_segments
from bot.senders import SenderDirectory
from bot.sending import NotStored, SendService
from bot.settings import Settings
from bot.slack.access import AccessPolicy, Decision
from bot.slack.messages import SlackMessage
from bot.slack.outbox import SlackOutbox
from bot.slack.replies import channel_denied_text, denied_text
from bot.store.base import Ledger

log = logging.getLogger(__name__)


DATABASE_DOWN = (
    "⚠️ Nothing was sent: the bot cannot reach its database right now, and it sends no SMS"
    " it cannot record. Try again in a few minutes; if it keeps happening, tell your Slack admin."
)


@dataclass(frozen=True)
class Origin:
    """Where a Slack interaction came from and how to answer its requester privately."""

    interaction_key: str
    team_id: str
    user_id: str
    channel_id: str
    response_url: str | None


@dataclass(frozen=True)
class Deps:
    """The collaborators of the Slack handlers."""

    settings: Settings
    ledger: Ledger
    access: AccessPolicy
    senders: SenderDirectory
    outbox: SlackOutbox
    service: SendService
    clock: Clock

    @property
    def policy(self) -> GuardPolicy:
        settings = self.settings
        return GuardPolicy(
            settings.allowed_countries,
            settings.max_recipients,
            settings.max_length,
            settings.schedule_max_days,
        )

    async def tell(self, origin: Origin, text: str) -> None:
        """An ephemeral answer to the requester: response_url, else ephemeral, else DM."""
        message = SlackMessage(text)
        if origin.response_url and await self.outbox.respond(origin.response_url, message):
            return
        if await self.outbox.ephemeral(origin.channel_id, origin.user_id, message):
            return
        await self.outbox.dm(origin.user_id, message)

    def draft(
        self,
        origin: Origin,
        recipients: tuple[str, ...],
        message: str,
        sms_id: str,
        send_at: datetime | None = None,
    ) -> RequestDraft:
        """A request draft for the ledger from an interaction and what it asks for."""
        return RequestDraft(
            interaction_key=origin.interaction_key,
            team_id=origin.team_id,
            user_id=origin.user_id,
            channel_id=origin.channel_id,
            response_url=origin.response_url,
            recipients=recipients,
            message=message,
            sms_id=sms_id,
            segments=count_segments(message).parts,
            requested_at=self.clock(),
            send_at=send_at,
            scheduler=self.settings.scheduler,
        )

    async def deny(self, origin: Origin, decision: Decision, draft: RequestDraft) -> None:
        """Record a refused attempt and explain it to the requester.

        The ledger keeps one send per recipient, so an attempt without any readable number
        (``/sms`` opening the modal) cannot be stored; the access policy has logged it.
        """
        if draft.recipients:
            await self.ledger.record_denied(draft, decision.value)
        text = (
            channel_denied_text()
            if decision is Decision.CHANNEL_DENIED
            else denied_text(self.settings.admins)
        )
        await self.tell(origin, text)


def after_ack(deps: Deps, origin: Origin, work: Callable[[], Awaitable[None]]) -> None:
    """Start the work once the listener has acked; the listener returns at once, so Bolt
    answers Slack without waiting (and shutdown still waits for the work)."""
    deps.service.spawn(guarded(deps, origin, work))


async def guarded(deps: Deps, origin: Origin, work: Callable[[], Awaitable[None]]) -> None:
    """Run the work after ack; an unexpected failure is logged and told, never silent."""
    try:
        with about_interaction(origin.interaction_key):
            await work()
    except NotStored:
        await deps.tell(origin, DATABASE_DOWN)
    except Exception:
        log.exception("request failed", extra={"interaction": origin.interaction_key})
        await deps.tell(
            origin,
            "⚠️ Something went wrong on the bot's side while handling"
            " this. Check `/sms list` before trying again.",
        )
