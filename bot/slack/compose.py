"""The compose form: opened from ``/sms``, from a message ("Send as SMS") or from the home tab,
and its submission checked before the ack and sent after it, through the core's send path.

What opened the form travels in its ``private_metadata`` (``ModalMetadata``): the conversation
and thread the status goes to, and the colleagues named in To. The access check runs when the
form opens and again on submit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.core import (
    Ask,
    Decision,
    Duplicate,
    Field,
    Opened,
    Origin,
    OriginKind,
    SendFailure,
    Usage,
    opted_out_refusal,
    over_limit,
)
from bot.slack import texts
from bot.slack.context import SlackContext, tell_outcome
from bot.slack.home_tab import publish_home
from bot.slack.markup import mentioned_users, readable_text
from bot.slack.parse import ComposeCommand, ComposeProblem, NoProfileNumber
from bot.slack.payload import view_origin, view_values
from bot.slack.people import display_names, known_people, look_up
from bot.slack.to_field import read_to
from bot.slack.views import (
    ComposeForm,
    ModalMetadata,
    Submission,
    SubmissionRules,
    compose_view,
    decode_metadata,
    read_submission,
    typed_to_and_message,
)

log = logging.getLogger(__name__)

Checked = tuple[Origin | None, dict[str, str], Submission | None]


@dataclass(frozen=True)
class Prefill:
    """What the form shows when it opens; ``people``: colleagues named in To."""

    to: str = ""
    message: str = ""
    problem: ComposeProblem | None = None
    people: Mapping[str, str | None] = field(default_factory=dict)


# --- opening -----------------------------------------------------------------------------------


async def open_from_command(
    ctx: SlackContext, origin: Origin, command: ComposeCommand, trigger_id: str
) -> None:
    """``/sms`` that did not send at once: the form, with the colleagues named looked up."""
    colleagues = await look_up(ctx.web, command.mentions, ctx.settings.default_region)
    missing = tuple(c.label for c in colleagues.values() if c.number is None)
    problem = command.problem or (NoProfileNumber(missing) if missing else None)
    prefill = Prefill(command.to, command.message, problem, known_people(colleagues.values()))
    await open_compose(ctx, origin, prefill, trigger_id)


async def open_from_message(ctx: SlackContext, origin: Origin, text: str, trigger_id: str) -> None:
    """ "Send as SMS" on a message: the form with the message's text made readable."""
    names = await display_names(ctx.web, mentioned_users(text))
    await open_compose(ctx, origin, Prefill(message=readable_text(text, names)), trigger_id)


async def open_compose(
    ctx: SlackContext, origin: Origin, prefill: Prefill, trigger_id: str
) -> None:
    """Open the form (prefilled), if the person may send from where it was asked for."""
    decision = await ctx.service.access.check(origin.user_id, origin.channel_id)
    if not decision.allowed:
        await deny(ctx, origin, prefill, decision)
        return
    try:
        extensions = await ctx.service.senders.extensions()
    except SendFailure as failure:
        await ctx.web.tell(origin, texts.form_cannot_open(failure))
        return
    form = ComposeForm(_metadata(origin, prefill), extensions, ctx.settings.max_length,
                       ctx.settings.schedule_max_days, prefill.to, prefill.message,
                       prefill.problem)  # fmt: skip
    failure_code = await ctx.web.open_view(trigger_id, compose_view(form))
    if failure_code is not None:
        await ctx.web.tell(origin, texts.form_did_not_open(failure_code))


def _metadata(origin: Origin, prefill: Prefill) -> ModalMetadata:
    """The form remembers what opened it; the /sms command's form sends as ``modal``."""
    kind = OriginKind.MODAL if origin.kind is OriginKind.COMMAND else origin.kind
    return ModalMetadata(
        origin.channel_id, origin.response_url, kind, origin.thread_ts, prefill.people
    )


async def deny(ctx: SlackContext, origin: Origin, asked: Prefill, decision: Decision) -> None:
    """Record a refused attempt with every recipient it named, and tell the person."""
    await _record_denial(ctx, origin, asked, decision)
    await ctx.web.tell(origin, texts.denied_text(decision, ctx.settings.admins))


async def _record_denial(
    ctx: SlackContext, origin: Origin, asked: Prefill, decision: Decision
) -> None:
    read = read_to(asked.to, ctx.settings.default_region, asked.people)
    ask = Ask(origin, read.numbers, asked.message, labels=read.labels, unreadable=read.typed_others)
    await ctx.service.deny(ask, decision)


# --- submitting --------------------------------------------------------------------------------


async def check_submission(ctx: SlackContext, body: dict[str, Any]) -> Checked:
    """Validate a submission before the ack: the errors keyed by block id, if any."""
    view = body.get("view") or {}
    metadata = decode_metadata(view.get("private_metadata"))
    if metadata is None or not view.get("id"):
        return None, {Field.TO.value: texts.STALE_FORM}, None
    origin = view_origin(body, metadata)
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
        await _record_denial(ctx, origin, Prefill(to, message, people=metadata.people), decision)
        return origin, {Field.TO.value: texts.NOT_ALLOWED_HERE}, None
    return await _read(ctx, origin, body, admission, metadata)


async def _read(
    ctx: SlackContext, origin: Origin, body: dict[str, Any], usage: Usage, metadata: ModalMetadata
) -> Checked:
    service = ctx.service
    try:
        extensions = await service.senders.extensions()
    except SendFailure as failure:
        return origin, {Field.TO.value: texts.explain_failure(failure)}, None
    rules = SubmissionRules(ctx.settings.default_region, service.rules.policy, extensions,
                            service.clock(), metadata.people)  # fmt: skip
    result = read_submission(view_values(body), rules)
    if not isinstance(result, Submission):
        return origin, result, None
    opted_out = opted_out_refusal(
        result.recipients, await service.opt_outs.opted_out([n.e164 for n in result.recipients])
    )
    if opted_out is not None:
        return origin, {Field.TO.value: texts.refusal_text(opted_out)}, None
    refused = over_limit(usage, len(result.recipients), service.rules.hourly_limit)
    if refused is None:
        return origin, {}, result
    tz = await ctx.web.timezone(origin.user_id)
    return origin, {Field.TO.value: texts.over_limit_text(refused, tz)}, None


async def submit(ctx: SlackContext, origin: Origin, submission: Submission) -> None:
    """Store and send a checked submission; a home-composed one shows on the home tab."""
    service = ctx.service
    ask = Ask(origin, submission.recipients, submission.message, submission.send_at,
              labels=submission.labels)  # fmt: skip
    result = await service.submit(service.draft(ask, submission.sms_id))
    await tell_outcome(ctx, origin, result)  # over the limit: another request got in between
    if origin.kind is OriginKind.HOME and isinstance(result, Opened):
        await publish_home(ctx, origin.user_id, texts.home_sent(result.request.id))
