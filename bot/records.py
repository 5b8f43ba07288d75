"""What the ledger knows about a request and its sends.

A *request* is one Slack interaction (a slash command or a modal submission); it has one
*send* per recipient. Sends move through these states:

    denied                                   (the allowlist refused; nothing sent)
    scheduled ─► sending ─► accepted | failed | unknown
        │           └──────► cancelled       (requester no longer allowed when it fired)
        ├──► cancelled                       (/sms cancel or the Cancel button)
        └──► missed                          (overdue by more than SMS_SCHEDULE_GRACE at start-up)

``unknown`` means the request may have reached sipgate but no answer came back: the bot never
retries it, the requester is asked to check before resending.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

#: Where "now" comes from: ``datetime.now(UTC)`` in production, a hand-moved clock in tests.
Clock = Callable[[], datetime]


class State(enum.StrEnum):
    """The state of one send (one recipient of one request)."""

    DENIED = "denied"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    ACCEPTED = "accepted"
    FAILED = "failed"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"
    MISSED = "missed"

    @property
    def is_final(self) -> bool:
        """Whether nothing more will happen to a send in this state."""
        return self not in (State.SCHEDULED, State.SENDING)


#: States that do not count against the hourly limit (nothing was or will be sent).
UNCOUNTED_STATES = frozenset({State.DENIED, State.CANCELLED, State.MISSED})


class Scheduler(enum.StrEnum):
    """Who holds a scheduled send until it is due (``SMS_SCHEDULER``)."""

    BOT = "bot"
    SIPGATE = "sipgate"


@dataclass(frozen=True)
class RequestDraft:
    """A request as the Slack side understood it, before the ledger stores it."""

    # "command:<trigger_id>" or "view:<view id>": at most one SMS per recipient per key
    interaction_key: str
    team_id: str
    user_id: str
    channel_id: str
    response_url: str | None
    recipients: tuple[str, ...]  # E.164, in the order typed, no duplicates
    message: str = field(repr=False)
    sms_id: str
    segments: int
    requested_at: datetime
    send_at: datetime | None = None  # None: send now
    scheduler: Scheduler = Scheduler.BOT

    @property
    def held_by_bot(self) -> bool:
        """Whether the bot's own scheduler sends it later (rather than now or via sendAt)."""
        return self.send_at is not None and self.scheduler is Scheduler.BOT


@dataclass(frozen=True)
class SendRecord:
    """One recipient of a request and where its SMS stands."""

    id: int
    request_id: int
    recipient: str
    state: State
    sipgate_status: int | None = None
    error_kind: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class SmsRequest:
    """A stored request with (some of) its sends."""

    id: int
    interaction_key: str
    team_id: str
    user_id: str
    channel_id: str
    response_url: str | None
    message: str = field(repr=False)
    sms_id: str
    segments: int
    requested_at: datetime
    send_at: datetime | None
    scheduler: Scheduler
    status_channel: str | None
    status_ts: str | None
    sends: tuple[SendRecord, ...]

    @property
    def recipients(self) -> tuple[str, ...]:
        """The recipients of the sends this object carries."""
        return tuple(send.recipient for send in self.sends)


@dataclass(frozen=True)
class Event:
    """One transition of one send, as the audit history shows it."""

    send_id: int
    recipient: str
    state: State
    at: datetime
    detail: str | None = None
