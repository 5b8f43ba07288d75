"""The compose form's labels and hints."""

from __future__ import annotations

from bot.core import (
    SmsExtension,
)
from bot.slack.parse import (
    ComposeProblem,
)
from bot.slack.texts.answers import compose_problem

FORM_TITLE = "Send an SMS"
FORM_SUBMIT = "Send"
FORM_CLOSE = "Cancel"
TO_LABEL = "To"
TO_PLACEHOLDER = "+49 151 12345678, 0170 1234567"
TO_HINT = "One or more numbers, separated by commas."
MESSAGE_LABEL = "Message"
SEGMENT_HINT = (
    "One SMS holds 160 characters (153 per part when longer, and ^ { } [ ] ~ | \\ € count twice); "
    "any character outside the GSM-7 set, such as an emoji, makes it 70 (67 per part)."
)
FROM_LABEL = "From"
PICK_EXTENSION = "Pick the extension to send from."
PICK_LISTED_EXTENSION = "Pick one of the listed extensions."
WHEN_LABEL = "When"
PICK_TIME = "Pick a date and time."


def when_hint(max_days: int) -> str:
    return f"Leave empty to send now. At most {max_days} days ahead."


def form_problem(problem: ComposeProblem) -> str:
    """A quick send's problem, shown under the field of the form it concerns."""
    return f"⚠️ {compose_problem(problem)}"[:2000]


def extension_label(extension: SmsExtension) -> str:
    """An extension in the form's From list: ``Support · +49… (s1)``."""
    label = " · ".join(part for part in (extension.alias, extension.caller_id) if part)
    return (f"{label} ({extension.id})" if label else extension.id)[:75]


def sender_label(extension: SmsExtension) -> str:
    """An extension in a status message: ``Support (s1)``, or just ``s1``."""
    return f"{extension.alias} ({extension.id})" if extension.alias else extension.id
