"""Who may send: the allowlist of users, user groups and channels (fail closed)."""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Awaitable, Callable

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.settings import Settings

log = logging.getLogger(__name__)

GroupFetcher = Callable[[str], Awaitable[list[str]]]
GROUP_CACHE_SECONDS = 300.0  # usergroups.users.list is Tier 2: cache for minutes
#: What a failed group lookup can raise: an API error, a broken connection, a timeout.
GROUP_FAILURES = (SlackApiError, aiohttp.ClientError, TimeoutError)


class Decision(enum.Enum):
    """The answer of the allowlist."""

    ALLOWED = "allowed"
    USER_DENIED = "user_denied"
    CHANNEL_DENIED = "channel_denied"

    @property
    def allowed(self) -> bool:
        return self is Decision.ALLOWED


class AccessPolicy:
    """Checks a user in a conversation against the configured allowlist."""

    def __init__(self, settings: Settings, fetch_group: GroupFetcher) -> None:
        self._settings = settings
        self._fetch_group = fetch_group
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}

    async def check(self, user_id: str, channel_id: str) -> Decision:
        """Whether ``user_id`` may send from ``channel_id``; a denial is logged."""
        decision = await self._decide(user_id, channel_id)
        if not decision.allowed:
            log.warning(
                "access denied",
                extra={"user": user_id, "channel": channel_id, "decision": decision.value},
            )
        return decision

    async def _decide(self, user_id: str, channel_id: str) -> Decision:
        allowed_channels = self._settings.allowed_channels
        if allowed_channels and channel_id not in allowed_channels:
            return Decision.CHANNEL_DENIED
        if self._settings.allow_everyone or user_id in self._settings.allowed_users:
            return Decision.ALLOWED
        for group in sorted(self._settings.allowed_usergroups):
            if user_id in await self._members(group):
                return Decision.ALLOWED
        return Decision.USER_DENIED

    def is_admin(self, user_id: str) -> bool:
        return user_id in self._settings.admins

    async def _members(self, group: str) -> frozenset[str]:
        cached = self._groups.get(group)
        if cached and time.monotonic() - cached[0] < GROUP_CACHE_SECONDS:
            return cached[1]
        try:
            members = frozenset(await self._fetch_group(group))
        except GROUP_FAILURES as error:  # fail closed, but keep a stale list if there is one
            log.error("cannot read user group", extra={"group": group, "error": _code(error)})
            return cached[1] if cached else frozenset()
        self._groups[group] = (time.monotonic(), members)
        return members


def _code(error: Exception) -> str:
    """Slack's error code (``missing_scope``…) or the exception's type name."""
    if isinstance(error, SlackApiError):
        return str(error.response.get("error"))
    return type(error).__name__
