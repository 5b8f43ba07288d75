"""Who may send, what may be sent, and which requests the bot accepts at all."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest

from bot.core import State
from tests.fakes import ScriptedFakes
from tests.fakes.sipgate import ScriptedSipgate
from tests.fakes.slack import ScriptedSlack
from tests.helpers import MakeBot, assert_settled, wait_thread

NUMBER = "+49 151 12345678"


@pytest.fixture
async def fakes() -> AsyncIterator[ScriptedFakes]:
    """This module's fake Slack knows the user group S_OPS (alice only)."""
    slack = ScriptedSlack(usergroups={"S_OPS": ["U_ALICE"]})
    started = await ScriptedFakes(slack, ScriptedSipgate()).started()
    try:
        yield started
    finally:
        await started.close()


async def test_denied_user_is_told_and_recorded(make_bot: MakeBot, fakes: ScriptedFakes) -> None:
    bot = await make_bot(SMS_ADMINS="U_BOB")

    response = await bot.command(f"{NUMBER} hi", user="U_MALLORY")

    assert response.status == 200
    (answer,) = await fakes.slack.wait_for_responses(1)
    assert answer.body.get("response_type") == "ephemeral"
    text = str(answer.body["text"])
    assert "not allowed" in text
    assert "nothing was sent" in text
    assert "<@U_BOB>" in text  # who to ask
    (request,) = await bot.ledger.list_for_user("U_MALLORY")
    assert [send.state for send in request.sends] == [State.DENIED]
    assert request.recipients == ("+4915112345678",)
    assert fakes.sipgate.sms_posts == []
    assert fakes.slack.calls_to("chat.postMessage") == []


async def test_user_group_member_may_send_and_the_group_is_cached(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot(SMS_ALLOWED_USERS="U_BOB", SMS_ALLOWED_USERGROUPS="S_OPS")

    await bot.command(f"{NUMBER} first")
    await fakes.sipgate.wait_for_posts(1)
    await wait_thread(fakes.slack, "C_GENERAL")
    await bot.command(f"{NUMBER} second")
    await fakes.sipgate.wait_for_posts(2)
    await wait_thread(fakes.slack, "C_GENERAL", parents=2)

    (lookup,) = fakes.slack.calls_to("usergroups.users.list")
    assert lookup.args["usergroup"] == "S_OPS"


async def test_user_outside_users_and_groups_is_denied(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot(SMS_ALLOWED_USERS="U_BOB", SMS_ALLOWED_USERGROUPS="S_OPS")

    await bot.command(f"{NUMBER} hi", user="U_MALLORY")

    (answer,) = await fakes.slack.wait_for_responses(1)
    assert "not allowed" in str(answer.body["text"])
    assert fakes.sipgate.sms_posts == []


async def test_channel_rule_denies_other_conversations(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot(SMS_ALLOWED_CHANNELS="C_SUPPORT")

    await bot.command(f"{NUMBER} hi", channel="C_GENERAL")

    (answer,) = await fakes.slack.wait_for_responses(1)
    assert "cannot be sent from this conversation" in str(answer.body["text"])
    assert fakes.sipgate.sms_posts == []
    await bot.command(f"{NUMBER} hi", channel="C_SUPPORT")
    await fakes.sipgate.wait_for_posts(1)
    await wait_thread(fakes.slack, "C_SUPPORT")


async def test_country_outside_the_list_is_refused(make_bot: MakeBot, fakes: ScriptedFakes) -> None:
    bot = await make_bot(SMS_ALLOWED_COUNTRIES="DE")

    await bot.command("+1 416 555 0123 hi")

    (answer,) = await fakes.slack.wait_for_responses(1)
    text = str(answer.body["text"])
    assert "Nothing was sent" in text
    assert "+1 416-555-0123 is in CA" in text
    assert "may only text DE" in text
    assert fakes.sipgate.sms_posts == []
    assert fakes.slack.calls_to("chat.postMessage") == []


async def test_denied_user_cannot_open_the_modal(make_bot: MakeBot, fakes: ScriptedFakes) -> None:
    bot = await make_bot()

    await bot.command("", user="U_MALLORY")

    (answer,) = await fakes.slack.wait_for_responses(1)
    assert "not allowed" in str(answer.body["text"])
    assert fakes.slack.calls_to("views.open") == []


async def test_denied_modal_attempt_with_a_number_is_recorded(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot()

    await bot.command(NUMBER, user="U_MALLORY")  # a number but no message: the modal

    (answer,) = await fakes.slack.wait_for_responses(1)
    assert "not allowed" in str(answer.body["text"])
    (request,) = await bot.ledger.list_for_user("U_MALLORY")
    assert [send.state for send in request.sends] == [State.DENIED]
    assert fakes.slack.calls_to("views.open") == []


async def test_user_removed_from_the_allowlist_gets_the_error_on_submit(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    before = await make_bot(SMS_ALLOWED_USERS="U_ALICE")
    await before.command("")
    await fakes.slack.wait_for("views.open", 1)
    after = await make_bot(SMS_ALLOWED_USERS="U_BOB")  # alice was removed meanwhile

    response = await after.submit(to=NUMBER, message="hi")

    assert response.status == 200
    body = json.loads(response.body)
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"to"}
    assert "not allowed" in body["errors"]["to"]
    (request,) = await after.ledger.list_for_user("U_ALICE")
    assert [send.state for send in request.sends] == [State.DENIED]
    assert request.recipients == ("+4915112345678",)
    assert fakes.sipgate.sms_posts == []


@pytest.mark.parametrize(
    ("secret", "age"),
    [("not-the-signing-secret", 0), (None, 301)],
    ids=["bad-signature", "stale-timestamp"],
)
async def test_unsigned_or_stale_request_is_refused_and_does_nothing(
    make_bot: MakeBot, fakes: ScriptedFakes, secret: str | None, age: int
) -> None:
    bot = await make_bot()
    body = bot.command_body(f"{NUMBER} hi")
    kwargs: dict[str, object] = {"timestamp": int(time.time()) - age}
    if secret is not None:
        kwargs["secret"] = secret

    response = await bot.dispatch(body, **kwargs)  # type: ignore[arg-type]

    assert response.status == 401
    await assert_settled(
        bot,
        lambda: not fakes.slack.calls and not fakes.slack.responses and not fakes.sipgate.sms_posts,
        "a refused request reached Slack or sipgate",
    )
