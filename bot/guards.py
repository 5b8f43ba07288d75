"""Cost and abuse guards as one pure check, shared by quick send and the modal.

Each refusal names the modal field it belongs to, so the modal can show it under that field
and a quick send can list them all in one ephemeral reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.phone import PhoneNumber

__all__ = ["Field", "GuardPolicy", "Refusal", "check_request"]


class Field(StrEnum):
    """What a refusal is about; the values are the modal's block ids."""

    TO = "to"
    MESSAGE = "message"
    WHEN = "when"
    FROM = "from"


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused, in plain words for the requester."""

    field: Field
    text: str


@dataclass(frozen=True)
class GuardPolicy:
    """The limits an admin configures (SMS_ALLOWED_COUNTRIES, SMS_MAX_*, SMS_SCHEDULE_MAX_DAYS)."""

    allowed_countries: frozenset[str]
    max_recipients: int
    max_length: int
    schedule_max_days: int


def check_request(
    recipients: Sequence[PhoneNumber],
    message: str,
    send_at: datetime | None,
    now: datetime,
    policy: GuardPolicy,
) -> list[Refusal]:
    """Everything wrong with a request, at most one refusal per field; empty means allowed."""
    _require_aware(now, send_at)
    found = {
        Field.TO: _recipient_problems(recipients, policy),
        Field.MESSAGE: _message_problems(message, policy),
        Field.WHEN: _time_problems(send_at, now, policy),
    }
    return [Refusal(field, " ".join(texts)) for field, texts in found.items() if texts]


def _require_aware(*moments: datetime | None) -> None:
    """A naive datetime would compare against the wrong clock; refuse it loudly."""
    for moment in moments:
        if moment is not None and moment.utcoffset() is None:
            raise ValueError("check_request needs timezone-aware datetimes")


def _recipient_problems(recipients: Sequence[PhoneNumber], policy: GuardPolicy) -> list[str]:
    if not recipients:
        return ["Add at least one recipient."]
    problems = []
    if len(recipients) > policy.max_recipients:
        problems.append(
            f"That is {len(recipients)} recipients; at most {policy.max_recipients} "
            "recipients per request."
        )
    foreign = [number for number in recipients if number.region not in policy.allowed_countries]
    if foreign:
        problems.append(_country_text(foreign, policy.allowed_countries))
    return problems


def _country_text(foreign: Sequence[PhoneNumber], allowed: frozenset[str]) -> str:
    """Name every refused number and its country, and what is allowed instead."""
    where = ", ".join(f"{number.international} is in {number.region}" for number in foreign)
    if not allowed:
        return f"{where}; this workspace may not text any country."
    return f"{where}; this workspace may only text {', '.join(sorted(allowed))}."


def _message_problems(message: str, policy: GuardPolicy) -> list[str]:
    if not message.strip():
        return ["The message is empty."]
    if len(message) > policy.max_length:
        over = len(message) - policy.max_length
        return [
            f"The message is {len(message)} characters, {over} over the limit of "
            f"{policy.max_length}."
        ]
    return []


def _time_problems(send_at: datetime | None, now: datetime, policy: GuardPolicy) -> list[str]:
    """Any time after now is fine: the picker chooses whole minutes, so the next one works."""
    if send_at is None:
        return []
    if send_at <= now:
        return ["That time is in the past; pick a time in the future."]
    if send_at > now + timedelta(days=policy.schedule_max_days):
        return [f"You can schedule at most {policy.schedule_max_days} days ahead."]
    return []
