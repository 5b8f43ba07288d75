"""Cost and abuse guards and the hourly limit, as pure functions every send path shares.

Each refusal names what it is about (the modal shows it under that field) and carries its
reasons as data; the Slack edge words them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.model import OptOut, OverLimit, Usage, require_aware
from bot.core.phone import PhoneNumber

__all__ = [
    "EmptyMessage",
    "Field",
    "ForeignNumbers",
    "GuardPolicy",
    "InThePast",
    "NoRecipients",
    "OptedOut",
    "Reason",
    "Refusal",
    "TooFarAhead",
    "TooLong",
    "TooManyRecipients",
    "check_request",
    "opted_out_refusal",
    "over_limit",
]


class Field(StrEnum):
    """What a refusal is about; the values are the compose form's block ids."""

    TO = "to"
    MESSAGE = "message"
    WHEN = "when"
    FROM = "from"


@dataclass(frozen=True)
class NoRecipients:
    pass


@dataclass(frozen=True)
class TooManyRecipients:
    count: int
    most: int


@dataclass(frozen=True)
class ForeignNumbers:
    numbers: tuple[PhoneNumber, ...]
    allowed: frozenset[str]


@dataclass(frozen=True)
class OptedOut:
    """The number asked not to be texted (an opt-out SMS, or an admin)."""

    number: str  # E.164
    since: datetime


@dataclass(frozen=True)
class EmptyMessage:
    pass


@dataclass(frozen=True)
class TooLong:
    length: int
    most: int


@dataclass(frozen=True)
class InThePast:
    pass


@dataclass(frozen=True)
class TooFarAhead:
    days: int


Reason = (
    NoRecipients
    | TooManyRecipients
    | ForeignNumbers
    | OptedOut
    | EmptyMessage
    | TooLong
    | InThePast
    | TooFarAhead
)


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused, for one field."""

    field: Field
    reasons: tuple[Reason, ...]


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
    require_aware(now, send_at)
    found = {
        Field.TO: _recipient_problems(recipients, policy),
        Field.MESSAGE: _message_problems(message, policy),
        Field.WHEN: _time_problems(send_at, now, policy),
    }
    return [Refusal(field, tuple(reasons)) for field, reasons in found.items() if reasons]


def opted_out_refusal(
    recipients: Sequence[PhoneNumber], opt_outs: Mapping[str, OptOut]
) -> Refusal | None:
    """The recipients that opted out, as one refusal on the To field (None: none did)."""
    reasons = tuple(
        OptedOut(number.e164, opt_outs[number.e164].since)
        for number in recipients
        if number.e164 in opt_outs
    )
    return Refusal(Field.TO, reasons) if reasons else None


def over_limit(usage: Usage, requested: int, limit: int) -> OverLimit | None:
    """The hourly limit: None when ``requested`` more SMS fit, else how many remain and when."""
    if usage.count + requested <= limit:
        return None
    return OverLimit(limit, max(0, limit - usage.count), usage.next_free_at)


def _recipient_problems(recipients: Sequence[PhoneNumber], policy: GuardPolicy) -> list[Reason]:
    if not recipients:
        return [NoRecipients()]
    problems: list[Reason] = []
    if len(recipients) > policy.max_recipients:
        problems.append(TooManyRecipients(len(recipients), policy.max_recipients))
    foreign = tuple(n for n in recipients if n.region not in policy.allowed_countries)
    if foreign:
        problems.append(ForeignNumbers(foreign, policy.allowed_countries))
    return problems


def _message_problems(message: str, policy: GuardPolicy) -> list[Reason]:
    if not message.strip():
        return [EmptyMessage()]
    if len(message) > policy.max_length:
        return [TooLong(len(message), policy.max_length)]
    return []


def _time_problems(send_at: datetime | None, now: datetime, policy: GuardPolicy) -> list[Reason]:
    """Any time after now is fine: the picker chooses whole minutes, so the next one works."""
    if send_at is None:
        return []
    if send_at <= now:
        return [InThePast()]
    if send_at > now + timedelta(days=policy.schedule_max_days):
        return [TooFarAhead(policy.schedule_max_days)]
    return []
