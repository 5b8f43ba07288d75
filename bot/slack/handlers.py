"""The listeners: ``/sms``, the Cancel button, the compose form, "Send as SMS" on a message, and
the App Home (opened, and its Compose, Cancel and Export buttons).

Each listener acks first — the form's only after validating, since its errors go back in the
ack — then starts its work as a task (``after_ack``) and returns, so Bolt answers Slack at
once. Sends go through the core's one send path.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any, assert_never

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core import Field, LedgerUnavailable, Origin
from bot.slack import commands, texts
from bot.slack.compose import (
    Prefill,
    check_submission,
    open_compose,
    open_from_command,
    open_from_message,
    submit,
)
from bot.slack.context import Listener, SlackContext, after_ack
from bot.slack.home_tab import publish_home
from bot.slack.home_view import CANCEL_ACTION, COMPOSE_ACTION, EXPORT_ACTION_PREFIX, EXPORT_DAYS
from bot.slack.parse import (
    CancelCommand,
    Command,
    ComposeCommand,
    ExportCommand,
    HelpCommand,
    ListCommand,
    OptOutCommand,
    SendCommand,
    parse_command,
)
from bot.slack.payload import (
    action_origin,
    action_value,
    command_origin,
    home_origin,
    shortcut_origin,
    shortcut_text,
)
from bot.slack.views import CALLBACK_ID

log = logging.getLogger(__name__)

SHORTCUT_ID = "send_as_sms"  # the message shortcut's callback id (manifest.yml)


def register(app: AsyncApp, ctx: SlackContext) -> None:
    """Attach every listener to the Bolt app."""
    app.command("/sms")(_on_command(ctx))
    app.action(texts.CANCEL_ACTION)(_on_cancel_button(ctx))
    app.view(CALLBACK_ID)(_on_submit(ctx))
    app.message_shortcut(SHORTCUT_ID)(_on_shortcut(ctx))
    app.event("app_home_opened")(_on_home_opened(ctx))
    app.action(COMPOSE_ACTION)(_on_home_compose(ctx))
    app.action(CANCEL_ACTION)(_on_home_cancel(ctx))
    app.action(re.compile(f"^{EXPORT_ACTION_PREFIX}[0-9]+$"))(_on_home_export(ctx))


# --- /sms and the Cancel button --------------------------------------------------------------


def _on_command(ctx: SlackContext) -> Listener:
    async def on_command(ack: AsyncAck, body: dict[str, Any]) -> None:
        command = parse_command(str(body.get("text", "")), ctx.settings.default_region)
        if isinstance(command, HelpCommand):
            await ack(text=texts.help_text(command.problem))
            return
        await ack()
        origin = command_origin(body)
        trigger_id = str(body.get("trigger_id", ""))
        after_ack(ctx, origin, lambda: _dispatch(ctx, origin, command, trigger_id))

    return on_command


def _on_cancel_button(ctx: SlackContext) -> Listener:
    async def on_cancel_button(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        origin = action_origin(body)
        after_ack(ctx, origin, lambda: commands.cancel(ctx, origin, action_value(body)))

    return on_cancel_button


async def _dispatch(ctx: SlackContext, origin: Origin, command: Command, trigger_id: str) -> None:
    match command:
        case SendCommand():
            await commands.quick_send(ctx, origin, command, trigger_id)
        case ComposeCommand():
            await open_from_command(ctx, origin, command, trigger_id)
        case ListCommand(everyone):
            await commands.show_list(ctx, origin, everyone=everyone)
        case CancelCommand(found):
            await commands.cancel(ctx, origin, str(found))
        case ExportCommand(days):
            await commands.export(ctx, origin, days)
        case OptOutCommand():
            await commands.opt_out(ctx, origin, command)
        case HelpCommand():  # answered in the ack
            pass
        case _:
            assert_never(command)


# --- the compose form and "Send as SMS" --------------------------------------------------------


def _on_submit(ctx: SlackContext) -> Listener:
    async def on_submit(ack: AsyncAck, body: dict[str, Any]) -> None:
        try:
            origin, errors, submission = await check_submission(ctx, body)
        except Exception as error:  # the answer is due within 3 s: an explanation, never a 500
            log.exception("submission could not be checked")
            trouble = texts.DATABASE_DOWN if isinstance(error, LedgerUnavailable) else None
            await ack(
                response_action="errors",
                errors={Field.TO.value: trouble or texts.SOMETHING_WRONG},
            )
            return
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        if origin is not None and submission is not None:
            after_ack(ctx, origin, lambda: submit(ctx, origin, submission))

    return on_submit


def _on_shortcut(ctx: SlackContext) -> Listener:
    async def on_shortcut(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        origin, text = shortcut_origin(body), shortcut_text(body)
        trigger_id = str(body.get("trigger_id", ""))
        after_ack(ctx, origin, lambda: open_from_message(ctx, origin, text, trigger_id))

    return on_shortcut


# --- the App Home ------------------------------------------------------------------------------


def _on_home_opened(ctx: SlackContext) -> Listener:
    async def on_home_opened(event: dict[str, Any]) -> None:
        user = event.get("user")
        if event.get("tab", "home") == "home" and isinstance(user, str) and user:
            ctx.tracker.spawn(publish_home(ctx, user))

    return on_home_opened


def _on_home_compose(ctx: SlackContext) -> Listener:
    async def on_home_compose(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        origin = home_origin(body)
        trigger_id = str(body.get("trigger_id", ""))
        after_ack(ctx, origin, lambda: _compose_from_home(ctx, origin, trigger_id))

    return on_home_compose


async def _compose_from_home(ctx: SlackContext, origin: Origin, trigger_id: str) -> None:
    """The form for a send whose status goes to the person's DM with the bot."""
    channel = await ctx.web.dm_channel(origin.user_id)
    if channel is None:
        await publish_home(ctx, origin.user_id, texts.form_did_not_open("conversations.open"))
        return
    await open_compose(ctx, dataclasses.replace(origin, channel_id=channel), Prefill(), trigger_id)


def _on_home_cancel(ctx: SlackContext) -> Listener:
    async def on_home_cancel(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        origin, typed = home_origin(body), action_value(body)
        after_ack(ctx, origin, lambda: _cancel_from_home(ctx, origin.user_id, typed))

    return on_home_cancel


async def _cancel_from_home(ctx: SlackContext, user_id: str, typed: str) -> None:
    answer = await commands.cancel_answer(ctx, user_id, typed, texts.help_problem)
    await publish_home(ctx, user_id, answer)


def _on_home_export(ctx: SlackContext) -> Listener:
    async def on_home_export(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        origin, typed = home_origin(body), action_value(body)
        days = int(typed) if typed in {str(d) for d in EXPORT_DAYS} else EXPORT_DAYS[0]
        after_ack(ctx, origin, lambda: _export_from_home(ctx, origin.user_id, days))

    return on_home_export


async def _export_from_home(ctx: SlackContext, user_id: str, days: int) -> None:
    await publish_home(ctx, user_id, await commands.export_answer(ctx, user_id, days))
