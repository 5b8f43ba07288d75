"""Which SMS extension the bot sends from (``SIPGATE_SMS_ID`` or discovery)."""

from __future__ import annotations

import asyncio
import logging

from bot.core.model import SmsExtension
from bot.core.ports import SmsGateway

log = logging.getLogger(__name__)


class SenderDirectory:
    """The account's SMS extensions, discovered once and kept for the process's life."""

    def __init__(self, gateway: SmsGateway, configured_sms_id: str | None) -> None:
        self._gateway = gateway
        self._configured = configured_sms_id
        self._extensions: tuple[SmsExtension, ...] = ()
        self._lock = asyncio.Lock()

    async def extensions(self) -> tuple[SmsExtension, ...]:
        """The extensions to offer; the configured one only when SIPGATE_SMS_ID is set.

        Raises the gateway's ``SendFailure`` when discovery fails (no extension, bad
        credentials…).
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
        found = tuple(await self._gateway.discover_extensions())
        log.info("discovered sms extensions", extra={"count": len(found)})
        return found

    async def default(self) -> SmsExtension:
        """What a quick send uses: the first extension sipgate lists."""
        return (await self.extensions())[0]

    def known(self, sms_id: str) -> SmsExtension:
        """The extension with this id as discovered (without alias if it is not known)."""
        found = (extension for extension in self._extensions if extension.id == sms_id)
        return next(found, SmsExtension(sms_id, "", ""))
