"""How fast the bot posts to one conversation, and how long it waits after a failure.

Slack allows about one message per second per conversation, with short bursts; past that it
answers 429 with ``Retry-After``. Each conversation gets a token bucket (``burst`` messages at
once, then ``rate`` per second); a 429 closes that conversation's bucket for the time Slack
asked. Other failures are tried again after a growing, jittered pause.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Pace:
    """The limits the bot keeps to (Slack's by default; tests make them faster)."""

    rate: float = 1.0  # messages per second per conversation, sustained
    burst: float = 3.0  # messages a quiet conversation may take at once
    backoff_first: float = 1.0  # seconds before the first retry after a 5xx or dropped connection
    backoff_most: float = 300.0  # never wait longer than this between two tries
    #: Seconds the outbox gathers what was delivered before writing it to the ledger in one
    #: transaction: a request's status message and its outcome usually share one write. A
    #: crash loses at most this much of it (those statuses are shown again by the next bot).
    mark_every: float = 0.25


SLACK = Pace()


@dataclass
class Bucket:
    """A conversation's tokens at ``stamp`` (monotonic seconds); closed until ``closed_until``."""

    tokens: float
    stamp: float = 0.0
    closed_until: float = 0.0


def take(bucket: Bucket, now: float, pace: Pace = SLACK) -> float:
    """Take one token; how many seconds to wait before sending (0: send now)."""
    if bucket.stamp:
        bucket.tokens = min(pace.burst, bucket.tokens + (now - bucket.stamp) * pace.rate)
    bucket.stamp = now
    bucket.tokens -= 1
    wait = max(0.0, -bucket.tokens / pace.rate)
    return max(wait, bucket.closed_until - now)


def backoff(attempts: int, pace: Pace = SLACK, rng: random.Random | None = None) -> float:
    """The pause before try ``attempts + 1`` after a transient failure: 1, 2, 4 … s, jittered."""
    ceiling = min(pace.backoff_most, pace.backoff_first * 2 ** max(0, attempts))
    return (rng or random).uniform(ceiling / 2, ceiling)


class Pacer:
    """The buckets of every conversation this instance posts to."""

    def __init__(self, pace: Pace = SLACK) -> None:
        self.pace = pace
        self._buckets: dict[str, Bucket] = {}

    async def turn(self, channel: str) -> None:
        """Wait until a message may go to ``channel``."""
        wait = take(self._bucket(channel), time.monotonic(), self.pace)
        if wait > 0:
            await asyncio.sleep(wait)

    def close_for(self, channel: str, seconds: float) -> None:
        """Slack said 429 for ``channel``: nothing goes there for ``seconds``."""
        bucket = self._bucket(channel)
        bucket.closed_until = max(bucket.closed_until, time.monotonic() + seconds)
        bucket.tokens = min(bucket.tokens, 0.0)

    def backoff(self, attempts: int) -> float:
        return backoff(attempts, self.pace)

    def _bucket(self, channel: str) -> Bucket:
        return self._buckets.setdefault(channel, Bucket(self.pace.burst))
