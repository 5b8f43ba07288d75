"""The compose modal: building it and reading a submission back (pure).

Block ids and action ids are the same strings (``to``, ``message``, ``from``, ``when``) so
that errors can be keyed by block id exactly as Slack expects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.core import Field, GuardPolicy, OriginKind, PhoneNumber, SmsExtension, check_request
from bot.slack import texts
from bot.slack.parse import ComposeProblem, MessageMissing
from bot.slack.texts.blocks import plain_text
from bot.slack.to_field import read_to

CALLBACK_ID = "sms_compose"
_METADATA_LIMIT = 3000


@dataclass(frozen=True)
class ModalMetadata:
    """What travels in ``private_metadata``: where the modal was opened from and how.

    ``origin``: what opened it (the /sms command, a shortcut, the home tab); ``thread_ts``: the
    thread its status goes into; ``people``: colleagues named in To (``@anna`` → their
    number, None when their profile has none).
    """

    channel_id: str
    response_url: str | None = None
    origin: OriginKind = OriginKind.MODAL
    thread_ts: str | None = None
    people: Mapping[str, str | None] = field(default_factory=dict)

    def encode(self) -> str:
        data = {
            "channel": self.channel_id,
            "response_url": self.response_url,
            "origin": self.origin.value,
            "thread_ts": self.thread_ts,
            "people": dict(self.people),
        }
        raw = json.dumps(data)
        if len(raw) > _METADATA_LIMIT:  # a response_url is short; drop it rather than fail
            raw = json.dumps({**data, "response_url": None})
        return raw


def decode_metadata(raw: object) -> ModalMetadata | None:
    """Read ``private_metadata`` back; None when it is not what the bot wrote."""
    try:
        data = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("channel"), str):
        return None
    return ModalMetadata(
        data["channel"],
        _text_or_none(data.get("response_url")),
        _origin(data.get("origin")),
        _text_or_none(data.get("thread_ts")),
        _people(data.get("people")),
    )


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _origin(value: object) -> OriginKind:
    known = {kind.value: kind for kind in OriginKind}
    return known.get(value, OriginKind.MODAL) if isinstance(value, str) else OriginKind.MODAL


def _people(value: object) -> dict[str, str | None]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str | None)}


@dataclass(frozen=True)
class ComposeForm:
    """What the modal shows when it opens."""

    metadata: ModalMetadata
    extensions: Sequence[SmsExtension]
    max_length: int
    max_days: int
    to: str = ""
    message: str = ""
    problem: ComposeProblem | None = None


def compose_view(form: ComposeForm) -> dict[str, Any]:
    """The modal view for ``views.open``."""
    blocks = [_to_block(form), _message_block(form)]
    if len(form.extensions) > 1:
        blocks.append(_from_block(form.extensions))
    blocks.append(_when_block(form.max_days))
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": plain_text(texts.FORM_TITLE),
        "submit": plain_text(texts.FORM_SUBMIT),
        "close": plain_text(texts.FORM_CLOSE),
        "private_metadata": form.metadata.encode(),
        "blocks": blocks,
    }


def _problem_field(problem: ComposeProblem) -> Field:
    return Field.MESSAGE if isinstance(problem, MessageMissing) else Field.TO


def _hint(form: ComposeForm, field: Field, default: str) -> dict[str, Any]:
    if form.problem is not None and _problem_field(form.problem) is field:
        return plain_text(texts.form_problem(form.problem))
    return plain_text(default)


def _to_block(form: ComposeForm) -> dict[str, Any]:
    element = {
        "type": "plain_text_input",
        "action_id": Field.TO,
        "placeholder": plain_text(texts.TO_PLACEHOLDER),
    }
    if form.to:
        element["initial_value"] = form.to
    hint = _hint(form, Field.TO, texts.TO_HINT)
    return {
        "type": "input",
        "block_id": Field.TO,
        "label": plain_text(texts.TO_LABEL),
        "element": element,
        "hint": hint,
    }


def _message_block(form: ComposeForm) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": Field.MESSAGE,
        "multiline": True,
        "max_length": form.max_length,
    }
    if form.message:
        element["initial_value"] = form.message[: form.max_length]
    return {
        "type": "input",
        "block_id": Field.MESSAGE,
        "label": plain_text(texts.MESSAGE_LABEL),
        "element": element,
        "hint": _hint(form, Field.MESSAGE, texts.SEGMENT_HINT),
    }


def _extension_option(extension: SmsExtension) -> dict[str, Any]:
    return {"text": plain_text(texts.extension_label(extension)), "value": extension.id}


def _from_block(extensions: Sequence[SmsExtension]) -> dict[str, Any]:
    options = [_extension_option(extension) for extension in extensions[:100]]
    element = {
        "type": "static_select",
        "action_id": Field.FROM,
        "options": options,
        "initial_option": options[0],
    }
    return {
        "type": "input",
        "block_id": Field.FROM,
        "label": plain_text(texts.FROM_LABEL),
        "element": element,
    }


def _when_block(max_days: int) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": Field.WHEN,
        "optional": True,
        "label": plain_text(texts.WHEN_LABEL),
        "element": {"type": "datetimepicker", "action_id": Field.WHEN},
        "hint": plain_text(texts.when_hint(max_days)),
    }


@dataclass(frozen=True)
class Submission:
    """A valid submission, ready to become a request (``labels``: E.164 → ``@anna``)."""

    recipients: tuple[PhoneNumber, ...]
    message: str
    sms_id: str
    send_at: datetime | None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SubmissionRules:
    """What a submission is checked against (``people``: the colleagues the form knows)."""

    region: str
    policy: GuardPolicy
    extensions: Sequence[SmsExtension]
    now: datetime
    people: Mapping[str, str | None] = field(default_factory=dict)


Errors = dict[str, str]


def read_submission(values: Mapping[str, Any], rules: SubmissionRules) -> Submission | Errors:
    """Validate the modal's ``state.values``: a Submission or errors keyed by block id."""
    errors: Errors = {}
    to = read_to(_text(values, Field.TO), rules.region, rules.people)
    if to.unreadable or to.no_number:
        errors[Field.TO.value] = texts.to_problem(to.unreadable, to.no_number)
    recipients = to.numbers
    message = _text(values, Field.MESSAGE)
    sms_id = _read_sms_id(values, rules.extensions, errors)
    send_at = _read_when(values, errors)
    for refusal in check_request(recipients, message, send_at, rules.now, rules.policy):
        errors.setdefault(refusal.field.value, texts.refusal_text(refusal))
    if errors or sms_id is None:
        return errors or {Field.FROM.value: texts.PICK_EXTENSION}
    return Submission(recipients, message, sms_id, send_at, to.labels)


