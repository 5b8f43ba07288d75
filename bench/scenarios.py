"""The scenarios: quick sends, the rate search, modal submissions, 10 recipients, scheduled."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.inbound import InboundPlan
from bench.load import (
    BodyFactory,
    Record,
    Tracker,
    new_number,
    new_tag,
    open_loop,
    summarise,
)
from bench.proc import Server
from bot.core import RequestDraft, Scheduler, SmsExtension, StatusPost
from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack_requests import (
    form_body,
    interactive_body,
    modal_state,
    new_trigger_id,
    slash_command_fields,
    view_submission_payload,
)
from bot.slack.views import ComposeForm, ModalMetadata, compose_view
from bot.store import open_ledger
from bot.store.schema import metadata
from bot.store.url import database_url_for


@dataclass(frozen=True)
class Plan:
    """Sizes of every scenario (the default run, or --smoke)."""

    slow_rate: float = 10
    slow_count: int = 50
    fast_rate: float = 100
    fast_count: int = 200
    modal_rate: float = 100
    modal_count: int = 200
    multi_rate: float = 20
    multi_count: int = 100
    scheduled_count: int = 1000
    scheduled_lead: float = 6.0
    search_rates: tuple[int, ...] = (25, 50, 100, 200, 300, 400)
    search_seconds: float = 3.0
    drain_timeout: float = 10.0
    max_backlog_lag: float = 1.0
    max_ack_p99_ms: float = 1000.0
    inbound: InboundPlan = field(default_factory=InboundPlan)


SMOKE = Plan(
    slow_rate=10,
    slow_count=5,
    fast_rate=100,
    fast_count=10,
    modal_rate=100,
    modal_count=5,
    multi_rate=20,
    multi_count=3,
    scheduled_count=20,
    scheduled_lead=1.5,
    search_rates=(50,),
    search_seconds=0.3,
    drain_timeout=10.0,
    inbound=InboundPlan(idle_rounds=0, answers=10, timeout=30.0),
)


def channel_of(tag: str) -> str:
    """Each request in a conversation of its own: Slack paces posts per conversation (about one
    a second), so a load in one channel would measure the pacing, not the bot."""
    return f"C_{tag.upper().replace('-', '_')}"


def command_body(slack: FakeSlack, text: str, channel: str, user: str = "U_ALICE") -> str:
    """A signed-ready ``/sms`` command with a response_url of its own."""
    fields = slash_command_fields(
        text=text,
        user_id=user,
        channel_id=channel,
        response_url=slack.new_response_url(user_id=user, channel_id=channel),
        trigger_id=new_trigger_id(),
    )
    return form_body(fields)


def modal_submission(
    channel: str,
    to: str,
    message: str,
    view_id: str,
    *,
    user: str = "U_ALICE",
    when: int | None = None,
) -> str:
    """A submission of the compose modal as the bot opened it for ``channel``."""
    form = ComposeForm(ModalMetadata(channel), [SmsExtension("s0", "SMS", "")], 1600, 30)
    state = modal_state(to=to, message=message, when=when)
    payload = view_submission_payload(
        view=compose_view(form), state=state, user_id=user, view_id=view_id
    )
    return interactive_body(payload)


def quick_body(slack: FakeSlack) -> BodyFactory:
    def make(tag: str) -> tuple[str, int]:
        return command_body(slack, f"{new_number()} {tag} load test", channel_of(tag)), 1

    return make


def multi_body(slack: FakeSlack, recipients: int = 10) -> BodyFactory:
    def make(tag: str) -> tuple[str, int]:
        numbers = ", ".join(new_number() for _ in range(recipients))
        return command_body(slack, f"{numbers} {tag} to ten", channel_of(tag)), recipients

    return make


def modal_body() -> BodyFactory:
    counter = iter(range(10**9))

    def make(tag: str) -> tuple[str, int]:
        body = modal_submission(
            channel_of(tag), new_number(), f"{tag} from the form", f"VB{next(counter)}"
        )
        return body, 1

    return make


@contextlib.contextmanager
def harness_gc_paused() -> Iterator[None]:
    """No garbage collection in this process while it measures.

    The load generator and the fakes keep every request they saw; a full collection of that
    heap stalls their loop for tens of milliseconds, which would show up as the server's
    latency. Collected between scenarios instead.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def run_load(
    server: Server,
    session: aiohttp.ClientSession,
    tracker: Tracker,
    make_body: BodyFactory,
    *,
    rate: float,
    count: int,
    drain_timeout: float,
) -> dict[str, Any]:
    """One open-loop run against ``server``; figures plus CPU per SMS and peak RSS."""
    await server.quiet()  # what an earlier scenario left (statuses still going out) is not counted
    cpu_before = server.cpu()
    with harness_gc_paused():
        records = await open_loop(
            session, f"{server.url}/slack/events", tracker, make_body, rate=rate, count=count
        )
        finished = await tracker.wait(records, need_status=True, timeout=drain_timeout)
    cpu_used = server.cpu() - cpu_before
    return _load_figures(records, server, rate=rate, drained=finished, cpu_s=cpu_used)


