"""Telling the admins: the low-balance warning, by direct message (the core's
``BalanceAlert``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from decimal import Decimal

from bot.core import Balance
from bot.slack import texts
from bot.slack.web import SlackWeb

log = logging.getLogger(__name__)


class AdminAlert:
    """DMs every admin (``SMS_ADMINS``)."""

    def __init__(self, web: SlackWeb, admins: Iterable[str]) -> None:
        self._web = web
        self._admins = sorted(admins)

    async def __call__(self, balance: Balance, threshold: Decimal) -> None:
        if not self._admins:
            log.warning("balance below SIPGATE_LOW_BALANCE and no SMS_ADMINS to tell")
            return
        for admin in self._admins:
            if not await self._web.dm(admin, texts.low_balance_warning(balance, threshold)):
                log.error("low-balance warning not delivered", extra={"user": admin})
