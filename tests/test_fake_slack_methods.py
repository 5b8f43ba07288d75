"""The Web API methods only the tests' Slack fake has, through the real slack_sdk client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.slack_api import SlackUser
from tests.fakes.slack_methods import FullApiSlack

TOKEN = "xoxb-sandbox"
MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "sms_compose",
    "title": {"type": "plain_text", "text": "Send an SMS"},
    "blocks": [],
}
HOME: dict[str, Any] = {
    "type": "home",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "12 of 30 SMS this hour"}}],
}
USERS = {
    "U_ALICE": SlackUser("U_ALICE", "alice", phone="+49 151 12345678", display_name="Alice A."),
    "U_BOB": SlackUser("U_BOB", "bob", display_name=""),
}


@pytest.fixture
async def fake() -> AsyncIterator[FullApiSlack]:
    async with FullApiSlack(users=USERS) as slack:
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


async def test_views_publish_shows_the_home_tab_per_user(
    fake: FullApiSlack, client: AsyncWebClient
) -> None:
    first = await client.views_publish(user_id="U_ALICE", view=HOME)
    again = await client.views_publish(user_id="U_ALICE", view={**HOME, "blocks": []})
    bobs = await client.views_publish(user_id="U_BOB", view=HOME)

    assert first["view"]["type"] == "home"
    assert first["view"]["id"] == again["view"]["id"] != bobs["view"]["id"]
    assert first["view"]["blocks"] == HOME["blocks"]
    assert fake.home("U_ALICE") == {**HOME, "blocks": []}
    assert fake.home("U_MALLORY") is None
    assert [published.user for published in fake.published] == ["U_ALICE", "U_ALICE", "U_BOB"]


async def test_views_publish_refuses_what_slack_refuses(client: AsyncWebClient) -> None:
    too_many = {"type": "home", "blocks": [{"type": "divider"}] * 101}
    errors = [
        await api_error(client.views_publish(user_id="U_NOBODY", view=HOME)),
        await api_error(client.views_publish(user_id="U_ALICE", view=MODAL)),
        await api_error(client.views_publish(user_id="U_ALICE", view=too_many)),
    ]
    assert [e.response["error"] for e in errors] == [
        "user_not_found",
        "invalid_arguments",
        "invalid_arguments",
    ]
    assert (await client.views_publish(user_id="U_ALICE", view={**too_many, "blocks": []}))["ok"]


# --- people and conversations ------------------------------------------------------------------


async def test_conversations_open_gives_the_dm(client: AsyncWebClient) -> None:
    opened = await client.conversations_open(users="U_BOB")
    posted = await client.chat_postMessage(channel=opened["channel"]["id"], text="your export")
    group = await client.conversations_open(users="U_BOB,U_ALICE")
    missing = await api_error(client.conversations_open(users="U_NOBODY"))
    assert opened["channel"]["id"] == posted["channel"] == "D_U_BOB"
    assert group["channel"]["id"] == "G_U_ALICE_U_BOB"
    assert missing.response["error"] == "user_not_found"


async def test_users_profile_get_has_phone_and_names(client: AsyncWebClient) -> None:
    alice = (await client.users_profile_get(user="U_ALICE"))["profile"]
    bob = (await client.users_profile_get(user="U_BOB"))["profile"]
    missing = await api_error(client.users_profile_get(user="U_NOBODY"))
    assert (alice["phone"], alice["display_name"], alice["real_name"]) == (
        "+49 151 12345678",
        "Alice A.",
        "Alice",
    )
    assert (bob["phone"], bob["display_name"], bob["real_name"]) == ("", "", "Bob")
    assert missing.response["error"] == "user_not_found"


async def test_chat_get_permalink_of_a_message_and_a_reply(
    fake: FullApiSlack, client: AsyncWebClient
) -> None:
    parent = await client.chat_postMessage(channel="C_GENERAL", text="📤 SMS #1")
    reply = fake.post_as("U_ALICE", "C_GENERAL", "thanks", thread_ts=parent["ts"])

    top = await client.chat_getPermalink(channel="C_GENERAL", message_ts=parent["ts"])
    threaded = await client.chat_getPermalink(channel="C_GENERAL", message_ts=reply.ts)
    no_message = await api_error(client.chat_getPermalink(channel="C_GENERAL", message_ts="1.2"))
    no_channel = await api_error(client.chat_getPermalink(channel="C_NONE", message_ts="1.2"))

    digits = parent["ts"].replace(".", "")
    assert top["permalink"] == f"https://sandbox.slack.com/archives/C_GENERAL/p{digits}"
    assert threaded["permalink"].endswith(f"?thread_ts={parent['ts']}&cid=C_GENERAL")
    assert (no_message.response["error"], no_channel.response["error"]) == (
        "message_not_found",
        "channel_not_found",
    )


async def test_apps_connections_open_refuses_a_bot_token(client: AsyncWebClient) -> None:
    error = await api_error(client.apps_connections_open(app_token=TOKEN))
    assert error.response["error"] == "not_allowed_token_type"


# --- files -------------------------------------------------------------------------------------


async def test_files_upload_v2_shares_the_bytes_in_the_channel(
    fake: FullApiSlack, client: AsyncWebClient
) -> None:
    content = b"request id,created\n1,2026-12-07T10:00:00Z\n"

    answer = await client.files_upload_v2(
        channel="D_U_BOB",
        content=content,
        filename="sms-export.csv",
        title="SMS export, 30 days",
        initial_comment="Here is the export",
    )

    (upload,) = fake.uploads.values()
    assert upload.content == content
    assert upload.length == len(content)
    assert (upload.filename, upload.title, upload.channel) == (
        "sms-export.csv",
        "SMS export, 30 days",
        "D_U_BOB",
    )
    assert upload.initial_comment == "Here is the export"
    assert answer["file"]["id"] == upload.file_id
    assert answer["file"]["size"] == len(content)
    assert [c.method for c in fake.calls] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    assert "[file: SMS export, 30 days]" in fake.messages("U_BOB")[0].text


async def test_completing_an_upload_that_never_arrived_fails(
    fake: FullApiSlack, client: AsyncWebClient
) -> None:
    started = await client.files_getUploadURLExternal(filename="x.csv", length=3)
    bad_length = await api_error(client.files_getUploadURLExternal(filename="x.csv", length=0))
    early = await api_error(
        client.files_completeUploadExternal(files=[{"id": started["file_id"], "title": "x"}])
    )
    assert started["upload_url"] == f"{fake.origin}/upload/{started['file_id']}"
    assert bad_length.response["error"] == "invalid_arguments"
    assert early.response["error"] == "file_not_found"
    assert not fake.uploads[started["file_id"]].shared
