"""``python -m bench --soak MINUTES``: the bot under a steady mixed load while things go wrong.

Quick sends, modal sends and scheduled sends arrive at a steady rate (:mod:`bench.soak_load`)
while Slack enforces its rate limits, and on a plan (:class:`SoakPlan`): sipgate answers a share
of sends 503 or holds them past the bot's timeout, Slack answers every post 429 for a while,
the database restarts (PostgreSQL), and the bot is killed with SIGKILL in the middle of a send
and started again. When the load ends and the bot has had time to settle, the ledger is
audited against what the fakes saw (:mod:`bench.soak_audit`), and the bot's memory over each
process's life is checked for growth. A run of ten minutes or more uses the long plan (faults
every few minutes); a shorter one (CI runs 20 s) puts every fault in once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.proc import Server, bot_env, free_port
from bench.soak_audit import Audit, CutOff, audit, read_ledger
from bench.soak_faults import FaultySipgate, SoakDatabase, kill_mid_send
from bench.soak_load import SoakLoad, SoakRequest
from tests.fakes import ScriptedFakes
from tests.fakes.slack import ScriptedSlack

STORM_METHODS = ("chat.postMessage", "chat.update")
RSS_SETTLED = 60.0  # seconds into a process's life from which its memory should stay flat
RSS_LIFE = 120.0  # processes living at least this long are checked for growth
RSS_GROWTH = 0.10  # at most this share above the settled size (plus RSS_SLACK_MB)
RSS_SLACK_MB = 5.0


@dataclass
class SoakFakes(ScriptedFakes):
    """The test fakes, with a sipgate that fails and hangs on its own."""

    sipgate: FaultySipgate


@dataclass(frozen=True)
class Every:
    """A fault that comes back every ``seconds``, the first time at ``first``."""

    seconds: float
    first: float

    def times(self, total: float, margin: float) -> list[float]:
        """When it happens in ``total`` seconds, none later than ``margin`` before the end."""
        count = max(0, int((total - margin - self.first) // self.seconds) + 1)
        return [self.first + n * self.seconds for n in range(count)]


@dataclass(frozen=True)
class SoakPlan:
    """The load and the faults of one soak run."""

    seconds: float
    rate: float = 0.5  # requests a second
    kills: Every = Every(300, 300)
    db_restarts: Every = Every(420, 210)
    storms: Every = Every(180, 90)
    storm_seconds: float = 10.0
    db_down_seconds: float = 5.0
    schedule_ahead: tuple[int, int] = (10, 60)  # seconds, for scheduled sends
    sipgate_timeout: int = 5
    error_share: float = 0.02
    hang_share: float = 0.01
    rss_every: float = 5.0
    drain_timeout: float = 240.0
    latency: float = 0.02  # the fakes', seconds

    @classmethod
    def for_minutes(cls, minutes: float) -> SoakPlan:
        seconds = minutes * 60
        if seconds >= 600:
            return cls(seconds)
        return cls(
            seconds,
            rate=3.0,
            kills=Every(seconds, 0.4 * seconds),
            db_restarts=Every(seconds, 0.7 * seconds),
            storms=Every(seconds, 0.1 * seconds),
            storm_seconds=3.0,
            db_down_seconds=2.0,
            schedule_ahead=(3, 8),
            sipgate_timeout=3,
            error_share=0.05,
            hang_share=0.03,
            rss_every=1.0,
            drain_timeout=90.0,
        )

    def faults(self, postgres: bool) -> list[tuple[float, str]]:
        """(seconds into the run, fault), in time order."""
        margin = min(30.0, self.seconds / 10)
        planned = [(at, "storm") for at in self.storms.times(self.seconds, margin)]
        planned += [(at, "kill") for at in self.kills.times(self.seconds, margin)]
        if postgres:
            restarts = self.db_restarts.times(self.seconds, margin)
            planned += [(at, "database restart") for at in restarts]
        return sorted(planned)


@dataclass
class Soak:
    """One soak run: the fakes, the bot (restarted after each kill), the load, what happened."""

    plan: SoakPlan
    workdir: Path
    fakes: SoakFakes
    database_url: str
    database: SoakDatabase | None
    session: aiohttp.ClientSession
    port: int = field(default_factory=free_port)
    bots: list[Server] = field(default_factory=list)
    cut_offs: list[CutOff] = field(default_factory=list)
    injected: Counter[str] = field(default_factory=Counter)
    rss: list[tuple[int, float, float]] = field(default_factory=list)  # bot, age s, MiB

    def __post_init__(self) -> None:
        self.load = SoakLoad(self.fakes.slack, self.plan.schedule_ahead)
        self.started = time.monotonic()
        self.born: list[float] = []

    @property
    def bot(self) -> Server:
        return self.bots[-1]

    async def run(self) -> tuple[Audit, dict[str, Any]]:
        self.fakes.slack.limits.enforce()
        await self.start_bot()
        self.started = time.monotonic()
        sampler = asyncio.create_task(self.sample_memory())
        faults = asyncio.create_task(self.inject_faults())
        await self.drive()
        await faults
        settled = time.monotonic()
        result = await self.settle()
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        figures = {"settle_s": time.monotonic() - settled, "memory": self.memory(result)}
        return result, figures

    async def start_bot(self) -> float:
        """A new bot process on the soak's port; when it was healthy."""
        env = bot_env(self.fakes, self.database_url, SIPGATE_TIMEOUT=str(self.plan.sipgate_timeout))
        bot = Server(f"soak-bot-{len(self.bots) + 1}", "bot", env, port=self.port)
        self.bots.append(bot)
        await bot.start(self.workdir)
        self.born.append(time.monotonic())
        return self.born[-1]

    async def drive(self) -> None:
        """The requests, open loop: each at its due time, whatever the bot answers."""
        posting: set[asyncio.Task[None]] = set()
        for index in range(int(self.plan.seconds * self.plan.rate)):
            due = self.started + index / self.plan.rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            request, body = self.load.next(due)
            task = asyncio.create_task(self.post(request, body))
            posting.add(task)
            task.add_done_callback(posting.discard)
        await asyncio.gather(*posting)

    async def post(self, request: SoakRequest, body: str) -> None:
        request.status_code, request.answer = await self.load.post(self.session, self.bot.url, body)

    async def inject_faults(self) -> None:
        for at, fault in self.plan.faults(self.database is not None):
            await asyncio.sleep(max(0.0, self.started + at - time.monotonic()))
            await self.inject(fault)
            self.injected[fault] += 1

    async def inject(self, fault: str) -> None:
        match fault:
            case "storm":
                self.fakes.slack.limits.storm(STORM_METHODS, self.plan.storm_seconds)
            case "kill":
                held = await kill_mid_send(self.bot, self.fakes.sipgate, within=10.0)
                healthy = await self.start_bot()
                if held is not None:
                    self.cut_offs.append(CutOff(held, healthy))
            case "database restart" if self.database is not None:
                await self.database.restart(self.plan.db_down_seconds)

    async def settle(self) -> Audit:
        """Audit until it holds or the plan's time to settle is over; the last audit."""
        deadline = time.monotonic() + self.plan.drain_timeout
        while True:
            snapshot = await read_ledger(self.database_url)
            result = audit(self.load.requests, snapshot, self.fakes, self.cut_offs)
            if not result.problems or time.monotonic() > deadline:
                return result
            await asyncio.sleep(1.0)

    async def sample_memory(self) -> None:
        while True:
            with contextlib.suppress(OSError, RuntimeError, IndexError):  # between two bots
                index = len(self.bots) - 1
                self.rss.append((index, time.monotonic() - self.born[index], self.bot.rss_now()))
            await asyncio.sleep(self.plan.rss_every)

    def memory(self, result: Audit) -> list[dict[str, float]]:
        """Each process's memory: settled size, last and peak sample; growth is a problem."""
        processes = []
        for index in range(len(self.bots)):
            samples = [(age, mb) for bot, age, mb in self.rss if bot == index]
            if samples:
                processes.append(_memory_of(samples))
        for process in processes:
            result.check(
                process["life_s"] < RSS_LIFE
                or process["last_mb"] <= process["settled_mb"] * (1 + RSS_GROWTH) + RSS_SLACK_MB,
                f"memory grew: {process}",
            )
        return processes


