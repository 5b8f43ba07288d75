"""The sandbox sipgate account's own data: contacts, account details and the balance.

Plain data with sipgate's shapes. Contacts are configured as ``number → name`` (E.164 numbers);
a name with several numbers is one contact. ``GET /contacts?phonenumbers=…`` finds contacts by
exact number, as given after URL decoding (an unencoded ``+`` arrives as a space and matches
nothing, as with sipgate).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

JsonDict = dict[str, Any]

CONTACTS_DEFAULT_LIMIT = 5000
HISTORY_LIFETIMES = frozenset({"NONE", "THIRTY_DAYS", "UNLIMITED"})


def default_account() -> JsonDict:
    """``GET /account``: history kept (``historyLifeTime`` ``NONE`` means no history at all)."""
    return {
        "company": "Sandbox GmbH",
        "mainProductType": "TEAM",
        "logoUrl": "",
        "verified": True,
        "historyLifeTime": "UNLIMITED",
    }


def default_balance() -> JsonDict:
    """``GET /balance``: ``amount`` is in 1/10,000 of ``currency`` (35000 = 3.50 EUR)."""
    return {"amount": 35000, "currency": "EUR"}


def contact_json(name: str, numbers: Sequence[str]) -> JsonDict:
    """A ``ContactResponse`` (its id is stable for a name)."""
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-contact:{name}")),
        "name": name,
        "picture": None,
        "emails": [],
        "numbers": [{"number": number, "type": ["mobile"]} for number in numbers],
        "addresses": [],
        "organization": [],
        "scope": "SHARED",
    }


def contacts_page(
    contacts: Mapping[str, str], wanted: Sequence[str], limit: int, offset: int
) -> JsonDict:
    """``{"items", "totalCount"}`` for the contacts with a number in ``wanted`` (all if empty)."""
    by_name: dict[str, list[str]] = {}
    for number, name in contacts.items():
        by_name.setdefault(name, []).append(number)
    found = [
        contact_json(name, numbers)
        for name, numbers in by_name.items()
        if not wanted or set(numbers) & set(wanted)
    ]
    return {"items": found[offset : offset + limit], "totalCount": len(found)}
