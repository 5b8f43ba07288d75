"""``python -m bench --soak`` in its short form: every fault once, then a clean audit.

Twenty seconds of quick, modal and scheduled sends on PostgreSQL while sipgate fails some
sends (503) and holds others, Slack enforces its rate limits and answers a storm of 429s, the
database restarts, and the bot is killed (SIGKILL) in the middle of a send and started again.
The audit compares the ledger with what the fakes saw (see ``bench/soak_audit.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_soak_run_with_every_fault_audits_clean(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    argv = ["-m", "bench", "--soak", "0.34", "--database", "postgres", "--out", str(out)]
    done = subprocess.run(  # noqa: S603 - our own argv
        [sys.executable, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["problems"] == []
    faults, audit = results["faults"], results["audit"]
    for fault in ("kill", "storm", "database restart", "sipgate 503", "sipgate held for a kill"):
        assert faults.get(fault, 0) >= 1, (fault, faults)
    assert audit["stored"] >= 40
    assert audit["send_states"].get("accepted", 0) >= 30
    assert audit["send_states"].get("unknown", 0) >= 1  # the send cut off by the kill, at least
    assert audit["cut_off_sends"] == 1
    assert audit["cut_off_told_within_s"] <= 15
    assert audit["slack_429s"] >= 1
    assert audit["numbers_texted_twice"] == 0
    assert audit["status_posts_pending"] == 0
