"""``python -m bench``: the bot as a separate process against fake Slack and fake sipgate.

See BENCHMARKS.md for what is measured and how requests are correlated.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.inbound import POLL_INTERVAL, answers_at_once, idle_round_cpu, start_inbound
from bench.load import BodyFactory, Tracker
from bench.proc import ROOT, Server, bot_env
from bench.report import machine, plot, soak_table, table, write_json
from bench.scenarios import (
    SMOKE,
    Plan,
    insert_scheduled,
    modal_body,
    multi_body,
    quick_body,
    rate_search,
    reset_database,
    run_load,
    scheduled_summary,
)
from bench.soak import run_soak
from bot.sandbox.harness import Fakes
from tests.fakes import ScriptedFakes  # the fakes with latency

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
RESULTS = ROOT / "bench" / "results"
FLOORS = (("bare", "bench.floor_bare"), ("bolt", "bench.floor_bolt"))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--latency", type=float, default=20.0, help="fakes' latency, ms")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--smoke", action="store_true", help="a tiny run (seconds)")
    parser.add_argument("--no-floors", action="store_true", help="skip the two floors")
    parser.add_argument("--no-search", action="store_true", help="skip the max-rate search")
    parser.add_argument("--out", type=Path, default=None, help="JSON path")
    parser.add_argument(
        "--soak",
        type=float,
        metavar="MINUTES",
        default=None,
        help="instead of the scenarios: a soak run with faults, then an audit (see bench/soak.py)",
    )
    return parser.parse_args(argv)


def database_url(args: argparse.Namespace, workdir: Path) -> str:
    if args.database == "postgres":
        return POSTGRES_URL
    return f"sqlite:///{workdir / 'bench.db'}"


def new_results(args: argparse.Namespace, plan: Plan) -> dict[str, Any]:
    """The skeleton every run fills in, with the machine and the configuration."""
    config = {
        "latency_ms": args.latency,
        "database": args.database,
        "smoke": args.smoke,
        "plan": plan.__dict__,
        "command": "python -m bench " + " ".join(sys.argv[1:]),
    }
    return {
        "machine": machine(),
        "config": config,
        "scenarios": {},
        "searches": {},
        "startup_s": {},
        "ratios": {},
        "inbound": {},
    }


@dataclass
class Bench:
    """One run: the fakes, the load generator's session, the servers it started, the figures."""

    args: argparse.Namespace
    plan: Plan
    workdir: Path
    fakes: Fakes
    session: aiohttp.ClientSession
    database_url: str
    results: dict[str, Any]
    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    servers: list[Server] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tracker = Tracker(self.fakes.slack, self.fakes.sipgate)
        self.env = bot_env(self.fakes, self.database_url)

    async def phases(self) -> None:
        """The bot's scenarios and search, then the floors', then the ratios between them."""
        if self.args.database == "postgres":
            await reset_database(self.database_url)
        bot = await self.scheduled()
        await self.bot_scenarios(bot)
        await self.search(bot)
        await self.inbound(bot)
        if not self.args.no_floors:
            for name, module in FLOORS:
                await self.floor(name, module)
        self.results["ratios"] = ratios(self.results, self.plan)

    async def scheduled(self) -> Server:
        """(d) Scheduled sends are in the ledger before the bot starts, all due at once; (e)."""
        plan = self.plan
        records = await insert_scheduled(
            self.database_url, self.tracker, plan.scheduled_count, plan.scheduled_lead
        )
        bot = await self.start("bot")
        cpu_start = bot.cpu()
        await self.tracker.wait(records, need_status=False, timeout=plan.scheduled_lead + 60)
        figures = scheduled_summary(records, bot.cpu() - cpu_start, bot)
        self.keep("scheduled", bot, figures)
        return bot

    async def bot_scenarios(self, bot: Server) -> None:
        """(a) Quick sends at two rates, (b) modal submissions, (c) ten recipients each."""
        plan, slack = self.plan, self.fakes.slack
        loads: list[tuple[str, BodyFactory, float, int]] = [
            (f"quick {plan.slow_rate:g}/s", quick_body(slack), plan.slow_rate, plan.slow_count),
            (f"quick {plan.fast_rate:g}/s", quick_body(slack), plan.fast_rate, plan.fast_count),
            (f"modal {plan.modal_rate:g}/s", modal_body(), plan.modal_rate, plan.modal_count),
            (
                f"10 recipients {plan.multi_rate:g}/s",
                multi_body(slack),
                plan.multi_rate,
                plan.multi_count,
            ),
        ]
        for name, make, rate, count in loads:
            await self.scenario(name, bot, make, rate, count)

    async def inbound(self, bot: Server) -> None:
        """(f) SMS coming back: an idle poll round, then many answers at once (stops ``bot``)."""
        plan, sipgate = self.plan.inbound, self.fakes.sipgate
        baseline = 0.0
        if plan.idle_rounds:
            await bot.quiet()  # the statuses the rate search left are out
            before = bot.cpu()
            await asyncio.sleep(plan.idle_rounds * POLL_INTERVAL)
            baseline = bot.cpu() - before
        bot.stop()
        inbound_bot, startup_cpu = await start_inbound(self.start, self.env, sipgate)
        if plan.idle_rounds:
            idle = await idle_round_cpu(inbound_bot, sipgate, plan.idle_rounds, baseline)
            self.results["inbound"]["idle"] = idle
        fakes = (self.fakes.slack, sipgate)
        self.results["inbound"]["answers"] = await answers_at_once(
            inbound_bot, startup_cpu, self.start, self.env, fakes, plan
        )

    async def floor(self, name: str, module: str) -> None:
        """A floor under the bot's quick sends and search: same load generator, same fakes."""
        plan = self.plan
        floor = await self.start(f"floor-{name}", module=module)
        make = quick_body(self.fakes.slack)
        await self.scenario(
            f"quick {plan.fast_rate:g}/s [{name}]", floor, make, plan.fast_rate, plan.fast_count
        )
        await self.search(floor)
        floor.stop()

    async def start(
        self, name: str, env: dict[str, str] | None = None, module: str = "bot"
    ) -> Server:
        """Start a server (stopped by ``close`` at the latest) and note its start-up time."""
        server = Server(name, module, self.env if env is None else env)
        self.servers.append(server)
        await server.start(self.workdir)
        self.results["startup_s"][server.name] = server.startup_seconds
        return server

    async def scenario(
        self, name: str, server: Server, make: BodyFactory, rate: float, count: int
    ) -> None:
        figures = await run_load(
            server,
            self.session,
            self.tracker,
            make,
            rate=rate,
            count=count,
            drain_timeout=self.plan.drain_timeout,
        )
        self.keep(name, server, figures)

    async def search(self, server: Server) -> None:
        if not self.args.no_search:
            found = await rate_search(
                server, self.session, self.tracker, self.fakes.slack, self.plan
            )
            self.results["searches"][server.name] = found

    def keep(self, name: str, server: Server, figures: dict[str, Any]) -> None:
        """The figures go into the results; their raw samples go to the plot only."""
        self.results["scenarios"][name] = figures
        self.samples[f"{server.name} {name}"] = figures.pop("samples")

    async def close(self) -> None:
        for server in self.servers:
            server.stop()
        await self.session.close()
        await self.fakes.close()


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    plan = SMOKE if args.smoke else Plan()
    fakes = await ScriptedFakes.start(latency=args.latency / 1000)
    results = new_results(args, plan)
    connector = aiohttp.TCPConnector(limit=0)
    session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(30))
    bench = Bench(args, plan, workdir, fakes, session, database_url(args, workdir), results)
    try:
        await bench.phases()
    finally:
        await bench.close()
    results["samples"] = bench.samples
    return results


