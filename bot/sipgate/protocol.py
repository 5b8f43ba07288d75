"""The sipgate REST v2 protocol without I/O: build requests, read answers, map failures.

Keeping this pure (values in, values out) lets every status code and body shape be tested
without a server; ``client.py`` only moves bytes.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from urllib.parse import quote

from bot.core import Balance, SmsExtension, require_aware
from bot.sipgate.errors import (
    SipgateAuthError,
    SipgateBalanceError,
    SipgateError,
    SipgateForbidden,
    SipgateMalformed,
    SipgateRateLimited,
    SipgateRejected,
    SipgateServerError,
    SipgateUnexpected,
    SipgateUnreadable,
)

__all__ = [
    "BALANCE_PATH",
    "PreparedRequest",
    "SipgateAuth",
    "Userinfo",
    "build_balance",
    "build_send_sms",
    "build_sms_extensions",
    "build_userinfo",
    "decipher",
    "parse_balance",
    "parse_sms_extensions",
    "parse_userinfo",
]

SEND_SMS_PATH = "/sessions/sms"
USERINFO_PATH = "/authorization/userinfo"
BALANCE_PATH = "/balance"


@dataclass(frozen=True, repr=False)
class SipgateAuth:
    """Credentials for the Authorization header; ``repr`` never shows a secret."""

    kind: Literal["token", "oauth"]
    token_id: str = ""
    secret: str = field(default="", repr=False)

    @classmethod
    def personal_access_token(cls, token_id: str, token: str) -> SipgateAuth:
        """Personal access token, sent as HTTP Basic ``token_id:token``."""
        if not token_id or not token or ":" in token_id:
            raise ValueError("a personal access token needs a token id (no ':') and a token")
        return cls(kind="token", token_id=token_id, secret=token)

    @classmethod
    def oauth(cls, access_token: str) -> SipgateAuth:
        """OAuth2 access token, sent as ``Bearer``."""
        if not access_token:
            raise ValueError("an OAuth access token must not be empty")
        return cls(kind="oauth", secret=access_token)

    def header(self) -> str:
        """The value of the Authorization header."""
        if self.kind == "oauth":
            return f"Bearer {self.secret}"
        pair = f"{self.token_id}:{self.secret}".encode()
        return f"Basic {base64.b64encode(pair).decode('ascii')}"

    def __repr__(self) -> str:
        if self.kind == "oauth":
            return "SipgateAuth(kind='oauth')"
        return f"SipgateAuth(kind='token', token_id={self.token_id!r})"


@dataclass(frozen=True)
class Userinfo:
    """Who the credentials belong to; ``sub`` is the user id used in paths (``w0``)."""

    sub: str
    domain: str
    master_sip_id: str
    locale: str


@dataclass(frozen=True)
class PreparedRequest:
    """Everything needed to make one HTTP call, relative to the API base URL."""

    method: str
    path: str
    headers: Mapping[str, str]
    json: dict[str, object] | None = None

    def body(self) -> bytes | None:
        """The JSON body as UTF-8 bytes, so transport and tests see the same bytes."""
        if self.json is None:
            return None
        return json.dumps(self.json, ensure_ascii=False, separators=(",", ":")).encode()


def _headers(auth: SipgateAuth, *, with_body: bool) -> dict[str, str]:
    headers = {"Authorization": auth.header(), "Accept": "application/json"}
    if with_body:
        headers["Content-Type"] = "application/json"
    return headers


def build_send_sms(
    sms_id: str,
    recipient: str,
    message: str,
    send_at: datetime | None,
    auth: SipgateAuth,
) -> PreparedRequest:
    """``POST /sessions/sms``; ``sendAt`` (Unix seconds) only when scheduled.

    The key is omitted rather than sent as null, because only an int or nothing is
    documented.
    """
    body: dict[str, object] = {"smsId": sms_id, "recipient": recipient, "message": message}
    if send_at is not None:
        require_aware(send_at)
        body["sendAt"] = math.floor(send_at.timestamp())
    return PreparedRequest("POST", SEND_SMS_PATH, _headers(auth, with_body=True), body)


def build_userinfo(auth: SipgateAuth) -> PreparedRequest:
    """``GET /authorization/userinfo``: checks credentials and yields the user id."""
    return PreparedRequest("GET", USERINFO_PATH, _headers(auth, with_body=False))


def build_sms_extensions(user_id: str, auth: SipgateAuth) -> PreparedRequest:
    """``GET /{user_id}/sms``: the user's SMS extensions."""
    path = f"/{quote(user_id, safe='')}/sms"
    return PreparedRequest("GET", path, _headers(auth, with_body=False))


