"""The one interface the rest of the bot uses to reach durable storage."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.records import Event, RequestDraft, SmsRequest, State


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

    remaining: int  # how many more SMS the user may request right now (may be 0)
    next_free_at: datetime | None  # when the oldest counted SMS leaves the rolling hour


OpenResult = Opened | Duplicate | OverLimit


@dataclass(frozen=True)
class Usage:
    """How many SMS a user requested in the rolling hour before ``now``."""

    count: int
    next_free_at: datetime | None


class CancelOutcome(enum.Enum):
    """What ``Ledger.cancel`` did."""

    CANCELLED = "cancelled"
    NOT_FOUND = "not_found"
    NOT_ALLOWED = "not_allowed"
    TOO_LATE = "too_late"  # nothing left in ``scheduled``: already sent, failed or cancelled


@dataclass(frozen=True)
class CancelResult:
    outcome: CancelOutcome
    request: SmsRequest | None  # with all its sends, after the change (None if not found)


class Ledger(Protocol):
    """Durable record of every request and send; the system of record for the bot."""

    async def open_request(self, draft: RequestDraft, *, hourly_limit: int) -> OpenResult:
        """Store a request and its sends atomically, unless duplicate or over the limit."""
        ...

    async def record_denied(self, draft: RequestDraft, reason: str) -> None:
        """Store a refused attempt (every recipient ``denied``); duplicates are ignored."""
        ...

    async def usage(self, user_id: str, now: datetime) -> Usage:
        """Count the user's SMS in the rolling hour before ``now``."""
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
