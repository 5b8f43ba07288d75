"""Slack's rate limits, storms of 429s and outages, for the Slack fake of the tests.

Off until a test switches them on. With :meth:`SlackLimits.enforce`, ``chat.postMessage`` is
limited per conversation (about one message per second sustained, a small burst allowed) and
the other methods per method, by their tier (Tier 2 ≈ 20, Tier 3 ≈ 50, Tier 4 ≈ 100 calls a
minute, bursts up to that many). A call over its limit is answered like Slack does: HTTP 429,
``Retry-After: <whole seconds>``, ``{"ok": false, "error": "ratelimited"}``.

A *storm* answers every call to some methods 429 for a while; an *outage* answers every call
5xx for a while. Time comes from ``clock`` (``time.monotonic`` unless a test passes a manual
one, e.g. ``lambda: manual_clock().timestamp()``), so a test can move past a limit without
sleeping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Answer = tuple[int, dict[str, Any], Mapping[str, str]]

TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
METHOD_TIERS = {
    "auth.test": 4,
    "chat.update": 3,
    "chat.postEphemeral": 4,
    "chat.getPermalink": 4,
    "views.open": 4,
    "views.update": 4,
    "views.publish": 4,
    "users.info": 4,
    "users.profile.get": 4,
    "usergroups.users.list": 2,
    "conversations.open": 3,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
    "apps.connections.open": 1,
}
POST_MESSAGE = "chat.postMessage"


@dataclass
class TokenBucket:
    """``capacity`` calls at once, refilled at ``rate`` calls a second."""

    rate: float
    capacity: float
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """Use one call: 0 if allowed, else the seconds until one is."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass(frozen=True)
class Refusal:
    """A call refused by a limit, storm or outage: when, and what it was told."""

    method: str
    status: int
    retry_after: int | None
    at: float


@dataclass(frozen=True)
class _Window:
    """From now until ``until``, calls to ``methods`` (None: all) get ``status``."""

    methods: frozenset[str] | None
    until: float
    status: int
    retry_after: int | None
    response_urls: bool = False

    def covers(self, method: str, now: float) -> bool:
        return now < self.until and (self.methods is None or method in self.methods)


class SlackLimits:
    """Rate limits (once enforced), storms and outages of one Slack fake."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.enforcing = False
        self.channel_rate = 1.0
        self.channel_burst = 3.0
        self.tiers = dict(METHOD_TIERS)
        self.refusals: list[Refusal] = []
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._windows: list[_Window] = []

    def enforce(self, *, channel_rate: float = 1.0, channel_burst: int = 3) -> None:
        """From now on, answer calls over Slack's limits with 429."""
        self.enforcing, self.channel_rate, self.channel_burst = True, channel_rate, channel_burst
        self._buckets.clear()

    def storm(
        self, methods: Iterable[str], seconds: float, *, retry_after: int | None = None
    ) -> None:
        """For ``seconds``, every call to ``methods`` answers 429.

        ``Retry-After`` is ``retry_after``, or the whole seconds left of the storm.
        """
        until = self.clock() + seconds
        self._windows.append(_Window(frozenset(methods), until, 429, retry_after))

    def outage(self, seconds: float, *, status: int = 503, response_urls: bool = False) -> None:
        """For ``seconds``, every Web API call (and response_url post, if asked) gets ``status``."""
        self._windows.append(_Window(None, self.clock() + seconds, status, None, response_urls))

    def weather(self, method: str) -> Answer | None:
        """The refusal of a call to ``method`` by a storm or an outage going on now."""
        now = self.clock()
        for window in self._windows:
            if window.covers(method, now):
                wait = window.retry_after or _seconds(window.until - now)
                return self._refuse(method, window.status, wait if window.status == 429 else None)
        return None

    def limit(self, method: str, channel: str | None) -> Answer | None:
        """The refusal of a call over its rate limit (``channel``: where it posts), if enforced."""
        wait = self._wait(method, channel, self.clock()) if self.enforcing else 0.0
        return self._refuse(method, 429, _seconds(wait)) if wait > 0 else None

    def response_url_status(self) -> int | None:
        """The status an outage gives response_url posts now, if it covers them."""
        now = self.clock()
        statuses = [w.status for w in self._windows if w.response_urls and w.covers("", now)]
        return statuses[0] if statuses else None

    def _wait(self, method: str, channel: str | None, now: float) -> float:
        bucket = self._bucket(method, channel, now)
        return 0.0 if bucket is None else bucket.take(now)

    def _bucket(self, method: str, channel: str | None, now: float) -> TokenBucket | None:
        key = (method, channel or "") if method == POST_MESSAGE else (method, "")
        if key not in self._buckets:
            limit = self._limit(method)
            if limit is None:
                return None
            rate, capacity = limit
            self._buckets[key] = TokenBucket(rate, capacity, capacity, now)
        return self._buckets[key]

    def _limit(self, method: str) -> tuple[float, float] | None:
        """Calls a second and burst size of ``method`` (None: not limited)."""
        if method == POST_MESSAGE:
            return self.channel_rate, float(self.channel_burst)
        tier = self.tiers.get(method)
        if tier is None:
            return None
        per_minute = TIER_PER_MINUTE[tier]
        return per_minute / 60, float(per_minute)

    def _refuse(self, method: str, status: int, retry_after: int | None) -> Answer:
        self.refusals.append(Refusal(method, status, retry_after, self.clock()))
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        error = {429: "ratelimited", 500: "internal_error"}.get(status, "service_unavailable")
        return status, {"ok": False, "error": error}, headers


def _seconds(wait: float) -> int:
    """Retry-After as Slack sends it: whole seconds, at least 1."""
    return max(1, math.ceil(wait - 1e-9))
