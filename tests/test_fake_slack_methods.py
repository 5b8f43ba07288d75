"""The Web API methods only the tests' Slack fake has, through the real slack_sdk client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_methods import FullApiSlack

TOKEN = "xoxb-sandbox"
MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "sms_compose",
    "title": {"type": "plain_text", "text": "Send an SMS"},
    "blocks": [],
}


@pytest.fixture
async def fake() -> AsyncIterator[FullApiSlack]:
    async with FullApiSlack() as slack:
        yield slack


@pytest.fixture
def client(fake: FullApiSlack) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=fake.api_url)


async def api_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


# --- views -------------------------------------------------------------------------------------


async def test_views_update_and_invalid_views(fake: FullApiSlack, client: AsyncWebClient) -> None:
    opened = await client.views_open(trigger_id="1.2.3", view=MODAL)
    updated = {**MODAL, "title": {"type": "plain_text", "text": "Sent"}, "blocks": []}
    await client.views_update(view_id=opened["view"]["id"], view=updated)
    long_title = {**MODAL, "title": {"type": "plain_text", "text": "x" * 25}}
    invalid = await api_error(client.views_open(trigger_id="4.5.6", view=long_title))
    unknown = await api_error(client.views_update(view_id="V_NONE", view=MODAL))
    assert (invalid.response["error"], unknown.response["error"]) == (
        "invalid_arguments",
        "not_found",
    )
    assert [v.method for v in fake.views] == ["views.open", "views.update"]
    assert fake.transcript().splitlines()[-1] == '[modal updated: "Sent"]'


# --- people and conversations ------------------------------------------------------------------


async def test_conversations_open_gives_the_dm(client: AsyncWebClient) -> None:
    opened = await client.conversations_open(users="U_BOB")
    posted = await client.chat_postMessage(channel=opened["channel"]["id"], text="your export")
    group = await client.conversations_open(users="U_BOB,U_ALICE")
    missing = await api_error(client.conversations_open(users="U_NOBODY"))
    assert opened["channel"]["id"] == posted["channel"] == "D_U_BOB"
    assert group["channel"]["id"] == "G_U_ALICE_U_BOB"
    assert missing.response["error"] == "user_not_found"


async def test_apps_connections_open_refuses_a_bot_token(client: AsyncWebClient) -> None:
    error = await api_error(client.apps_connections_open(app_token=TOKEN))
    assert error.response["error"] == "not_allowed_token_type"
