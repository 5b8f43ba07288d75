"""``python -m bench --smoke`` runs end to end and reports every scenario."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("scheduled", "quick 10/s", "quick 100/s", "modal 100/s", "10 recipients 20/s")


def _numeric(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def test_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "smoke.json"
    done = subprocess.run(  # noqa: S603 - our own argv
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.read_text())
    for name in SCENARIOS:
        figures = results["scenarios"][name]
        assert figures["sms_accepted"] == figures["sms_expected"] > 0, name
        assert figures["all_accepted"], name
        assert _numeric(figures["sipgate_ms"]["p50"]), name
        assert _numeric(figures["cpu_ms_per_sms"]), name
        assert _numeric(figures["peak_rss_mb"]), name
        if name != "scheduled":
            assert figures["acked_200"] == figures["requests"], name
            assert figures["statuses_posted"] == figures["requests"], name
            for key in ("ack_ms", "status_ms"):
                assert all(_numeric(v) for v in figures[key].values()), (name, key)
    for floor in ("bare", "bolt"):
        figures = results["scenarios"][f"quick 100/s [{floor}]"]
        assert figures["sms_accepted"] == figures["sms_expected"], floor
    assert set(results["searches"]) == {"bot", "floor-bare", "floor-bolt"}
    answers = results["inbound"]["answers"]
    assert answers["posted"] == answers["answers"] > 0
    assert _numeric(answers["cpu_ms_per_answer"])
    assert _numeric(results["startup_s"]["bot"])
    assert results["machine"]["cores"]
