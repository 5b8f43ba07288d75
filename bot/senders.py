"""Which sipgate SMS extension the bot sends from (``SIPGATE_SMS_ID`` or discovery)."""

from __future__ import annotations

import asyncio
import logging

from bot.sipgate import SipgateClient, SmsExtension

log = logging.getLogger(__name__)


class SenderDirectory:
    """The account's SMS extensions, discovered once and kept for the process's life."""

    def __init__(self, sipgate: SipgateClient, configured_sms_id: str | None) -> None:
        self._sipgate = sipgate
        self._configured = configured_sms_id
        self._extensions: tuple[SmsExtension, ...] = ()
        self._lock = asyncio.Lock()

    async def extensions(self) -> tuple[SmsExtension, ...]:
        """The extensions to offer; the configured one only when SIPGATE_SMS_ID is set.

        Raises the sipgate error when discovery fails (no extension, bad credentials…).
        """
        if self._extensions:
            return self._extensions
        async with self._lock:
            if not self._extensions:
                self._extensions = await self._load()
        return self._extensions

    async def _load(self) -> tuple[SmsExtension, ...]:
        if self._configured:
            return (SmsExtension(self._configured, "", ""),)
        found = tuple(await self._sipgate.discover_extensions())
        log.info("discovered sms extensions", extra={"count": len(found)})
        return found

    async def default(self) -> SmsExtension:
        """What a quick send uses: the first extension sipgate lists."""
        return (await self.extensions())[0]

    def label(self, sms_id: str) -> str:
        """A name for the status message, e.g. ``Support (s1)``."""
        for extension in self._extensions:
            if extension.id == sms_id and extension.alias:
                return f"{extension.alias} ({sms_id})"
        return sms_id
