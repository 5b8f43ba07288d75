"""sipgate OAuth that lasts: sipgate-login once, then refreshes before expiry, one instance at a
time, each rotated refresh token used once; a dead login is reported, never a crash.

The fake login server issues access tokens that live 20 s on a clock the test moves; the fake
sipgate accepts exactly the unexpired ones it issued.
"""

from __future__ import annotations

import asyncio
import io
import urllib.parse
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.check import run_check
from bot.core import OAuthTokens, State
from bot.login import run_login
from bot.sandbox.harness import ManualClock, Sandbox, sandbox_environ
from bot.sandbox.sipgate import Scripted
from bot.sandbox.waiting import poll_until
from bot.sipgate import OAuthClient, SipgateLoginNeeded, request_tokens
from bot.sipgate.oauth import read_tokens
from bot.store import open_ledger
from tests.fakes import ScriptedFakes
from tests.fakes.oauth import CLIENT_ID, CLIENT_SECRET, FakeSipgateLogin
from tests.helpers import MakeBot

LIFETIME = 20
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
async def login(clock: ManualClock, fakes: ScriptedFakes) -> AsyncIterator[FakeSipgateLogin]:
    async with FakeSipgateLogin(
        access_lifetime=LIFETIME, clock=lambda: clock().timestamp()
    ) as server:
        fakes.sipgate.accept_tokens_from(server)
        yield server


def oauth_env(login: FakeSipgateLogin, database: str) -> dict[str, str]:
    return {
        "SIPGATE_TOKEN_ID": "",
        "SIPGATE_TOKEN": "",
        "SIPGATE_OAUTH_CLIENT_ID": CLIENT_ID,
        "SIPGATE_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        "SIPGATE_LOGIN_URL": login.url,
        "DATABASE_URL": database,
        "SMS_ADMINS": "U_BOB",
    }


async def logged_in(login: FakeSipgateLogin, database: str, clock: ManualClock) -> None:
    """What ``sipgate-login`` leaves behind: a refresh token in the bot's database."""
    client = OAuthClient(CLIENT_ID, CLIENT_SECRET, login.url)
    redirect = "http://127.0.0.1:9/callback"
    async with aiohttp.ClientSession() as session:
        form = client.code_grant(login.authorize(redirect), redirect)
        tokens = await request_tokens(session, client, form, clock())
    ledger = await open_ledger(database)
    try:
        await ledger.tokens.save_login(tokens)
    finally:
        await ledger.close()


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/bot.db"


async def send(bot: Sandbox, number: int) -> State:
    await bot.command(f"+49 151 {12345600 + number} hello")
    await bot.settle()
    (request,) = await bot.ledger.list_for_user("U_ALICE", recent=1)
    return request.sends[0].state


def refreshes(login: FakeSipgateLogin) -> list[str]:
    return [g.form["refresh_token"] for g in login.grants if g.grant_type == "refresh_token"]


# --- the protocol ------------------------------------------------------------------------------


def test_the_login_address_is_the_realms_auth_endpoint() -> None:
    client = OAuthClient("my-client", "s3cret", "https://login.example", "sipgate-apps")

    url = client.authorize_url("http://127.0.0.1:8123/callback", "xyz")

    base, _, query = url.partition("?")
    assert base == "https://login.example/auth/realms/sipgate-apps/protocol/openid-connect/auth"
    assert urllib.parse.parse_qs(query) == {
        "client_id": ["my-client"],
        "redirect_uri": ["http://127.0.0.1:8123/callback"],
        "response_type": ["code"],
        "state": ["xyz"],
    }
    assert "s3cret" not in url
    assert "s3cret" not in repr(client)


def test_a_token_answer_is_refreshed_before_it_expires() -> None:
    body = b'{"access_token":"a","expires_in":300,"refresh_token":"r","token_type":"Bearer"}'

    tokens = read_tokens(200, body, NOW)

    assert (tokens.access_token, tokens.refresh_token) == ("a", "r")
    assert tokens.expires_at == NOW + timedelta(seconds=300)
    assert tokens.refresh_at == NOW + timedelta(seconds=225)
    assert tokens.usable(NOW + timedelta(seconds=224))
    assert not tokens.usable(NOW + timedelta(seconds=225))
    assert "refresh_token" not in repr(tokens)
    assert "access_token" not in repr(tokens)


def test_a_refused_refresh_means_log_in_again() -> None:
    with pytest.raises(SipgateLoginNeeded):
        read_tokens(400, b'{"error":"invalid_grant"}', NOW)


# --- sipgate-login --------------------------------------------------------------------------------


async def test_sipgate_login_stores_the_refresh_token_and_prints_no_secret(
    fakes: ScriptedFakes, database: str
) -> None:
    async with FakeSipgateLogin() as login:
        out = io.StringIO()
        env = sandbox_environ(fakes.slack, fakes.sipgate, **oauth_env(login, database))
        running = asyncio.create_task(run_login(env, out, open_browser=False, wait=10))
        await poll_until(lambda: "http" in out.getvalue(), 5, lambda: out.getvalue())
        url = next(word for word in out.getvalue().split() if word.startswith(login.auth_url))
        await browser(url)

        assert await running == 0
    ledger = await open_ledger(database)
    try:
        stored = await ledger.tokens.load_tokens()
    finally:
        await ledger.close()
    assert stored is not None
    assert stored.refresh_token in login.refresh_tokens()
    printed = out.getvalue()
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in printed
    for secret in (CLIENT_SECRET, stored.refresh_token, stored.access_token or "?"):
        assert secret not in printed
    assert "Logged in" in printed


