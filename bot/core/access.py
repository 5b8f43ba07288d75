"""Who may send: the allowlist of users, user groups and channels (fail closed)."""

from __future__ import annotations

import enum
import logging
import time
from dataclasses import dataclass

from bot.core.ports import GroupMembers

log = logging.getLogger(__name__)

GROUP_CACHE_SECONDS = 300.0  # usergroups.users.list is Tier 2: cache for minutes


@dataclass(frozen=True)
class AccessRules:
    """The allowlist an admin configures (SMS_ALLOWED_*, SMS_ALLOW_EVERYONE, SMS_ADMINS)."""

    users: frozenset[str]
    usergroups: frozenset[str]
    channels: frozenset[str]
    everyone: bool
    admins: frozenset[str]


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

    def __init__(self, rules: AccessRules, members: GroupMembers) -> None:
        self.rules = rules
        self._members_of = members
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

    async def look(self, user_id: str, channel_id: str) -> Decision:
        """What ``check`` would decide, without logging it: a look (the home tab), not an
        attempt to send."""
        return await self._decide(user_id, channel_id)

    async def _decide(self, user_id: str, channel_id: str) -> Decision:
        rules = self.rules
        if rules.channels and channel_id not in rules.channels:
            return Decision.CHANNEL_DENIED
        if rules.everyone or user_id in rules.users:
            return Decision.ALLOWED
        for group in sorted(rules.usergroups):
            if user_id in await self._members(group):
                return Decision.ALLOWED
        return Decision.USER_DENIED

    def is_admin(self, user_id: str) -> bool:
        return user_id in self.rules.admins

    async def _members(self, group: str) -> frozenset[str]:
        cached = self._groups.get(group)
        if cached and time.monotonic() - cached[0] < GROUP_CACHE_SECONDS:
            return cached[1]
        try:
            members = frozenset(await self._members_of(group))
        except LookupError as error:  # fail closed, but keep a stale list if there is one
            log.error("cannot read user group", extra={"group": group, "error": str(error)})
            return cached[1] if cached else frozenset()
        self._groups[group] = (time.monotonic(), members)
        return members
