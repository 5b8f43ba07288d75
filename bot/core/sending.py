"""The one send path: check, store, send through the gateway.

Every SMS leaves through ``SendService``, whatever started it (a quick send, a modal
submission, a scheduled send firing). The ledger moves each send to ``sending`` *before* the
request leaves, and a send is never retried once it may have reached the gateway. What people
are told follows from the ledger: each state change records its status post in the same
transaction, and the status outbox delivers it; nothing here waits for Slack.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from bot.core.access import AccessPolicy, Decision
from bot.core.balance import BalanceWatch
from bot.core.errors import (
    DENIED_KIND,
    INTERRUPTED_KIND,
    OPTED_OUT,
    LedgerUnavailable,
    NotStored,
    SendFailure,
)
from bot.core.model import (
    CancelResult,
    Clock,
    Duplicate,
    Opened,
    OpenResult,
    Origin,
    OverLimit,
    RequestDraft,
    Scheduler,
    SendRecord,
    SmsRequest,
    State,
)
from bot.core.phone import PhoneNumber
from bot.core.ports import Ledger, OptOutList, SmsGateway
from bot.core.rules import Field, GuardPolicy, Refusal, check_request, opted_out_refusal
from bot.core.segments import count_segments
from bot.core.senders import SenderDirectory
from bot.logs import about_request, mask_number
from bot.metrics import METRICS

log = logging.getLogger(__name__)
T = TypeVar("T")

RECIPIENT_CHARS = 32  # the ledger keeps a recipient in at most this many characters
#: Once sends are claimed (``sending``), what the ledger must still do for them is tried again
#: while the database is away (a restart takes seconds): after this many seconds, doubling, for
#: at most DATABASE_RETRY_MOST. Never the SMS itself. Writing an outcome twice is harmless:
#: only a ``sending`` send takes one.
DATABASE_RETRY_FIRST = 0.5
DATABASE_RETRY_MOST = 120.0


@dataclass(frozen=True)
class SendRules:
    """What every request is held to (the admin's settings)."""

    policy: GuardPolicy
    hourly_limit: int
    scheduler: Scheduler


@dataclass(frozen=True)
class Ask:
    """What someone asks for: these recipients, this text, now or at ``send_at``.

    ``labels``: who a number belongs to when it was named so (E.164 → ``@anna``).
    ``unreadable``: recipients as typed that are no number; only a denial records them.
    """

    origin: Origin
    recipients: tuple[PhoneNumber, ...]
    message: str = field(repr=False)
    send_at: datetime | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    unreadable: tuple[str, ...] = ()


@dataclass(frozen=True)
class Denied:
    """The allowlist refused; the attempt is recorded, nothing was sent."""

    decision: Decision


@dataclass(frozen=True)
class Refused:
    """A guard refused; nothing was stored or sent."""

    refusals: Sequence[Refusal]


@dataclass(frozen=True)
class NoSender:
    """No sender extension could be found; nothing was sent."""

    failure: SendFailure


RequestOutcome = Denied | Refused | NoSender | Opened | Duplicate | OverLimit


class SendService:
    """Checks, stores, sends and reports SMS requests."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        gateway: SmsGateway,
        access: AccessPolicy,
        senders: SenderDirectory,
        rules: SendRules,
        clock: Clock,
        opt_outs: OptOutList,
        balance: BalanceWatch | None = None,
    ) -> None:
        self.ledger = ledger
        self.opt_outs = opt_outs
        self.access = access
        self.senders = senders
        self.rules = rules
        self.clock = clock
        self.balance = balance
        self._gateway = gateway
        self._in_flight: dict[int, SmsRequest] = {}

    # --- asking ------------------------------------------------------------------------------

    async def request(self, ask: Ask) -> RequestOutcome:
        """The whole path for a send asked for after an ack: allowlist, guards, sender, ledger."""
        origin = ask.origin
        decision = await self.access.check(origin.user_id, origin.channel_id)
        if not decision.allowed:
            await self.deny(ask, decision)
            return Denied(decision)
        refusals = await self.refusals(ask)
        if refusals:
            return Refused(refusals)
        try:
            sender = await self.senders.default()
        except SendFailure as failure:
            return NoSender(failure)
        return await self.submit(self.draft(ask, sender.id))

    async def refusals(self, ask: Ask) -> list[Refusal]:
        """What the guards and the opt-out list refuse about ``ask`` (one refusal a field)."""
        found = check_request(
            ask.recipients, ask.message, ask.send_at, self.clock(), self.rules.policy
        )
        if any(refusal.field is Field.TO for refusal in found):
            return found
        numbers = [number.e164 for number in ask.recipients]
        try:
            opted_out = opted_out_refusal(ask.recipients, await self.opt_outs.opted_out(numbers))
        except LedgerUnavailable as error:  # nothing can be sent without the list either
            raise NotStored from error
        return found if opted_out is None else [opted_out, *found]

    def draft(self, ask: Ask, sms_id: str) -> RequestDraft:
        """The ledger's draft of a request (``sms_id`` empty for a denied one)."""
        origin = ask.origin
        return RequestDraft(
            interaction_key=origin.interaction_key,
            team_id=origin.team_id,
            user_id=origin.user_id,
            channel_id=origin.channel_id,
            response_url=origin.response_url,
            recipients=tuple(number.e164 for number in ask.recipients),
            message=ask.message,
            sms_id=sms_id,
            segments=count_segments(ask.message).parts,
            requested_at=self.clock(),
            send_at=ask.send_at,
            scheduler=self.rules.scheduler,
            origin=origin.kind,
            thread_ts=origin.thread_ts,
            labels=ask.labels,
        )

    async def deny(self, ask: Ask, decision: Decision) -> None:
        """Record a refused attempt: one send per number it named, as typed if unreadable.

        The ledger keeps one send per recipient, so an attempt that named nobody (``/sms``
        opening the modal) cannot be stored; the access policy has logged it.
        """
        draft = self.draft(ask, "")
        named = (*draft.recipients, *(typed[:RECIPIENT_CHARS] for typed in ask.unreadable))
        if named:
            draft = dataclasses.replace(draft, recipients=tuple(dict.fromkeys(named)))
            await self.ledger.record_denied(draft, decision.value)

    async def submit(self, draft: RequestDraft) -> OpenResult:
        """Store a request (once per interaction) and send or schedule it.

        Raises ``NotStored`` when the database cannot be used: then nothing was sent.
        """
        try:
            result = await self.ledger.open_request(draft, hourly_limit=self.rules.hourly_limit)
        except LedgerUnavailable as error:
            log.error("request not stored: database unavailable", extra=_key(draft))
            raise NotStored from error
        if not isinstance(result, Opened):
            log.info("request not opened", extra={**_key(draft), "result": type(result).__name__})
            return result
        request = result.request
        with about_request(request.id):
            log.info("request opened", extra={"recipients": len(request.sends)})
            if not draft.held_by_bot:
                await self._send_all(request)
        return result

    def _sent(self) -> None:
        if self.balance is not None:
            self.balance.sent()

    # --- sending -----------------------------------------------------------------------------

    async def _send_all(self, request: SmsRequest) -> SmsRequest:
        """Send every ``sending`` send of the request once; the request with new states."""
        sends = await asyncio.gather(*(self._send_one(request, s) for s in request.sends))
        self._sent()  # may start a balance check, in the background
        return dataclasses.replace(request, sends=tuple(sends))

    async def _send_one(self, request: SmsRequest, send: SendRecord) -> SendRecord:
        send_at = request.send_at if request.scheduler is Scheduler.SIPGATE else None
        self._in_flight[send.id] = request
        started = asyncio.get_running_loop().time()
        try:
            await self._gateway.send_sms(request.sms_id, send.recipient, request.message, send_at)
        except SendFailure as failure:
            state = State.UNKNOWN if failure.may_have_sent else State.FAILED
            return await self._finish(send, state, failure.status, failure.kind, started)
        finally:
            self._in_flight.pop(send.id, None)
        return await self._finish(send, State.ACCEPTED, None, None, started)

    async def _finish(
        self, send: SendRecord, state: State, status: int | None, kind: str | None, started: float
    ) -> SendRecord:
        METRICS.observe_sipgate(state.value, asyncio.get_running_loop().time() - started)
        await self._record_outcome(send.id, state, status, kind)
        log.info(
            "sms %s",
            state.value,
            extra={"recipient": mask_number(send.recipient), "error_kind": kind},
        )
        return dataclasses.replace(
            send, state=state, sipgate_status=status, error_kind=kind, updated_at=self.clock()
        )

    async def _record_outcome(
        self, send_id: int, state: State, status: int | None, kind: str | None
    ) -> None:
        """The outcome into the ledger (the SMS went out or not; only writing it down is
        tried again)."""
        await _despite_outage(
            lambda: self.ledger.finish(send_id, state, sipgate_status=status, error_kind=kind),
            "outcome not recorded yet",
        )

    # --- later -------------------------------------------------------------------------------

    async def fire(self, request: SmsRequest) -> None:
        """Send a scheduled request the scheduler claimed, unless its requester lost access."""
        with about_request(request.id):
            decision = await self.access.check(request.user_id, request.channel_id)
            if not decision.allowed:
                await self._cancel(request.sends, DENIED_KIND)
                return
            opted_out = await _despite_outage(
                lambda: self.opt_outs.opted_out(list(request.recipients)), "opt-outs not read yet"
            )
            await self._cancel([s for s in request.sends if s.recipient in opted_out], OPTED_OUT)
            sends = tuple(s for s in request.sends if s.recipient not in opted_out)
            if sends:
                await self._send_all(dataclasses.replace(request, sends=sends))

    async def _cancel(self, sends: Sequence[SendRecord], kind: str) -> None:
        """Claimed sends that must not go out after all (the requester or recipient refused)."""
        for send in sends:
            await _despite_outage(
                functools.partial(self.ledger.finish, send.id, State.CANCELLED, error_kind=kind),
                "cancellation not recorded yet",
            )

    async def cancel(self, request_id: int, user_id: str) -> CancelResult:
        """Cancel a scheduled request if ``user_id`` may (its requester or an admin)."""
        is_admin = self.access.is_admin(user_id)
        return await self.ledger.cancel(request_id, user_id=user_id, is_admin=is_admin)

    # --- shutdown ----------------------------------------------------------------------------

    def in_flight(self) -> dict[int, SmsRequest]:
        """The sends waiting for the gateway's answer right now (send id → request)."""
        return dict(self._in_flight)

    async def record_interrupted(self, left: dict[int, SmsRequest]) -> None:
        """Shutdown: sends still in flight are recorded as unknown (their requesters are told
        through the outbox, by this instance before it stops or by the next one)."""
        for send_id, request in left.items():
            await self.ledger.finish(send_id, State.UNKNOWN, error_kind=INTERRUPTED_KIND)
            log.warning("send interrupted by shutdown", extra={"request_id": request.id})


async def _despite_outage(work: Callable[[], Awaitable[T]], waiting: str) -> T:
    """``work`` (a ledger call for sends already claimed), tried again while the database is
    unavailable, for at most ``DATABASE_RETRY_MOST`` seconds (``waiting`` is logged)."""
    pause, waited = DATABASE_RETRY_FIRST, 0.0
    while True:
        try:
            return await work()
        except LedgerUnavailable:
            if waited >= DATABASE_RETRY_MOST:
                raise
            log.warning("%s: database unavailable", waiting)
        await asyncio.sleep(pause)
        waited, pause = waited + pause, pause * 2


def _key(draft: RequestDraft) -> dict[str, str]:
    return {"interaction": draft.interaction_key}