def _state(values: Mapping[str, Any], field: Field) -> Mapping[str, Any]:
    block = values.get(field.value)
    element = block.get(field.value) if isinstance(block, Mapping) else None
    return element if isinstance(element, Mapping) else {}


def _text(values: Mapping[str, Any], field: Field) -> str:
    value = _state(values, field).get("value")
    return value if isinstance(value, str) else ""


def typed_to_and_message(values: Mapping[str, Any]) -> tuple[str, str]:
    """The To and Message texts of a submission as typed, valid or not."""
    return _text(values, Field.TO), _text(values, Field.MESSAGE)


def _read_sms_id(
    values: Mapping[str, Any], extensions: Sequence[SmsExtension], errors: Errors
) -> str | None:
    if len(extensions) <= 1 or Field.FROM.value not in values:
        return extensions[0].id if extensions else None
    option = _state(values, Field.FROM).get("selected_option")
    chosen = option.get("value") if isinstance(option, Mapping) else None
    if chosen not in {extension.id for extension in extensions}:
        errors[Field.FROM.value] = texts.PICK_LISTED_EXTENSION
        return None
    return str(chosen)


def _read_when(values: Mapping[str, Any], errors: Errors) -> datetime | None:
    raw = _state(values, Field.WHEN).get("selected_date_time")
    if raw is None:
        return None
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 < raw < 2**33:
        errors[Field.WHEN.value] = texts.PICK_TIME
        return None
    return datetime.fromtimestamp(raw, UTC)
