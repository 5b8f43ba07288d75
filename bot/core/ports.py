"""The ports: what the core needs from the world, as typed protocols the edges implement.

    Ledger        durable record of every request and send          (bot.store)
    SmsGateway    hands SMS to the provider, lists the senders       (bot.sipgate)
    StatusSink    tells people what happened to a request            (bot.slack)
    GroupMembers  who is in a user group                             (bot.slack)

Every ``Ledger`` method raises ``LedgerUnavailable`` when its database cannot be used; every
``SmsGateway`` method raises a ``SendFailure``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.core.model import (
    CancelResult,
    Duplicate,
    Event,
    OpenResult,
    RequestDraft,
    SendRecord,
    SmsExtension,
    SmsRequest,
    State,
    Usage,
)


class Ledger(Protocol):
    """Durable record of every request and send; the system of record for the bot."""

    async def open_request(self, draft: RequestDraft, *, hourly_limit: int) -> OpenResult:
        """Store a request and its sends atomically, unless duplicate or over the limit."""
        ...

    async def record_denied(self, draft: RequestDraft, reason: str) -> None:
        """Store a refused attempt (every recipient ``denied``); duplicates are ignored."""
        ...

    async def admission(
        self, user_id: str, interaction_key: str, now: datetime
    ) -> Usage | Duplicate:
        """Before an ack: Duplicate if the interaction is stored, else the user's usage."""
        ...

    async def set_status_message(self, request_id: int, channel_id: str, ts: str) -> None:
        """Remember where the request's status parent message is."""
        ...

    async def finish(
        self,
        send_id: int,
        state: State,
        *,
        sipgate_status: int | None = None,
        error_kind: str | None = None,
    ) -> bool:
        """Move a ``sending`` send to a final state; False if it was not ``sending``."""
        ...

    async def claim_due(self, now: datetime, limit: int) -> list[SmsRequest]:
        """Move due ``scheduled`` sends to ``sending``; each is claimed by one caller only."""
        ...

    async def expire_overdue(self, now: datetime, grace: timedelta) -> list[SmsRequest]:
        """Mark ``scheduled`` sends due before ``now - grace`` as ``missed``."""
        ...

    async def resolve_orphans(self, claimed_before: datetime) -> list[SmsRequest]:
        """Mark sends left in ``sending`` since before ``claimed_before`` as ``unknown``."""
        ...

    async def cancel(self, request_id: int, *, user_id: str, is_admin: bool) -> CancelResult:
        """Cancel the ``scheduled`` sends of a request, if the user may."""
        ...

    async def get_request(self, request_id: int) -> SmsRequest | None:
        """One request with all its sends."""
        ...

    async def list_for_user(self, user_id: str, *, recent: int = 10) -> list[SmsRequest]:
        """The user's requests still scheduled plus their ``recent`` latest others."""
        ...

    async def pending_count(self) -> int:
        """How many sends are ``scheduled`` (the scheduler backlog)."""
        ...

    async def history(self, request_id: int) -> list[Event]:
        """Every transition of every send of a request, oldest first."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class SmsGateway(Protocol):
    """The SMS provider."""

    async def send_sms(
        self, sms_id: str, recipient: str, message: str, send_at: datetime | None = None
    ) -> None:
        """Hand one SMS over; returning means it was accepted (not delivered)."""
        ...

    async def discover_extensions(self) -> list[SmsExtension]:
        """The senders the credentials may use, in the provider's order; never empty."""
        ...


# --- what a status sink is told ----------------------------------------------------------------


@dataclass(frozen=True)
class Fired:
    """A scheduled request was sent when due; ``sends`` are the ones just sent."""

    sends: Sequence[SendRecord]


@dataclass(frozen=True)
class Cancelled:
    """Someone cancelled the request before it was due."""

    by_user: str


@dataclass(frozen=True)
class Missed:
    """The request fell due while the bot was down, longer ago than the grace period."""


@dataclass(frozen=True)
class Unknown:
    """The bot stopped while waiting for the gateway's answer to ``sends``."""

    sends: Sequence[SendRecord]


@dataclass(frozen=True)
class NoLongerAllowed:
    """The requester lost access before the request fell due; nothing was sent."""


LaterEvent = Fired | Cancelled | Missed | Unknown | NoLongerAllowed


class StatusSink(Protocol):
    """Tells people what happened to a request; the edge decides how that looks."""

    async def opened(self, request: SmsRequest) -> SmsRequest:
        """A request was stored: show it; the request with where it is shown."""
        ...

    async def scheduled(self, request: SmsRequest) -> None:
        """The bot holds the (opened) request until it is due."""
        ...

    async def outcome(self, request: SmsRequest) -> None:
        """Every send of the (opened) request has its first outcome."""
        ...

    async def later(self, request: SmsRequest, event: LaterEvent) -> None:
        """Something happened to a stored request (``request`` carries all its sends)."""
        ...


class GroupMembers(Protocol):
    """The members of a user group; raises ``LookupError`` when they cannot be read."""

    async def __call__(self, group: str) -> list[str]: ...
