"""``python -m bot export``: the period's rows to stdout (header first, UTC days both included,
CSV or JSON lines, logs on stderr), and an export of 100,000 rows whose memory stays flat."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from bot.core import COLUMNS, AuditPeriod, Export, RequestDraft, Scheduler, State
from bot.export import run_export
from bot.sandbox.harness import ManualClock
from bot.store import open_ledger
from bot.store.schema import requests, sends
from tests.helpers import ROOT

DAY_1 = datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC)


def draft(key: str, at: datetime, message: str) -> RequestDraft:
    return RequestDraft(
        interaction_key=key,
        team_id="T1",
        user_id="U_ALICE",
        channel_id="C1",
        response_url=None,
        recipients=("+4915112345678",),
        message=message,
        sms_id="s0",
        segments=1,
        requested_at=at,
    )


@pytest.fixture
async def audited(tmp_path: Path) -> str:
    """A database with one request at the very end of 1 March and one a minute into each of
    2, 3 and 4 March (UTC): its DATABASE_URL."""
    url = f"sqlite:///{tmp_path}/audit.db"
    clock = ManualClock(DAY_1)
    ledger = await open_ledger(url, clock=clock)
    try:
        for day in range(4):
            await ledger.open_request(draft(f"k{day}", clock(), f"day {day + 1}"), hourly_limit=9)
            clock.advance(timedelta(days=1) if day else timedelta(minutes=1, seconds=1))
    finally:
        await ledger.close()
    return url


async def exported(url: str, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await run_export(list(argv), {"DATABASE_URL": url}, out)
    return code, out.getvalue()


async def test_the_days_are_utc_and_both_included(audited: str) -> None:
    code, text = await exported(audited, "--since", "2026-03-02", "--until", "2026-03-03")

    assert code == 0
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert tuple(header) == COLUMNS
    assert [dict(zip(COLUMNS, row, strict=True))["message"] for row in rows] == ["day 2", "day 3"]


async def test_one_day(audited: str) -> None:
    code, text = await exported(audited, "--since", "2026-03-01", "--until", "2026-03-01")

    assert code == 0
    assert [row[12] for row in csv.reader(io.StringIO(text))][1:] == ["day 1"]


async def test_json_lines_have_no_header(audited: str) -> None:
    code, text = await exported(audited, "--since", "2026-03-01", "--format", "jsonl")

    assert code == 0
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["message"] for line in lines] == ["day 1", "day 2", "day 3", "day 4"]
    assert lines[0]["recipient"] == "+4915112345678"
    assert lines[0]["created_utc"] == "2026-03-01T23:59:59Z"


async def test_until_before_since_is_refused(audited: str) -> None:
    assert await exported(audited, "--since", "2026-03-02", "--until", "2026-03-01") == (2, "")


def test_the_command_writes_rows_to_stdout_and_logs_to_stderr(audited: str, tmp_path: Path) -> None:
    environ = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "bot", "export", "--since", "2026-03-04"]

    code, stdout, stderr = asyncio.run(_run(argv, {**environ, "DATABASE_URL": audited}, tmp_path))
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert len(lines) == 2
    assert "day 4" in lines[1]
    assert "day 4" not in stderr
    assert "export written" in stderr


async def _run(argv: list[str], environ: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *argv, env=environ, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, stdout.decode(), stderr.decode()


# --- a year of a busy workspace ----------------------------------------------------------------

ROWS = 100_000


async def test_100000_rows_export_in_flat_memory(tmp_path: Path) -> None:
    ledger = await open_ledger(f"sqlite:///{tmp_path}/busy.db")
    try:
        await ledger.database.write(lambda conn: _fill(conn, ROWS))
        period = AuditPeriod(DAY_1 - timedelta(days=366), DAY_1 + timedelta(days=1))
        size, rows, early, final = await _measure(Export(ledger, period))
    finally:
        await ledger.close()

    assert rows == ROWS
    assert size > 15_000_000  # the CSV is far bigger than what the export ever held
    assert final < early * 1.5 + 1_000_000, (early, final)  # flat: no growth with the rows
    assert final < 8_000_000, final


async def _measure(export: Export) -> tuple[int, int, int, int]:
    """Bytes written, rows, and the peak of traced memory after 10 and after all batches."""
    size, peaks = 0, []
    tracemalloc.start()
    try:
        async for chunk in export.chunks():
            size += len(chunk.encode())
            peaks.append(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()
    return size, export.rows, peaks[10], peaks[-1]


def _fill(conn: object, count: int) -> None:
    """``count`` accepted one-recipient requests, one a few minutes apart over a year."""
    at = DAY_1 - timedelta(days=365)
    step = timedelta(days=365) / count
    message = "Your technician arrives at 3pm; please leave the gate open. " * 2
    request_rows, send_rows = [], []
    for i in range(1, count + 1):
        when = at + step * i
        request_rows.append(_request_row(i, when, message))
        send_rows.append(_send_row(i, when))
    conn.execute(insert(requests), request_rows)  # type: ignore[attr-defined]
    conn.execute(insert(sends), send_rows)  # type: ignore[attr-defined]


def _request_row(i: int, when: datetime, message: str) -> dict[str, object]:
    return {
        "id": i, "interaction_key": f"command:{i}", "team_id": "T1", "user_id": f"U{i % 40}",
        "channel_id": "C1", "message": message, "sms_id": "s0", "segments": 1,
        "requested_at": when, "scheduler": Scheduler.BOT, "created_at": when,
    }  # fmt: skip


def _send_row(i: int, when: datetime) -> dict[str, object]:
    return {
        "id": i, "request_id": i, "recipient": f"+49151{i:08d}", "state": State.ACCEPTED,
        "updated_at": when, "user_id": f"U{i % 40}", "requested_at": when,
    }  # fmt: skip
