"""The status outbox worker: delivers the ledger's status posts to Slack, in order, paced.

The ledger hands over the posts this instance records the moment they are committed
(``recorded``); a claim round every ``CLAIM_EVERY`` takes the queues nobody alive holds (posts
of a stopped instance, or waiting behind another instance's). Each queue is drained by one task
at a time, oldest post first. Consecutive outcome posts of a request become one reply, sent once
none of its sends is still waiting for sipgate. A transient failure waits (``Retry-After`` for a
429, a growing jittered pause otherwise) and tries the queue again; after ``GIVE_UP`` a post is
marked undelivered and logged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.core import Clock, Ledger, SmsRequest, State, StatusKind, StatusPost
from bot.slack.pacing import backoff
from bot.slack.status import StatusDelivery
from bot.slack.web import SlackCallFailed

log = logging.getLogger(__name__)

CLAIM_EVERY = 1.0  # seconds between claim rounds
CLAIM_QUEUES = 50  # queues one claim round takes at most
GIVE_UP = timedelta(hours=24)
WAIT_FOR_SENDS = 2.0  # seconds before looking again at outcome posts whose request still sends
STALE_OUTCOME = timedelta(minutes=2)  # longer than any send can take: report what is known
STOP_GRACE = 3.0  # seconds at shutdown for posts under way


class StatusOutbox:
    """Drains status queues into Slack."""

    def __init__(self, ledger: Ledger, delivery: StatusDelivery, clock: Clock) -> None:
        self._ledger = ledger
        self._delivery = delivery
        self._clock = clock
        self._queued: dict[str, list[StatusPost]] = {}
        self._draining: dict[str, asyncio.Task[None]] = {}
        self._later: dict[str, asyncio.TimerHandle] = {}
        self._resume_at: dict[str, float] = {}  # loop time before which a queue waits
        ledger.on_status(self.recorded)

    def recorded(self, posts: Sequence[StatusPost]) -> None:
        """Posts this instance holds: deliver them (after what its queue already holds)."""
        for post in posts:
            queued = self._queued.setdefault(post.queue, [])
            if all(known.id != post.id for known in queued):
                queued.append(post)
        for queue in {post.queue for post in posts}:
            self._start(queue)

    @property
    def pending(self) -> int:
        """Posts this instance holds and has not delivered yet."""
        return sum(len(posts) for posts in self._queued.values())

    @property
    def busy(self) -> bool:
        """Whether a post is being delivered or ready to be (not waiting for a retry)."""
        ready = any(posts and queue not in self._later for queue, posts in self._queued.items())
        return bool(self._draining) or ready

    async def run(self) -> None:
        """Claim rounds until cancelled; a failing round is logged and retried."""
        while True:
            try:
                self.recorded(await self._ledger.claim_statuses(self._clock(), CLAIM_QUEUES))
            except Exception:
                log.exception("status claim round failed")
            await asyncio.sleep(CLAIM_EVERY)

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Give posts under way ``grace`` seconds, then stop (the lease frees the rest)."""
        for handle in self._later.values():
            handle.cancel()
        running = list(self._draining.values())
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    def _start(self, queue: str) -> None:
        if queue in self._draining or not self._queued.get(queue):
            return
        wait = self._resume_at.get(queue, 0.0) - asyncio.get_running_loop().time()
        if wait > 0:
            if queue not in self._later:
                self._start_in(queue, wait)
            return
        if (waiting := self._later.pop(queue, None)) is not None:
            waiting.cancel()
        task = asyncio.create_task(self._drain(queue))
        self._draining[queue] = task
        task.add_done_callback(lambda _: self._finished(queue))

    def _finished(self, queue: str) -> None:
        self._draining.pop(queue, None)
        if not self._queued.get(queue):
            self._queued.pop(queue, None)

    def _start_in(self, queue: str, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self._resume_at[queue] = loop.time() + seconds
        self._later[queue] = loop.call_later(max(0.0, seconds), self._resume, queue)

    def _resume(self, queue: str) -> None:
        self._later.pop(queue, None)
        self._resume_at.pop(queue, None)
        self._start(queue)

    async def _drain(self, queue: str) -> None:
        """Deliver the queue's posts in order until it is empty or has to wait."""
        try:
            while self._queued.get(queue) and await self._step(queue):
                pass
        except Exception:
            log.exception("status queue failed", extra={"queue": queue})
            self._start_in(queue, WAIT_FOR_SENDS)

    async def _step(self, queue: str) -> bool:
        """Deliver the next batch; False when the queue has to wait."""
        head = self._queued[queue][0]
        request = await self._request(head)
        if request is None:
            await self._done(queue, [head], error="request_gone")
            return True
        batch = self._batch(queue, request)
        if not batch:
            self._start_in(queue, WAIT_FOR_SENDS)
            return False
        return await self._attempt(queue, batch, request)

    async def _request(self, post: StatusPost) -> SmsRequest | None:
        return None if post.request_id is None else await self._ledger.get_request(post.request_id)

    def _batch(self, queue: str, request: SmsRequest) -> list[StatusPost]:
        """The next post, or the run of outcome posts; empty while its sends still go out."""
        posts = self._queued[queue]
        if posts[0].kind is not StatusKind.OUTCOME:
            return posts[:1]
        run = _leading(posts, StatusKind.OUTCOME)
        sending = any(send.state is State.SENDING for send in request.sends)
        return [] if sending and not _stale(run[0], self._clock()) else run

    async def _attempt(self, queue: str, batch: list[StatusPost], request: SmsRequest) -> bool:
        try:
            await self._delivery.deliver(batch, request)
        except SlackCallFailed as failed:
            return await self._failed(queue, batch, failed)
        await self._done(queue, batch)
        return True

    async def _failed(self, queue: str, batch: list[StatusPost], failed: SlackCallFailed) -> bool:
        now = self._clock()
        if now - batch[0].created_at > GIVE_UP:
            log.error(
                "status undelivered after a day", extra={"queue": queue, "error": failed.code}
            )
            await self._done(queue, batch, error=failed.code, undelivered=True)
            return True
        wait = failed.retry_after if failed.retry_after is not None else backoff(batch[0].attempts)
        await self._ledger.status_retry(queue, now + timedelta(seconds=wait), failed.code)
        self._queued[queue] = [_tried(post) for post in self._queued[queue]]
        self._start_in(queue, wait)
        return False

    async def _done(
        self,
        queue: str,
        batch: list[StatusPost],
        *,
        error: str | None = None,
        undelivered: bool = False,
    ) -> None:
        ids = [post.id for post in batch]
        await self._ledger.status_delivered(ids, undelivered=undelivered, error=error)
        self._queued[queue] = [post for post in self._queued[queue] if post.id not in ids]


def _leading(posts: Sequence[StatusPost], kind: StatusKind) -> list[StatusPost]:
    run: list[StatusPost] = []
    for post in posts:
        if post.kind is not kind:
            break
        run.append(post)
    return run


def _stale(post: StatusPost, now: datetime) -> bool:
    """An outcome waiting for its request's other sends longer than any send can take."""
    return now - post.created_at > STALE_OUTCOME


def _tried(post: StatusPost) -> StatusPost:
    return dataclasses.replace(post, attempts=post.attempts + 1)
