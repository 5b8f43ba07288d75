"""The status outbox worker: delivers the ledger's status posts to Slack, in order, paced.

The ledger hands over the posts this instance records the moment they are committed
(``recorded``), with what it knew about the request then; a claim round every ``CLAIM_EVERY``
takes the queues nobody alive holds (posts of a stopped instance, or waiting behind another
instance's). Each queue is drained by one task at a time, oldest post first. Consecutive
outcome posts of a request become one reply, sent once none of its sends is still waiting for
sipgate. A transient failure waits (``Retry-After`` for a 429, a growing jittered pause
otherwise) and tries the queue again; after ``GIVE_UP`` a post is marked undelivered and
logged. What was delivered is written to the ledger in small batches (``Marks``): a crash
just before such a write means a status is shown twice, never lost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.core import (
    Clock,
    InboundLedger,
    Ledger,
    SendRecord,
    SmsRequest,
    State,
    StatusKind,
    StatusPost,
)
from bot.slack.status import StatusDelivery
from bot.slack.web import SlackCallFailed

log = logging.getLogger(__name__)

CLAIM_EVERY = 1.0  # seconds between claim rounds
CLAIM_QUEUES = 50  # queues one claim round takes at most (a full round runs again at once)
GIVE_UP = timedelta(hours=24)
WAIT_FOR_SENDS = 2.0  # seconds before looking again at outcome posts whose request still sends
STALE_OUTCOME = timedelta(minutes=2)  # longer than any send can take: report what is known
STOP_GRACE = 3.0  # seconds at shutdown for posts under way
MARK_RETRY = 1.0  # seconds before writing again when the database refused the last write
KEEP_SHOWN = 10_000  # status messages remembered after they were written to the ledger


class Marks:
    """Delivered posts and new status messages, written to the ledger together, in batches."""

    def __init__(self, ledger: Ledger, every: float, retry: float = MARK_RETRY) -> None:
        self._ledger = ledger
        self._every = every
        self._retry = retry
        self._delivered: list[int] = []
        self._shown: list[tuple[int, str, str]] = []
        # Status messages shown lately (request id → channel, ts), kept after they are written:
        # a read of the ledger that began before the write committed does not have them yet.
        self._recent: dict[int, tuple[str, str]] = {}
        self._writing: asyncio.Task[None] | None = None

    def where_shown(self, request: SmsRequest) -> SmsRequest:
        """The request with its status message, also when the ledger (or a read of it that
        raced the write) does not have it yet."""
        found = self._recent.get(request.id)
        if found is None or request.status_ts is not None:
            return request
        return dataclasses.replace(request, status_channel=found[0], status_ts=found[1])

    @property
    def pending(self) -> bool:
        """Whether something delivered is not written to the ledger yet."""
        writing = self._writing is not None and not self._writing.done()
        return bool(self._delivered or self._shown) or writing

    def delivered(self, post_ids: Sequence[int]) -> None:
        self._delivered.extend(post_ids)
        self._soon()

    def shown(self, request: SmsRequest) -> None:
        """The request's status message is in Slack: remember where."""
        if request.status_ts is not None:
            self._shown.append((request.id, request.channel_id, request.status_ts))
            self._recent[request.id] = (request.channel_id, request.status_ts)
            while len(self._recent) > KEEP_SHOWN:  # the oldest were written long ago
                del self._recent[next(iter(self._recent))]
            self._soon()

    async def flush(self) -> bool:
        """Write what is waiting now; False if the database failed (kept for the next write)."""
        delivered, shown = self._delivered, self._shown
        self._delivered, self._shown = [], []
        try:
            await self._ledger.status_delivered(delivered, shown=shown)
        except Exception:
            log.exception("delivered status posts not recorded yet")
            self._delivered[:0], self._shown[:0] = delivered, shown
            return False
        return True

    def _soon(self) -> None:
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_later())

    async def _write_later(self) -> None:
        await asyncio.sleep(self._every)
        while self._delivered or self._shown:
            if not await self.flush():
                await asyncio.sleep(self._retry)  # the database is not asked again at once


