"""The compose modal: building it and reading a submission back (pure).

Block ids and action ids are the same strings (``to``, ``message``, ``from``, ``when``) so
that errors can be keyed by block id exactly as Slack expects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.guards import Field, GuardPolicy, check_request
from bot.phone import NumberError, PhoneNumber, parse_number
from bot.segments import SEGMENT_HINT
from bot.sipgate import SmsExtension

CALLBACK_ID = "sms_compose"
_METADATA_LIMIT = 3000


@dataclass(frozen=True)
class ModalMetadata:
    """What travels in ``private_metadata``: where the modal was opened from."""

    channel_id: str
    response_url: str | None = None

    def encode(self) -> str:
        raw = json.dumps({"channel": self.channel_id, "response_url": self.response_url})
        if len(raw) > _METADATA_LIMIT:  # a response_url is short; drop it rather than fail
            raw = json.dumps({"channel": self.channel_id, "response_url": None})
        return raw


def decode_metadata(raw: object) -> ModalMetadata | None:
    """Read ``private_metadata`` back; None when it is not what the bot wrote."""
    try:
        data = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("channel"), str):
        return None
    url = data.get("response_url")
    return ModalMetadata(data["channel"], url if isinstance(url, str) else None)


@dataclass(frozen=True)
class ComposeForm:
    """What the modal shows when it opens."""

    metadata: ModalMetadata
    extensions: Sequence[SmsExtension]
    max_length: int
    max_days: int
    to: str = ""
    message: str = ""
    problem: str | None = None


def compose_view(form: ComposeForm) -> dict[str, Any]:
    """The modal view for ``views.open``."""
    blocks = [_to_block(form), _message_block(form)]
    if len(form.extensions) > 1:
        blocks.append(_from_block(form.extensions))
    blocks.append(_when_block(form.max_days))
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": _plain("Send an SMS"),
        "submit": _plain("Send"),
        "close": _plain("Cancel"),
        "private_metadata": form.metadata.encode(),
        "blocks": blocks,
    }


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def _problem_field(form: ComposeForm) -> Field:
    return Field.MESSAGE if form.to and not form.message else Field.TO


def _hint(form: ComposeForm, field: Field, default: str) -> dict[str, Any]:
    if form.problem and _problem_field(form) is field:
        return _plain(f"⚠️ {form.problem}"[:2000])
    return _plain(default)


def _to_block(form: ComposeForm) -> dict[str, Any]:
    element = {
        "type": "plain_text_input",
        "action_id": Field.TO,
        "placeholder": _plain("+49 151 12345678, 0170 1234567"),
    }
    if form.to:
        element["initial_value"] = form.to
    hint = _hint(form, Field.TO, "One or more numbers, separated by commas.")
    return {
        "type": "input",
        "block_id": Field.TO,
        "label": _plain("To"),
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
        "label": _plain("Message"),
        "element": element,
        "hint": _hint(form, Field.MESSAGE, SEGMENT_HINT),
    }


def _extension_option(extension: SmsExtension) -> dict[str, Any]:
    label = " · ".join(part for part in (extension.alias, extension.caller_id) if part)
    text = f"{label} ({extension.id})" if label else extension.id
    return {"text": _plain(text[:75]), "value": extension.id}


def _from_block(extensions: Sequence[SmsExtension]) -> dict[str, Any]:
    options = [_extension_option(extension) for extension in extensions[:100]]
    element = {
        "type": "static_select",
        "action_id": Field.FROM,
        "options": options,
        "initial_option": options[0],
    }
    return {"type": "input", "block_id": Field.FROM, "label": _plain("From"), "element": element}


def _when_block(max_days: int) -> dict[str, Any]:
    hint = f"Leave empty to send now. At most {max_days} days ahead."
    return {
        "type": "input",
        "block_id": Field.WHEN,
        "optional": True,
        "label": _plain("When"),
        "element": {"type": "datetimepicker", "action_id": Field.WHEN},
        "hint": _plain(hint),
    }


@dataclass(frozen=True)
class Submission:
    """A valid submission, ready to become a request."""

    recipients: tuple[PhoneNumber, ...]
    message: str
    sms_id: str
    send_at: datetime | None


@dataclass(frozen=True)
class SubmissionRules:
    """What a submission is checked against."""

    region: str
    policy: GuardPolicy
    extensions: Sequence[SmsExtension]
    now: datetime


Errors = dict[str, str]


def read_submission(values: Mapping[str, Any], rules: SubmissionRules) -> Submission | Errors:
    """Validate the modal's ``state.values``: a Submission or errors keyed by block id."""
    errors: Errors = {}
    recipients = _read_recipients(_text(values, Field.TO), rules.region, errors)
    message = _text(values, Field.MESSAGE)
    sms_id = _read_sms_id(values, rules.extensions, errors)
    send_at = _read_when(values, errors)
    for refusal in check_request(recipients, message, send_at, rules.now, rules.policy):
        errors.setdefault(refusal.field.value, refusal.text)
    if errors or sms_id is None:
        return errors or {Field.FROM.value: "Pick the extension to send from."}
    return Submission(tuple(recipients), message, sms_id, send_at)


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


def readable_numbers(text: str, region: str) -> tuple[str, ...]:
    """The E.164 numbers of a To text that can be read, the rest ignored (to record a denial)."""
    return tuple(number.e164 for number in _read_recipients(text, region, {}))


def split_recipients(text: str) -> list[str]:
    """The recipient parts of a To field: commas, semicolons or new lines between numbers."""
    for separator in (";", "\n"):
        text = text.replace(separator, ",")
    return [part.strip() for part in text.split(",") if part.strip()]


def _read_recipients(text: str, region: str, errors: Errors) -> list[PhoneNumber]:
    numbers: list[PhoneNumber] = []
    problems: list[str] = []
    for part in split_recipients(text):
        try:
            number = parse_number(part, region)
        except NumberError as error:
            problems.append(error.reason)
            continue
        if number not in numbers:
            numbers.append(number)
    if problems:
        errors[Field.TO.value] = " ".join(problems)[:2000]
    return numbers


def _read_sms_id(
    values: Mapping[str, Any], extensions: Sequence[SmsExtension], errors: Errors
) -> str | None:
    if len(extensions) <= 1 or Field.FROM.value not in values:
        return extensions[0].id if extensions else None
    option = _state(values, Field.FROM).get("selected_option")
    chosen = option.get("value") if isinstance(option, Mapping) else None
    if chosen not in {extension.id for extension in extensions}:
        errors[Field.FROM.value] = "Pick one of the listed extensions."
        return None
    return str(chosen)


def _read_when(values: Mapping[str, Any], errors: Errors) -> datetime | None:
    raw = _state(values, Field.WHEN).get("selected_date_time")
    if raw is None:
        return None
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 < raw < 2**33:
        errors[Field.WHEN.value] = "Pick a date and time."
        return None
    return datetime.fromtimestamp(raw, UTC)
