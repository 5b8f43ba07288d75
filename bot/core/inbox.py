"""The inbox poller: SMS coming back are read from the provider and shown, each exactly once.

The provider has no webhook for SMS, so every ``interval`` seconds (the first round at
start-up) the poller reads the incoming SMS since a little before the newest one it has seen
(``OVERLAP``: history entries can appear late), and the ledger claims each entry by its id
before anything is shown: an entry claimed before — by this instance or another, before a
restart or not — is skipped. Entries older than the first start with inbound on are never
shown. A failing round claims nothing and moves no watermark: the next round reads the same
entries again; a claimed entry's post waits in the ledger's outbox until Slack takes it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.errors import SendFailure
from bot.core.model import Clock, IncomingSms
from bot.core.optout import opt_of
from bot.core.phone import NumberError, parse_number
from bot.core.ports import InboundLedger, SmsInbox
from bot.logs import mask_number

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=5)
CONTACT_LOOKUPS = 8  # contact names looked up at once
CONTACT_CACHE_SECONDS = 3600.0


@dataclass(frozen=True)
class InboxRules:
    """Where incoming SMS go (``SMS_INBOX_CHANNEL``…) and how numbers are read."""

    channel: str
    conversation_days: int
    region: str
    interval: float


class InboxPoller:
    """Polls the provider for incoming SMS and hands new ones to the ledger."""

    def __init__(
        self, inbox: SmsInbox, ledger: InboundLedger, rules: InboxRules, clock: Clock
    ) -> None:
        self._inbox = inbox
        self._ledger = ledger
        self._rules = rules
        self._clock = clock
        self._started: datetime | None = None
        self._names: dict[str, tuple[float, str | None]] = {}

    async def run(self) -> None:
        """Rounds until cancelled; a failing round is logged and the next one reads again."""
        while True:
            try:
                await self.round()
            except Exception:
                log.exception("inbox round failed")
            await asyncio.sleep(self._rules.interval)

    async def round(self) -> int:
        """One poll; how many incoming SMS were new."""
        started = await self._start()
        mark = await self._ledger.inbox_watermark() or started
        found = await self._inbox.incoming(max(mark, started) - OVERLAP)
        fresh = [sms for sms in found if sms.sent_at >= started]
        new = await self._receive_all(await self._unclaimed(fresh))
        newest = max((sms.sent_at for sms in fresh), default=mark)
        if newest > mark:
            await self._ledger.set_inbox_watermark(newest)
        return new

    async def _start(self) -> datetime:
        """The first start with inbound on, to the second (history entries have no finer
        time: an SMS of the very second inbound was turned on counts as after it)."""
        if self._started is None:
            started = await self._ledger.start_inbox(self._clock())
            self._started = started.replace(microsecond=0)
        return self._started

    async def _unclaimed(self, found: Sequence[IncomingSms]) -> list[IncomingSms]:
        claimed = await self._ledger.claimed([sms.entry_id for sms in found])
        return [sms for sms in found if sms.entry_id not in claimed]

    async def _receive_all(self, fresh: Sequence[IncomingSms]) -> int:
        numbers = [self._number(sms.source) for sms in fresh]
        names = await self._names_of(numbers)
        new = 0
        for sms, number in zip(fresh, numbers, strict=True):
            new += await self._receive(sms, number, names.get(number))
        return new

    async def _receive(self, sms: IncomingSms, number: str, name: str | None) -> int:
        inbound = await self._ledger.receive(
            sms, number, name, opt_of(sms.text),
            inbox_channel=self._rules.channel, conversation_days=self._rules.conversation_days,
        )  # fmt: skip
        if inbound is not None:
            log.info("incoming sms", extra={"sender": mask_number(number), "opt": inbound.opt})
        return int(inbound is not None)

    def _number(self, source: str) -> str:
        """The sender in E.164 when it is a phone number; as given otherwise (a name)."""
        try:
            return parse_number(source, self._rules.region).e164
        except NumberError:
            return source

    async def _names_of(self, numbers: Sequence[str]) -> dict[str, str | None]:
        wanted = sorted(set(numbers))
        gate = asyncio.Semaphore(CONTACT_LOOKUPS)

        async def one(number: str) -> str | None:
            async with gate:
                return await self._name(number)

        return dict(zip(wanted, await asyncio.gather(*map(one, wanted)), strict=True))

    async def _name(self, number: str) -> str | None:
        cached = self._names.get(number)
        if cached and time.monotonic() - cached[0] < CONTACT_CACHE_SECONDS:
            return cached[1]
        try:
            name = await self._inbox.contact_name(number)
        except SendFailure as failure:
            log.warning("contact name not read", extra={"error": failure.kind})
            return None
        self._names[number] = (time.monotonic(), name)
        return name
