"""The inbound scenario: SMS coming back, read from the fake sipgate's history.

Two figures (``python -m bench``, after the quick sends, so the answers have threads to go to):

* **an idle poll round**: the bot with ``SMS_INBOX_CHANNEL`` set polls a history with nothing
  new every ``SIPGATE_POLL_INTERVAL`` (10 s, the least allowed); its CPU over a few rounds,
  less the CPU the bot without inbound used over as long (lease, outbox claims), per round;
* **many answers at once**: the bot is stopped, ``count`` customers answer SMS the bench sent
  (each request has its own channel, so Slack's pace per channel is not what is measured),
  and a bot is started: its start-up round finds them all. Measured from that round's first
  history request to the last answer posted in Slack, and the CPU per answer from the
  moment the new bot is healthy (its start-up CPU, as measured on the bot before it, is
  taken off).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bench.proc import Server
from bot.sandbox.sipgate import FakeSipgate
from bot.sandbox.slack import FakeSlack

INBOX_CHANNEL = "C_BENCH_INBOX"
POLL_INTERVAL = 10.0  # the least SIPGATE_POLL_INTERVAL allows
ANSWER = re.compile(r"bench-answer-(\d+)\b")
POLL = 0.02

StartBot = Callable[[str, dict[str, str]], Awaitable[Server]]


@dataclass(frozen=True)
class InboundPlan:
    idle_rounds: int = 3  # 0: no idle measurement (the smoke run)
    answers: int = 500
    timeout: float = 120.0


def inbound_env(env: dict[str, str]) -> dict[str, str]:
    return {
        **env,
        "SMS_INBOX_CHANNEL": INBOX_CHANNEL,
        "SIPGATE_POLL_INTERVAL": f"{POLL_INTERVAL:g}",
    }


def texted_numbers(sipgate: FakeSipgate, count: int) -> list[str]:
    """``count`` distinct numbers the bench's quick sends texted (each in its own channel)."""
    numbers: dict[str, None] = {}
    for post in sipgate.sms_posts:
        body = post.json if isinstance(post.json, dict) else {}
        if "load test" in str(body.get("message", "")):
            numbers.setdefault(str(body.get("recipient")), None)
    return list(itertools.islice(numbers, count))


async def wait_history_requests(sipgate: FakeSipgate, count: int, within: float) -> float:
    """Until ``count`` history requests arrived in all; when the last of them did."""
    deadline = time.monotonic() + within
    while len(sipgate.history_requests) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {count} history requests in {within} s")
        await asyncio.sleep(POLL)
    return sipgate.history_requests[count - 1].at


async def start_inbound(
    start_bot: StartBot, env: dict[str, str], sipgate: FakeSipgate
) -> tuple[Server, float]:
    """A bot with inbound on, after its start-up round; its CPU when it was healthy."""
    seen = len(sipgate.history_requests)
    bot = await start_bot("bot-inbound", inbound_env(env))
    startup_cpu = bot.cpu()
    await wait_history_requests(sipgate, seen + 1, 30)
    return bot, startup_cpu


async def idle_round_cpu(
    bot: Server, sipgate: FakeSipgate, rounds: int, baseline: float
) -> dict[str, float]:
    """The CPU of a poll round that finds nothing (``baseline``: CPU seconds of the bot
    without inbound over as many intervals)."""
    await bot.quiet()  # posts the bot before it left undelivered are out
    seen = len(sipgate.history_requests)
    start_cpu = bot.cpu()
    await wait_history_requests(sipgate, seen + rounds, rounds * POLL_INTERVAL + 30)
    used = bot.cpu() - start_cpu
    return {
        "rounds": rounds,
        "cpu_ms_per_idle_round": 1000 * (used - baseline) / rounds,
        "cpu_ms_per_10s_with_inbound": 1000 * used / rounds,
        "cpu_ms_per_10s_without": 1000 * baseline / rounds,
    }


async def answers_at_once(
    bot: Server,
    startup_cpu: float,
    start_bot: StartBot,
    env: dict[str, str],
    fakes: tuple[FakeSlack, FakeSipgate],
    plan: InboundPlan,
) -> dict[str, Any]:
    """Stop ``bot``, let ``plan.answers`` customers answer, start a bot: how it copes
    (``startup_cpu``: the CPU a bot with nothing to receive had used when it was healthy)."""
    slack, sipgate = fakes
    bot.stop()
    numbers = texted_numbers(sipgate, plan.answers)
    for index, number in enumerate(numbers):
        sipgate.receive_sms(number, f"bench-answer-{index} thanks, see you")
    seen = len(sipgate.history_requests)
    restarted = await start_bot("bot-inbound-restart", inbound_env(env))
    cpu_start = restarted.cpu()
    round_start = await wait_history_requests(sipgate, seen + 1, 30)
    posted = await wait_answers(slack, len(numbers), plan.timeout)
    before_healthy = max(0.0, cpu_start - startup_cpu)  # the round had begun already
    figures = _answer_figures(numbers, posted, round_start, restarted.cpu() - startup_cpu)
    figures["cpu_before_healthy_s"] = before_healthy
    figures["peak_rss_mb"] = restarted.rss()
    restarted.stop()
    return figures


async def wait_answers(slack: FakeSlack, count: int, within: float) -> dict[int, float]:
    """When each answer was posted to Slack (by its number), until all are or time is up."""
    posted: dict[int, float] = {}
    seen = 0
    deadline = time.monotonic() + within
    while len(posted) < count and time.monotonic() < deadline:
        calls = slack.calls
        for call in calls[seen:]:
            if call.method == "chat.postMessage":
                for found in ANSWER.finditer(str(call.args)):
                    posted.setdefault(int(found.group(1)), call.at)
        seen = len(calls)
        await asyncio.sleep(POLL)
    return posted


def _answer_figures(
    numbers: list[str], posted: dict[int, float], round_start: float, cpu_s: float
) -> dict[str, Any]:
    last = max(posted.values(), default=float("nan"))
    return {
        "answers": len(numbers),
        "posted": len(posted),
        "round_to_last_posted_s": last - round_start,
        "answers_posted_per_s": len(posted) / (last - round_start) if posted else 0.0,
        "cpu_s": cpu_s,
        "cpu_ms_per_answer": 1000 * cpu_s / max(1, len(posted)),
    }
