"""The App Home through the real bot: what a person and an admin see, Cancel and Compose from it,
and that a person never sees anyone else's requests."""

from __future__ import annotations

import json

from sqlalchemy import insert

from bot.core import OriginKind, State
from bot.sandbox.harness import ManualClock
from bot.sandbox.waiting import poll_until
from bot.slack.home_view import CANCEL_ACTION, COMPOSE_ACTION
from bot.store import SqlLedger
from bot.store.schema import opt_outs
from tests.fakes import ScriptedFakes
from tests.helpers import NUMBER, MakeBot, assert_settled, schedule, wait_thread

OTHER = "+49 170 1234567"


async def published(fakes: ScriptedFakes, user: str, count: int) -> str:
    """Wait for the ``count``-th home tab published for ``user``; it as text."""
    await poll_until(
        lambda: sum(p.user == user for p in fakes.slack.published) >= count,
        5.0,
        lambda: f"{count} home tab(s) for {user} never came: {fakes.slack.published}",
    )
    return fakes.slack.home_text(user)


async def test_a_person_sees_compose_usage_their_scheduled_and_latest_sms(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False, SMS_ADMINS="U_BOB")
    await bot.command(f"{NUMBER}, {OTHER} Your technician arrives at 3pm")
    await wait_thread(fakes.slack, "C_GENERAL")
    waiting = await schedule(bot, clock, message="Reminder")
    await bot.command(f"{NUMBER} bob's secret", user="U_BOB")
    await bot.settle()
    assert len(await bot.ledger.list_for_user("U_BOB")) == 1  # there is another's to leak

    response = await bot.open_home("U_ALICE")

    assert response.status == 200
    home = await published(fakes, "U_ALICE", 1)
    assert "[Compose an SMS]" in home
    assert "3 of 30 SMS this hour" in home
    scheduled = home.split("Your scheduled SMS")[1].split("Your latest SMS")[0]
    assert f"#{waiting}" in scheduled
    assert "“Reminder”" in scheduled
    assert "[Cancel]" in scheduled
    latest = home.split("Your latest SMS")[1]
    assert "“Your technician arrives at 3pm”" in latest
    assert "✅ +49 1511 2345678: accepted by sipgate" in latest
    assert "✅ +49 170 1234567: accepted by sipgate" in latest
    assert "bob's secret" not in home  # never anyone else's requests
    assert "For SMS admins" not in home
    assert "Export" not in home
    view = fakes.slack.home("U_ALICE")
    assert view is not None
    assert view["type"] == "home"
    assert len(view["blocks"]) <= 100


async def test_an_admin_also_sees_everyone_per_user_balance_opt_outs_and_export(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(SMS_ADMINS="U_BOB")
    await bot.command(f"{NUMBER} for the audit")
    await wait_thread(fakes.slack, "C_GENERAL")
    ledger = bot.ledger
    assert isinstance(ledger, SqlLedger)
    row = {"number": "+4915199999999", "since": clock(), "how": "STOP"}
    await ledger.database.write(lambda conn: conn.execute(insert(opt_outs), [row]))

    await bot.open_home("U_BOB")

    home = await published(fakes, "U_BOB", 1)
    assert "For SMS admins" in home
    assert "*sipgate balance:* 3.50 EUR" in home
    assert "*Opt-out list:* 1 number" in home
    assert "@alice: 1 in 24 h · 1 in 30 days" in home
    assert "[Export 30 days (CSV)] [Export 366 days (CSV)]" in home
    everyone = home.split("Everyone's latest SMS")[1]
    assert "@alice" in everyone
    assert "“for the audit”" in everyone
    assert "+49 1511 2345678: accepted by sipgate" in everyone
    assert "You have not sent an SMS from Slack yet." in home  # bob's own list is his


async def test_an_admin_s_home_says_when_the_token_cannot_read_the_balance(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    fakes.sipgate.scopes = {"sessions:sms:write", "sms:read"}
    bot = await make_bot(SMS_ADMINS="U_BOB")

    await bot.open_home("U_BOB")

    home = await published(fakes, "U_BOB", 1)
    assert "the sipgate token lacks the balance:read scope" in home


async def test_someone_not_allowed_is_told_so_and_gets_no_compose_button(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot(SMS_ADMINS="U_BOB")

    await bot.open_home("U_MALLORY")

    home = await published(fakes, "U_MALLORY", 1)
    assert "You are not allowed to send SMS from Slack. Ask @bob." in home
    assert "Compose" not in home


async def test_only_the_home_tab_is_published_not_the_messages_tab(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()

    await bot.open_home("U_ALICE", tab="messages")
    await bot.open_home("U_ALICE")

    await published(fakes, "U_ALICE", 1)
    await assert_settled(bot, lambda: len(fakes.slack.published) == 1, "published twice")


async def test_cancel_from_the_home_tab_cancels_and_shows_the_home_again(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False)
    request_id = await schedule(bot, clock, message="Reminder")
    await bot.open_home("U_ALICE")
    await published(fakes, "U_ALICE", 1)

    response = await bot.dispatch(bot.home_click_body(CANCEL_ACTION, str(request_id)))

    assert response.status == 200
    home = await published(fakes, "U_ALICE", 2)
    assert f"🚫 SMS #{request_id} is cancelled; nothing will be sent." in home
    assert "Nothing scheduled." in home
    assert f"#{request_id}" in home.split("Your latest SMS")[1]
    request = await bot.ledger.get_request(request_id)
    assert request is not None
    assert [send.state for send in request.sends] == [State.CANCELLED]
    _, replies = await wait_thread(fakes.slack, "C_GENERAL", replies=2)
    assert "was cancelled by <@U_ALICE>" in replies[-1].text


async def test_someone_else_s_request_cannot_be_cancelled_from_the_home_tab(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock
) -> None:
    bot = await make_bot(run_scheduler=False)
    request_id = await schedule(bot, clock, user="U_BOB")
    await bot.open_home("U_ALICE")
    await published(fakes, "U_ALICE", 1)

    await bot.dispatch(bot.home_click_body(CANCEL_ACTION, str(request_id)))

    home = await published(fakes, "U_ALICE", 2)
    assert "Only the person who scheduled" in home
    request = await bot.ledger.get_request(request_id)
    assert request is not None
    assert [send.state for send in request.sends] == [State.SCHEDULED]


async def test_compose_from_the_home_tab_sends_and_reports_in_the_dm(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()
    await bot.open_home("U_ALICE")
    await published(fakes, "U_ALICE", 1)

    await bot.dispatch(bot.home_click_body(COMPOSE_ACTION, "compose"))
    await fakes.slack.wait_for("views.open", 1)
    metadata = json.loads(fakes.slack.views[-1].view["private_metadata"])
    assert (metadata["origin"], metadata["channel"]) == ("home", "D_U_ALICE")
    response = await bot.submit(
        to=NUMBER, message="From home", view_id=fakes.slack.views[-1].view_id
    )

    assert response.status == 200
    (post,) = await fakes.sipgate.wait_for_posts(1)
    assert post.json["message"] == "From home"
    _, replies = await wait_thread(fakes.slack, "D_U_ALICE")
    assert "accepted by sipgate" in replies[0].text
    home = await published(fakes, "U_ALICE", 2)
    assert "is on its way; its status is in your DM with the bot." in home
    (request,) = await bot.ledger.list_for_user("U_ALICE")
    assert (request.origin, request.channel_id) == (OriginKind.HOME, "D_U_ALICE")
