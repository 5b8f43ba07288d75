"""SipgateClient over real HTTP against ScriptedSipgate on 127.0.0.1 (no network, no mocks)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace

import aiohttp
import pytest

from bot.core import SmsExtension
from bot.sandbox.sipgate import DROP, HANG, Scripted
from bot.sipgate import (
    SipgateAuth,
    SipgateAuthError,
    SipgateBalanceError,
    SipgateClient,
    SipgateError,
    SipgateForbidden,
    SipgateMalformed,
    SipgateNoAnswer,
    SipgateNoSmsExtension,
    SipgateRateLimited,
    SipgateRejected,
    SipgateServerError,
    SipgateUnexpected,
    SipgateUnreachable,
)
from bot.slack.texts import explain_failure
from tests.fakes.sipgate import ScriptedSipgate
from tests.helpers import PAT, TOKEN, TOKEN_ID, free_port

RECIPIENT = "+4915112345678"


@pytest.fixture
async def fake() -> AsyncIterator[ScriptedSipgate]:
    async with ScriptedSipgate() as server:
        yield server


@pytest.fixture
async def client(fake: ScriptedSipgate) -> AsyncIterator[SipgateClient]:
    async with SipgateClient(base_url=fake.url, auth=PAT, timeout=0.3) as sipgate:
        sipgate.retry_delay = 0
        yield sipgate


def counting_session() -> tuple[aiohttp.ClientSession, list[str]]:
    """A session whose public trace hooks record each attempt to send a request."""
    attempts: list[str] = []

    async def on_start(
        _: aiohttp.ClientSession, __: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        attempts.append(f"{params.method} {params.url.path}")

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    return aiohttp.ClientSession(trace_configs=[trace]), attempts


async def assert_no_second_post(fake: ScriptedSipgate) -> None:
    """Give a (wrong) retry 0.3 s to show up, then insist there was exactly one post."""
    with pytest.raises(AssertionError, match="got 1"):
        await fake.wait_for_posts(2, timeout=0.3)


# -- sending -----------------------------------------------------------------------------


async def test_send_now_posts_exact_body(fake: ScriptedSipgate, client: SipgateClient) -> None:
    await client.send_sms("s0", RECIPIENT, "Techniker kommt um 15 Uhr ✓")
    [post] = fake.sms
    assert post.json == {
        "smsId": "s0",
        "recipient": RECIPIENT,
        "message": "Techniker kommt um 15 Uhr ✓",
    }
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers["Accept"] == "application/json"
    assert fake.sms_posts == [post]


async def test_scheduled_send_carries_int_send_at(
    fake: ScriptedSipgate, client: SipgateClient
) -> None:
    when = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
    await client.send_sms("s0", RECIPIENT, "later", when)
    assert fake.sms[0].json["sendAt"] == int(when.timestamp())
    assert b'"sendAt":1904281689' in fake.sms[0].body


@pytest.mark.parametrize(
    ("scripted", "error_type"),
    [
        (Scripted(400), SipgateRejected),
        (Scripted(401), SipgateAuthError),
        (Scripted(402, b"Insufficient funds"), SipgateBalanceError),
        (Scripted(403), SipgateForbidden),
        (Scripted(404), SipgateMalformed),
        (Scripted(405), SipgateMalformed),
        (Scripted(415), SipgateMalformed),
        (Scripted(429, headers={"Retry-After": "7"}), SipgateRateLimited),
        (Scripted(500), SipgateServerError),
        (Scripted(502), SipgateServerError),
        (Scripted(503, b"<html>down</html>"), SipgateServerError),
        (Scripted(418), SipgateUnexpected),
    ],
)
async def test_scripted_status_raises_mapped_error(
    fake: ScriptedSipgate,
    client: SipgateClient,
    scripted: Scripted,
    error_type: type[SipgateError],
) -> None:
    fake.script_send(scripted)
    with pytest.raises(error_type) as caught:
        await client.send_sms("s0", RECIPIENT, "hi")
    assert caught.value.status == scripted.status
    assert len(fake.sms_posts) == 1  # an error answer is never retried
    assert fake.sms == []


async def test_rate_limit_keeps_retry_after(fake: ScriptedSipgate, client: SipgateClient) -> None:
    fake.script_send(Scripted(429, headers={"Retry-After": "7"}))
    with pytest.raises(SipgateRateLimited) as caught:
        await client.send_sms("s0", RECIPIENT, "hi")
    assert caught.value.retry_after == 7.0


async def test_forbidden_names_the_extension(fake: ScriptedSipgate, client: SipgateClient) -> None:
    with pytest.raises(SipgateForbidden) as caught:
        await client.send_sms("s9", RECIPIENT, "hi")  # the fake only has s0
    assert caught.value.sms_id == "s9"
    assert "extension s9" in explain_failure(caught.value)


async def test_hang_is_no_answer_and_not_retried(
    fake: ScriptedSipgate, client: SipgateClient
) -> None:
    fake.script_send(HANG)
    with pytest.raises(SipgateNoAnswer) as caught:
        await client.send_sms("s0", RECIPIENT, "hi")
    assert caught.value.may_have_sent
    assert isinstance(caught.value.__cause__, TimeoutError)
    await assert_no_second_post(fake)
    assert fake.sms == []


async def test_dropped_connection_is_no_answer(
    fake: ScriptedSipgate, client: SipgateClient
) -> None:
    fake.script_send(DROP)
    with pytest.raises(SipgateNoAnswer) as caught:
        await client.send_sms("s0", RECIPIENT, "hi")
    assert isinstance(caught.value.__cause__, aiohttp.ClientError)
    await assert_no_second_post(fake)


async def test_slow_answer_within_timeout_succeeds(
    fake: ScriptedSipgate, client: SipgateClient
) -> None:
    fake.script_send(Scripted(204, delay=0.05), Scripted(201))
    await client.send_sms("s0", RECIPIENT, "one")
    await client.send_sms("s0", RECIPIENT, "two")
    assert [p.json["message"] for p in fake.sms] == ["one", "two"]
    assert fake.unused_script == ()


async def test_refused_connection_is_unreachable_after_one_retry() -> None:
    session, attempts = counting_session()
    async with (
        session,
        SipgateClient(
            base_url=f"http://127.0.0.1:{free_port()}/v2", auth=PAT, session=session
        ) as sipgate,
    ):
        sipgate.retry_delay = 0
        with pytest.raises(SipgateUnreachable) as caught:
            await sipgate.send_sms("s0", RECIPIENT, "hi")
    assert not caught.value.may_have_sent
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)
    assert attempts == ["POST /v2/sessions/sms"] * 2


async def test_logs_mask_number_and_hide_text_and_token(
    client: SipgateClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="bot.sipgate"):
        await client.send_sms("s0", RECIPIENT, "secret text")
    assert "+49151****678" in caplog.text
    for leaked in (RECIPIENT, "secret text", TOKEN, PAT.header()):
        assert leaked not in caplog.text


# -- auth and discovery ------------------------------------------------------------------


async def test_basic_auth_header_arrives(fake: ScriptedSipgate, client: SipgateClient) -> None:
    fake.expect_auth(PAT.header())
    await client.send_sms("s0", RECIPIENT, "hi")
    assert fake.received[0].headers["Authorization"].startswith("Basic ")


async def test_bearer_header_arrives(fake: ScriptedSipgate) -> None:
    auth = SipgateAuth.oauth("access-token-xyz")
    fake.expect_auth("Bearer access-token-xyz")
    async with SipgateClient(base_url=fake.url, auth=auth) as sipgate:
        await sipgate.send_sms("s0", RECIPIENT, "hi")
    assert fake.received[0].headers["Authorization"] == "Bearer access-token-xyz"


async def test_wrong_credentials_are_auth_error(
    fake: ScriptedSipgate, client: SipgateClient
) -> None:
    fake.expect_auth("Bearer something-else")
    with pytest.raises(SipgateAuthError):
        await client.userinfo()


async def test_userinfo(client: SipgateClient) -> None:
    user = await client.userinfo()
    assert (user.sub, user.domain, user.master_sip_id, user.locale) == (
        "w0",
        "sipgate.de",
        "0000000",
        "de_DE",
    )


@pytest.mark.parametrize("count", [1, 2])
async def test_discovery_lists_extensions(count: int) -> None:
    extensions = [SmsExtension(f"s{i}", f"SMS {i}", f"+4915799912{i:03}") for i in range(count)]
    async with (
        ScriptedSipgate(extensions=extensions, user_id="w7") as fake,
        SipgateClient(base_url=fake.url + "/", auth=PAT) as sipgate,
    ):
        assert await sipgate.discover_extensions() == extensions
    assert [(r.method, r.path) for r in fake.received] == [
        ("GET", "/v2/authorization/userinfo"),
        ("GET", "/v2/w7/sms"),
    ]


async def test_discovery_without_extension_is_explained() -> None:
    async with (
        ScriptedSipgate(extensions=[]) as fake,
        SipgateClient(base_url=fake.url, auth=PAT) as sipgate,
    ):
        with pytest.raises(SipgateNoSmsExtension) as caught:
            await sipgate.discover_extensions()
    assert "Web SMS not booked for this user" in explain_failure(caught.value)
    assert caught.value.user_id == "w0"


async def test_discovery_retries_refused_get_once() -> None:
    session, attempts = counting_session()
    async with (
        session,
        SipgateClient(
            base_url=f"http://127.0.0.1:{free_port()}/v2", auth=PAT, session=session
        ) as sipgate,
    ):
        sipgate.retry_delay = 0
        with pytest.raises(SipgateUnreachable):
            await sipgate.discover_extensions()
    assert attempts == ["GET /v2/authorization/userinfo"] * 2


# -- session ownership -------------------------------------------------------------------


def is_closed(session: aiohttp.ClientSession) -> bool:
    """``session.closed``, read anew each time (a type checker would keep its first answer)."""
    return session.closed


async def test_owned_session_is_closed_by_async_with(fake: ScriptedSipgate) -> None:
    async with SipgateClient(base_url=fake.url, auth=PAT) as sipgate:
        await sipgate.userinfo()
        session = sipgate._session
        assert session is not None
        assert not is_closed(session)
    assert is_closed(session)
    with pytest.raises(RuntimeError, match="closed"):
        await sipgate.userinfo()


async def test_passed_session_stays_open(fake: ScriptedSipgate) -> None:
    async with aiohttp.ClientSession() as session:
        async with SipgateClient(base_url=fake.url, auth=PAT, session=session) as sipgate:
            await sipgate.send_sms("s0", RECIPIENT, "hi")
        assert not session.closed
        async with session.get(fake.url + "/authorization/userinfo") as response:
            assert response.status == 401  # still usable, and the fake wants credentials


@pytest.mark.parametrize("base_url", ["api.sipgate.com/v2", "ftp://host/v2", "http:///v2"])
def test_bad_base_url_is_refused(base_url: str) -> None:
    with pytest.raises(ValueError, match="base URL"):
        SipgateClient(base_url=base_url, auth=PAT)


def test_repr_hides_token() -> None:
    text = repr(SipgateClient(base_url="https://api.sipgate.com/v2", auth=PAT))
    assert TOKEN not in text
    assert json.dumps(TOKEN_ID)[1:-1] in text


# -- the fake itself ---------------------------------------------------------------------


async def test_fake_closes_promptly_while_a_send_hangs() -> None:
    fake = ScriptedSipgate()
    await fake.start()
    fake.script_send(HANG)
    async with SipgateClient(base_url=fake.url, auth=PAT, timeout=30) as sipgate:
        send = asyncio.create_task(sipgate.send_sms("s0", RECIPIENT, "hi"))
        await fake.wait_for_posts(1)
        started = time.monotonic()
        await fake.close()
        assert time.monotonic() - started < 0.5
        with pytest.raises(SipgateNoAnswer):
            await send


async def test_fake_answers_unknown_paths_and_methods(fake: ScriptedSipgate) -> None:
    headers = {"Authorization": PAT.header()}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(fake.url + "/sessions/sms") as response:
            assert response.status == 405
        async with session.get(fake.url + "/w0/nothing") as response:
            assert response.status == 404
    assert fake.sms_posts == []
