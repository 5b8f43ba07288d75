"""The open-loop load generator and the correlation of what reached the fakes.

Correlation: every request carries a run-unique tag ``bench-<n>`` in its message text. The bot
(and the floors) send that text to sipgate verbatim and quote it in the parent status message,
so the tag is found in the body of each ``POST /sessions/sms`` and in the blocks of each
``chat.update`` of that request's parent. Recipient numbers are unique too (``+49151`` + 8
digits from a counter), but the bot formats them for display, so the tag is the robust key.
The *final status* is the first ``chat.update`` whose blocks carry the tag (the bot updates the
parent once, after every recipient has an outcome). Times are ``time.monotonic()`` in this
process, which is where the fakes record arrivals too.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.sandbox.harness import SIGNING_SECRET
from bot.sandbox.sipgate import FakeSipgate
from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack_requests import signed_headers

TAG = re.compile(r"bench-(\d+)\b")
POLL = 0.02

_tags = itertools.count(1)
_numbers = itertools.count(10_000_000)


def new_tag() -> str:
    return f"bench-{next(_tags)}"


def new_number() -> str:
    return f"+49151{next(_numbers):08d}"


@dataclass
class Record:
    """One request: when it was due to go out, and what happened (monotonic seconds)."""

    tag: str
    recipients: int
    due: float = 0.0
    sent: float | None = None
    acked: float | None = None
    status_code: int | None = None
    error: str | None = None
    sipgate: list[float] = field(default_factory=list)
    final_status: float | None = None

    @property
    def ok(self) -> bool:
        return self.status_code == 200

    @property
    def all_accepted(self) -> bool:
        return len(self.sipgate) >= self.recipients

    @property
    def complete(self) -> bool:
        return self.all_accepted and self.final_status is not None


class Tracker:
    """Reads new sipgate posts and Slack calls incrementally and matches them to records."""

    def __init__(self, slack: FakeSlack, sipgate: FakeSipgate) -> None:
        self.slack = slack
        self.sipgate = sipgate
        self.records: dict[str, Record] = {}
        self._slack_seen = 0
        self._sipgate_seen = 0

    def add(self, record: Record) -> None:
        self.records[record.tag] = record

    def poll(self) -> None:
        received = self.sipgate.received
        for request in received[self._sipgate_seen :]:
            data = request.json
            if request.method == "POST" and isinstance(data, dict):
                match = TAG.search(str(data.get("message", "")))
                record = self.records.get(match.group(0)) if match else None
                if record is not None:
                    record.sipgate.append(request.at)
        self._sipgate_seen = len(received)
        calls = self.slack.calls
        for call in calls[self._slack_seen :]:
            if call.method != "chat.update":
                continue
            match = TAG.search(str(call.args.get("blocks", "")))
            record = self.records.get(match.group(0)) if match else None
            if record is not None and record.final_status is None:
                record.final_status = call.at
        self._slack_seen = len(calls)

    async def wait(
        self,
        records: list[Record],
        *,
        need_status: bool,
        timeout: float,
    ) -> bool:
        """Poll until every record is accepted (and has its status); False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            done = all(
                (r.complete if need_status else r.all_accepted) or (r.acked and not r.ok)
                for r in records
            )
            if done:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL)


BodyFactory = Callable[[str], tuple[str, int]]  # tag -> (form body, recipients)


async def open_loop(
    session: aiohttp.ClientSession,
    url: str,
    tracker: Tracker,
    make_body: BodyFactory,
    *,
    rate: float,
    count: int,
) -> list[Record]:
    """POST ``count`` signed bodies at ``rate``/s to ``url`` regardless of answers."""
    prepared: list[tuple[Record, str, dict[str, str]]] = []
    for _ in range(count):
        tag = new_tag()
        body, recipients = make_body(tag)
        record = Record(tag, recipients)
        tracker.add(record)
        prepared.append((record, body, signed_headers(body, SIGNING_SECRET)))
    tasks: list[asyncio.Task[None]] = []
    start = time.monotonic() + 0.05
    for index, (record, body, headers) in enumerate(prepared):
        record.due = start + index / rate
        delay = record.due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_post(session, url, record, body, headers)))
    await asyncio.gather(*tasks)
    return [record for record, _, _ in prepared]


async def _post(
    session: aiohttp.ClientSession,
    url: str,
    record: Record,
    body: str,
    headers: dict[str, str],
) -> None:
    record.sent = time.monotonic()
    try:
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            record.status_code = response.status
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        record.error = type(error).__name__
    record.acked = time.monotonic()


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summarise(records: list[Record]) -> dict[str, Any]:
    """Latency figures in milliseconds, counted from each request's due time."""
    ack = [(r.acked - r.due) * 1000 for r in records if r.acked is not None and r.ok]
    sip = [(max(r.sipgate) - r.due) * 1000 for r in records if r.all_accepted]
    status = [(r.final_status - r.due) * 1000 for r in records if r.final_status is not None]
    sms = sum(len(r.sipgate) for r in records)
    first = min((r.due for r in records), default=0.0)
    last = max((t for r in records for t in r.sipgate), default=first)
    lateness = [(r.sent - r.due) * 1000 for r in records if r.sent is not None]
    return {
        "requests": len(records),
        "acked_200": sum(r.ok for r in records),
        "sms_expected": sum(r.recipients for r in records),
        "sms_accepted": sms,
        "statuses_posted": sum(r.final_status is not None for r in records),
        "all_accepted": all(r.all_accepted for r in records),
        "ack_ms": _triple(ack),
        "sipgate_ms": _triple(sip),
        "status_ms": _triple(status),
        "throughput_sms_s": sms / (last - first) if last > first else float("nan"),
        "loadgen_late_ms_max": max(lateness, default=float("nan")),
        "samples": {"ack_ms": ack, "status_ms": status, "sipgate_ms": sip},
    }


def _triple(values: list[float]) -> dict[str, float]:
    return {
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values, default=float("nan")),
    }
