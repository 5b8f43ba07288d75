"""The ports: what the core needs from the world, as typed protocols the edges implement.

    Ledger        durable record of every request and send, and the
                  outbox of status posts                             (bot.store)
    InboundLedger incoming SMS claimed, conversations                (bot.store)
    OptOutList    numbers that asked not to be texted                (bot.store)
    SmsInbox      incoming SMS and contact names at the provider     (bot.sipgate)
    TokenStore    the sipgate OAuth tokens                           (bot.store)
    SmsGateway    hands SMS to the provider, lists the senders       (bot.sipgate)
    GroupMembers  who is in a user group                             (bot.slack)

Every ``Ledger`` method raises ``LedgerUnavailable`` when its database cannot be used; every
``SmsGateway`` method raises a ``SendFailure``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from bot.core.model import (
    AuditPeriod,
    AuditRow,
    CancelResult,
    Conversation,
    Duplicate,
    Event,
    Inbound,
    IncomingSms,
    Listing,
    OAuthTokens,
    OpenResult,
    OptOut,
    RequestDraft,
    SmsExtension,
    SmsRequest,
    State,
    StatusPost,
    Usage,
    UserCounts,
)
from bot.core.optout import Opt

StatusListener = Callable[[Sequence[StatusPost]], None]


class Ledger(Protocol):
    """Durable record of every request and send; the system of record for the bot.

    It is also the status outbox: every transition that people should hear about records its
    ``StatusPost`` in the same transaction (``open_request``: opened, and scheduled when the
    bot holds it; ``finish`` and ``resolve_orphans``: an outcome per send; ``cancel``:
    cancelled; ``expire_overdue``: missed), locked to this instance, and the listener given to
    ``on_status`` hears about them after the commit.
    """

    @property
    def instance_id(self) -> str:
        """This instance: its sends and status posts carry it; its lease keeps them its own."""
        ...

    def on_status(self, listener: StatusListener) -> None:
        """Call ``listener`` with the status posts this instance records, after each commit."""
        ...

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

    # --- what people and admins look at ------------------------------------------------------

    async def usage(self, user_id: str, now: datetime) -> Usage:
        """The SMS the user requested in the rolling hour before ``now`` (the hourly limit)."""
        ...

    async def list_everyone(self, *, recent: int, scheduled: int) -> Listing:
        """Everyone's requests: up to ``scheduled`` still scheduled (soonest first), then the
        ``recent`` latest others (with ``scheduled`` 0: the ``recent`` latest of all)."""
        ...

    async def counts_by_user(self, now: datetime) -> list[UserCounts]:
        """SMS per user requested in the last 24 h and 30 days (denied, cancelled and missed
        ones do not count), most in 30 days first."""
        ...

    async def audit_rows(
        self, period: AuditPeriod, *, after: int | None, limit: int
    ) -> list[AuditRow]:
        """The export rows (one per send) of the next ``limit`` requests created in
        ``period`` after request ``after``, ordered by request and send id."""
        ...

    async def set_flag(self, key: str, value: str) -> bool:
        """Set a durable flag; True only for the one caller that changed its value."""
        ...

    async def history(self, request_id: int) -> list[Event]:
        """Every transition of every send of a request, oldest first."""
        ...

    # --- instances ---------------------------------------------------------------------------

    async def renew_lease(self, now: datetime, ttl: timedelta) -> None:
        """Keep this instance's lease alive until ``now + ttl``."""
        ...

    async def resolve_orphans(self, now: datetime) -> list[SmsRequest]:
        """Mark ``sending`` sends of instances whose lease has ended as ``unknown``."""
        ...

    async def end_lease(self) -> None:
        """Shutdown: drop the lease and free this instance's undelivered status posts."""
        ...

    # --- the status outbox -------------------------------------------------------------------

    async def claim_statuses(self, now: datetime, limit: int) -> list[StatusPost]:
        """Take the undelivered posts of up to ``limit`` queues nobody alive holds."""
        ...

    async def status_delivered(
        self,
        post_ids: Sequence[int],
        *,
        undelivered: bool = False,
        error: str | None = None,
        shown: Sequence[tuple[int, str, str]] = (),
    ) -> None:
        """Delivered (or, with ``undelivered``, given up): never tried again. ``shown``: where
        requests' status messages now are, as (request id, channel, ts)."""
        ...

    async def status_retry(self, queue: str, at: datetime, error: str) -> None:
        """Try the queue's undelivered posts again at ``at`` (the first one failed)."""
        ...

    async def use_response_url(self, request_id: int) -> bool:
        """Take the request's one response_url summary; False if it was used already."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class InboundLedger(Protocol):
    """The ledger's side of SMS coming back: claims, conversations, the inbox watermark."""

    async def start_inbox(self, now: datetime) -> datetime:
        """The first start with inbound on (stored by the first call); nothing older is shown."""
        ...

    async def inbox_watermark(self) -> datetime | None:
        """When the newest incoming SMS seen so far was sent."""
        ...

    async def set_inbox_watermark(self, at: datetime) -> None: ...

    async def claimed(self, entry_ids: Sequence[str]) -> set[str]:
        """Those of ``entry_ids`` claimed before."""
        ...

    async def receive(
        self,
        sms: IncomingSms,
        number: str,
        contact_name: str | None,
        opt: Opt | None,
        *,
        inbox_channel: str,
        conversation_days: int,
    ) -> Inbound | None:
        """Claim an incoming SMS (once, across instances and restarts), route it to its
        conversation, apply an opt-out or opt-in, and record its status post — one
        transaction. None: it was claimed before."""
        ...

    async def inbound(self, inbound_id: int) -> Inbound | None: ...

    async def conversation_at(self, channel_id: str, thread_ts: str) -> Conversation | None:
        """The conversation shown in that thread, if it is one."""
        ...

    async def conversation(self, conversation_id: int) -> Conversation | None: ...

    async def set_conversation_thread(self, conversation_id: int, thread_ts: str) -> None:
        """An inbox conversation's first message is posted: its thread."""
        ...

    async def move_to_inbox(self, conversation_id: int, inbox_channel: str) -> Conversation:
        """The bot cannot post in the conversation's thread: go on in a new inbox thread."""
        ...


