"""Thin aiohttp transport for the sipgate protocol in ``protocol.py``.

It moves bytes, turns transport failures into ``SipgateNoAnswer``/``SipgateUnreachable``
and repeats a call only when the connection was never made: an SMS that may have
reached sipgate is never sent a second time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType

import aiohttp
from yarl import URL

from bot.core import Balance, SmsExtension
from bot.logs import mask_number
from bot.settings import Settings
from bot.sipgate.errors import (
    SipgateNoAnswer,
    SipgateNoSmsExtension,
    SipgateUnreachable,
)
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

__all__ = ["SipgateClient", "client_for"]

logger = logging.getLogger(__name__)


class SipgateClient:
    """Talks to sipgate REST v2 at ``base_url`` with one session and explicit timeouts."""

    #: Pause before the single repeat after a refused connection; tests set it to 0.
    retry_delay: float = 0.5

    def __init__(
        self,
        *,
        base_url: str,
        auth: SipgateAuth,
        timeout: float = 15.0,
        connect_timeout: float = 5.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._base_url = _checked_base_url(base_url)
        self._auth = auth
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
        request = build_send_sms(sms_id, recipient, message, send_at, self._auth)
        await self._call(request, sms_id=sms_id)
        logger.info(
            "sipgate accepted SMS from %s to %s%s",
            sms_id,
            mask_number(recipient),
            " (scheduled)" if send_at is not None else "",
        )

    async def userinfo(self) -> Userinfo:
        """Who the credentials belong to (also the cheapest credentials check)."""
        return parse_userinfo(await self._call(build_userinfo(self._auth)))

    async def sms_extensions(self, user_id: str) -> list[SmsExtension]:
        """The SMS extensions of ``user_id``, in sipgate's order."""
        return parse_sms_extensions(await self._call(build_sms_extensions(user_id, self._auth)))

    async def balance(self) -> Balance:
        """The account balance (the core's ``BalanceReader``); 403 without ``balance:read``."""
        return parse_balance(await self._call(build_balance(self._auth)))

    async def discover_extensions(self) -> list[SmsExtension]:
        """The extensions the credentials may send from; raises if there are none."""
        user = await self.userinfo()
        extensions = await self.sms_extensions(user.sub)
        if not extensions:
            raise SipgateNoSmsExtension(user.sub)
        return extensions

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


def client_for(settings: Settings, session: aiohttp.ClientSession | None = None) -> SipgateClient:
    """The client the settings describe: OAuth when a bearer token is set, else the PAT."""
    if settings.sipgate_oauth_token:
        auth = SipgateAuth.oauth(settings.sipgate_oauth_token.value)
    else:
        auth = SipgateAuth.personal_access_token(
            settings.sipgate_token_id, settings.sipgate_token.value
        )
    return SipgateClient(
        base_url=settings.sipgate_api_url,
        auth=auth,
        timeout=settings.sipgate_timeout,
        session=session,
    )
