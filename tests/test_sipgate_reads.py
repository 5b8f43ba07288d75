"""The sipgate reads behind incoming SMS, at the HTTP level: SipgateClient against the fake.

``GET /history`` with the query sipgate documents (types, directions, limit, offset, from),
paged until ``totalCount``; ``GET /contacts?phonenumbers=%2B49…``; ``GET /account``. A read
changes nothing at sipgate, so a 5xx or a dropped connection is tried once more; a second
failure surfaces.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.sandbox.sipgate import DROP, HANG, ReceivedRequest, Scripted
from bot.sandbox.sipgate_history import HistoryQuery
from bot.sipgate import (
    SipgateClient,
    SipgateNoAnswer,
    SipgateServerError,
    SipgateUnreadable,
)
from bot.sipgate.reads import HISTORY_PAGE, build_contacts
from tests.fakes.sipgate import ScriptedSipgate
from tests.helpers import PAT

ANNA = "+4915112345678"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def fake() -> AsyncIterator[ScriptedSipgate]:
    async with ScriptedSipgate() as server:
        server.clock = lambda: T0
        yield server


@pytest.fixture
async def client(fake: ScriptedSipgate) -> AsyncIterator[SipgateClient]:
    async with SipgateClient(base_url=fake.url, auth=PAT, timeout=0.3) as sipgate:
        sipgate.retry_delay = 0
        yield sipgate


def params(request: ReceivedRequest) -> dict[str, list[str]]:
    """The query of a request, each name with all its values in order."""
    found: dict[str, list[str]] = {}
    for name, value in request.query:
        found.setdefault(name, []).append(value)
    return found


# --- GET /history ------------------------------------------------------------------------------


async def test_history_is_read_with_sipgates_query(
    fake: ScriptedSipgate, client: SipgateClient
) -> None:
    fake.receive_sms(ANNA, "Yes, 3pm works", at=T0)

    (sms,) = await client.incoming(T0 - timedelta(minutes=5))

    (request,) = fake.history_requests
    assert request.method == "GET"
    assert params(request) == {
        "types": ["SMS"],
        "directions": ["INCOMING"],
        "from": ["2026-03-02T08:55:00Z"],
        "limit": [str(HISTORY_PAGE)],
        "offset": ["0"],
    }
    assert request.headers["Authorization"] == PAT.header()
    assert (sms.source, sms.text, sms.sent_at) == (ANNA, "Yes, 3pm works", T0)
    assert sms.target == fake.extensions[0].caller_id


async def test_history_from_is_utc_whatever_the_zone_asked(
    fake: ScriptedSipgate, client: SipgateClient
) -> None:
    berlin = T0.astimezone(ZoneInfo("Europe/Berlin"))

    await client.incoming(berlin)

    assert fake.history_requests[0].param("from") == ["2026-03-02T09:00:00Z"]


async def test_every_page_is_read_until_the_total_oldest_first(
    fake: ScriptedSipgate, client: SipgateClient
) -> None:
    for second in range(250):
        fake.receive_sms(ANNA, f"sms {second}", at=T0 + timedelta(seconds=second))

    found = await client.incoming(T0)

    assert [sms.text for sms in found] == [f"sms {second}" for second in range(250)]
    pages = fake.history_requests
    assert [request.param("offset") for request in pages] == [["0"], ["100"], ["200"]]
    assert all(request.param("limit") == [str(HISTORY_PAGE)] for request in pages)
    assert {request.param("from")[0] for request in pages} == {"2026-03-02T09:00:00Z"}


async def test_an_empty_history_is_one_request(
    fake: ScriptedSipgate, client: SipgateClient
) -> None:
    assert await client.incoming(T0) == []
    assert len(fake.history_requests) == 1


async def test_entries_older_than_from_are_not_returned(
    fake: ScriptedSipgate, client: SipgateClient
) -> None:
    fake.receive_sms(ANNA, "old", at=T0 - timedelta(hours=1))
    fake.receive_sms(ANNA, "new", at=T0 + timedelta(seconds=1))

    assert [sms.text for sms in await client.incoming(T0)] == ["new"]


async def test_an_outgoing_sms_is_not_incoming(
    fake: ScriptedSipgate, client: SipgateClient
) -> None:
    await client.send_sms("s0", ANNA, "Your technician comes at 3")
    fake.receive_sms(ANNA, "Thanks", at=T0)

    assert [sms.text for sms in await client.incoming(T0)] == ["Thanks"]


# --- GET /contacts and /account ----------------------------------------------------------------


def test_the_contacts_query_percent_encodes_the_plus() -> None:
    assert build_contacts(PAT, ANNA).path == "/contacts?phonenumbers=%2B4915112345678"


async def test_a_contact_name_is_found_by_the_encoded_number(
    fake: ScriptedSipgate, client: SipgateClient
) -> None:
    fake.contacts[ANNA] = "Anna Schmidt"

    name = await client.contact_name(ANNA)

    (request,) = [r for r in fake.received if r.path == "/v2/contacts"]
    assert request.param("phonenumbers") == [ANNA]  # an unencoded "+" would arrive as " "
    assert name == "Anna Schmidt"


async def test_no_contact_and_no_contacts_scope_mean_no_name(
    fake: ScriptedSipgate, client: SipgateClient
) -> None:
    fake.contacts["+4915199999999"] = "Someone Else"
    assert await client.contact_name(ANNA) is None

    fake.scopes = {"history:read"}
    fake.contacts[ANNA] = "Anna Schmidt"
    assert await client.contact_name(ANNA) is None  # 403: contacts:read is optional


async def test_the_accounts_history_lifetime_is_read(
    fake: ScriptedSipgate, client: SipgateClient
) -> None:
    assert await client.history_lifetime() == "UNLIMITED"
    fake.account["historyLifeTime"] = "NONE"
    assert await client.history_lifetime() == "NONE"
    assert [r.path for r in fake.received] == ["/v2/account", "/v2/account"]


# --- a read is tried once more -----------------------------------------------------------------


@pytest.mark.parametrize(
    "first", [Scripted(status=500), Scripted(status=503), DROP], ids=["500", "503", "dropped"]
)
async def test_a_history_read_is_retried_once_after_a_failure(
    fake: ScriptedSipgate, client: SipgateClient, first: Scripted
) -> None:
    fake.receive_sms(ANNA, "Yes", at=T0)
    fake.script_read("history", first)

    found = await client.incoming(T0)

    assert [sms.text for sms in found] == ["Yes"]
    assert len(fake.history_requests) == 2


async def test_a_second_history_failure_surfaces(
    fake: ScriptedSipgate, client: SipgateClient
) -> None:
    fake.script_read("history", Scripted(status=503), Scripted(status=502))

    with pytest.raises(SipgateServerError):
        await client.incoming(T0)

    assert len(fake.history_requests) == 2


async def test_a_history_read_that_hangs_twice_surfaces_as_no_answer(
    fake: ScriptedSipgate, client: SipgateClient
) -> None:
    fake.script_read("history", HANG, HANG)

    with pytest.raises(SipgateNoAnswer):
        await client.incoming(T0)

    assert len(fake.history_requests) == 2


async def test_a_failure_on_a_later_page_is_retried_on_that_page(
    fake: ScriptedSipgate, client: SipgateClient
) -> None:
    for second in range(150):
        fake.receive_sms(ANNA, f"sms {second}", at=T0 + timedelta(seconds=second))
    query = HistoryQuery(frozenset({"SMS"}), frozenset({"INCOMING"}), since=T0, limit=100)
    first_page = json.dumps(fake.history.page(query)).encode()

    fake.script_read("history", Scripted(status=200, body=first_page), Scripted(status=500))
    found = await client.incoming(T0)

    assert len(found) == 150
    assert [r.param("offset") for r in fake.history_requests] == [["0"], ["100"], ["100"]]


async def read(client: SipgateClient, name: str) -> str | None:
    """The read the bot makes of ``name``: Anna's contact name, or the history lifetime."""
    if name == "contacts":
        return await client.contact_name(ANNA)
    return await client.history_lifetime()


@pytest.mark.parametrize(
    ("name", "answer"), [("contacts", "Anna Schmidt"), ("account", "UNLIMITED")]
)
async def test_other_reads_are_retried_once_and_then_surface(
    fake: ScriptedSipgate, client: SipgateClient, name: str, answer: str
) -> None:
    fake.contacts[ANNA] = "Anna Schmidt"
    fake.script_read(name, Scripted(status=502))
    assert await read(client, name) == answer

    fake.script_read(name, Scripted(status=502), Scripted(status=503))
    with pytest.raises(SipgateServerError):
        await read(client, name)
    assert len([r for r in fake.received if r.path == f"/v2/{name}"]) == 4


async def test_a_history_answer_that_is_not_sipgates_shape_is_unreadable(
    fake: ScriptedSipgate, client: SipgateClient
) -> None:
    fake.script_read("history", Scripted(status=200, body=b'{"items": "nope"}'))

    with pytest.raises(SipgateUnreadable):
        await client.incoming(T0)
