"""The sipgate reads behind incoming SMS, without I/O: history pages, contacts, the account.

``GET /history`` answers ten entries unless asked for more, newest first, with ``totalCount``;
a poll always passes ``limit`` and pages with ``offset`` until it has ``totalCount``. Nothing
here changes sipgate's history (no archive, no read flag: people use those).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from bot.core import IncomingSms
from bot.sipgate.errors import SipgateUnreadable
from bot.sipgate.protocol import PreparedRequest, SipgateAuth

HISTORY_PAGE = 100  # entries per page (sipgate allows up to 1000)


def build_history(auth: SipgateAuth, *, since: datetime, offset: int) -> PreparedRequest:
    """One page of incoming SMS sent at or after ``since``."""
    query = urlencode(
        [
            ("types", "SMS"),
            ("directions", "INCOMING"),
            ("from", since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")),
            ("limit", str(HISTORY_PAGE)),
            ("offset", str(offset)),
        ]
    )
    return _get(f"/history?{query}", auth)


def build_contacts(auth: SipgateAuth, number: str) -> PreparedRequest:
    """The contacts with ``number`` (its ``+`` percent-encoded)."""
    return _get(f"/contacts?phonenumbers={quote(number, safe='')}", auth)


def build_account(auth: SipgateAuth) -> PreparedRequest:
    return _get("/account", auth)


def _get(path: str, auth: SipgateAuth) -> PreparedRequest:
    return PreparedRequest(
        "GET", path, {"Authorization": auth.header(), "Accept": "application/json"}
    )


@dataclass(frozen=True)
class HistoryPage:
    entries: list[IncomingSms]
    total: int


def parse_history(body: bytes) -> HistoryPage:
    """The SMS entries of a ``HistoryResponse`` (entries of other kinds are skipped)."""
    data = _object(body)
    items, total = data.get("items"), data.get("totalCount")
    if not isinstance(items, list) or not isinstance(total, int):
        raise SipgateUnreadable()
    return HistoryPage([sms for sms in map(_sms, items) if sms is not None], total)


def _sms(item: object) -> IncomingSms | None:
    if not isinstance(item, dict) or item.get("type") != "SMS":
        return None
    fields = [item.get(name) for name in ("id", "source", "target", "smsContent", "created")]
    if not all(isinstance(value, str) for value in fields[:2] + fields[4:]):
        raise SipgateUnreadable()
    entry_id, source, target, text, created = (str(value or "") for value in fields)
    return IncomingSms(entry_id, source, target, text, _moment(created))


def _moment(raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise SipgateUnreadable() from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_contact_name(body: bytes) -> str | None:
    """The first contact's name, if any."""
    items = _object(body).get("items")
    if not isinstance(items, list):
        raise SipgateUnreadable()
    names = [item.get("name") for item in items if isinstance(item, dict)]
    return next((name for name in names if isinstance(name, str) and name.strip()), None)


def parse_history_lifetime(body: bytes) -> str:
    """``historyLifeTime`` of the account (``NONE``: no history is kept)."""
    value = _object(body).get("historyLifeTime")
    return value if isinstance(value, str) else ""


def _object(body: bytes) -> dict[str, object]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise SipgateUnreadable() from None
    if not isinstance(data, dict):
        raise SipgateUnreadable()
    return data
