"""The listeners: ``/sms`` (quick send, help, list, cancel), the Cancel button, the modal.

Each listener acks first — the modal's only after validating, since its errors go back in
the ack — then starts its work as a task (``after_ack``) and returns, so Bolt answers Slack at
once. The work goes through the core's one send path.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, assert_never

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core import (
    Ask,
    Denied,
    Duplicate,
    Field,
    LedgerUnavailable,
    NoSender,
    NotStored,
    Opened,
    Origin,
    OverLimit,
    Refused,
    RequestOutcome,
    SendFailure,
    SendService,
    Usage,
    WorkTracker,
    over_limit,
)
from bot.logs import about_interaction
from bot.settings import Settings
from bot.slack import texts
from bot.slack.parse import (
    CancelCommand,
    Command,
    ComposeCommand,
    HelpCommand,
    ListCommand,
    NotAnId,
    SendCommand,
    parse_command,
    request_id,
)
from bot.slack.payload import (
    action_origin,
    action_value,
    command_origin,
    view_origin,
    view_values,
)
from bot.slack.views import (
    CALLBACK_ID,
    ComposeForm,
    ModalMetadata,
    Submission,
    SubmissionRules,
    compose_view,
    decode_metadata,
    read_submission,
    readable_numbers,
    typed_to_and_message,
)
from bot.slack.web import SlackWeb

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlackContext:
    """What the listeners work with."""

    settings: Settings
    service: SendService
    web: SlackWeb
    tracker: WorkTracker


def register(app: AsyncApp, ctx: SlackContext) -> None:
    """Attach every listener to the Bolt app."""
    app.command("/sms")(_on_command(ctx))
    app.action(texts.CANCEL_ACTION)(_on_cancel_button(ctx))
    app.view(CALLBACK_ID)(_on_submit(ctx))


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


# --- /sms and the Cancel button --------------------------------------------------------------

Listener = Callable[..., Awaitable[None]]


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
        after_ack(ctx, origin, lambda: cancel(ctx, origin, action_value(body)))

    return on_cancel_button


async def _dispatch(ctx: SlackContext, origin: Origin, command: Command, trigger_id: str) -> None:
    match command:
        case SendCommand():
            await quick_send(ctx, origin, command)
        case ComposeCommand():
            await open_compose(ctx, origin, command, trigger_id)
        case ListCommand():
            await show_list(ctx, origin)
        case CancelCommand(found):
            await cancel(ctx, origin, str(found))
        case HelpCommand():  # answered in the ack
            pass
        case _:
            assert_never(command)


async def quick_send(ctx: SlackContext, origin: Origin, command: SendCommand) -> None:
    """``/sms <numbers> <message>``: the whole send path, then tell what stopped it, if anything."""
    ask = Ask(origin, command.recipients, command.message)
    await tell_outcome(ctx, origin, await ctx.service.request(ask))


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


async def show_list(ctx: SlackContext, origin: Origin) -> None:
    """``/sms list``: the caller's scheduled and latest requests."""
    requests = await ctx.service.ledger.list_for_user(origin.user_id)
    tz = await ctx.web.timezone(origin.user_id)
    await ctx.web.tell(origin, texts.list_text(requests, tz))


async def cancel(ctx: SlackContext, origin: Origin, typed_id: str) -> None:
    """``/sms cancel <id>`` or the Cancel button: cancel if the caller may."""
    found = request_id(typed_id)
    if found is None:
        await ctx.web.tell(origin, texts.help_text(NotAnId(typed_id)))
        return
    result = await ctx.service.cancel(found, origin.user_id)
    await ctx.web.tell(origin, texts.cancel_text(result, found))


# --- the compose modal -----------------------------------------------------------------------


async def open_compose(
    ctx: SlackContext, origin: Origin, command: ComposeCommand, trigger_id: str
) -> None:
    """Open the modal (prefilled with what was understood), if the caller may send."""
    service = ctx.service
    decision = await service.access.check(origin.user_id, origin.channel_id)
    if not decision.allowed:
        numbers = readable_numbers(command.to, ctx.settings.default_region)
        await _deny(ctx, Ask(origin, numbers, command.message), decision)
        return
    try:
        extensions = await service.senders.extensions()
    except SendFailure as failure:
        await ctx.web.tell(origin, texts.form_cannot_open(failure))
        return
    form = ComposeForm(
        ModalMetadata(origin.channel_id, origin.response_url),
        extensions,
        ctx.settings.max_length,
        ctx.settings.schedule_max_days,
        command.to,
        command.message,
        command.problem,
    )
    failure_code = await ctx.web.open_view(trigger_id, compose_view(form))
    if failure_code is not None:
        await ctx.web.tell(origin, texts.form_did_not_open(failure_code))


async def _deny(ctx: SlackContext, ask: Ask, decision: Any) -> None:
    await ctx.service.deny(ask, decision)
    await ctx.web.tell(ask.origin, texts.denied_text(decision, ctx.settings.admins))


Checked = tuple[Origin | None, dict[str, str], Submission | None]


def _on_submit(ctx: SlackContext) -> Listener:
    async def on_submit(ack: AsyncAck, body: dict[str, Any]) -> None:
        try:
            origin, errors, submission = await _check(ctx, body)
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
            after_ack(ctx, origin, lambda: _submit(ctx, origin, submission))

    return on_submit


async def _check(ctx: SlackContext, body: dict[str, Any]) -> Checked:
    """Validate a submission before the ack: the errors keyed by block id, if any."""
    view = body.get("view") or {}
    metadata = decode_metadata(view.get("private_metadata"))
    if metadata is None or not view.get("id"):
        return None, {Field.TO.value: texts.STALE_FORM}, None
    origin = view_origin(body, metadata.channel_id, metadata.response_url)
    service = ctx.service
    # One read answers both: seen before (checked before the hourly limit, which that very
    # request may have used up), and how much of the limit is left.
    admission = await service.ledger.admission(
        origin.user_id, origin.interaction_key, service.clock()
    )
    if isinstance(admission, Duplicate):  # Slack delivered it again: ack, nothing else
        return origin, {}, None
    decision = await service.access.check(origin.user_id, origin.channel_id)
    if not decision.allowed:
        to, message = typed_to_and_message(view_values(body))
        numbers = readable_numbers(to, ctx.settings.default_region)
        await service.deny(Ask(origin, numbers, message), decision)
        return origin, {Field.TO.value: texts.NOT_ALLOWED_HERE}, None
    return await _read(ctx, origin, body, admission)


async def _read(ctx: SlackContext, origin: Origin, body: dict[str, Any], usage: Usage) -> Checked:
    service = ctx.service
    try:
        extensions = await service.senders.extensions()
    except SendFailure as failure:
        return origin, {Field.TO.value: texts.explain_failure(failure)}, None
    rules = SubmissionRules(
        ctx.settings.default_region, service.rules.policy, extensions, service.clock()
    )
    result = read_submission(view_values(body), rules)
    if not isinstance(result, Submission):
        return origin, result, None
    refused = over_limit(usage, len(result.recipients), service.rules.hourly_limit)
    if refused is None:
        return origin, {}, result
    tz = await ctx.web.timezone(origin.user_id)
    return origin, {Field.TO.value: texts.over_limit_text(refused, tz)}, None


async def _submit(ctx: SlackContext, origin: Origin, submission: Submission) -> None:
    service = ctx.service
    ask = Ask(origin, submission.recipients, submission.message, submission.send_at)
    result = await service.submit(service.draft(ask, submission.sms_id))
    await tell_outcome(ctx, origin, result)  # over the limit: another request got in between
