"""Publishing a person's App Home: gathered from the ledger (and sipgate, for admins) and
shown with ``views.publish``, on every open and after something changed from it."""

from __future__ import annotations

import logging

from bot.core import Decision
from bot.slack.context import SlackContext
from bot.slack.home_view import LATEST_SHOWN, AdminPart, HomeData, home_view

log = logging.getLogger(__name__)


async def publish_home(ctx: SlackContext, user_id: str, notice: str | None = None) -> None:
    """Build the person's home tab now and show it (``notice``: what just happened)."""
    data = await _gather(ctx, user_id, notice)
    failed = await ctx.web.publish_home(user_id, home_view(data))
    if failed is not None:
        log.warning("home tab not published", extra={"user": user_id, "error": failed})


async def _gather(ctx: SlackContext, user_id: str, notice: str | None) -> HomeData:
    ledger, now = ctx.service.ledger, ctx.service.clock()
    channel = await ctx.web.dm_channel(user_id)
    decision = Decision.CHANNEL_DENIED  # no DM with the bot: nowhere to report a send
    if channel is not None:
        decision = await ctx.service.access.look(user_id, channel)
    return HomeData(
        tz=await ctx.web.timezone(user_id),
        decision=decision,
        admins=ctx.settings.admins,
        mine=await ledger.list_for_user(user_id, recent=LATEST_SHOWN),
        usage=await ledger.usage(user_id, now),
        limit=ctx.service.rules.hourly_limit,
        admin=await _admin_part(ctx) if ctx.is_admin(user_id) else None,
        notice=notice,
    )


async def _admin_part(ctx: SlackContext) -> AdminPart:
    ledger = ctx.service.ledger
    listing = await ledger.list_everyone(recent=LATEST_SHOWN, scheduled=0)
    return AdminPart(
        everyone=listing.requests,
        counts=await ledger.counts_by_user(ctx.service.clock()),
        balance=await ctx.balance.read(),
        opt_outs=await ctx.service.opt_outs.count(),
    )