def ratios(results: dict[str, Any], plan: Plan) -> dict[str, float]:
    scenarios, searches = results["scenarios"], results["searches"]
    out: dict[str, float] = {}
    bot = scenarios.get(f"quick {plan.fast_rate:g}/s")
    for name in ("bare", "bolt"):
        floor = scenarios.get(f"quick {plan.fast_rate:g}/s [{name}]")
        if bot and floor and floor["cpu_ms_per_sms"] > 0:
            out[f"bot CPU per SMS ÷ {name} floor (quick {plan.fast_rate:g}/s)"] = (
                bot["cpu_ms_per_sms"] / floor["cpu_ms_per_sms"]
            )
        bot_search, floor_search = searches.get("bot"), searches.get(f"floor-{name}")
        if bot_search and floor_search and floor_search["max_rate"]:
            out[f"bot max rate ÷ {name} floor max rate"] = (
                bot_search["max_rate"] / floor_search["max_rate"]
            )
    return out


def keep_logs(workdir: Path) -> None:
    """The servers' logs outlive the temporary directory, for a look after a failed run."""
    for log in workdir.glob("*.log"):
        with contextlib.suppress(OSError):
            (RESULTS / "logs").mkdir(parents=True, exist_ok=True)
            (RESULTS / "logs" / log.name).write_text(log.read_text(errors="replace"))


def report(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """JSON and the plot under bench/results (or --out); the table on stdout."""
    samples = results.pop("samples")
    out = args.out or RESULTS / ("smoke.json" if args.smoke else "latest.json")
    write_json(results, out)
    plot(results, samples, out.with_name("smoke-latency.png" if args.smoke else "latency.png"))
    print(table(results))
    print(f"\n{out} ({results['elapsed_s']:.0f} s)")


def soak(args: argparse.Namespace, minutes: float) -> int:
    """The soak run; exit status 1 if its audit found a problem."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        try:
            results = asyncio.run(run_soak(minutes, Path(tmp), args.database == "postgres"))
        finally:
            keep_logs(Path(tmp))
    results.update(machine=machine(), elapsed_s=time.monotonic() - started)
    out = args.out or RESULTS / "soak.json"
    write_json(results, out)
    print(soak_table(results))
    print(f"\n{out} ({results['elapsed_s']:.0f} s)")
    return 1 if results["problems"] else 0


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.soak is not None:
        return soak(args, args.soak)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = Path(tmp)
        try:
            results = asyncio.run(run(args, workdir))
        finally:
            keep_logs(workdir)
    results["elapsed_s"] = time.monotonic() - started
    report(args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
