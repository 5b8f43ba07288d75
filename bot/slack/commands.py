"""``/sms``: quick send, help, list, cancel; and the Cancel button."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck

from bot.command import (
    CancelCommand,
    ComposeCommand,
    HelpCommand,
    ListCommand,
    SendCommand,
    parse_command,
)
from bot.guards import check_request
from bot.sipgate import SipgateError
from bot.slack.compose import open_compose
from bot.slack.deps import Deps, Origin, after_ack
from bot.slack.messages import CANCEL_ACTION
from bot.slack.replies import (
    cancel_text,
    help_text,
    list_message,
    over_limit_text,
    refusal_text,
)
from bot.store.base import CancelOutcome, OverLimit


def command_origin(body: dict[str, Any]) -> Origin:
    """The origin of a slash command; its trigger_id is the interaction's identity."""
    return Origin(
        interaction_key=f"command:{body.get('trigger_id', '')}",
        team_id=str(body.get("team_id", "")),
        user_id=str(body.get("user_id", "")),
        channel_id=str(body.get("channel_id", "")),
        response_url=body.get("response_url") or None,
    )


def register_commands(app: Any, deps: Deps) -> None:
    """Attach the ``/sms`` command and the Cancel button to the Bolt app."""

    async def on_command(ack: AsyncAck, body: dict[str, Any]) -> None:
        command = parse_command(str(body.get("text", "")), deps.settings.default_region)
        if isinstance(command, HelpCommand):
            await ack(text=help_text(command.problem))
            return
        await ack()
        origin = command_origin(body)
        trigger_id = str(body.get("trigger_id", ""))
        after_ack(deps, origin, lambda: _dispatch(deps, origin, command, trigger_id))

    async def on_cancel_button(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        origin = _action_origin(body)
        value = str((body.get("actions") or [{}])[0].get("value", ""))
        after_ack(deps, origin, lambda: cancel(deps, origin, value))

    app.command("/sms")(on_command)
    app.action(CANCEL_ACTION)(on_cancel_button)


async def _dispatch(deps: Deps, origin: Origin, command: object, trigger_id: str) -> None:
    if isinstance(command, SendCommand):
        await quick_send(deps, origin, command)
    elif isinstance(command, ComposeCommand):
        await open_compose(deps, origin, command, trigger_id)
    elif isinstance(command, ListCommand):
        await show_list(deps, origin)
    elif isinstance(command, CancelCommand):
        await cancel(deps, origin, str(command.request_id))


async def quick_send(deps: Deps, origin: Origin, command: SendCommand) -> None:
    """Check, store and send a ``/sms <numbers> <message>`` request."""
    numbers = tuple(number.e164 for number in command.recipients)
    decision = await deps.access.check(origin.user_id, origin.channel_id)
    if not decision.allowed:
        await deps.deny(origin, decision, deps.draft(origin, numbers, command.message, ""))
        return
    refusals = check_request(command.recipients, command.message, None, deps.clock(), deps.policy)
    if refusals:
        await deps.tell(origin, refusal_text(refusals))
        return
    try:
        sender = await deps.senders.default()
    except SipgateError as error:
        await deps.tell(origin, f"Nothing was sent: {error.explanation}")
        return
    result = await deps.service.submit(deps.draft(origin, numbers, command.message, sender.id))
    if isinstance(result, OverLimit):
        await tell_over_limit(deps, origin, result)


async def tell_over_limit(deps: Deps, origin: Origin, refused: OverLimit) -> None:
    """Explain the hourly limit to the requester, in their time zone."""
    tz = await deps.outbox.timezone(origin.user_id)
    await deps.tell(origin, over_limit_text(deps.settings.user_hourly_limit, refused, tz))


async def show_list(deps: Deps, origin: Origin) -> None:
    """``/sms list``: the caller's scheduled and latest requests."""
    requests = await deps.ledger.list_for_user(origin.user_id)
    tz = await deps.outbox.timezone(origin.user_id)
    await deps.tell(origin, list_message(requests, tz).text)


async def cancel(deps: Deps, origin: Origin, raw_id: str) -> None:
    """``/sms cancel <id>`` or the Cancel button: cancel if the caller may."""
    digits = raw_id.strip().lstrip("#")
    if not digits.isdigit():
        await deps.tell(origin, help_text(f"“{raw_id}” is not an SMS number like #12."))
        return
    request_id = int(digits)
    is_admin = deps.access.is_admin(origin.user_id)
    result = await deps.ledger.cancel(request_id, user_id=origin.user_id, is_admin=is_admin)
    await deps.tell(origin, cancel_text(result, request_id))
    if result.outcome is CancelOutcome.CANCELLED and result.request is not None:
        await deps.service.report_cancelled(result.request, origin.user_id)


def _action_origin(body: dict[str, Any]) -> Origin:
    channel = body.get("channel") or {}
    return Origin(
        interaction_key=f"action:{body.get('trigger_id', '')}",
        team_id=str((body.get("team") or {}).get("id", "")),
        user_id=str((body.get("user") or {}).get("id", "")),
        channel_id=str(channel.get("id", "")) if isinstance(channel, dict) else "",
        response_url=body.get("response_url") or None,
    )
