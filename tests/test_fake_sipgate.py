"""The sipgate fake's reads: history, contacts, account, balance, scopes and scripted trouble."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bot.sandbox.sipgate import DROP, FakeSipgate, Scripted
from tests.fakes.sipgate import ScriptedSipgate
from tests.helpers import PAT

AUTH = {"Authorization": PAT.header()}
T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
ANNA = "+4915112345678"
BEN = "+4917012345678"
Query = list[tuple[str, str]]


@pytest.fixture
async def fake() -> AsyncIterator[ScriptedSipgate]:
    async with ScriptedSipgate() as server:
        server.clock = lambda: T0
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


async def get(
    http: aiohttp.ClientSession, fake: FakeSipgate, path: str, query: Query | None = None
) -> tuple[int, Any]:
    """GET ``path`` (query as repeated keys); the status and the JSON body (None if none)."""
    async with http.get(fake.url + path, params=query or []) as response:
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body


async def history(http: aiohttp.ClientSession, fake: FakeSipgate, query: Query) -> Any:
    status, body = await get(http, fake, "/history", query)
    assert status == 200, body
    return body


# --- history -----------------------------------------------------------------------------------


async def test_an_incoming_sms_is_in_the_history_as_sipgate_shows_it(
    fake: ScriptedSipgate, http: aiohttp.ClientSession
) -> None:
    entry = fake.receive_sms(ANNA, "Yes, 3pm works", at=T0)

    page = await history(http, fake, [("types", "SMS"), ("directions", "INCOMING")])

    assert page == {"items": [entry], "totalCount": 1}
    assert entry == {
        "id": entry["id"],
        "source": ANNA,
        "target": "+4915799912345",
        "sourceAlias": "",
        "targetAlias": "",
        "type": "SMS",
        "created": "2026-12-07T10:00:00Z",
        "lastModified": "2026-12-07T10:00:00Z",
        "direction": "INCOMING",
        "incoming": True,
        "status": "PICKUP",
        "connectionIds": ["s0"],
        "read": False,
        "archived": False,
        "note": "",
        "endpoints": [],
        "starred": "UNSTARRED",
        "labels": [],
        "smsContent": "Yes, 3pm works",
        "scheduled": None,
    }


async def test_history_is_newest_first_ten_by_default_and_paged(
    fake: ScriptedSipgate, http: aiohttp.ClientSession
) -> None:
    for minute in range(12):
        fake.receive_sms(ANNA, f"sms {minute}", at=T0 + timedelta(minutes=minute))

    default = await history(http, fake, [])
    second = await history(http, fake, [("limit", "5"), ("offset", "10")])

    assert [e["smsContent"] for e in default["items"]] == [f"sms {m}" for m in range(11, 1, -1)]
    assert default["totalCount"] == 12
    assert [e["smsContent"] for e in second["items"]] == ["sms 1", "sms 0"]
    assert fake.history_requests[1].param("offset") == ["10"]
    assert [r.param("limit") for r in fake.history_requests] == [[], ["5"]]


async def test_history_filters_by_direction_type_time_and_number(
    fake: ScriptedSipgate, http: aiohttp.ClientSession
) -> None:
    fake.receive_sms(ANNA, "early", at=T0)
    fake.receive_sms(BEN, "late", at=T0 + timedelta(hours=1))
    async with http.post(
        fake.url + "/sessions/sms", json={"smsId": "s0", "recipient": BEN, "message": "out"}
    ) as sent:
        assert sent.status == 204

    incoming = await history(http, fake, [("types", "SMS"), ("directions", "INCOMING")])
    outgoing = await history(http, fake, [("directions", "OUTGOING")])
    both = await history(http, fake, [("directions", "INCOMING"), ("directions", "OUTGOING")])
    since = await history(http, fake, [("from", "2026-12-07T10:30:00Z")])
    until = await history(http, fake, [("to", "2026-12-07T10:00:00+00:00")])
    calls = await history(http, fake, [("types", "CALL")])
    bens = await history(http, fake, [("phonenumber", BEN)])

    assert [e["smsContent"] for e in incoming["items"]] == ["late", "early"]
    (out,) = outgoing["items"]
    assert (out["source"], out["target"], out["incoming"]) == ("+4915799912345", BEN, False)
    assert out["created"] == "2026-12-07T10:00:00Z"
    assert both["totalCount"] == 3
    assert [e["smsContent"] for e in since["items"]] == ["late"]
    assert [e["smsContent"] for e in until["items"]] == ["out", "early"]
    assert calls == {"items": [], "totalCount": 0}
    assert {e["smsContent"] for e in bens["items"]} == {"late", "out"}


@pytest.mark.parametrize(
    "query",
    [
        [("limit", "1001")],
        [("limit", "0")],
        [("offset", "-1")],
        [("types", "TELEGRAM")],
        [("directions", "SIDEWAYS")],
        [("from", "yesterday")],
    ],
    ids=["limit-over-1000", "limit-0", "negative-offset", "unknown-type", "unknown-direction",
         "from-not-iso"],
)  # fmt: skip
async def test_history_refuses_a_bad_query(
    fake: ScriptedSipgate, http: aiohttp.ClientSession, query: Query
) -> None:
    status, _ = await get(http, fake, "/history", query)
    assert status == 400
    assert (await history(http, fake, [("limit", "1000")]))["totalCount"] == 0


# --- contacts, account, balance ----------------------------------------------------------------


async def test_contacts_by_number_with_the_plus_encoded(
    fake: ScriptedSipgate, http: aiohttp.ClientSession
) -> None:
    fake.contacts = {ANNA: "Anna Schmidt", "+4930123456": "Anna Schmidt", BEN: "Ben Meyer"}

    status, found = await get(http, fake, "/contacts", [("phonenumbers", ANNA)])
    async with http.get(f"{fake.url}/contacts?phonenumbers={ANNA}") as raw:  # "+" unencoded
        unencoded = await raw.json()

    assert status == 200
    (anna,) = found["items"]
    assert found["totalCount"] == 1
    assert anna["name"] == "Anna Schmidt"
    assert anna["numbers"] == [
        {"number": ANNA, "type": ["mobile"]},
        {"number": "+4930123456", "type": ["mobile"]},
    ]
    assert anna["id"]
    assert fake.received[-2].query == (("phonenumbers", ANNA),)
    assert unencoded == {"items": [], "totalCount": 0}  # the "+" arrived as a space


async def test_account_and_balance_are_configurable(
    fake: ScriptedSipgate, http: aiohttp.ClientSession
) -> None:
    _, account = await get(http, fake, "/account")
    _, balance = await get(http, fake, "/balance")
    fake.account["historyLifeTime"] = "NONE"
    fake.balance = {"amount": 1200, "currency": "EUR"}
    _, no_history = await get(http, fake, "/account")
    _, low = await get(http, fake, "/balance")

    assert set(account) == {"company", "mainProductType", "logoUrl", "verified", "historyLifeTime"}
    assert (account["verified"], account["historyLifeTime"]) == (True, "UNLIMITED")
    assert balance == {"amount": 35000, "currency": "EUR"}
    assert no_history["historyLifeTime"] == "NONE"
    assert low == {"amount": 1200, "currency": "EUR"}


# --- scopes and scripted trouble ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "scope"),
    [("/history", "history:read"), ("/contacts", "contacts:read"),
     ("/balance", "balance:read"), ("/account", "account:read"), ("/w0/sms", "sms:read")],
)  # fmt: skip
async def test_a_read_without_its_scope_is_403(
    fake: ScriptedSipgate, http: aiohttp.ClientSession, path: str, scope: str
) -> None:
    fake.scopes = {"sessions:sms:write"}
    forbidden, _ = await get(http, fake, path)
    fake.scopes.add(scope)
    allowed, _ = await get(http, fake, path)
    assert (forbidden, allowed) == (403, 200)


async def test_sending_needs_a_sessions_scope_and_userinfo_none(
    fake: ScriptedSipgate, http: aiohttp.ClientSession
) -> None:
    fake.scopes = {"history:read"}
    body = {"smsId": "s0", "recipient": ANNA, "message": "hi"}
    async with http.post(fake.url + "/sessions/sms", json=body) as refused:
        assert refused.status == 403
    assert (await get(http, fake, "/authorization/userinfo"))[0] == 200
    fake.scopes = {"sessions:sms:write"}
    async with http.post(fake.url + "/sessions/sms", json=body) as sent:
        assert sent.status == 204
    assert len(fake.sms) == 1


async def test_scripted_reads_are_played_once_then_the_real_answer(
    fake: ScriptedSipgate, http: aiohttp.ClientSession
) -> None:
    fake.script_read("history", Scripted(status=503), Scripted(status=401))
    fake.script_read("balance", Scripted(status=403))

    statuses = [(await get(http, fake, "/history"))[0] for _ in range(3)]
    balance = [(await get(http, fake, "/balance"))[0] for _ in range(2)]

    assert statuses == [503, 401, 200]
    assert balance == [403, 200]
    assert fake.unused_reads == {}
    with pytest.raises(ValueError, match="not one of"):
        fake.script_read("calls", Scripted(status=500))


async def test_a_scripted_read_can_drop_the_connection(
    fake: ScriptedSipgate, http: aiohttp.ClientSession
) -> None:
    fake.script_read("contacts", DROP)
    assert (await get(http, fake, "/contacts"))[0] == 200  # aiohttp repeats a dropped GET once
    fake.script_read("contacts", DROP, DROP)

    with pytest.raises(aiohttp.ServerDisconnectedError):
        await get(http, fake, "/contacts")

    assert [r.path for r in fake.received] == ["/v2/contacts"] * 4
    assert fake.unused_reads == {}