def build_balance(auth: SipgateAuth) -> PreparedRequest:
    """``GET /balance``: the account balance (scope ``balance:read``)."""
    return PreparedRequest("GET", BALANCE_PATH, _headers(auth, with_body=False))


def decipher(
    status: int, headers: Mapping[str, str], body: bytes, *, sms_id: str | None = None
) -> None:
    """Return if ``status`` is 2xx, else raise the matching :class:`SipgateError`.

    ``body`` is deliberately not used for the error: sipgate's error bodies have no
    reliable shape and may echo request data.
    """
    if 200 <= status < 300:
        return
    if status == 403:
        raise SipgateForbidden(status, sms_id=sms_id)
    if status == 429:
        raise SipgateRateLimited(status, sms_id=sms_id, retry_after=_retry_after(headers))
    if 500 <= status < 600:
        raise SipgateServerError(status)
    raise _BY_STATUS.get(status, SipgateUnexpected)(status)


_BY_STATUS: dict[int, type[SipgateError]] = {
    400: SipgateRejected,
    401: SipgateAuthError,
    402: SipgateBalanceError,
    404: SipgateMalformed,
    405: SipgateMalformed,
    415: SipgateMalformed,
}


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Retry-After in seconds; the HTTP-date form and nonsense count as absent."""
    raw = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        seconds = float(raw) if raw is not None else math.nan
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def parse_userinfo(body: bytes) -> Userinfo:
    """Read a ``UserinfoResponse``; only ``sub`` is required."""
    data = _load_object(body)
    sub = _text(data, "sub")
    if not sub:
        raise SipgateUnreadable()
    return Userinfo(
        sub=sub,
        domain=_text(data, "domain"),
        master_sip_id=_text(data, "masterSipId"),
        locale=_text(data, "locale"),
    )


def parse_sms_extensions(body: bytes) -> list[SmsExtension]:
    """Read an ``SmsExtensionsResponse``; an empty list is valid (Web SMS not booked)."""
    items = _load_object(body).get("items")
    if not isinstance(items, list):
        raise SipgateUnreadable()
    return [_extension(item) for item in items]


def parse_balance(body: bytes) -> Balance:
    """Read a ``BalanceResponse``: ``amount`` (an integer, 1/10,000 of the currency) and
    ``currency``; anything else is unreadable."""
    data = _load_object(body)
    amount, currency = data.get("amount"), _text(data, "currency")
    if not isinstance(amount, int) or isinstance(amount, bool) or not currency:
        raise SipgateUnreadable()
    return Balance(amount, currency)


def _extension(item: object) -> SmsExtension:
    if not isinstance(item, dict) or not _text(item, "id"):
        raise SipgateUnreadable()
    return SmsExtension(_text(item, "id"), _text(item, "alias"), _text(item, "callerId"))


def _load_object(body: bytes) -> dict[str, object]:
    """Parse a JSON object or raise SipgateUnreadable (never KeyError/TypeError)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as err:
        raise SipgateUnreadable() from err
    if not isinstance(data, dict):
        raise SipgateUnreadable()
    return data


def _text(data: dict[str, object], key: str) -> str:
    """A string field; missing or null reads as "", any other type is unreadable."""
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SipgateUnreadable()
    return value