async def browser(url: str) -> None:
    """What a browser does: log in at sipgate, follow the redirect to the bot's callback."""
    async with aiohttp.ClientSession() as session:
        async with session.get(url, allow_redirects=False) as answer:
            back = answer.headers["Location"]
        wrong = back.replace("state=", "state=x")
        async with session.get(wrong) as answer:
            assert answer.status == 400  # not this login: ignored, still waiting
        async with session.get(back) as answer:
            assert answer.status == 200


async def test_sipgate_login_gives_up_after_its_wait(fakes: ScriptedFakes, database: str) -> None:
    async with FakeSipgateLogin() as login:
        out = io.StringIO()
        env = sandbox_environ(fakes.slack, fakes.sipgate, **oauth_env(login, database))

        assert await run_login(env, out, open_browser=False, wait=0.2) == 1
    assert "No login within" in out.getvalue()


# --- the running bot ------------------------------------------------------------------------------


async def test_every_call_is_authorised_over_several_token_lifetimes(
    make_bot: MakeBot,
    fakes: ScriptedFakes,
    login: FakeSipgateLogin,
    clock: ManualClock,
    database: str,
) -> None:
    await logged_in(login, database, clock)
    bot = await make_bot(**oauth_env(login, database))

    states = []
    for number in range(6):
        states.append(await send(bot, number))
        clock.advance(timedelta(seconds=12))  # 72 s in all: more than three lifetimes

    assert states == [State.ACCEPTED] * 6
    assert len(fakes.sipgate.sms) == len(fakes.sipgate.sms_posts) == 6  # never refused
    used = refreshes(login)
    assert len(used) >= 2  # refreshed when used after three quarters of a lifetime
    assert len(used) == len(set(used))  # no refresh token used twice
    assert all(grant.status == 200 for grant in login.grants)


async def test_two_instances_never_both_refresh(
    make_bot: MakeBot,
    fakes: ScriptedFakes,
    login: FakeSipgateLogin,
    clock: ManualClock,
    database: str,
) -> None:
    await logged_in(login, database, clock)
    first = await make_bot(**oauth_env(login, database))
    second = await make_bot(**oauth_env(login, database))
    clock.advance(timedelta(seconds=16))  # past the time to refresh

    results = await asyncio.gather(
        first.command("+49 151 12345601 from the first"),
        second.command("+49 151 12345602 from the second"),
    )

    assert all(result.status == 200 for result in results)
    await fakes.sipgate.wait_for_posts(2)
    await first.settle()
    await second.settle()
    assert len(refreshes(login)) == 1
    assert len(fakes.sipgate.sms) == 2


async def test_a_401_on_the_send_is_refreshed_and_sent_once(
    make_bot: MakeBot,
    fakes: ScriptedFakes,
    login: FakeSipgateLogin,
    clock: ManualClock,
    database: str,
) -> None:
    await logged_in(login, database, clock)
    bot = await make_bot(**oauth_env(login, database))
    fakes.sipgate.script_send(Scripted(status=401))  # sipgate refuses the token: nothing sent

    assert await send(bot, 1) is State.ACCEPTED

    assert [post.json["recipient"] for post in fakes.sipgate.sms_posts] == ["+4915112345601"] * 2
    assert len(fakes.sipgate.sms) == 1
    assert len(refreshes(login)) == 1


async def test_a_dead_login_is_told_to_the_admins_once_and_named_by_check(
    make_bot: MakeBot,
    fakes: ScriptedFakes,
    login: FakeSipgateLogin,
    clock: ManualClock,
    database: str,
) -> None:
    await logged_in(login, database, clock)
    bot = await make_bot(**oauth_env(login, database))
    for token in login.refresh_tokens():
        login.revoke(token)
    clock.advance(timedelta(seconds=30))  # the access token expired too

    assert await send(bot, 1) is State.FAILED
    assert await send(bot, 2) is State.FAILED

    requests = await bot.ledger.list_for_user("U_ALICE")
    assert [request.sends[0].error_kind for request in requests] == ["login", "login"]
    await poll_until(lambda: bool(fakes.slack.messages("U_BOB")), 5, lambda: "admins not told")
    (dm,) = fakes.slack.messages("U_BOB")
    assert "sipgate-login" in dm.text
    assert fakes.sipgate.sms_posts == []  # nothing reached sipgate with a dead login
    out = io.StringIO()
    env = sandbox_environ(fakes.slack, fakes.sipgate, **oauth_env(login, database))
    assert await run_check(env, out) == 1
    assert "run python -m bot sipgate-login" in out.getvalue()


async def test_a_static_oauth_token_is_a_warning_in_check(fakes: ScriptedFakes) -> None:
    out = io.StringIO()
    env = sandbox_environ(
        fakes.slack, fakes.sipgate, SIPGATE_TOKEN_ID="", SIPGATE_TOKEN="", SIPGATE_OAUTH_TOKEN="x"
    )

    await run_check(env, out)

    assert "! SIPGATE_OAUTH_TOKEN is an access token that expires within minutes" in out.getvalue()


def test_tokens_hide_their_secrets() -> None:
    tokens = OAuthTokens(refresh_token="refresh-secret", access_token="access-secret")
    assert "secret" not in repr(tokens)
