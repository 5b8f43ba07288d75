"""Thin aiohttp transport for the sipgate protocol in ``protocol.py``.

It moves bytes, turns transport failures into ``SipgateNoAnswer``/``SipgateUnreachable``
and repeats a call only when the connection was never made: an SMS that may have
reached sipgate is never sent a second time.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from types import TracebackType

import aiohttp
from yarl import URL

from bot.core import Balance, Clock, IncomingSms, SmsExtension, TokenStore, utc_now
from bot.logs import mask_number
from bot.settings import Settings
from bot.sipgate.errors import (
    SipgateAuthError,
    SipgateForbidden,
    SipgateLoginNeeded,
    SipgateNoAnswer,
    SipgateNoSmsExtension,
    SipgateServerError,
    SipgateUnreachable,
)
from bot.sipgate.oauth import AuthSource, FixedAuth, OAuthAccess, OAuthClient
from bot.sipgate.protocol import (
    PreparedRequest,
    SipgateAuth,
    Userinfo,
    build_balance,
    build_send_sms,
    build_sms_extensions,
    build_userinfo,
    decipher,
    parse_balance,
    parse_sms_extensions,
    parse_userinfo,
)
from bot.sipgate.reads import (
    HISTORY_PAGE,
    build_account,
    build_contacts,
    build_history,
    parse_contact_name,
    parse_history,
    parse_history_lifetime,
)

__all__ = ["SipgateClient", "client_for", "oauth_client"]

logger = logging.getLogger(__name__)


class SipgateClient:
    """Talks to sipgate REST v2 at ``base_url`` with one session and explicit timeouts."""

    #: Pause before the single repeat after a refused connection; tests set it to 0.
    retry_delay: float = 0.5

    def __init__(
        self,
        *,
        base_url: str,
        auth: SipgateAuth | AuthSource,
        timeout: float = 15.0,
        connect_timeout: float = 5.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._base_url = _checked_base_url(base_url)
        self._auth: AuthSource = FixedAuth(auth) if isinstance(auth, SipgateAuth) else auth
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)
        self._session = session
        self._owns_session = session is None
        self._closed = False

    def __repr__(self) -> str:
        return f"SipgateClient(base_url={self._base_url!r}, auth={self._auth!r})"

    async def send_sms(
        self, sms_id: str, recipient: str, message: str, send_at: datetime | None = None
    ) -> None:
        """Hand one SMS to sipgate; returning means sipgate accepted it (not delivered)."""
        await self._authorized(
            lambda auth: build_send_sms(sms_id, recipient, message, send_at, auth), sms_id=sms_id
        )
        logger.info(
            "sipgate accepted SMS from %s to %s%s",
            sms_id,
            mask_number(recipient),
            " (scheduled)" if send_at is not None else "",
        )

    async def userinfo(self) -> Userinfo:
        """Who the credentials belong to (also the cheapest credentials check)."""
        return parse_userinfo(await self._authorized(build_userinfo))

    async def sms_extensions(self, user_id: str) -> list[SmsExtension]:
        """The SMS extensions of ``user_id``, in sipgate's order."""
        body = await self._authorized(lambda auth: build_sms_extensions(user_id, auth))
        return parse_sms_extensions(body)

    async def balance(self) -> Balance:
        """The account balance (the core's ``BalanceReader``); 403 without ``balance:read``."""
        return parse_balance(await self._read(build_balance))

    async def discover_extensions(self) -> list[SmsExtension]:
        """The extensions the credentials may send from; raises if there are none."""
        user = await self.userinfo()
        extensions = await self.sms_extensions(user.sub)
        if not extensions:
            raise SipgateNoSmsExtension(user.sub)
        return extensions

    async def incoming(self, since: datetime) -> list[IncomingSms]:
        """Every incoming SMS sent at or after ``since``, oldest first (all pages)."""
        found: dict[str, IncomingSms] = {}
        offset, total = 0, 1
        while offset < total:
            page = parse_history(
                await self._read(functools.partial(build_history, since=since, offset=offset))
            )
            found.update((sms.entry_id, sms) for sms in page.entries)
            offset, total = offset + HISTORY_PAGE, page.total
        return sorted(found.values(), key=lambda sms: (sms.sent_at, sms.entry_id))

    async def contact_name(self, number: str) -> str | None:
        """The contact name of ``number``; None without a match or without contacts:read."""
        try:
            return await self.find_contact(number)
        except SipgateForbidden:
            return None

    async def find_contact(self, number: str) -> str | None:
        """The contact name of ``number``; ``SipgateForbidden`` without contacts:read."""
        return parse_contact_name(await self._read(lambda auth: build_contacts(auth, number)))

    async def history_lifetime(self) -> str:
        """How long the account keeps its history (``NONE``: nothing can be received)."""
        return parse_history_lifetime(await self._read(build_account))

    async def close(self) -> None:
        """Close the session if this client created it; a passed-in one stays open."""
        self._closed = True
        if self._owns_session and self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> SipgateClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _read(self, build: Callable[[SipgateAuth], PreparedRequest]) -> bytes:
        """A read: tried once more after a dropped connection or a 5xx (it changes nothing)."""
        try:
            return await self._authorized(build)
        except (SipgateNoAnswer, SipgateServerError) as error:
            logger.warning("sipgate read failed (%s); trying once more", error.kind)
        return await self._authorized(build)

    async def _authorized(
        self, build: Callable[[SipgateAuth], PreparedRequest], *, sms_id: str | None = None
    ) -> bytes:
        """Call with the current credentials; an OAuth token sipgate refuses (401: nothing
        was done) is refreshed, and the call made once more."""
        request = build(await self._auth.authorization())
        try:
            return await self._call(request, sms_id=sms_id)
        except SipgateAuthError:
            if not self._auth.refreshable:
                raise
            logger.warning("sipgate refused the access token; refreshing it once")
        return await self._call(build(await self._auth.authorization(fresh=True)), sms_id=sms_id)

    async def _call(self, request: PreparedRequest, *, sms_id: str | None = None) -> bytes:
        """Make the call, repeating it once only if the first never connected.

        Only ``SipgateUnreachable`` is repeated: the connection was never made, so nothing
        left the process. A timeout, a dropped connection or a 5xx may mean sipgate accepted
        the SMS, and the API has no idempotency key: never repeated. Other statuses fail the
        same way again, and a 429 is the caller's decision.
        """
        try:
            return await self._attempt(request, sms_id)
        except SipgateUnreachable:
            logger.warning("sipgate unreachable for %s %s; trying once more", *_what(request))
            await asyncio.sleep(self.retry_delay)
        return await self._attempt(request, sms_id)

    async def _attempt(self, request: PreparedRequest, sms_id: str | None) -> bytes:
        status, headers, body = await self._exchange(request)
        if not 200 <= status < 300:
            logger.warning("sipgate answered %s to %s %s", status, *_what(request))
        decipher(status, headers, body, sms_id=sms_id)
        return body

    async def _exchange(self, request: PreparedRequest) -> tuple[int, Mapping[str, str], bytes]:
        """One HTTP round trip; transport errors become typed sipgate errors."""
        try:
            async with self._get_session().request(
                request.method,
                self._base_url + request.path,
                headers=dict(request.headers),
                data=request.body(),
                timeout=self._timeout,
                allow_redirects=False,  # a redirected POST could turn into another request
            ) as response:
                return response.status, response.headers, await response.read()
        except (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError) as err:
            # Connect phase (refused, DNS, TLS, connect timeout): nothing was sent.
            raise SipgateUnreachable() from err
        except (TimeoutError, aiohttp.ClientError) as err:
            # Anything later: the request may have been written and acted on.
            name = type(err).__name__
            logger.warning("no answer from sipgate for %s %s: %s", *_what(request), name)
            raise SipgateNoAnswer() from err

    def _get_session(self) -> aiohttp.ClientSession:
        """The session, created on first use so it binds to the running loop."""
        if self._closed:
            raise RuntimeError("SipgateClient is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session


def _checked_base_url(base_url: str) -> str:
    """Normalise ``base_url`` so that ``base + "/path"`` never doubles a slash."""
    url = URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"sipgate base URL must be http(s)://host[/path], got {base_url!r}")
    return base_url.rstrip("/")