def _memory_of(samples: list[tuple[float, float]]) -> dict[str, float]:
    settled = next((mb for age, mb in samples if age >= RSS_SETTLED), samples[0][1])
    return {
        "life_s": samples[-1][0],
        "settled_mb": settled,
        "last_mb": samples[-1][1],
        "peak_mb": max(mb for _, mb in samples),
    }


async def run_soak(minutes: float, workdir: Path, postgres: bool) -> dict[str, Any]:
    """The run and its results: plan, faults injected, audit figures and problems."""
    plan = SoakPlan.for_minutes(minutes)
    sipgate = FaultySipgate(
        latency=plan.latency, error_share=plan.error_share, hang_share=plan.hang_share
    )
    fakes = await SoakFakes(ScriptedSlack(latency=plan.latency), sipgate).started()
    database = SoakDatabase.fresh() if postgres else None
    url = database.url if database is not None else f"sqlite:///{workdir / 'soak.db'}"
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(30))
    soak = Soak(plan, workdir, fakes, url, database, session)
    try:
        if database is not None:
            await database.create()
        result, figures = await soak.run()
    finally:
        await _close(soak, database)
    return _results(soak, result, figures)


async def _close(soak: Soak, database: SoakDatabase | None) -> None:
    for bot in soak.bots:
        bot.stop()
    await soak.session.close()
    await soak.fakes.close()
    if database is not None:
        await database.drop()


def _results(soak: Soak, result: Audit, figures: dict[str, Any]) -> dict[str, Any]:
    plan = asdict(soak.plan)
    faults = {**soak.injected, **{f"sipgate {k}": v for k, v in soak.fakes.sipgate.faults.items()}}
    return {
        "plan": plan,
        "database": "postgres" if soak.database is not None else "sqlite",
        "faults": faults,
        "audit": result.figures,
        "problems": result.problems,
        **figures,
    }