class StatusOutbox:
    """Drains status queues into Slack."""

    def __init__(
        self,
        ledger: Ledger,
        delivery: StatusDelivery,
        clock: Clock,
        inbox: InboundLedger | None = None,
    ) -> None:
        self._ledger = ledger
        self._inbox = inbox
        self._delivery = delivery
        self._clock = clock
        self._marks = Marks(ledger, delivery.pacer.pace.mark_every)
        self._queued: dict[str, list[StatusPost]] = {}
        self._known: dict[int, SmsRequest] = {}  # requests as last seen, while queued
        self._draining: dict[str, asyncio.Task[None]] = {}
        self._later: dict[str, asyncio.TimerHandle] = {}
        self._resume_at: dict[str, float] = {}  # loop time before which a queue waits
        self._stopping = False  # once stopping, nothing starts again (the next instance takes it)
        ledger.on_status(self.recorded)

    def recorded(self, posts: Sequence[StatusPost]) -> None:
        """Posts this instance holds: deliver them (after what its queue already holds)."""
        for post in posts:
            self._learn(post)
            queued = self._queued.setdefault(post.queue, [])
            if all(known.id != post.id for known in queued):
                queued.append(post)
        for queue in {post.queue for post in posts}:
            self._start(queue)

    def _learn(self, post: StatusPost) -> None:
        """Keep what the ledger knew when it recorded the post."""
        if post.request is not None:
            self._known[post.request.id] = self._marks.where_shown(post.request)
        elif post.sends and (known := self._known.get(post.request_id or 0)) is not None:
            changed = {send.id: send for send in post.sends}
            sends = tuple(changed.get(send.id, send) for send in known.sends)
            self._known[known.id] = dataclasses.replace(known, sends=sends)

    @property
    def busy(self) -> bool:
        """Whether a post is being delivered or ready to be (not waiting for a retry), or what
        was delivered is still to be written to the ledger."""
        ready = any(posts and queue not in self._later for queue, posts in self._queued.items())
        return bool(self._draining) or (ready and not self._stopping) or self._marks.pending

    async def run(self) -> None:
        """Claim rounds until cancelled; a failing round is logged and retried."""
        while True:
            try:
                claimed = await self._ledger.claim_statuses(self._clock(), CLAIM_QUEUES)
                self.recorded(claimed)
            except Exception:
                log.exception("status claim round failed")
                claimed = []
            if len({post.queue for post in claimed}) < CLAIM_QUEUES:
                await asyncio.sleep(CLAIM_EVERY)

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Give posts under way ``grace`` seconds, then stop (the lease frees the rest)."""
        self._stopping = True
        for handle in self._later.values():
            handle.cancel()
        running = list(self._draining.values())
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._marks.flush()

    def _start(self, queue: str) -> None:
        if self._stopping:
            return
        # A drain that has returned but whose done callback has not run yet takes nothing
        # more: a post recorded in between must start a new one, or it would wait for good.
        running = self._draining.get(queue)
        if (running is not None and not running.done()) or not self._queued.get(queue):
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
        task.add_done_callback(lambda done: self._finished(queue, done))

    def _finished(self, queue: str, task: asyncio.Task[None]) -> None:
        if self._draining.get(queue) is not task:
            return  # a newer drain of the queue took over
        del self._draining[queue]
        if not self._queued.get(queue):
            self._queued.pop(queue, None)
            self._forget(_request_id(queue))

    def _forget(self, request_id: int) -> None:
        """Drop a request from memory once nothing of it is under way here (an outcome of a
        send still out may come next, and must find the status message just posted)."""
        known = self._known.get(request_id)
        if known is not None and all(send.state is not State.SENDING for send in known.sends):
            del self._known[request_id]

    def _start_in(self, queue: str, seconds: float) -> None:
        if self._stopping:  # a post that failed while stopping waits for the next instance
            return
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
        if head.kind is StatusKind.INBOUND:
            return await self._inbound(queue, head)
        request = await self._request(head)
        if request is None:
            await self._done(queue, [head], error="request_gone")
            return True
        request = self._with_news(request, self._queued[queue])
        batch = self._batch(queue, request)
        if not batch:  # the next outcome starts it again; the timer is a backstop
            asyncio.get_running_loop().call_later(WAIT_FOR_SENDS, self._start, queue)
            return False
        return await self._attempt(queue, batch, request)

    async def _inbound(self, queue: str, post: StatusPost) -> bool:
        found = None
        if self._inbox is not None and post.detail and post.detail.isdigit():
            found = await self._inbox.inbound(int(post.detail))
        if found is None:
            await self._done(queue, [post], error="inbound_gone")
            return True
        try:
            await self._delivery.deliver_inbound(found)
        except SlackCallFailed as failed:
            return await self._failed(queue, [post], failed)
        self._marks.delivered([post.id])
        self._drop(queue, [post])
        return True

    async def _request(self, post: StatusPost) -> SmsRequest | None:
        if post.request_id is None:
            return None
        known = self._known.get(post.request_id)
        if known is None:
            known = await self._ledger.get_request(post.request_id)
        return None if known is None else self._marks.where_shown(known)

    def _with_news(self, request: SmsRequest, posts: Sequence[StatusPost]) -> SmsRequest:
        """The request with the states its queued posts carry: a snapshot taken before they
        were recorded (a read for a post claimed from a stopped instance) is older than them."""
        news = {send.id: send for post in posts for send in post.sends}
        sends = tuple(_newer(send, news.get(send.id)) for send in request.sends)
        if sends == request.sends:
            return request
        updated = dataclasses.replace(request, sends=sends)
        if request.id in self._known:
            self._known[request.id] = updated
        return updated

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
            shown = await self._delivery.deliver(batch, request)
        except SlackCallFailed as failed:
            return await self._failed(queue, batch, failed)
        if shown.status_ts != request.status_ts:
            self._marks.shown(shown)
            current = self._known.get(shown.id, shown)  # may have learnt new states meanwhile
            self._known[shown.id] = dataclasses.replace(
                current, status_channel=shown.status_channel, status_ts=shown.status_ts
            )
        self._marks.delivered([post.id for post in batch])
        self._drop(queue, batch)
        return True

    async def _failed(self, queue: str, batch: list[StatusPost], failed: SlackCallFailed) -> bool:
        now = self._clock()
        if not failed.transient or now - batch[0].created_at > GIVE_UP:
            log.error("status undelivered", extra={"queue": queue, "error": failed.code})
            await self._done(queue, batch, error=failed.code)
            return True
        wait = failed.retry_after
        if wait is None:
            wait = self._delivery.pacer.backoff(batch[0].attempts)
        await self._ledger.status_retry(queue, now + timedelta(seconds=wait), failed.code)
        self._queued[queue] = [_tried(post) for post in self._queued[queue]]
        self._start_in(queue, wait)
        return False

    async def _done(self, queue: str, batch: list[StatusPost], *, error: str) -> None:
        """Give the batch up: recorded as undelivered at once, never tried again."""
        ids = [post.id for post in batch]
        await self._ledger.status_delivered(ids, undelivered=True, error=error)
        self._drop(queue, batch)

    def _drop(self, queue: str, batch: list[StatusPost]) -> None:
        ids = {post.id for post in batch}
        self._queued[queue] = [post for post in self._queued[queue] if post.id not in ids]


def _request_id(queue: str) -> int:
    kind, _, number = queue.partition(":")
    return int(number) if kind == "request" and number.isdigit() else 0


_PROGRESS = {State.SCHEDULED: 0, State.SENDING: 1}  # every other state is final (2)


def _newer(send: SendRecord, news: SendRecord | None) -> SendRecord:
    """Of two views of a send, the one further along (a send never goes back)."""
    if news is None or _PROGRESS.get(news.state, 2) < _PROGRESS.get(send.state, 2):
        return send
    return news


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
