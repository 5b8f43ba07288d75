"""What ``/sms`` does after its ack: send at once (numbers and colleagues), list, cancel, export,
the opt-out list.

A quick send to numbers only goes straight to the core's send path. Colleagues named in it are
looked up first; if one has no valid number in their Slack profile, nothing is guessed: the
form opens prefilled with the recipients as typed and says who.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bot.core import Ask, NumberError, Origin, PhoneNumber, distinct, parse_number
from bot.slack import texts
from bot.slack.compose import Prefill, open_compose
from bot.slack.context import SlackContext, tell_outcome
from bot.slack.export import export_to_dm
from bot.slack.parse import (
    Mention,
    NoProfileNumber,
    NotAnId,
    OptOutCommand,
    Recipient,
    SendCommand,
    request_id,
)
from bot.slack.people import Colleague, known_people, look_up

LIST_RECENT = 20  # /sms list all: everyone's latest
LIST_SCHEDULED = 30  # …after the scheduled ones due soonest


async def quick_send(
    ctx: SlackContext, origin: Origin, command: SendCommand, trigger_id: str
) -> None:
    """``/sms <recipients> <message>``: the whole send path, then tell what stopped it, if
    anything."""
    if not command.mentions:
        numbers = tuple(r for r in command.recipients if isinstance(r, PhoneNumber))
        ask = Ask(origin, numbers, command.message)
    else:
        found = await _with_colleagues(ctx, origin, command, trigger_id)
        if found is None:
            return
        ask = found
    await tell_outcome(ctx, origin, await ctx.service.request(ask))


async def _with_colleagues(
    ctx: SlackContext, origin: Origin, command: SendCommand, trigger_id: str
) -> Ask | None:
    """The ask with the colleagues' numbers; None when one has none (the form opened)."""
    colleagues = await look_up(ctx.web, command.mentions, ctx.settings.default_region)
    missing = tuple(c.label for c in colleagues.values() if c.number is None)
    if missing:
        to = ", ".join(_as_typed(r) for r in command.recipients)
        people = known_people(colleagues.values())
        prefill = Prefill(to, command.message, NoProfileNumber(missing), people)
        await open_compose(ctx, origin, prefill, trigger_id)
        return None
    numbers = [_number(recipient, colleagues) for recipient in command.recipients]
    labels = {c.number.e164: c.label for c in colleagues.values() if c.number is not None}
    return Ask(origin, distinct(numbers), command.message, labels=labels)


def _number(recipient: Recipient, colleagues: Mapping[str, Colleague]) -> PhoneNumber:
    if isinstance(recipient, PhoneNumber):
        return recipient
    found = colleagues[recipient.user_id].number
    if found is None:
        raise ValueError(f"{recipient.label} has no number")
    return found


def _as_typed(recipient: Recipient) -> str:
    return recipient.label if isinstance(recipient, Mention) else recipient.international


async def show_list(ctx: SlackContext, origin: Origin, *, everyone: bool = False) -> None:
    """``/sms list``: the caller's own; ``/sms list all``: everyone's, for admins."""
    if everyone and not ctx.is_admin(origin.user_id):
        await ctx.web.tell(origin, texts.ADMINS_ONLY_LIST)
        return
    tz = await ctx.web.timezone(origin.user_id)
    ledger = ctx.service.ledger
    if everyone:
        listing = await ledger.list_everyone(recent=LIST_RECENT, scheduled=LIST_SCHEDULED)
        await ctx.web.tell(origin, texts.list_all_text(listing, tz))
        return
    await ctx.web.tell(origin, texts.list_text(await ledger.list_for_user(origin.user_id), tz))


async def cancel(ctx: SlackContext, origin: Origin, typed_id: str) -> None:
    """``/sms cancel <id>`` or the Cancel button of a status: cancel if the caller may."""
    await ctx.web.tell(origin, await cancel_answer(ctx, origin.user_id, typed_id, texts.help_text))


async def cancel_answer(
    ctx: SlackContext, user_id: str, typed_id: str, unreadable: Callable[[NotAnId], str]
) -> str:
    """Cancel ``typed_id`` if ``user_id`` may (here or from the home tab); what to tell them
    (``unreadable`` words an id that is none)."""
    found = request_id(typed_id)
    if found is None:
        return unreadable(NotAnId(typed_id))
    return texts.cancel_text(await ctx.service.cancel(found, user_id), found)


async def export(ctx: SlackContext, origin: Origin, days: int) -> None:
    """``/sms export [days]``: the audit export as a CSV in the admin's DM."""
    await ctx.web.tell(origin, await export_answer(ctx, origin.user_id, days))


async def export_answer(ctx: SlackContext, user_id: str, days: int) -> str:
    """The export of ``days`` uploaded to an admin's DM (here or from the home tab); what to
    tell them."""
    if not ctx.is_admin(user_id):
        return texts.ADMINS_ONLY_EXPORT
    return await export_to_dm(ctx, user_id, days)


async def opt_out(ctx: SlackContext, origin: Origin, command: OptOutCommand) -> None:
    """``/sms optout [add|remove <number>]``: the opt-out list, for admins only."""
    if not ctx.is_admin(origin.user_id):
        await ctx.web.tell(origin, texts.ADMINS_ONLY)
        return
    if command.action == "list":
        tz = await ctx.web.timezone(origin.user_id)
        await ctx.web.tell(origin, texts.opt_out_list(await ctx.service.opt_outs.opt_outs(), tz))
        return
    try:
        number = parse_number(command.typed, ctx.settings.default_region).e164
    except NumberError as error:
        await ctx.web.tell(origin, texts.number_problem(error))
        return
    changed = await _change_opt_out(ctx, origin, command.action, number)
    await ctx.web.tell(origin, texts.opt_out_changed(number, command.action, changed))


async def _change_opt_out(ctx: SlackContext, origin: Origin, action: str, number: str) -> bool:
    opt_outs = ctx.service.opt_outs
    if action == "add":
        return await opt_outs.opt_out(number, "admin", origin.user_id, ctx.service.clock())
    return await opt_outs.opt_in(number)
