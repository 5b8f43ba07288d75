"""The send path: store the request, send through sipgate, report — one interface for all.

Every SMS leaves through ``SendService``: a quick send, a modal submission and a scheduled
send firing. The ledger moves each send to ``sending`` *before* the request leaves, and the
send is never retried once it may have reached sipgate.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.logs import about_request
from bot.metrics import METRICS
from bot.phone import mask_number
from bot.records import Clock, RequestDraft, Scheduler, SendRecord, SmsRequest, State
from bot.sipgate import SipgateClient, SipgateError
from bot.slack.access import AccessPolicy
from bot.slack.messages import (
    SlackMessage,
    StatusView,
    cancelled_reply,
    missed_reply,
    no_longer_allowed_reply,
    outcome_reply,
    scheduled_reply,
)
from bot.slack.status import StatusReporter
from bot.store.base import Ledger, Opened, OpenResult

log = logging.getLogger(__name__)


#: What a ledger call raises when the database is out of reach or unusable.
LEDGER_FAILURES = (SQLAlchemyError, OSError)


class NotStored(Exception):  # noqa: N818 - an outcome, like the sipgate errors
    """The ledger could not store a request, so nothing was sent (no SMS without a record)."""


class SendService:
    """Stores, sends and reports SMS requests."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        sipgate: SipgateClient,
        reporter: StatusReporter,
        access: AccessPolicy,
        hourly_limit: int,
        clock: Clock,
    ) -> None:
        self._ledger = ledger
        self._sipgate = sipgate
        self._reporter = reporter
        self._access = access
        self._hourly_limit = hourly_limit
        self._clock = clock
        self._in_flight: dict[int, tuple[SmsRequest, asyncio.Task[object] | None]] = {}
        self._busy: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    async def submit(self, draft: RequestDraft) -> OpenResult:
        """Store a request (once per interaction) and send or schedule it.

        Raises ``NotStored`` when the database cannot be used: then nothing was sent.
        """
        try:
            result = await self._ledger.open_request(draft, hourly_limit=self._hourly_limit)
        except LEDGER_FAILURES as error:
            log.error(
                "request not stored: database unavailable",
                extra={"interaction": draft.interaction_key, "error": type(error).__name__},
            )
            raise NotStored from error
        if not isinstance(result, Opened):
            log.info(
                "request not opened",
                extra={"interaction": draft.interaction_key, "result": type(result).__name__},
            )
            return result
        request = result.request
        with about_request(request.id):
            log.info(
                "request opened",
                extra={"user": request.user_id, "recipients": len(request.sends)},
            )
            if draft.held_by_bot:
                await self._announce_scheduled(request)
            else:
                await self._send_and_report(request)
        return result

    async def _announce_scheduled(self, request: SmsRequest) -> None:
        view = await self._reporter.view(request, cancellable=True)
        ts = await self._reporter.open_thread(request, view)
        reply = scheduled_reply(request, view, by_sipgate=False)
        await self._reporter.first_outcome(request, ts, reply, view)

    async def _send_and_report(self, request: SmsRequest) -> None:
        # The SMS goes out while the parent message is being posted: neither waits for the other.
        sending = asyncio.create_task(self.send_all(request))
        view = await self._reporter.view(request)
        ts = await self._reporter.open_thread(request, view)
        done = await sending
        await self._reporter.first_outcome(done, ts, self._reply(done, view), view)

    def _reply(self, request: SmsRequest, view: StatusView) -> SlackMessage:
        by_sipgate = request.scheduler is Scheduler.SIPGATE and request.send_at is not None
        accepted = all(send.state is State.ACCEPTED for send in request.sends)
        if by_sipgate and accepted:
            return scheduled_reply(request, view, by_sipgate=True)
        return outcome_reply(request, request.sends, view.tz)

    async def send_all(self, request: SmsRequest) -> SmsRequest:
        """Send every ``sending`` send of the request once; the request with new states."""
        sends = await asyncio.gather(*(self._send_one(request, s) for s in request.sends))
        return dataclasses.replace(request, sends=tuple(sends))

    async def _send_one(self, request: SmsRequest, send: SendRecord) -> SendRecord:
        send_at = request.send_at if request.scheduler is Scheduler.SIPGATE else None
        self._in_flight[send.id] = (request, asyncio.current_task())
        started = asyncio.get_running_loop().time()
        try:
            with about_request(request.id):
                await self._sipgate.send_sms(
                    request.sms_id, send.recipient, request.message, send_at
                )
        except SipgateError as error:
            state = State.UNKNOWN if error.may_have_sent else State.FAILED
            return await self._finish(send, state, error.status, error.kind, started)
        finally:
            self._in_flight.pop(send.id, None)
        return await self._finish(send, State.ACCEPTED, None, None, started)

    async def _finish(
        self, send: SendRecord, state: State, status: int | None, kind: str | None, started: float
    ) -> SendRecord:
        METRICS.observe_sipgate(state, asyncio.get_running_loop().time() - started)
        await self._ledger.finish(send.id, state, sipgate_status=status, error_kind=kind)
        log.info(
            "sms %s",
            state.value,
            extra={
                "request_id": send.request_id,
                "recipient": mask_number(send.recipient),
                "error_kind": kind,
            },
        )
        return dataclasses.replace(
            send, state=state, sipgate_status=status, error_kind=kind, updated_at=self._clock()
        )

    async def fire(self, request: SmsRequest) -> None:
        """Send a scheduled request the scheduler claimed, unless its requester lost access."""
        with about_request(request.id):
            await self._fire(request)

    async def _fire(self, request: SmsRequest) -> None:
        decision = await self._access.check(request.user_id, request.channel_id)
        if not decision.allowed:
            await self._cancel_claimed(request)
            return
        done = await self.send_all(request)
        full = await self._ledger.get_request(request.id) or done
        view = await self._reporter.view(full)
        await self._reporter.later(full, outcome_reply(full, done.sends, view.tz), view)

    async def _cancel_claimed(self, request: SmsRequest) -> None:
        for send in request.sends:
            await self._ledger.finish(send.id, State.CANCELLED, error_kind="denied")
        await self._tell_later(request, lambda full, _: no_longer_allowed_reply(full.id))

    async def report_cancelled(self, request: SmsRequest, by_user: str) -> None:
        """Tell the thread that a request was cancelled."""
        view = await self._reporter.view(request)
        await self._reporter.later(request, cancelled_reply(request.id, by_user), view)

    async def report_missed(self, request: SmsRequest) -> None:
        """Tell the requester a scheduled send was not sent because it was overdue."""
        await self._tell_later(request, lambda full, view: missed_reply(full, view.tz))

    async def report_unknown(self, request: SmsRequest) -> None:
        """Tell the requester that a send was interrupted and its outcome is unknown."""
        await self._tell_later(
            request, lambda full, view: outcome_reply(full, request.sends, view.tz)
        )

    async def _tell_later(
        self, request: SmsRequest, reply: Callable[[SmsRequest, StatusView], SlackMessage]
    ) -> None:
        """Reload the whole request (the parent shows every recipient), then post ``reply``."""
        full = await self._ledger.get_request(request.id) or request
        view = await self._reporter.view(full)
        await self._reporter.later(full, reply(full, view), view)

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run a request's work after its ack, as a task that shutdown waits for."""
        task = asyncio.create_task(work)
        self._busy.add(task)
        self._idle.clear()
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._busy.discard(task)
        if not self._busy:
            self._idle.set()

    @property
    def sends_in_flight(self) -> int:
        """How many sends are waiting for sipgate's answer right now."""
        return len(self._in_flight)

    async def drain(self, seconds: float) -> None:
        """Shutdown: let sends in flight finish; after ``seconds`` record them as unknown."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._idle.wait()
        left = dict(self._in_flight)
        for task in list(self._busy):
            task.cancel()
        if self._busy:
            await asyncio.wait(list(self._busy), timeout=1.0)
        for send_id, (request, _) in left.items():
            await self._ledger.finish(send_id, State.UNKNOWN, error_kind="interrupted")
            log.warning("send interrupted by shutdown", extra={"request_id": request.id})
        for request_id in {request.id for request, _ in left.values()}:
            stored = await self._ledger.get_request(request_id)
            if stored is not None:
                unknown = [send for send in stored.sends if send.id in left]
                await self.report_unknown(dataclasses.replace(stored, sends=tuple(unknown)))
