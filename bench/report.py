"""The results: JSON, a Markdown table, a latency plot."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def _ms(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def _num(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value))):
        return "–"
    return f"{value:.{digits}f}"


def table(results: dict[str, Any]) -> str:
    """The Markdown report: every scenario, the rate searches, then the notes."""
    return "\n".join(
        [
            _scenario_table(results["scenarios"]),
            "",
            _search_table(results["searches"]),
            "",
            *_notes(results),
        ]
    )


def _scenario_table(scenarios: dict[str, dict[str, Any]]) -> str:
    head = (
        "| scenario | server | SMS ok | ack p50/p99/max ms | →sipgate p50/p99 ms "
        "| →status p50/p99 ms | SMS/s | CPU ms/SMS | peak RSS MB |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    return head + "\n".join(_scenario_row(name, figures) for name, figures in scenarios.items())


def _scenario_row(name: str, figures: dict[str, Any]) -> str:
    ack, sip, status = figures["ack_ms"], figures["sipgate_ms"], figures["status_ms"]
    return (
        f"| {name} | {figures['server']} "
        f"| {figures['sms_accepted']}/{figures['sms_expected']} "
        f"| {_ms(ack['p50'])} / {_ms(ack['p99'])} / {_ms(ack['max'])} "
        f"| {_ms(sip['p50'])} / {_ms(sip['p99'])} "
        f"| {_ms(status['p50'])} / {_ms(status['p99'])} "
        f"| {_num(figures['throughput_sms_s'])} | {_num(figures['cpu_ms_per_sms'], 2)} "
        f"| {_num(figures['peak_rss_mb'], 0)} |"
    )


def _search_table(searches: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| highest sustained rate (quick sends) | server | SMS/s | CPU ms/SMS | stopped at |",
        "|---|---|---|---|---|",
    ]
    lines.extend(_search_row(search) for search in searches.values())
    return "\n".join(lines)


def _search_row(search: dict[str, Any]) -> str:
    last = search["steps"][-1] if search["steps"] else {}
    stop = f"{last.get('rate')}/s: {', '.join(last.get('problems') or ['no failure'])}"
    return (
        f"| max rate | {search['server']} | {search['max_rate']} "
        f"(measured {_num(search['max_throughput_sms_s'])}) "
        f"| {_num(search['cpu_ms_per_sms_at_max'], 2)} | {stop} |"
    )


def _notes(results: dict[str, Any]) -> list[str]:
    """Bullets: the ratios to the floors, the scheduled burst, each server's start-up."""
    lines = [f"- {key}: **{_num(value, 2)}**" for key, value in results.get("ratios", {}).items()]
    scheduled = results["scenarios"].get("scheduled")
    if scheduled:
        lines.append(
            f"- scheduled: {scheduled['sms_accepted']} due at once → all at sipgate "
            f"{_num(scheduled['due_to_all_received_s'], 2)} s after due "
            f"(first after {_num(scheduled['due_to_first_received_s'], 2)} s)"
        )
    lines += _inbound_notes(results.get("inbound", {}))
    for name, seconds in results["startup_s"].items():
        lines.append(f"- start-up to /healthz 200, {name}: {_num(seconds, 2)} s")
    return lines


def _inbound_notes(inbound: dict[str, Any]) -> list[str]:
    lines = []
    idle = inbound.get("idle")
    if idle:
        lines.append(
            f"- inbound, a poll round with nothing new: **{_num(idle['cpu_ms_per_idle_round'], 2)}"
            f" ms CPU** ({_num(idle['cpu_ms_per_10s_with_inbound'], 1)} ms per 10 s with inbound"
            f" on, {_num(idle['cpu_ms_per_10s_without'], 1)} ms without)"
        )
    answers = inbound.get("answers")
    if answers:
        lines.append(
            f"- inbound, {answers['answers']} answers at once: {answers['posted']} posted, the"
            f" last {_num(answers['round_to_last_posted_s'], 2)} s after the round began"
            f" ({_num(answers['answers_posted_per_s'], 0)}/s),"
            f" {_num(answers['cpu_ms_per_answer'], 2)} ms CPU per answer"
        )
    return lines


def soak_table(results: dict[str, Any]) -> str:
    """The soak run: what was injected, the audit's figures, and its verdict."""
    rows = [f"| {name} | {count} |" for name, count in sorted(results["faults"].items())]
    audit = results["audit"]
    rows += [f"| {name.replace('_', ' ')} | {_cell(value)} |" for name, value in audit.items()]
    for index, process in enumerate(results["memory"], 1):
        rows.append(
            f"| bot process {index}: life s, settled / last / peak RSS MB | "
            f"{process['life_s']:.0f}, {process['settled_mb']:.0f} / {process['last_mb']:.0f} / "
            f"{process['peak_mb']:.0f} |"
        )
    problems = results["problems"]
    verdict = "clean" if not problems else "PROBLEMS: " + "; ".join(problems)
    head = f"soak: {results['plan']['seconds'] / 60:g} min on {results['database']}"
    return "\n".join([head, "", "| | |", "|---|---|", *rows, "", f"audit: {verdict}"])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, dict):
        return ", ".join(f"{key} {count}" for key, count in sorted(value.items()))
    return str(value)


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, default=str, allow_nan=True))


def plot(results: dict[str, Any], samples: dict[str, dict[str, list[float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, key, title in (
        (axes[0], "ack_ms", "ack latency (HTTP response)"),
        (axes[1], "status_ms", "command → final status posted / → sipgate (scheduled)"),
    ):
        for name, data in samples.items():
            values = sorted(data.get(key) or data.get("sipgate_ms") or [])
            if not values:
                continue
            ys = [(i + 1) / len(values) for i in range(len(values))]
            ax.step(values, ys, where="post", label=name)
        ax.set_xscale("log")
        ax.set_xlabel("ms")
        ax.set_ylabel("fraction of requests")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"latency CDFs, fakes' latency {results['config']['latency_ms']} ms")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
