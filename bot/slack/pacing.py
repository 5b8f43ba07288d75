"""How fast the bot posts to one conversation, and how long it waits after a failure.

Slack allows about one message per second per conversation, with short bursts; past that it
answers 429 with ``Retry-After``. Each conversation gets a token bucket (``BURST`` messages at
once, then ``RATE`` per second); a 429 closes that conversation's bucket for the time Slack
asked. Other failures are tried again after a growing, jittered pause.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

RATE = 1.0  # messages per second per conversation, sustained
BURST = 4.0  # messages a quiet conversation may take at once
BACKOFF_FIRST = 1.0  # seconds before the first retry after a 5xx or a dropped connection
BACKOFF_MOST = 300.0  # never wait longer than this between two tries


@dataclass
class Bucket:
    """A conversation's tokens at ``stamp`` (monotonic seconds); closed until ``closed_until``."""

    tokens: float = BURST
    stamp: float = 0.0
    closed_until: float = 0.0


def take(bucket: Bucket, now: float) -> float:
    """Take one token; how many seconds to wait before sending (0: send now)."""
    if bucket.stamp:
        bucket.tokens = min(BURST, bucket.tokens + (now - bucket.stamp) * RATE)
    bucket.stamp = now
    bucket.tokens -= 1
    wait = max(0.0, -bucket.tokens / RATE)
    return max(wait, bucket.closed_until - now)


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """The pause before try ``attempts + 1`` after a transient failure: 1, 2, 4 … s, jittered."""
    ceiling = min(BACKOFF_MOST, BACKOFF_FIRST * 2 ** max(0, attempts))
    return (rng or random).uniform(ceiling / 2, ceiling)


class Pacer:
    """The buckets of every conversation this instance posts to."""

    def __init__(self) -> None:
        self._buckets: dict[str, Bucket] = {}

    async def turn(self, channel: str) -> None:
        """Wait until a message may go to ``channel``."""
        wait = take(self._buckets.setdefault(channel, Bucket()), time.monotonic())
        if wait > 0:
            await asyncio.sleep(wait)

    def close_for(self, channel: str, seconds: float) -> None:
        """Slack said 429 for ``channel``: nothing goes there for ``seconds``."""
        bucket = self._buckets.setdefault(channel, Bucket())
        bucket.closed_until = max(bucket.closed_until, time.monotonic() + seconds)
        bucket.tokens = min(bucket.tokens, 0.0)