def _what(request: PreparedRequest) -> tuple[str, str]:
    """Method and path for logs; paths carry no secrets or numbers."""
    return request.method, request.path


def client_for(
    settings: Settings,
    session: aiohttp.ClientSession | None = None,
    *,
    tokens: TokenStore | None = None,
    on_dead: Callable[[], Awaitable[None]] | None = None,
    claimant: str = "",
    clock: Clock = utc_now,
) -> SipgateClient:
    """The client the settings describe: OAuth with refresh tokens from ``tokens`` (the
    ledger), a static OAuth access token, or the personal access token."""
    access: AuthSource | SipgateAuth = _fixed_auth(settings)
    if settings.sipgate_oauth_login and tokens is not None and session is not None:
        access = OAuthAccess(oauth_client(settings), tokens, session, clock=clock,
                             claimant=claimant, on_dead=on_dead or _nobody)  # fmt: skip
    return SipgateClient(
        base_url=settings.sipgate_api_url,
        auth=access,
        timeout=settings.sipgate_timeout,
        session=session,
    )


def oauth_client(settings: Settings) -> OAuthClient:
    """The bot's OAuth client at sipgate's login server."""
    return OAuthClient(
        settings.sipgate_oauth_client_id,
        settings.sipgate_oauth_client_secret.value,
        settings.sipgate_login_url,
        settings.sipgate_oauth_realm,
    )


def _fixed_auth(settings: Settings) -> AuthSource | SipgateAuth:
    if settings.sipgate_oauth_login:
        return NoLogin()
    if settings.sipgate_oauth_token:
        return SipgateAuth.oauth(settings.sipgate_oauth_token.value)
    token_id, token = settings.sipgate_token_id, settings.sipgate_token.value
    return SipgateAuth.personal_access_token(token_id, token)


async def _nobody() -> None:
    return None


class NoLogin:
    """OAuth without the ledger's tokens at hand: every call says to log in."""

    refreshable = False

    async def authorization(self, *, fresh: bool = False) -> SipgateAuth:
        raise SipgateLoginNeeded()
