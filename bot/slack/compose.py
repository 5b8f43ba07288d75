"""The compose modal: opening it and handling its submission."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck

from bot.command import ComposeCommand
from bot.guards import Field
from bot.sipgate import SipgateError
from bot.slack.deps import Deps, Origin, after_ack
from bot.slack.modal import (
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
from bot.slack.replies import over_limit_text
from bot.store.base import Duplicate, OverLimit, Usage

log = logging.getLogger(__name__)

STALE_FORM = "This form is out of date. Close it and open a new one with /sms."
BOT_TROUBLE = (
    "Nothing was sent: the bot ran into a problem on its side (its database may be out of"
    " reach). Try again in a few minutes; if it keeps happening, tell your Slack admin."
)


async def open_compose(
    deps: Deps, origin: Origin, command: ComposeCommand, trigger_id: str
) -> None:
    """Open the modal (prefilled with what was understood), if the caller may send."""
    decision = await deps.access.check(origin.user_id, origin.channel_id)
    if not decision.allowed:
        numbers = readable_numbers(command.to, deps.settings.default_region)
        await deps.deny(origin, decision, deps.draft(origin, numbers, command.message, ""))
        return
    try:
        extensions = await deps.senders.extensions()
    except SipgateError as error:
        await deps.tell(origin, f"The SMS form cannot open: {error.explanation}")
        return
    settings = deps.settings
    form = ComposeForm(
        ModalMetadata(origin.channel_id, origin.response_url),
        extensions,
        settings.max_length,
        settings.schedule_max_days,
        command.to,
        command.message,
        command.problem,
    )
    failure = await deps.outbox.open_view(trigger_id, compose_view(form))
    if failure is not None:
        await deps.tell(origin, f"The SMS form could not open ({failure}). Please run /sms again.")


def register_compose(app: Any, deps: Deps) -> None:
    """Attach the modal's submission handler to the Bolt app."""

    async def on_submit(ack: AsyncAck, body: dict[str, Any]) -> None:
        view = body.get("view") or {}
        try:
            origin, errors, submission = await _check(deps, body, view)
        except Exception:  # the answer is due within 3 s: an explanation, never a 500
            log.exception("submission could not be checked", extra={"view": view.get("id")})
            await ack(response_action="errors", errors={Field.TO.value: BOT_TROUBLE})
            return
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        if origin is not None and submission is not None:
            after_ack(deps, origin, lambda: _submit(deps, origin, submission))

    app.view(CALLBACK_ID)(on_submit)


async def _check(
    deps: Deps, body: dict[str, Any], view: dict[str, Any]
) -> tuple[Origin | None, dict[str, str], Submission | None]:
    """Validate a submission before the ack: the errors keyed by block id, if any."""
    metadata = decode_metadata(view.get("private_metadata"))
    if metadata is None or not view.get("id"):
        return None, {Field.TO.value: STALE_FORM}, None
    origin = _origin(body, view, metadata)
    # One read answers both: seen before (checked before the hourly limit, which that very
    # request may have used up), and how much of the limit is left.
    admission = await deps.ledger.admission(origin.user_id, origin.interaction_key, deps.clock())
    if isinstance(admission, Duplicate):  # Slack delivered it again: ack, nothing else
        return origin, {}, None
    decision = await deps.access.check(origin.user_id, origin.channel_id)
    if not decision.allowed:
        to, message = typed_to_and_message(_values(view))
        numbers = readable_numbers(to, deps.settings.default_region)
        await deps.deny(origin, decision, deps.draft(origin, numbers, message, ""))
        return origin, {Field.TO.value: "You are not allowed to send SMS from here."}, None
    try:
        extensions = await deps.senders.extensions()
    except SipgateError as error:
        return origin, {Field.TO.value: error.explanation}, None
    rules = SubmissionRules(deps.settings.default_region, deps.policy, extensions, deps.clock())
    result = read_submission(_values(view), rules)
    if not isinstance(result, Submission):
        return origin, result, None
    errors = await _over_limit(deps, origin, admission, len(result.recipients))
    return origin, errors, result


def _values(view: dict[str, Any]) -> dict[str, Any]:
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    return values if isinstance(values, dict) else {}


def _origin(body: dict[str, Any], view: dict[str, Any], metadata: ModalMetadata) -> Origin:
    return Origin(
        interaction_key=f"view:{view.get('id')}",
        team_id=str((body.get("team") or {}).get("id", "")),
        user_id=str((body.get("user") or {}).get("id", "")),
        channel_id=metadata.channel_id,
        response_url=metadata.response_url,
    )


async def _over_limit(deps: Deps, origin: Origin, usage: Usage, recipients: int) -> dict[str, str]:
    limit = deps.settings.user_hourly_limit
    if usage.count + recipients <= limit:
        return {}
    refused = OverLimit(max(0, limit - usage.count), usage.next_free_at)
    tz = await deps.outbox.timezone(origin.user_id)
    return {Field.TO.value: over_limit_text(limit, refused, tz)}


async def _submit(deps: Deps, origin: Origin, submission: Submission) -> None:
    numbers = tuple(number.e164 for number in submission.recipients)
    draft = deps.draft(origin, numbers, submission.message, submission.sms_id, submission.send_at)
    result = await deps.service.submit(draft)
    if isinstance(result, OverLimit):  # another request got in between check and store
        tz = await deps.outbox.timezone(origin.user_id)
        await deps.tell(origin, over_limit_text(deps.settings.user_hourly_limit, result, tz))
