"""Admins' views of everyone through the real bot: ``/sms export`` uploading a CSV to the admin's
DM, the home tab's Export buttons, and ``/sms list all`` — and everyone else told they are for
admins."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from bot.core import COLUMNS
from bot.sandbox.harness import ManualClock
from bot.sandbox.sipgate import Scripted
from bot.sandbox.slack_api import ApiCall
from bot.sandbox.waiting import poll_until
from bot.slack.home_view import EXPORT_ACTION_PREFIX
from tests.fakes import ScriptedFakes
from tests.helpers import (
    NUMBER,
    MakeBot,
    assert_settled,
    response_texts,
    schedule,
    wait_thread,
)


def rows_of(fakes: ScriptedFakes) -> list[dict[str, str]]:
    """The rows of the one CSV uploaded, keyed by column."""
    (upload,) = fakes.slack.uploads.values()
    assert upload.content is not None
    assert upload.content.startswith("\ufeff".encode())  # spreadsheet apps read it as UTF-8
    lines = list(csv.reader(io.StringIO(upload.content.decode("utf-8-sig"))))
    assert tuple(lines[0]) == COLUMNS
    return [dict(zip(COLUMNS, line, strict=True)) for line in lines[1:]]


async def uploaded(fakes: ScriptedFakes) -> list[ApiCall]:
    return await fakes.slack.wait_for("files.completeUploadExternal", 1)


async def test_an_admin_s_export_is_a_csv_of_every_recipient_in_their_dm(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False, SMS_ADMINS="U_BOB")
    await bot.command(f"{NUMBER}, 0170 1234567 =cmd|' /C calc'!A0")
    await wait_thread(fakes.slack, "C_GENERAL")
    fakes.sipgate.script_send(Scripted(status=402))
    await bot.command(f"{NUMBER} No credit", user="U_BOB")
    await wait_thread(fakes.slack, "C_GENERAL", parents=2)
    await schedule(bot, clock, message="Later")
    await bot.command(f"0170 12, {NUMBER} let me in", user="U_MALLORY")
    await bot.settle()

    await bot.command("export", user="U_BOB")

    (complete,) = await uploaded(fakes)
    assert complete.args["channel_id"] == "D_U_BOB"
    (upload,) = fakes.slack.uploads.values()
    assert upload.filename.startswith("sms-export-")
    assert upload.filename.endswith(".csv")
    rows = rows_of(fakes)
    seen = [(r["requester_user_id"], r["recipient"], r["state"], r["origin"]) for r in rows]
    assert seen == [
        ("U_ALICE", "'+4915112345678", "accepted", "command"),
        ("U_ALICE", "'+491701234567", "accepted", "command"),
        ("U_BOB", "'+4915112345678", "failed", "command"),
        ("U_ALICE", "'+4915112345678", "scheduled", "modal"),
        ("U_MALLORY", "'+4915112345678", "denied", "command"),
        ("U_MALLORY", "0170 12", "denied", "command"),  # as typed: no number
    ]
    assert rows[0]["message"] == "'=cmd|' /C calc'!A0"  # never run as a formula
    assert (rows[2]["sipgate_status"], rows[2]["error_kind"]) == ("402", "balance")
    assert rows[3]["scheduled_for_utc"].endswith("Z")
    assert rows[3]["finished_at_utc"] == ""
    assert rows[0]["finished_at_utc"].endswith("Z")
    assert rows[0]["channel_id"] == "C_GENERAL"
    assert rows[0]["segments"] == "1"
    assert rows[0]["status_delivery"] == "delivered"
    await poll_until(
        lambda: any("(6 rows) is in your DM" in text for text in response_texts(fakes.slack)),
        5.0,
        lambda: f"bob was not told: {response_texts(fakes.slack)}",
    )


async def test_the_export_takes_a_number_of_days(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(SMS_ADMINS="U_BOB")
    await bot.command(f"{NUMBER} long ago")
    await wait_thread(fakes.slack, "C_GENERAL")
    clock.advance(timedelta(days=8))
    await bot.command(f"{NUMBER} this week")
    await wait_thread(fakes.slack, "C_GENERAL", parents=2)

    await bot.command("export 7", user="U_BOB")

    await uploaded(fakes)
    assert [row["message"] for row in rows_of(fakes)] == ["this week"]
    (upload,) = fakes.slack.uploads.values()
    assert upload.title == "SMS audit export, last 7 days"


async def test_someone_not_an_admin_is_told_that_export_and_list_all_are_for_admins(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot(SMS_ADMINS="U_BOB")

    await bot.command("export")
    await bot.command("list all")

    await fakes.slack.wait_for_responses(2)
    texts = response_texts(fakes.slack)
    assert any("“/sms export” is for SMS admins" in text for text in texts)
    assert any("“/sms list all” is for SMS admins" in text for text in texts)
    await assert_settled(bot, lambda: not fakes.slack.uploads, "a non-admin got an export")


async def test_list_all_shows_everyone_s_scheduled_and_latest_to_an_admin(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False, SMS_ADMINS="U_BOB")
    waiting = await schedule(bot, clock, message="Later")
    await bot.command(f"{NUMBER} bob's own", user="U_BOB")
    await wait_thread(fakes.slack, "C_GENERAL", parents=2)

    await bot.command("list all", user="U_BOB")

    (answer,) = await fakes.slack.wait_for_responses(1)
    text = str(answer.body["text"])
    scheduled, latest = text.split("*Everyone's latest SMS*")
    assert f"`#{waiting}`" in scheduled
    assert "<@U_ALICE>" in scheduled
    assert "“bob's own”" in latest
    assert "<@U_BOB>" in latest


async def test_the_home_tab_s_export_button_sends_the_csv_and_says_so(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot(SMS_ADMINS="U_BOB")
    await bot.command(f"{NUMBER} for the record")
    await wait_thread(fakes.slack, "C_GENERAL")
    await bot.open_home("U_BOB")
    await poll_until(lambda: fakes.slack.home("U_BOB") is not None, 5.0, lambda: "no home")

    await bot.dispatch(bot.home_click_body(f"{EXPORT_ACTION_PREFIX}366", "366", user="U_BOB"))

    await uploaded(fakes)
    assert [row["message"] for row in rows_of(fakes)] == ["for the record"]
    await poll_until(
        lambda: "(1 row) is in your DM" in fakes.slack.home_text("U_BOB"),
        5.0,
        lambda: fakes.slack.home_text("U_BOB"),
    )
