"""The allowlist on every path that sends, the channel re-check, and signatures on HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.core import State
from bot.sandbox.harness import SIGNING_SECRET, ManualClock, Sandbox
from bot.sandbox.slack_requests import signed_headers
from tests.fakes import ScriptedFakes
from tests.helpers import (
    MakeBot,
    assert_settled,
    fire_due,
    only_send,
    schedule,
    wait_thread,
)

NUMBER = "+49 151 12345678"


async def test_quick_send_of_a_user_not_on_the_allowlist_sends_nothing(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot(SMS_ALLOWED_USERS="U_ALICE")

    assert (await bot.command(f"{NUMBER} hi", user="U_BOB")).status == 200

    (answer,) = await fakes.slack.wait_for_responses(1)
    assert "not allowed" in str(answer.body["text"])
    send = await only_send(bot, user="U_BOB")
    assert send.state is State.DENIED
    await assert_settled(bot, lambda: not fakes.sipgate.sms_posts, "an SMS was sent")


async def test_modal_submitted_by_someone_not_allowed_sends_nothing(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot(SMS_ALLOWED_USERS="U_ALICE")
    await bot.command("")
    await fakes.slack.wait_for("views.open")

    response = await bot.submit(to=NUMBER, message="hi", user="U_MALLORY")  # alice's form

    assert set(json.loads(response.body)["errors"]) == {"to"}
    assert (await only_send(bot, user="U_MALLORY")).state is State.DENIED
    await assert_settled(bot, lambda: not fakes.sipgate.sms_posts, "an SMS was sent")


@pytest.mark.parametrize(
    "after", [{"SMS_ALLOWED_USERS": "U_BOB"}, {"SMS_ALLOWED_CHANNELS": "C_OTHER"}],
    ids=["user-removed", "channel-no-longer-allowed"],
)  # fmt: skip
async def test_scheduled_send_of_someone_no_longer_allowed_is_cancelled_and_told(
    make_bot: MakeBot, fakes: ScriptedFakes, clock: ManualClock, after: dict[str, str]
) -> None:
    before = await make_bot(run_scheduler=False, SMS_ALLOWED_USERS="U_ALICE")
    await schedule(before, clock)
    await before.close()
    restarted = await make_bot(run_scheduler=False, **{"SMS_ALLOWED_USERS": "U_ALICE", **after})

    await fire_due(restarted, clock)

    _, replies = await wait_thread(fakes.slack, "C_GENERAL", replies=2)
    assert "was cancelled when it fell due" in replies[1].text
    assert "no longer allowed" in replies[1].text
    send = await only_send(restarted)
    assert (send.state, send.error_kind) == (State.CANCELLED, "denied")
    assert fakes.sipgate.sms_posts == []


async def test_channel_in_private_metadata_is_checked_again(
    make_bot: MakeBot, fakes: ScriptedFakes
) -> None:
    bot = await make_bot(SMS_ALLOWED_CHANNELS="C_GENERAL")
    await bot.command("")
    await fakes.slack.wait_for("views.open")
    view = dict(fakes.slack.views[-1].view)
    view["private_metadata"] = json.dumps({"channel": "C_SECRET", "response_url": None})

    response = await bot.submit(to=NUMBER, message="hi", view=view)

    errors = json.loads(response.body)["errors"]
    assert set(errors) == {"to"}
    assert "not allowed" in errors["to"]
    send = await only_send(bot)
    assert send.state is State.DENIED
    await assert_settled(bot, lambda: not fakes.sipgate.sms_posts, "an SMS was sent")


# --- signatures on every HTTP request ---------------------------------------------------------


@pytest.fixture
async def served(make_bot: MakeBot) -> AsyncIterator[tuple[Sandbox, aiohttp.ClientSession]]:
    bot = await make_bot()
    await bot.serve_http()
    async with aiohttp.ClientSession() as session:
        yield bot, session


def _headers(body: str, **changes: str) -> dict[str, str]:
    headers = signed_headers(body, SIGNING_SECRET)
    headers.update(changes)
    return headers


async def test_tampered_future_or_garbled_signatures_are_401(
    served: tuple[Sandbox, aiohttp.ClientSession], fakes: ScriptedFakes
) -> None:
    bot, http = served
    body = bot.command_body(f"{NUMBER} hi")
    other = bot.command_body(f"{NUMBER} something else")
    # well beyond the 300 s window: +301 became "300, accepted" when a second ticked by
    future = signed_headers(body, SIGNING_SECRET, timestamp=int(time.time()) + 330)
    click = bot.click_body("cancel_request", "1")
    cases = [
        (other, _headers(body)),  # signature of another body
        (body, future),  # more than 5 minutes in the future
        (body, _headers(body, **{"X-Slack-Request-Timestamp": "yesterday"})),
        (body, _headers(body, **{"X-Slack-Signature": "v0=" + "0" * 64})),
        (body, _headers(body, **{"X-Slack-Signature": ""})),
        (click, signed_headers(click, "wrong-secret")),  # interactivity too
    ]
    statuses = []
    for data, headers in cases:
        async with http.post(f"{bot.url}/slack/events", data=data, headers=headers) as response:
            statuses.append(response.status)

    assert statuses == [401] * len(cases)
    await assert_settled(
        bot,
        lambda: not fakes.slack.calls and not fakes.sipgate.sms_posts,
        "a refused request did something",
    )


async def test_request_just_inside_the_window_is_accepted(
    served: tuple[Sandbox, aiohttp.ClientSession], fakes: ScriptedFakes
) -> None:
    bot, http = served
    body = bot.command_body("help")

    async with await bot.post(http, body, timestamp=int(time.time()) - 290) as response:
        assert response.status == 200
    assert fakes.sipgate.sms_posts == []
