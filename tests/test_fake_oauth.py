"""The fake sipgate login server: codes, rotating refresh tokens, and Bearer tokens on sipgate."""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from bot.sandbox.harness import ManualClock
from tests.fakes.oauth import CLIENT_ID, CLIENT_SECRET, FakeSipgateLogin
from tests.fakes.sipgate import ScriptedSipgate

REDIRECT = "http://127.0.0.1:8765/callback"
CLIENT = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


@pytest.fixture
async def login(clock: ManualClock) -> AsyncIterator[FakeSipgateLogin]:
    async with FakeSipgateLogin(access_lifetime=20, clock=lambda: clock().timestamp()) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def token(
    http: aiohttp.ClientSession, login: FakeSipgateLogin, **form: str
) -> tuple[int, dict[str, Any]]:
    async with http.post(login.token_url, data=form) as response:
        body: dict[str, Any] = await response.json()
        return response.status, body


async def exchange(http: aiohttp.ClientSession, login: FakeSipgateLogin) -> dict[str, Any]:
    """The tokens of a fresh authorization-code grant."""
    code = login.authorize(REDIRECT)
    status, body = await token(
        http, login, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, **CLIENT
    )
    assert status == 200, body
    return body


async def refresh(
    http: aiohttp.ClientSession, login: FakeSipgateLogin, refresh_token: str
) -> tuple[int, dict[str, Any]]:
    return await token(
        http, login, grant_type="refresh_token", refresh_token=refresh_token, **CLIENT
    )


async def test_the_authorization_page_redirects_with_a_code_that_works_once(
    login: FakeSipgateLogin, http: aiohttp.ClientSession
) -> None:
    query = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT, "response_type": "code"}
    async with http.get(
        login.auth_url, params={**query, "state": "xyz"}, allow_redirects=False
    ) as page:
        location = page.headers["Location"]
    assert page.status == 302
    assert location.startswith(REDIRECT + "?")
    fields = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    assert fields["state"] == "xyz"

    grant = {"grant_type": "authorization_code", "code": fields["code"], **CLIENT}
    first = await token(http, login, redirect_uri=REDIRECT, **grant)
    again = await token(http, login, redirect_uri=REDIRECT, **grant)

    assert first[0] == 200
    assert set(first[1]) >= {
        "access_token",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
        "token_type",
    }
    assert (first[1]["token_type"], first[1]["expires_in"]) == ("Bearer", 20)
    assert again == (400, {"error": "invalid_grant", "error_description": "Code not valid"})
    assert [(g.grant_type, g.status) for g in login.grants] == [
        ("authorization_code", 200),
        ("authorization_code", 400),
    ]
    assert login.grants[0].form["client_secret"] == CLIENT_SECRET  # sent as a form field


async def test_a_code_needs_its_redirect_uri_and_the_client_secret(
    login: FakeSipgateLogin, http: aiohttp.ClientSession
) -> None:
    wrong_uri = await token(
        http,
        login,
        grant_type="authorization_code",
        code=login.authorize(REDIRECT),
        redirect_uri="http://127.0.0.1:1/other",
        **CLIENT,
    )
    wrong_secret = await token(
        http,
        login,
        grant_type="authorization_code",
        code=login.authorize(REDIRECT),
        redirect_uri=REDIRECT,
        client_id=CLIENT_ID,
        client_secret="guess",
    )
    unsupported = await token(http, login, grant_type="password", **CLIENT)
    assert wrong_uri[1]["error_description"] == "Incorrect redirect_uri"
    assert (wrong_secret[0], wrong_secret[1]["error"]) == (401, "unauthorized_client")
    assert (unsupported[0], unsupported[1]["error"]) == (400, "unsupported_grant_type")


async def test_every_refresh_rotates_and_a_used_refresh_token_is_refused(
    login: FakeSipgateLogin, http: aiohttp.ClientSession
) -> None:
    first = await exchange(http, login)

    status, second = await refresh(http, login, first["refresh_token"])
    reused = await refresh(http, login, first["refresh_token"])
    status_third, third = await refresh(http, login, second["refresh_token"])

    assert (status, status_third) == (200, 200)
    assert len({first["refresh_token"], second["refresh_token"], third["refresh_token"]}) == 3
    assert reused == (400, {"error": "invalid_grant", "error_description": "Invalid refresh token"})
    assert login.refresh_tokens() == [t["refresh_token"] for t in (first, second, third)]


async def test_a_revoked_or_expired_refresh_token_is_refused(
    login: FakeSipgateLogin, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    revoked, expiring = await exchange(http, login), await exchange(http, login)
    login.revoke(revoked["refresh_token"])
    clock.advance(timedelta(seconds=expiring["refresh_expires_in"]))

    assert (await refresh(http, login, revoked["refresh_token"]))[0] == 400
    assert (await refresh(http, login, expiring["refresh_token"]))[1]["error"] == "invalid_grant"


async def test_tokens_look_like_keycloaks(
    login: FakeSipgateLogin, http: aiohttp.ClientSession
) -> None:
    tokens = await exchange(http, login)
    header, payload, signature = tokens["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["azp"] == CLIENT_ID
    assert claims["exp"] - claims["iat"] == 20
    assert header
    assert signature


async def test_sipgate_accepts_issued_bearer_tokens_until_they_expire(
    login: FakeSipgateLogin, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    async with ScriptedSipgate() as sipgate:
        sipgate.accept_tokens_from(login)
        tokens = await exchange(http, login)

        async def balance(access_token: str) -> int:
            headers = {"Authorization": f"Bearer {access_token}"}
            async with http.get(sipgate.url + "/balance", headers=headers) as response:
                return response.status

        fresh = await balance(tokens["access_token"])
        unknown = await balance("not-a-token")
        clock.advance(timedelta(seconds=20))
        expired = await balance(tokens["access_token"])
        _, renewed = await refresh(http, login, tokens["refresh_token"])
        after_refresh = await balance(renewed["access_token"])

    assert (fresh, unknown, expired, after_refresh) == (200, 401, 401, 200)
