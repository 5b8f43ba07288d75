"""What we send matches sipgate's published SendWebSmsRequest, and our copy of it is exact."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import yaml
from jsonschema import Draft7Validator

from bot.sandbox.sipgate import FakeSipgate
from bot.sipgate import SipgateClient, build_send_sms
from tests.helpers import PAT, ROOT, reference_file

SCHEMA_PATH = ROOT / "tests" / "fixtures" / "sipgate_send_web_sms_request.json"
LATER = datetime.now(UTC) + timedelta(hours=2)


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture
def validator() -> Draft7Validator:
    Draft7Validator.check_schema(schema())
    return Draft7Validator(schema())


@pytest.fixture
async def fake() -> AsyncIterator[FakeSipgate]:
    async with FakeSipgate() as server:
        yield server


@pytest.mark.parametrize(
    ("message", "send_at"),
    [("Hallo", None), ("Grüße 👋 & <b>", None), ("Termin morgen", LATER)],
)
def test_built_bodies_match_schema(
    validator: Draft7Validator, message: str, send_at: datetime | None
) -> None:
    request = build_send_sms("s0", "+4915112345678", message, send_at, PAT)
    validator.validate(request.json)
    body = request.body()
    assert body is not None
    validator.validate(json.loads(body))


async def test_bodies_on_the_wire_match_schema(
    fake: FakeSipgate, validator: Draft7Validator
) -> None:
    async with SipgateClient(base_url=fake.url, auth=PAT) as sipgate:
        await sipgate.send_sms("s0", "+4915112345678", "jetzt")
        await sipgate.send_sms("s0", "+4917012345678", "später", LATER)
    assert len(fake.sms) == 2
    for post in fake.sms:
        validator.validate(post.json)


@pytest.mark.parametrize(
    "body",
    [
        {"smsId": "s0", "recipient": "+4915112345678"},
        {"smsId": "s0", "recipient": "+4915112345678", "message": 5},
        {"smsId": "s0", "recipient": "+4915112345678", "message": "x", "sendAt": "1546850272"},
        {"smsId": "s0", "recipient": "+4915112345678", "message": "x", "sendAt": None},
        {"smsId": "s0", "recipient": "+4915112345678", "message": "x", "from": "+49"},
    ],
)
async def test_fake_refuses_what_the_schema_refuses(
    fake: FakeSipgate, validator: Draft7Validator, body: dict[str, object]
) -> None:
    assert not validator.is_valid(body)
    headers = {"Authorization": PAT.header()}
    async with (
        aiohttp.ClientSession() as session,
        session.post(fake.url + "/sessions/sms", json=body, headers=headers) as response,
    ):
        assert response.status == 400
    assert fake.sms == []


async def test_fake_wants_json_content_type(fake: FakeSipgate) -> None:
    body = json.dumps({"smsId": "s0", "recipient": "+4915112345678", "message": "x"})
    headers = {"Authorization": PAT.header(), "Content-Type": "text/plain"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(fake.url + "/sessions/sms", data=body, headers=headers) as response,
    ):
        assert response.status == 415


def test_vendored_schema_equals_the_spec() -> None:
    text = reference_file("sipgate-openapi.yaml").read_text(encoding="utf-8")
    # The 200 kB spec takes ~0.7 s with the pure-Python loader; libyaml's is much faster.
    spec = (
        yaml.load(text, Loader=yaml.CSafeLoader) if yaml.__with_libyaml__ else yaml.safe_load(text)
    )
    definition = spec["definitions"]["SendWebSmsRequest"]
    vendored = schema()
    assert vendored["type"] == definition["type"]
    assert vendored["properties"] == definition["properties"]
    assert sorted(vendored["required"]) == sorted(definition["required"])
    assert vendored["additionalProperties"] is False
    assert "OUR stricter choice" in vendored["description"]