class OptOutList(Protocol):
    """Numbers that asked not to be texted (kept whether or not inbound is on)."""

    async def opted_out(self, numbers: Sequence[str]) -> dict[str, OptOut]:
        """Those of ``numbers`` (E.164) on the list."""
        ...

    async def opt_out(self, number: str, how: str, by: str | None, now: datetime) -> bool:
        """Put a number on the list; False if it was on it already."""
        ...

    async def opt_in(self, number: str) -> bool:
        """Take a number off the list; False if it was not on it."""
        ...

    async def opt_outs(self) -> list[OptOut]:
        """The whole list, newest first."""
        ...

    async def count(self) -> int:
        """How many numbers are on the list."""
        ...


class SmsInbox(Protocol):
    """The provider's side of SMS coming back (reads only)."""

    async def incoming(self, since: datetime) -> list[IncomingSms]:
        """Every incoming SMS sent since ``since``, oldest first."""
        ...

    async def contact_name(self, number: str) -> str | None:
        """The name the account's contacts give ``number``, if any (and if allowed)."""
        ...


class TokenStore(Protocol):
    """Where the sipgate OAuth tokens live, shared by every instance (the ledger)."""

    async def load_tokens(self) -> OAuthTokens | None:
        """The stored tokens; None before the first ``sipgate-login``."""
        ...

    async def save_login(self, tokens: OAuthTokens) -> None:
        """A new login: these tokens replace whatever was stored (generation restarts)."""
        ...

    async def claim_refresh(
        self, claimant: str, now: datetime, ttl: timedelta, *, refused: str | None = None
    ) -> OAuthTokens | None:
        """The tokens, if a refresh is due (or the stored access token is ``refused``, the one
        sipgate just refused) and ``claimant`` may do it now (nobody else is, for ``ttl``)."""
        ...

    async def save_refresh(self, generation: int, tokens: OAuthTokens) -> bool:
        """Store a rotation of ``generation``; False (nothing stored) if it was rotated since."""
        ...

    async def mark_dead(self, generation: int) -> bool:
        """The refresh token of ``generation`` no longer works; True for the first to say so."""
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


class GroupMembers(Protocol):
    """The members of a user group; raises ``LookupError`` when they cannot be read."""

    async def __call__(self, group: str) -> list[str]: ...
