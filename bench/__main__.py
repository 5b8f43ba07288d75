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
from pathlib import Path
from typing import Any

import aiohttp

from bench.load import Tracker
from bench.proc import ROOT, Server
from bench.report import machine, plot, table, write_json
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
from bot.sandbox.harness import Fakes, sandbox_environ
from tests.fakes import ScriptedFakes  # the fakes with latency

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
RESULTS = ROOT / "bench" / "results"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--latency", type=float, default=20.0, help="fakes' latency, ms")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--smoke", action="store_true", help="a tiny run (seconds)")
    parser.add_argument("--no-floors", action="store_true", help="skip the two floors")
    parser.add_argument("--no-search", action="store_true", help="skip the max-rate search")
    parser.add_argument("--out", type=Path, default=None, help="JSON path")
    return parser.parse_args(argv)


def bot_env(fakes: Fakes, database_url: str) -> dict[str, str]:
    return sandbox_environ(
        fakes.slack,
        fakes.sipgate,
        SMS_ALLOWED_USERS="U_ALICE,U_BOB",
        SMS_ALLOWED_COUNTRIES="DE",
        SMS_USER_HOURLY_LIMIT="1000000000",
        SIPGATE_TIMEOUT="15",
        LOG_LEVEL="WARNING",
        DATABASE_URL=database_url,
    )


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    plan = SMOKE if args.smoke else Plan()
    fakes = await ScriptedFakes.start(latency=args.latency / 1000)
    tracker = Tracker(fakes.slack, fakes.sipgate)
    database_url = (
        POSTGRES_URL if args.database == "postgres" else f"sqlite:///{workdir / 'bench.db'}"
    )
    results: dict[str, Any] = {
        "machine": machine(),
        "config": {
            "latency_ms": args.latency,
            "database": args.database,
            "smoke": args.smoke,
            "plan": plan.__dict__,
            "command": "python -m bench " + " ".join(sys.argv[1:]),
        },
        "scenarios": {},
        "searches": {},
        "startup_s": {},
        "ratios": {},
    }
    samples: dict[str, dict[str, list[float]]] = {}
    servers: list[Server] = []
    connector = aiohttp.TCPConnector(limit=0)
    session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(30))
    try:
        if args.database == "postgres":
            await reset_database(database_url)
        env = bot_env(fakes, database_url)
        # (d) scheduled sends are in the ledger before the bot starts
        scheduled = await insert_scheduled(
            database_url, tracker, plan.scheduled_count, plan.scheduled_lead
        )
        bot = Server("bot", "bot", env)
        servers.append(bot)
        await bot.start(workdir)
        results["startup_s"]["bot"] = bot.startup_seconds  # (e)
        cpu_start = bot.cpu()
        await tracker.wait(scheduled, need_status=False, timeout=plan.scheduled_lead + 60)
        figures = scheduled_summary(scheduled, bot.cpu() - cpu_start, bot)
        results["scenarios"]["scheduled"] = figures
        samples["bot scheduled"] = figures.pop("samples")

        async def scenario(name: str, server: Server, make: Any, rate: float, count: int) -> None:
            figures = await run_load(
                server,
                session,
                tracker,
                make,
                rate=rate,
                count=count,
                drain_timeout=plan.drain_timeout,
            )
            results["scenarios"][name] = figures
            samples[f"{server.name} {name}"] = figures.pop("samples")

        slack = fakes.slack
        # (a) quick sends
        await scenario(
            f"quick {plan.slow_rate:g}/s", bot, quick_body(slack), plan.slow_rate, plan.slow_count
        )
        await scenario(
            f"quick {plan.fast_rate:g}/s", bot, quick_body(slack), plan.fast_rate, plan.fast_count
        )
        # (b) modal submissions, (c) ten recipients
        await scenario(
            f"modal {plan.modal_rate:g}/s", bot, modal_body(), plan.modal_rate, plan.modal_count
        )
        await scenario(
            f"10 recipients {plan.multi_rate:g}/s",
            bot,
            multi_body(slack),
            plan.multi_rate,
            plan.multi_count,
        )
        if not args.no_search:
            results["searches"]["bot"] = await rate_search(bot, session, tracker, slack, plan)
        bot.stop()
        # the floors, same load generator, same fakes
        if not args.no_floors:
            for name, module in (("bare", "bench.floor_bare"), ("bolt", "bench.floor_bolt")):
                floor = Server(f"floor-{name}", module, env)
                servers.append(floor)
                await floor.start(workdir)
                results["startup_s"][floor.name] = floor.startup_seconds
                await scenario(
                    f"quick {plan.fast_rate:g}/s [{name}]",
                    floor,
                    quick_body(slack),
                    plan.fast_rate,
                    plan.fast_count,
                )
                if not args.no_search:
                    results["searches"][floor.name] = await rate_search(
                        floor, session, tracker, slack, plan
                    )
                floor.stop()
        results["ratios"] = ratios(results, plan)
    finally:
        for server in servers:
            server.stop()
        await session.close()
        await fakes.close()
    results["samples"] = samples
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


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = Path(tmp)
        try:
            results = asyncio.run(run(args, workdir))
        finally:
            for log in workdir.glob("*.log"):
                with contextlib.suppress(OSError):
                    (RESULTS / "logs").mkdir(parents=True, exist_ok=True)
                    (RESULTS / "logs" / log.name).write_text(log.read_text(errors="replace"))
    results["elapsed_s"] = time.monotonic() - started
    samples = results.pop("samples")
    out = args.out or RESULTS / ("smoke.json" if args.smoke else "latest.json")
    write_json(results, out)
    plot(results, samples, out.with_name("smoke-latency.png" if args.smoke else "latency.png"))
    print(table(results))
    print(f"\n{out} ({results['elapsed_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
