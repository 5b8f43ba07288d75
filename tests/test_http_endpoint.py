"""The real HTTP endpoint (``Sandbox.serve_http``) end to end, through an aiohttp client."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.sandbox.harness import Sandbox
from tests.fakes import ScriptedFakes
from tests.helpers import MakeBot, assert_settled, wait_thread


@pytest.fixture
async def served(make_bot: MakeBot) -> Sandbox:
    bot = await make_bot()
    await bot.serve_http()
    return bot


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_healthz(served: Sandbox, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{served.url}/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_signed_quick_send_goes_out(
    served: Sandbox, http: aiohttp.ClientSession, fakes: ScriptedFakes
) -> None:
    body = served.command_body("+49 151 12345678 via HTTP")

    async with await served.post(http, body) as response:
        assert response.status == 200

    (post,) = await fakes.sipgate.wait_for_posts(1)
    assert post.json["recipient"] == "+4915112345678"
    assert post.json["message"] == "via HTTP"
    await wait_thread(fakes.slack, "C_GENERAL")


@pytest.mark.parametrize(
    ("secret", "age"),
    [("not-the-signing-secret", 0), (None, 301)],
    ids=["bad-signature", "stale-timestamp"],
)
async def test_bad_or_stale_signature_is_401(
    served: Sandbox,
    http: aiohttp.ClientSession,
    fakes: ScriptedFakes,
    secret: str | None,
    age: int,
) -> None:
    body = served.command_body("+49 151 12345678 hi")
    stamp = int(time.time()) - age
    post = (
        served.post(http, body, timestamp=stamp)
        if secret is None
        else served.post(http, body, secret=secret, timestamp=stamp)
    )

    async with await post as response:
        assert response.status == 401

    await assert_settled(
        served,
        lambda: not fakes.slack.calls and not fakes.sipgate.sms_posts,
        "a refused request did something",
    )


async def test_unsigned_request_is_401(
    served: Sandbox, http: aiohttp.ClientSession, fakes: ScriptedFakes
) -> None:
    body = served.command_body("+49 151 12345678 hi")

    async with http.post(
        f"{served.url}/slack/events",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ) as response:
        assert response.status == 401
    assert fakes.sipgate.sms_posts == []


async def test_signed_but_malformed_body_is_400(
    served: Sandbox, http: aiohttp.ClientSession, fakes: ScriptedFakes
) -> None:
    async with await served.post(http, "payload=%7Bnot-json") as response:
        assert response.status == 400
    assert fakes.sipgate.sms_posts == []


async def test_metrics_are_prometheus_text(
    served: Sandbox, http: aiohttp.ClientSession, fakes: ScriptedFakes
) -> None:
    async with await served.post(http, served.command_body("+49 151 12345678 hi")) as response:
        assert response.status == 200
    await wait_thread(fakes.slack, "C_GENERAL")

    async with http.get(f"{served.url}/metrics") as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        text = await response.text()
    assert "sms_bot_sms" in text
    assert "sms_bot_slack_requests_total" in text
