"""Answering SMS from Slack: the Reply button, a mention of the bot in a conversation thread,
and — with ``SMS_THREAD_REPLIES=all`` — every person's message in one.

Every reply goes through the one send path (allowlist, guards, hourly limit, opt-outs, the
ledger) and its status goes into the conversation's thread. A reply is sent at most once
however often Slack delivers its event: the message's id is the interaction's identity. Edits,
deletions, bot messages and the bot's own posts never send.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core import (
    Ask,
    Conversation,
    NumberError,
    Origin,
    OriginKind,
    display_number,
    parse_number,
)
from bot.slack import texts
from bot.slack.compose import Prefill, open_compose
from bot.slack.context import Listener, SlackContext, after_ack, tell_outcome
from bot.slack.markup import mentioned_users, readable_text, without_mention
from bot.slack.payload import action_origin, action_value, event_origin
from bot.slack.people import display_names

log = logging.getLogger(__name__)

#: Message subtypes that are a person's message; every other (edits, deletions, joins,
#: bot messages…) is not a reply.
_REPLY_SUBTYPES = (None, "thread_broadcast")


def register_conversations(app: AsyncApp, ctx: SlackContext) -> None:
    """Attach the Reply button and the event listeners."""
    app.action(texts.REPLY_ACTION)(_on_reply_button(ctx))
    app.event("app_mention")(_on_mention(ctx))
    app.event("message")(_on_message(ctx))


def _on_reply_button(ctx: SlackContext) -> Listener:
    async def on_reply_button(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        origin = action_origin(body)
        trigger_id = str(body.get("trigger_id", ""))
        after_ack(ctx, origin, lambda: _open_reply(ctx, origin, action_value(body), trigger_id))

    return on_reply_button


async def _open_reply(ctx: SlackContext, origin: Origin, value: str, trigger_id: str) -> None:
    """The compose form with To set to the conversation's number, its status to the thread."""
    found = await ctx.inbox.conversation(int(value)) if value.isdigit() else None
    if found is None or found.thread_ts is None:
        await ctx.web.tell(origin, texts.HOW_TO_REPLY)
        return
    where = Origin(origin.interaction_key, origin.team_id, origin.user_id, found.channel_id,
                   origin.response_url, OriginKind.REPLY, found.thread_ts)  # fmt: skip
    await open_compose(ctx, where, Prefill(to=display_number(found.number)), trigger_id)


def _on_mention(ctx: SlackContext) -> Listener:
    async def on_mention(body: dict[str, Any], context: dict[str, Any]) -> None:
        event = body.get("event") or {}
        if _by_a_person(event, context):  # outside a thread too: told how to reply
            _start(ctx, body, context, mentioned=True)

    return on_mention


def _on_message(ctx: SlackContext) -> Listener:
    async def on_message(body: dict[str, Any], context: dict[str, Any]) -> None:
        event = body.get("event") or {}
        if ctx.settings.thread_replies == "all" and _is_unmentioned_reply(event, context):
            _start(ctx, body, context, mentioned=False)

    return on_message


def _is_reply(event: dict[str, Any], context: dict[str, Any]) -> bool:
    """A person's new message in a thread (not an edit, a deletion, or a bot's post)."""
    return _by_a_person(event, context) and bool(event.get("thread_ts"))


def _is_unmentioned_reply(event: dict[str, Any], context: dict[str, Any]) -> bool:
    """A reply that does not mention the bot (one that does comes as ``app_mention`` too,
    and is sent from there)."""
    bot_user = context.get("bot_user_id")
    mentioned = bool(bot_user) and f"<@{bot_user}>" in str(event.get("text") or "")
    return _is_reply(event, context) and not mentioned


def _by_a_person(event: dict[str, Any], context: dict[str, Any]) -> bool:
    """A person's new message (not an edit, a deletion, or a bot's post)."""
    person = event.get("user")
    return (
        event.get("subtype") in _REPLY_SUBTYPES
        and not event.get("bot_id")
        and not event.get("edited")
        and bool(person)
        and person != context.get("bot_user_id")
    )


def _start(
    ctx: SlackContext, body: dict[str, Any], context: dict[str, Any], *, mentioned: bool
) -> None:
    event = body.get("event") or {}
    origin = event_origin(body, event.get("thread_ts") or None)
    bot_user = str(context.get("bot_user_id") or "")
    after_ack(ctx, origin, lambda: _reply(ctx, origin, event, bot_user, mentioned=mentioned))


async def _reply(
    ctx: SlackContext, origin: Origin, event: dict[str, Any], bot_user: str, *, mentioned: bool
) -> None:
    """Send the message to the conversation's number; where there is none, say how."""
    found = await ctx.inbox.conversation_at(origin.channel_id, origin.thread_ts or "")
    if found is None:
        if mentioned:
            await ctx.web.tell(origin, texts.HOW_TO_REPLY)
        return
    text = await _sms_text(ctx, str(event.get("text") or ""), bot_user)
    await _send(ctx, origin, found, text)


async def _send(ctx: SlackContext, origin: Origin, found: Conversation, text: str) -> None:
    try:
        number = parse_number(found.number, ctx.settings.default_region)
    except NumberError:  # an SMS from a name ("DHL") cannot be answered
        await ctx.web.tell(origin, texts.cannot_answer(found.number))
        return
    outcome = await ctx.service.request(Ask(origin, (number,), text))
    await tell_outcome(ctx, origin, outcome)


async def _sms_text(ctx: SlackContext, text: str, bot_user: str) -> str:
    """What the person wrote, without the mention of the bot, as people read it."""
    mine = without_mention(text, bot_user) if bot_user else text
    names = await display_names(ctx.web, mentioned_users(mine))
    return readable_text(mine, names).strip()
