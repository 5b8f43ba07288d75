"""The tests' Slack fake fails like Slack does: scripted errors, removed bots, latency."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.fakes.slack import ScriptedSlack

TOKEN = "xoxb-sandbox"


@pytest.fixture
async def fake() -> AsyncIterator[ScriptedSlack]:
    async with ScriptedSlack() as slack:
        yield slack


@pytest.fixture
def client(fake: ScriptedSlack) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=fake.api_url, retry_handlers=[])


async def api_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


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
