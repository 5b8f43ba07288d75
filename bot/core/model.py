"""What the bot knows about requests and their sends, and the answers the ledger gives.

A *request* is one interaction (a slash command, a modal submission); it has one *send* per
recipient. Sends move through these states:

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

#: Where "now" comes from: ``utc_now`` in production, a hand-moved clock in tests.
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def require_aware(*moments: datetime | None) -> None:
    """Refuse naive datetimes loudly: they would be compared against the wrong clock."""
    for moment in moments:
        if moment is not None and moment.utcoffset() is None:
            raise ValueError("timezone-aware datetimes only")


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


#: States that do not count against the hourly limit (nothing was or will be sent).
UNCOUNTED_STATES = frozenset({State.DENIED, State.CANCELLED, State.MISSED})


class Scheduler(enum.StrEnum):
    """Who holds a scheduled send until it is due (``SMS_SCHEDULER``)."""

    BOT = "bot"
    SIPGATE = "sipgate"


@dataclass(frozen=True)
class SmsExtension:
    """A sender: an SMS extension (``s0``…); ``caller_id`` is what recipients see."""

    id: str
    alias: str
    caller_id: str


class OriginKind(enum.StrEnum):
    """How a request was started."""

    COMMAND = "command"  # /sms with numbers and text
    MODAL = "modal"  # the compose form
    SHORTCUT = "shortcut"  # "Send as SMS" on a message
    REPLY = "reply"  # an answer to an incoming SMS (Reply button, mention, thread message)
    HOME = "home"  # the Compose button of the home tab


@dataclass(frozen=True)
class Origin:
    """Where an interaction came from and how to answer its requester privately.

    ``interaction_key`` is the interaction's identity (``command:<trigger_id>``,
    ``view:<view id>``…): at most one SMS per recipient per key. ``thread_ts``: the status
    goes into that thread of ``channel_id`` rather than starting one of its own.
    """

    interaction_key: str
    team_id: str
    user_id: str
    channel_id: str
    response_url: str | None
    kind: OriginKind = OriginKind.COMMAND
    thread_ts: str | None = None


@dataclass(frozen=True)
class RequestDraft:
    """A request as an edge understood it, before the ledger stores it."""

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
    origin: OriginKind = OriginKind.COMMAND
    thread_ts: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)  # E.164 → who it is ("@anna")

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
    label: str | None = None  # who the number belongs to, when named so ("@anna")


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
    origin: OriginKind = OriginKind.COMMAND
    thread_ts: str | None = None

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


@dataclass(frozen=True)
class Opened:
    """The request was stored; its sends are ``sending`` (now) or ``scheduled``."""

    request: SmsRequest


@dataclass(frozen=True)
class Duplicate:
    """The interaction was seen before: acknowledge and do nothing."""

    request_id: int


@dataclass(frozen=True)
class OverLimit:
    """The request would take the user over the hourly limit; nothing was stored."""

    limit: int
    remaining: int  # how many more SMS the user may request right now (may be 0)
    next_free_at: datetime | None  # when the oldest counted SMS leaves the rolling hour


OpenResult = Opened | Duplicate | OverLimit


@dataclass(frozen=True)
class Usage:
    """How many SMS a user requested in the rolling hour before now."""

    count: int
    next_free_at: datetime | None


class CancelOutcome(enum.Enum):
    """What cancelling a request did."""

    CANCELLED = "cancelled"
    NOT_FOUND = "not_found"
    NOT_ALLOWED = "not_allowed"
    TOO_LATE = "too_late"  # nothing left in ``scheduled``: already sent, failed or cancelled


@dataclass(frozen=True)
class CancelResult:
    outcome: CancelOutcome
    request: SmsRequest | None  # with all its sends, after the change (None if not found)


class StatusKind(enum.StrEnum):
    """What a status post tells (one row of the ledger's outbox)."""

    OPENED = "opened"  # a request was stored: its status message
    SCHEDULED = "scheduled"  # the bot holds it until it is due
    OUTCOME = "outcome"  # sends got an outcome (sent, failed, unknown, refused when due)
    CANCELLED = "cancelled"  # someone cancelled it before it was due
    MISSED = "missed"  # it fell due while the bot was down, beyond the grace period
    INBOUND = "inbound"  # an incoming SMS to show


@dataclass(frozen=True)
class StatusPost:
    """A status post waiting in the ledger until Slack has it, delivered in order per queue.

    ``request`` and ``sends``: what the ledger knew when it recorded the post (the request as
    stored, or the sends that changed), so that whoever delivers it need not read it back;
    they are not stored, and a post read from the ledger has neither.
    """

    id: int
    queue: str  # "request:<id>" or "conversation:<id>"
    kind: StatusKind
    request_id: int | None
    send_ids: tuple[int, ...]
    detail: str | None  # CANCELLED: who; INBOUND: the inbound SMS's id
    created_at: datetime
    next_attempt_at: datetime
    attempts: int = 0
    request: SmsRequest | None = field(default=None, compare=False, repr=False)
    sends: tuple[SendRecord, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class OAuthTokens:
    """The sipgate OAuth tokens the ledger keeps; ``generation`` grows with each rotation.

    ``refresh_at``: when to refresh the access token (before it expires at ``expires_at``).
    """

    refresh_token: str = field(repr=False)
    access_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    refresh_at: datetime | None = None
    generation: int = 0
    dead: bool = False

    def usable(self, now: datetime) -> bool:
        """Whether the access token may be used now without refreshing it first."""
        return bool(self.access_token) and self.refresh_at is not None and now < self.refresh_at


@dataclass(frozen=True)
class IncomingSms:
    """An SMS someone sent to the account, as the provider's history shows it."""

    entry_id: str  # the history entry's id: each is shown exactly once
    source: str  # the sender's number as the provider gave it
    target: str
    text: str = field(repr=False)
    sent_at: datetime


@dataclass(frozen=True)
class Conversation:
    """A thread where an exchange with one number is shown: an inbox thread (``thread_ts`` is
    None until its first message is posted), or the thread of a request (``request_id``)."""

    id: int
    number: str
    channel_id: str
    thread_ts: str | None
    request_id: int | None


@dataclass(frozen=True)
class Inbound:
    """An incoming SMS the ledger claimed, and where it is shown."""

    id: int
    number: str
    text: str = field(repr=False)
    sent_at: datetime
    contact_name: str | None
    opt: str | None  # "out" or "in" when it was an opt-out or opt-in keyword
    conversation: Conversation


@dataclass(frozen=True)
class OptOut:
    """A number that asked not to be texted: since when, how (the keyword, or "admin"), by whom."""

    number: str
    since: datetime
    how: str
    by: str | None = None


@dataclass(frozen=True)
class AuditPeriod:
    """Requests created from ``start`` up to ``end`` (exclusive; None: up to now)."""

    start: datetime
    end: datetime | None = None

    def __post_init__(self) -> None:
        require_aware(self.start, self.end)


@dataclass(frozen=True)
class AuditRow:
    """One recipient of one request, as the audit export shows it.

    ``recipient`` is E.164, or the number as typed for a denied request that named one the bot
    could not read. ``status_delivery``: ``undelivered`` when a status post of the request was
    given up, ``pending`` while one waits, ``delivered``; None for a request with no status.
    """

    request_id: int
    send_id: int
    created_at: datetime
    user_id: str
    channel_id: str
    origin: OriginKind
    recipient: str
    state: State
    sipgate_status: int | None
    error_kind: str | None
    scheduled_for: datetime | None
    finished_at: datetime | None
    segments: int
    message: str = field(repr=False)
    status_delivery: str | None = None


@dataclass(frozen=True)
class UserCounts:
    """How many SMS a user requested in the last 24 hours and the last 30 days."""

    user_id: str
    day: int
    month: int


@dataclass(frozen=True)
class Listing:
    """Requests to list (scheduled first, soonest first; then the latest), and how many
    scheduled ones were left out."""

    requests: tuple[SmsRequest, ...]
    more_scheduled: int = 0
