"""The database down: at start-up (a clear error, non-zero exit) and while running (requests
refused with an explanation, nothing sent without a record, never a 500 to Slack, an outcome
that came back while it restarted recorded once it is back)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.core import SchedulerConfig, SendScheduler, State
from bot.sandbox.harness import ManualClock, Sandbox, sandbox_environ
from bot.sandbox.sipgate import Scripted
from bot.sandbox.waiting import poll_until, probe_until
from bot.slack.texts import DATABASE_DOWN
from tests.fakes import ScriptedFakes
from tests.helpers import ROOT, MakeBot, PostgresDatabase, assert_settled, free_port

NUMBER = "+49 151 12345678"


async def test_database_down_at_start_up_exits_non_zero_naming_the_database(
    fakes: ScriptedFakes, tmp_path: Path
) -> None:
    url = f"postgresql://postgres:pw-Secret9@127.0.0.1:{free_port()}/test"
    settings = sandbox_environ(fakes.slack, fakes.sipgate, DATABASE_URL=url, PORT="0")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **settings},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, raw = await asyncio.wait_for(process.communicate(), 30)
    stderr = raw.decode()

    assert process.returncode not in (0, None)
    assert "database" in stderr.lower()
    assert "127.0.0.1" in stderr  # names which one
    assert "Traceback" not in stderr
    assert "pw-Secret9" not in stderr
    assert fakes.sipgate.sms_posts == []


async def break_database(bot: Sandbox, tmp_path: Path) -> None:
    """The database file vanishes under the running bot: every query fails from now on."""
    await bot.ledger.close()  # drop pooled connections; new ones find an empty file
    await asyncio.to_thread(_remove_database_files, tmp_path)


def _remove_database_files(tmp_path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_path}/bot.db{suffix}").unlink(missing_ok=True)


async def test_quick_send_with_the_database_down_is_refused_and_explained(
    make_bot: MakeBot, fakes: ScriptedFakes, tmp_path: Path
) -> None:
    bot = await make_bot(run_scheduler=False)
    await break_database(bot, tmp_path)

    response = await bot.command(f"{NUMBER} hi")

    assert response.status == 200
    (answer,) = await fakes.slack.wait_for_responses(1)
    assert answer.body["text"] == DATABASE_DOWN
    assert answer.body["response_type"] == "ephemeral"
    await assert_settled(
        bot,
        lambda: not fakes.sipgate.sms_posts and not fakes.slack.calls_to("chat.postMessage"),
        "something was sent without a record",
    )


async def test_http_request_with_the_database_down_is_no_500(
    make_bot: MakeBot, fakes: ScriptedFakes, tmp_path: Path
) -> None:
    bot = await make_bot(run_scheduler=False)
    await bot.serve_http()
    await break_database(bot, tmp_path)

    async with (
        aiohttp.ClientSession() as http,
        await bot.post(http, bot.command_body(f"{NUMBER} hi")) as response,
    ):
        assert response.status == 200

    (answer,) = await fakes.slack.wait_for_responses(1)
    assert "cannot reach its database" in str(answer.body["text"])
    assert fakes.sipgate.sms_posts == []


async def test_modal_submission_with_the_database_down_errors_on_to(
    make_bot: MakeBot, fakes: ScriptedFakes, tmp_path: Path
) -> None:
    bot = await make_bot(run_scheduler=False)
    await bot.command("")
    await fakes.slack.wait_for("views.open")
    await break_database(bot, tmp_path)

    response = await bot.submit(to=NUMBER, message="hi")

    assert response.status == 200
    body = json.loads(response.body)
    assert body == {"response_action": "errors", "errors": {"to": DATABASE_DOWN}}
    await assert_settled(bot, lambda: not fakes.sipgate.sms_posts, "an SMS was sent")


async def test_scheduler_round_with_the_database_down_is_logged_retried_and_sends_nothing(
    make_bot: MakeBot,
    fakes: ScriptedFakes,
    clock: ManualClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = await make_bot(run_scheduler=False)
    await break_database(bot, tmp_path)
    config = SchedulerConfig(grace=timedelta(minutes=15), interval=0.02)
    scheduler = SendScheduler(bot.ledger, bot.bot.service, config, clock, bot.bot.tracker)

    with caplog.at_level(logging.ERROR, logger="bot.core.scheduler"):
        task = asyncio.create_task(scheduler.run())
        try:
            await poll_until(
                lambda: failed_rounds(caplog) >= 3 or task.done(),
                5,
                lambda: f"{failed_rounds(caplog)} failed rounds were logged",
            )
            assert not task.done(), "the scheduler loop died"
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    assert failed_rounds(caplog) >= 3  # each failing round was logged, and the next one ran
    assert fakes.sipgate.sms_posts == []


def failed_rounds(caplog: pytest.LogCaptureFixture) -> int:
    return sum(record.getMessage() == "scheduler round failed" for record in caplog.records)


async def test_postgresql_gone_while_running_refuses_and_explains(
    make_bot: MakeBot, fakes: ScriptedFakes, disposable_database: PostgresDatabase
) -> None:
    bot = await make_bot(run_scheduler=False, DATABASE_URL=disposable_database.url)
    await bot.command(f"{NUMBER} first")
    await fakes.sipgate.wait_for_posts(1)
    await poll_until(  # its outcome is recorded (one coming back later is written when it can)
        lambda: any("accepted by sipgate" in m.text for m in fakes.slack.messages("C_GENERAL")),
        10,
        lambda: "the first SMS's status never showed its outcome",
    )

    await disposable_database.drop()  # WITH (FORCE): live connections are cut
    response = await bot.command(f"{NUMBER} second")

    assert response.status == 200
    await poll_until(
        lambda: any(p.body.get("text") == DATABASE_DOWN for p in fakes.slack.responses),
        10,
        lambda: f"not told: {[p.body for p in fakes.slack.responses]}",
    )
    await assert_settled(bot, lambda: len(fakes.sipgate.sms_posts) == 1, "sent without a record")


async def test_postgresql_restart_while_sipgate_answers_records_the_outcome_once_back(
    make_bot: MakeBot, fakes: ScriptedFakes, disposable_database: PostgresDatabase
) -> None:
    bot = await make_bot(run_scheduler=False, DATABASE_URL=disposable_database.url)
    fakes.sipgate.script_send(Scripted(status=204, delay=0.5))
    await bot.command(f"{NUMBER} while the database restarts")
    await fakes.sipgate.wait_for_posts(1)

    await disposable_database.restart(down_seconds=1.5)  # sipgate accepts the SMS meanwhile

    async def accepted() -> bool:
        request = await bot.ledger.get_request(1)
        return request is not None and [s.state for s in request.sends] == [State.ACCEPTED]

    await probe_until(accepted, 10, lambda: "the outcome was never recorded")
    await poll_until(
        lambda: any("accepted by sipgate" in m.text for m in fakes.slack.messages("C_GENERAL")),
        10,
        lambda: f"status not shown: {[m.text for m in fakes.slack.messages('C_GENERAL')]}",
    )
    assert len(fakes.sipgate.sms_posts) == 1  # the SMS went out once; only its record waited
