"""What the listeners share: their collaborators, work after the ack, and telling outcomes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import assert_never

from bot.core import (
    BalanceWatch,
    Denied,
    Duplicate,
    InboundLedger,
    NoSender,
    NotStored,
    Opened,
    Origin,
    OverLimit,
    Refused,
    RequestOutcome,
    SendService,
    WorkTracker,
)
from bot.logs import about_interaction
from bot.settings import Settings
from bot.slack import texts
from bot.slack.web import SlackWeb

log = logging.getLogger(__name__)

Listener = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class SlackContext:
    """What the listeners work with."""

    settings: Settings
    service: SendService
    web: SlackWeb
    tracker: WorkTracker
    balance: BalanceWatch
    inbox: InboundLedger

    def is_admin(self, user_id: str) -> bool:
        return self.service.access.is_admin(user_id)


def after_ack(ctx: SlackContext, origin: Origin, work: Callable[[], Awaitable[None]]) -> None:
    """Start the work once the listener has acked; shutdown still waits for it."""
    ctx.tracker.spawn(_guarded(ctx, origin, work))


async def _guarded(ctx: SlackContext, origin: Origin, work: Callable[[], Awaitable[None]]) -> None:
    """Run the work after ack; an unexpected failure is logged and told, never silent."""
    try:
        with about_interaction(origin.interaction_key):
            await work()
    except NotStored:
        await ctx.web.tell(origin, texts.DATABASE_DOWN)
    except Exception:
        log.exception("request failed", extra={"interaction": origin.interaction_key})
        await ctx.web.tell(origin, texts.SOMETHING_WRONG)


async def tell_outcome(ctx: SlackContext, origin: Origin, outcome: RequestOutcome) -> None:
    """Explain a request that did not open; an opened one reports in its thread."""
    match outcome:
        case Denied(decision):
            await ctx.web.tell(origin, texts.denied_text(decision, ctx.settings.admins))
        case Refused(refusals):
            await ctx.web.tell(origin, texts.refusals_text(refusals))
        case NoSender(failure):
            await ctx.web.tell(origin, texts.nothing_sent(failure))
        case OverLimit():
            tz = await ctx.web.timezone(origin.user_id)
            await ctx.web.tell(origin, texts.over_limit_text(outcome, tz))
        case Opened() | Duplicate():
            pass
        case _:
            assert_never(outcome)
