"""The tests' Slack fake fails like Slack does: scripted errors, rate limits, storms, outages."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.sandbox.harness import ManualClock
from tests.fakes.slack import ScriptedSlack

TOKEN = "xoxb-sandbox"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[ScriptedSlack]:
    async with ScriptedSlack(clock=lambda: clock().timestamp()) as slack:
        yield slack


@pytest.fixture
def client(fake: ScriptedSlack) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=fake.api_url, retry_handlers=[])


async def api_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


async def post(client: AsyncWebClient, channel: str = "C_GENERAL") -> SlackApiError | None:
    """Post a message; the error if Slack refused it."""
    try:
        await client.chat_postMessage(channel=channel, text="x")
    except SlackApiError as error:
        return error
    return None


# --- scripted failures -------------------------------------------------------------------------


async def test_scripted_not_in_channel_raises_once(
    fake: ScriptedSlack, client: AsyncWebClient
) -> None:
    fake.fail("chat.postMessage", "not_in_channel")
    error = await api_error(client.chat_postMessage(channel="C_GENERAL", text="x"))
    assert error.response["error"] == "not_in_channel"
    assert error.response.status_code == 200
    assert (await client.chat_postMessage(channel="C_GENERAL", text="x"))["ok"]
    assert len(fake.calls_to("chat.postMessage")) == 2


async def test_scripted_failure_for_one_channel_every_time(
    fake: ScriptedSlack, client: AsyncWebClient
) -> None:
    fake.fail("chat.postMessage", "channel_not_found", channel="C_GONE", times=None)
    for _ in range(3):
        error = await api_error(client.chat_postMessage(channel="C_GONE", text="x"))
        assert error.response["error"] == "channel_not_found"
    assert (await client.chat_postMessage(channel="C_GENERAL", text="x"))["ok"]


async def test_scripted_failures_are_used_in_order(
    fake: ScriptedSlack, client: AsyncWebClient
) -> None:
    fake.fail("users.info", "user_not_visible", times=2)
    fake.fail("users.info", "ratelimited", status=429)
    errors = [await api_error(client.users_info(user="U_BOB")) for _ in range(3)]
    assert [e.response["error"] for e in errors] == ["user_not_visible"] * 2 + ["ratelimited"]
    assert errors[2].response.status_code == 429
    assert (await client.users_info(user="U_BOB"))["ok"]


async def test_removed_bot_cannot_write_there(fake: ScriptedSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C_PRIVATE", text="x")
    fake.remove_bot_from("C_PRIVATE")
    calls = [
        client.chat_postMessage(channel="C_PRIVATE", text="x"),
        client.chat_update(channel="C_PRIVATE", ts=posted["ts"], text="y"),
        client.chat_postEphemeral(channel="C_PRIVATE", user="U_ALICE", text="z"),
        client.chat_postMessage(channel="C_PRIVATE", text="again"),
    ]
    errors = [await api_error(call) for call in calls]
    assert {e.response["error"] for e in errors} == {"not_in_channel"}
    assert (await client.chat_postMessage(channel="C_GENERAL", text="x"))["ok"]


async def test_ratelimited_429_retry_after_is_honoured(fake: ScriptedSlack) -> None:
    fake.fail("chat.postMessage", "ratelimited", status=429, headers={"Retry-After": "1"})
    retrying = AsyncWebClient(
        token=TOKEN, base_url=fake.api_url, retry_handlers=[AsyncRateLimitErrorRetryHandler()]
    )
    started = time.monotonic()
    assert (await retrying.chat_postMessage(channel="C_GENERAL", text="x"))["ok"]
    first, second = fake.calls_to("chat.postMessage")
    assert 1.0 <= second.at - first.at < 2.5
    assert time.monotonic() - started < 2.5
    assert len(fake.messages("C_GENERAL")) == 1


async def test_latency_delays_every_answer() -> None:
    async with ScriptedSlack(latency=0.05) as slow:
        started = time.monotonic()
        await AsyncWebClient(token=TOKEN, base_url=slow.api_url).auth_test()
        assert time.monotonic() - started >= 0.05


async def test_wait_for_responses_times_out_naming_what_arrived(fake: ScriptedSlack) -> None:
    await AsyncWebhookClient(fake.new_response_url()).send(text="only one")
    with pytest.raises(AssertionError, match=r"expected 2 response_url post\(s\).*only one"):
        await fake.wait_for_responses(2, timeout=0.05)
    assert [post.body["text"] for post in await fake.wait_for_responses(1)] == ["only one"]


# --- rate limits -------------------------------------------------------------------------------


async def test_no_limits_unless_enforced(fake: ScriptedSlack, client: AsyncWebClient) -> None:
    errors = [await post(client) for _ in range(10)]
    assert errors == [None] * 10
    assert fake.limits.refusals == []


async def test_post_message_is_limited_per_channel_with_a_small_burst(
    fake: ScriptedSlack, client: AsyncWebClient, clock: ManualClock
) -> None:
    fake.limits.enforce()

    burst = [await post(client) for _ in range(3)]
    refused = await post(client)
    elsewhere = await post(client, "C_OTHER")

    assert burst == [None] * 3
    assert refused is not None
    assert refused.response.status_code == 429
    assert refused.response.headers["Retry-After"] == "1"
    assert refused.response.data == {"ok": False, "error": "ratelimited"}
    assert elsewhere is None  # the limit is per conversation
    clock.advance(timedelta(seconds=1))
    assert await post(client) is None  # one more a second
    assert await post(client) is not None
    assert len(fake.messages("C_GENERAL")) == 4  # refused posts are not stored
    assert [(r.method, r.retry_after) for r in fake.limits.refusals] == [
        ("chat.postMessage", 1),
        ("chat.postMessage", 1),
    ]


async def test_other_methods_are_limited_by_their_tier(
    fake: ScriptedSlack, client: AsyncWebClient, clock: ManualClock
) -> None:
    fake.usergroups["S_SMS"] = ["U_ALICE"]
    fake.limits.enforce()

    for _ in range(20):  # Tier 2: about 20 a minute
        await client.usergroups_users_list(usergroup="S_SMS")
    refused = await api_error(client.usergroups_users_list(usergroup="S_SMS"))

    assert refused.response.status_code == 429
    assert refused.response.headers["Retry-After"] == "3"
    assert (await client.users_info(user="U_BOB"))["ok"]  # another method, its own limit
    clock.advance(timedelta(seconds=3))
    assert (await client.usergroups_users_list(usergroup="S_SMS"))["ok"]


async def test_a_storm_answers_429_until_it_passes(
    fake: ScriptedSlack, client: AsyncWebClient, clock: ManualClock
) -> None:
    posted = await client.chat_postMessage(channel="C_GENERAL", text="x")
    fake.limits.storm(["chat.update"], 30)

    first = await api_error(client.chat_update(channel="C_GENERAL", ts=posted["ts"], text="y"))
    clock.advance(timedelta(seconds=10))
    later = await api_error(client.chat_update(channel="C_GENERAL", ts=posted["ts"], text="y"))

    assert (first.response.status_code, first.response["error"]) == (429, "ratelimited")
    assert first.response.headers["Retry-After"] == "30"
    assert later.response.headers["Retry-After"] == "20"
    assert await post(client) is None  # other methods are not in the storm
    clock.advance(timedelta(seconds=20))
    assert (await client.chat_update(channel="C_GENERAL", ts=posted["ts"], text="y"))["ok"]


async def test_a_storm_with_a_fixed_retry_after(
    fake: ScriptedSlack, client: AsyncWebClient
) -> None:
    fake.limits.storm(["chat.postMessage", "chat.update"], 60, retry_after=2)

    refused = await post(client)

    assert refused is not None
    assert refused.response.headers["Retry-After"] == "2"


async def test_an_outage_answers_5xx_to_everything_until_it_is_over(
    fake: ScriptedSlack, client: AsyncWebClient, clock: ManualClock
) -> None:
    fake.limits.outage(5)
    fake.fail("chat.postMessage", "not_in_channel")  # an outage comes first

    down = [
        await api_error(client.chat_postMessage(channel="C_GENERAL", text="x")),
        await api_error(client.users_info(user="U_BOB")),
    ]
    webhook = await AsyncWebhookClient(fake.new_response_url()).send(text="still works")

    assert {(e.response.status_code, e.response["error"]) for e in down} == {
        (503, "service_unavailable")
    }
    assert webhook.status_code == 200  # response_urls are another service
    clock.advance(timedelta(seconds=5))
    assert (await api_error(client.chat_postMessage(channel="C_GENERAL", text="x"))).response[
        "error"
    ] == "not_in_channel"
    assert await post(client) is None


async def test_an_outage_can_take_response_urls_down_too(
    fake: ScriptedSlack, clock: ManualClock
) -> None:
    fake.limits.outage(5, status=500, response_urls=True)
    url = fake.new_response_url()

    down = await AsyncWebhookClient(url).send(text="lost")
    clock.advance(timedelta(seconds=6))
    up = await AsyncWebhookClient(url).send(text="arrives")

    assert (down.status_code, up.status_code) == (500, 200)
    assert [post.body["text"] for post in fake.responses] == ["arrives"]


async def test_slack_sdk_waits_out_a_real_retry_after(fake: ScriptedSlack) -> None:
    fake.limits.clock = time.monotonic
    fake.limits.enforce(channel_burst=1)
    retrying = AsyncWebClient(
        token=TOKEN, base_url=fake.api_url, retry_handlers=[AsyncRateLimitErrorRetryHandler()]
    )

    for _ in range(2):
        assert (await retrying.chat_postMessage(channel="C_GENERAL", text="x"))["ok"]

    _, refused, second = fake.calls_to("chat.postMessage")
    assert second.at - refused.at >= 1.0  # Retry-After: 1
    assert [r.retry_after for r in fake.limits.refusals] == [1]
