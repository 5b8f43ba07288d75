"""sipgate OAuth: the login server's protocol (pure), and an access token that lasts.

sipgate's login server is Keycloak: ``<login>/auth/realms/<realm>/protocol/openid-connect/``
``auth`` (the person logs in, the browser comes back with a code) and ``token`` (a code or a
refresh token for tokens). Access tokens live minutes (``expires_in``); every refresh rotates
the refresh token, and a refresh token works once.

``OAuthAccess`` hands out a valid access token: the one the ledger holds while it is fresh,
else it refreshes it — one instance at a time (a claim in the ledger), storing the rotated
refresh token only if nobody rotated it meanwhile. A refresh token that no longer works is
marked dead in the ledger and reported once (``on_dead``): someone has to run
``python -m bot sipgate-login`` again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import aiohttp

from bot.core import Clock, OAuthTokens, TokenStore
from bot.sipgate.errors import SipgateLoginNeeded, SipgateUnexpected, SipgateUnreachable
from bot.sipgate.protocol import SipgateAuth

log = logging.getLogger(__name__)

OIDC_PATH = "/auth/realms/{realm}/protocol/openid-connect"
REFRESH_CLAIM = timedelta(seconds=15)  # how long one instance may take to refresh
WAIT_FOR_OTHERS = 10.0  # seconds to wait for another instance's refresh
TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)


@dataclass(frozen=True)
class OAuthClient:
    """The bot's OAuth client at sipgate's login server; ``repr`` never shows the secret."""

    client_id: str
    client_secret: str = field(repr=False)
    login_url: str = "https://login.sipgate.com"
    realm: str = "sipgate-apps"

    def endpoint(self, name: str) -> str:
        """``auth`` or ``token`` of the realm."""
        return self.login_url.rstrip("/") + OIDC_PATH.format(realm=self.realm) + "/" + name

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        """Where the person logs in; sipgate sends the browser back to ``redirect_uri``."""
        query = urllib.parse.urlencode(
            {
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "state": state,
            }
        )
        return f"{self.endpoint('auth')}?{query}"

    def code_grant(self, code: str, redirect_uri: str) -> dict[str, str]:
        """The token request for the code the login gave."""
        return {**self._client(), "grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_uri}  # fmt: skip

    def refresh_grant(self, refresh_token: str) -> dict[str, str]:
        """The token request for a refresh."""
        return {**self._client(), "grant_type": "refresh_token", "refresh_token": refresh_token}

    def _client(self) -> dict[str, str]:
        return {"client_id": self.client_id, "client_secret": self.client_secret}


def read_tokens(status: int, body: bytes, now: datetime) -> OAuthTokens:
    """The tokens of a token response; ``SipgateLoginNeeded`` when the grant is refused.

    The access token is refreshed when three quarters of its life are over (``expires_in``,
    whatever the server says, is the life).
    """
    data = _json(body)
    if status in (400, 401) and data.get("error") in ("invalid_grant", "unauthorized_client"):
        raise SipgateLoginNeeded(status)
    refresh_token = data.get("refresh_token")
    if status != 200 or not isinstance(refresh_token, str):
        raise SipgateUnexpected(status)
    lifetime = _seconds(data.get("expires_in"))
    return OAuthTokens(
        refresh_token=refresh_token,
        access_token=str(data.get("access_token") or ""),
        expires_at=now + timedelta(seconds=lifetime),
        refresh_at=now + timedelta(seconds=lifetime * 0.75),
    )


def _json(body: bytes) -> dict[str, object]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _seconds(raw: object) -> float:
    if isinstance(raw, int | float) and not isinstance(raw, bool) and raw > 0:
        return float(raw)
    raise SipgateUnexpected(200)


async def request_tokens(
    session: aiohttp.ClientSession, client: OAuthClient, form: Mapping[str, str], now: datetime
) -> OAuthTokens:
    """One call to the token endpoint (no redirects); transport failures are unreachable."""
    try:
        async with session.post(
            client.endpoint("token"), data=dict(form), timeout=TIMEOUT, allow_redirects=False
        ) as response:
            status, body = response.status, await response.read()
    except (TimeoutError, aiohttp.ClientError) as error:
        raise SipgateUnreachable() from error
    return read_tokens(status, body, now)


class AuthSource(Protocol):
    """Where the Authorization header comes from; ``refreshable``: a 401 may be tried again."""

    refreshable: bool

    async def authorization(self, *, fresh: bool = False) -> SipgateAuth: ...


@dataclass
class FixedAuth:
    """A personal access token, or a static OAuth access token: nothing to refresh."""

    auth: SipgateAuth
    refreshable: bool = False

    async def authorization(self, *, fresh: bool = False) -> SipgateAuth:
        return self.auth


class OAuthAccess:
    """An access token that lasts (see the module)."""

    refreshable = True

    def __init__(
        self,
        client: OAuthClient,
        store: TokenStore,
        session: aiohttp.ClientSession,
        *,
        clock: Clock,
        claimant: str,
        on_dead: Callable[[], Awaitable[None]],
    ) -> None:
        self._client, self._store, self._session = client, store, session
        self._clock, self._claimant, self._on_dead = clock, claimant, on_dead
        self._tokens: OAuthTokens | None = None
        self._lock = asyncio.Lock()

    async def authorization(self, *, fresh: bool = False) -> SipgateAuth:
        """The header for the next call; ``fresh`` after a 401: not the token that failed."""
        failed = self._tokens.access_token if fresh and self._tokens else None
        if self._tokens is None or not self._tokens.usable(self._clock()) or fresh:
            async with self._lock:
                self._tokens = await self._current(failed)
        return SipgateAuth.oauth(self._tokens.access_token or "")

    async def _current(self, failed: str | None) -> OAuthTokens:
        if self._tokens and self._tokens.usable(self._clock()) and failed is None:
            return self._tokens  # refreshed while this call waited for the lock
        stored = await self._store.load_tokens()
        if stored is None or stored.dead:
            raise SipgateLoginNeeded()
        if stored.usable(self._clock()) and stored.access_token != failed:
            return stored
        return await self._refreshed(stored, failed)

    async def _refreshed(self, stored: OAuthTokens, failed: str | None) -> OAuthTokens:
        claimed = await self._store.claim_refresh(
            self._claimant, self._clock(), REFRESH_CLAIM, refused=failed
        )
        if claimed is None:
            return await self._refreshed_by_another(stored)
        try:
            form = self._client.refresh_grant(claimed.refresh_token)
            fresh = await request_tokens(self._session, self._client, form, self._clock())
        except SipgateLoginNeeded:
            if await self._store.mark_dead(claimed.generation):
                log.error("sipgate refresh token no longer works: run python -m bot sipgate-login")
                await self._on_dead()
            raise
        fresh = _next(fresh, claimed)
        if not await self._store.save_refresh(claimed.generation, fresh):
            log.warning("sipgate tokens were rotated meanwhile; using the stored ones")
            return await self._stored()
        return fresh

    async def _refreshed_by_another(self, stored: OAuthTokens) -> OAuthTokens:
        """Another instance is refreshing: wait for its result."""
        deadline = asyncio.get_running_loop().time() + WAIT_FOR_OTHERS
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)
            tokens = await self._stored()
            if tokens.generation > stored.generation and tokens.usable(self._clock()):
                return tokens
        raise SipgateUnreachable()

    async def _stored(self) -> OAuthTokens:
        tokens = await self._store.load_tokens()
        if tokens is None or tokens.dead:
            raise SipgateLoginNeeded()
        return tokens


def _next(fresh: OAuthTokens, claimed: OAuthTokens) -> OAuthTokens:
    return OAuthTokens(
        refresh_token=fresh.refresh_token,
        access_token=fresh.access_token,
        expires_at=fresh.expires_at,
        refresh_at=fresh.refresh_at,
        generation=claimed.generation + 1,
    )