def _load_figures(
    records: list[Record], server: Server, *, rate: float, drained: bool, cpu_s: float
) -> dict[str, Any]:
    """``summarise`` plus the backlog, CPU per SMS and peak RSS of one open-loop run."""
    result = summarise(records)
    last_due = max(r.due for r in records)
    last_done = max((r.final_status or 0.0 for r in records), default=0.0)
    result.update(
        server=server.name,
        rate=rate,
        drained=drained,
        backlog_lag_s=last_done - last_due if drained else float("inf"),
        cpu_s=cpu_s,
        cpu_ms_per_sms=1000 * cpu_s / max(1, result["sms_accepted"]),
        peak_rss_mb=server.rss(),
    )
    return result


async def rate_search(
    server: Server, session: aiohttp.ClientSession, tracker: Tracker, slack: FakeSlack, plan: Plan
) -> dict[str, Any]:
    """Step the rate up until a step fails; the highest step that passed."""
    steps: list[dict[str, Any]] = []
    for rate in plan.search_rates:
        step = await run_load(
            server,
            session,
            tracker,
            quick_body(slack),
            rate=rate,
            count=max(1, int(rate * plan.search_seconds)),
            drain_timeout=plan.drain_timeout,
        )
        step["problems"] = search_problems(step, plan)
        step.pop("samples")
        steps.append(step)
        if step["problems"]:
            break
    return _search_result(server, steps)


def search_problems(step: dict[str, Any], plan: Plan) -> list[str]:
    """Why a step of the rate search failed; empty if it passed."""
    problems = []
    if step["acked_200"] < step["requests"]:
        problems.append("non-200 acks")
    if not step["drained"] or step["sms_accepted"] < step["sms_expected"]:
        problems.append("SMS or statuses missing")
    elif step["backlog_lag_s"] > plan.max_backlog_lag:
        problems.append(f"backlog: last status {step['backlog_lag_s']:.2f}s after last send")
    if not step["ack_ms"]["p99"] <= plan.max_ack_p99_ms:
        problems.append("ack p99 > 1 s")
    return problems


def _search_result(server: Server, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The search's figures at its highest passing step (only the last step can fail)."""
    passed = [step for step in steps if not step["problems"]]
    best = passed[-1] if passed else None
    return {
        "server": server.name,
        "max_rate": best["rate"] if best else 0,
        "max_throughput_sms_s": best["throughput_sms_s"] if best else 0.0,
        "cpu_ms_per_sms_at_max": best["cpu_ms_per_sms"] if best else float("nan"),
        "steps": steps,
    }


async def reset_database(url: str) -> None:
    """Drop the bot's tables (PostgreSQL runs start empty)."""
    engine = create_async_engine(database_url_for(url))
    try:
        async with engine.begin() as conn:
            for table in [*reversed(metadata.sorted_tables), "schema_version"]:
                await conn.execute(text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    finally:
        await engine.dispose()


async def insert_scheduled(url: str, tracker: Tracker, count: int, lead: float) -> list[Record]:
    """``count`` bot-held scheduled sends, all due ``lead`` seconds from now."""
    now = datetime.now(UTC)
    send_at = now + timedelta(seconds=lead)
    due = time.monotonic() + (send_at - datetime.now(UTC)).total_seconds()
    ledger = await open_ledger(url)
    posts: list[StatusPost] = []
    ledger.on_status(posts.extend)
    records = []
    try:
        for index in range(count):
            tag = new_tag()
            await ledger.open_request(
                _scheduled_draft(tag, index, now, send_at), hourly_limit=10**9
            )
            record = Record(tag, 1, due=due)
            tracker.add(record)
            records.append(record)
        # As if they had been scheduled from Slack earlier: their status is shown already.
        await ledger.status_delivered([post.id for post in posts])
    finally:
        await ledger.close()
    return records


def _scheduled_draft(tag: str, index: int, now: datetime, send_at: datetime) -> RequestDraft:
    return RequestDraft(
        interaction_key=f"bench:scheduled:{tag}",
        team_id="T_SANDBOX",
        user_id="U_ALICE",
        channel_id=channel_of(tag),
        response_url=None,
        recipients=(new_number(),),
        message=f"{tag} scheduled {index}",
        sms_id="s0",
        segments=1,
        requested_at=now,
        send_at=send_at,
        scheduler=Scheduler.BOT,
    )


def scheduled_summary(records: list[Record], cpu_s: float, server: Server) -> dict[str, Any]:
    due = records[0].due if records else 0.0
    times = sorted(t for r in records for t in r.sipgate)
    latencies = [(t - due) * 1000 for t in times]
    result = summarise(records)
    result.update(
        server=server.name,
        due_to_all_received_s=(times[-1] - due) if len(times) >= len(records) else float("nan"),
        due_to_first_received_s=(times[0] - due) if times else float("nan"),
        throughput_sms_s=len(times) / (times[-1] - due) if times and times[-1] > due else 0.0,
        cpu_s=cpu_s,
        cpu_ms_per_sms=1000 * cpu_s / max(1, len(times)),
        peak_rss_mb=server.rss(),
    )
    result["samples"]["sipgate_ms"] = latencies
    return result
