"""The sandbox's FakeSlack against the real slack_sdk clients and a real Bolt AsyncApp."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
import pytest
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack_api import SlackUser
from bot.sandbox.slack_requests import (
    block_actions_payload,
    form_body,
    interactive_body,
    modal_state,
    signed_headers,
    slash_command_fields,
    view_submission_payload,
)

TOKEN = "xoxb-sandbox"
SECRET = "s"
MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "sms_compose",
    "title": {"type": "plain_text", "text": "Send an SMS"},
    "submit": {"type": "plain_text", "text": "Send"},
    "private_metadata": json.dumps({"channel_id": "C_GENERAL"}),
    "blocks": [
        {
            "type": "input",
            "block_id": block,
            "label": {"type": "plain_text", "text": label},
            "element": {"type": "plain_text_input", "action_id": block},
        }
        for block, label in (("to", "To"), ("message", "Message"))
    ],
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(usergroups={"S_SMS": ["U_ALICE", "U_BOB"]}) as slack:
        yield slack


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=fake.api_url)


async def api_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


# --- messages ------------------------------------------------------------------------------


async def test_post_reply_update_show_in_messages_and_transcript(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    parent = await client.chat_postMessage(channel="C_GENERAL", text="📤 SMS from <@U_ALICE>")
    reply = await client.chat_postMessage(
        channel="C_GENERAL", text="✅ accepted by sipgate", thread_ts=parent["ts"]
    )
    await client.chat_update(channel="C_GENERAL", ts=parent["ts"], text="📤 done — ✅ accepted")
    first, second = fake.messages("C_GENERAL")
    assert (first.ts, first.text, first.edited, first.user) == (
        parent["ts"],
        "📤 done — ✅ accepted",
        True,
        "U_BOT",
    )
    assert (second.ts, second.thread_ts) == (reply["ts"], parent["ts"])
    assert float(second.ts) > float(first.ts)
    assert fake.transcript() == (
        "#C_GENERAL\n  bot: 📤 done — ✅ accepted  (edited)\n    └ bot: ✅ accepted by sipgate\n"
    )


async def test_post_message_answer_and_blocks(fake: FakeSlack, client: AsyncWebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "a &lt;b&gt;"}}]
    answer = await client.chat_postMessage(channel="C_GENERAL", text="fallback", blocks=blocks)
    assert answer["ts"] == "1700000000.000100"
    assert answer["channel"] == "C_GENERAL"
    assert answer["message"]["blocks"] == blocks
    assert fake.messages("C_GENERAL")[0].blocks == blocks
    assert "bot: a <b>" in fake.transcript()


async def test_form_encoded_call_with_token_field(fake: FakeSlack) -> None:
    form = {"token": TOKEN, "channel": "C_GENERAL", "text": "hi", "blocks": "[]"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(fake.api_url + "chat.postMessage", data=form) as resp,
    ):
        answer = await resp.json()
    assert answer["ok"] is True
    assert fake.calls[-1].token == TOKEN
    assert "token" not in fake.calls[-1].args
    assert fake.messages("C_GENERAL")[0].text == "hi"


async def test_message_errors(fake: FakeSlack, client: AsyncWebClient) -> None:
    missing = await api_error(client.chat_update(channel="C_GENERAL", ts="1.2", text="x"))
    bad_blocks = await api_error(
        client.api_call("chat.postMessage", json={"channel": "C", "blocks": "{"})
    )
    no_text = await api_error(client.api_call("chat.postMessage", json={"channel": "C"}))
    assert missing.response["error"] == "message_not_found"
    assert bad_blocks.response["error"] == "invalid_blocks"
    assert no_text.response["error"] == "no_text"


async def test_dm_by_user_id_is_stored_under_the_dm(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    answer = await client.chat_postMessage(channel="U_BOB", text="your send went out")
    assert answer["channel"] == "D_U_BOB"
    assert [m.text for m in fake.messages("D_U_BOB")] == ["your send went out"]
    assert fake.messages("U_BOB") == fake.messages("D_U_BOB")
    assert fake.transcript() == "DM with bob\n  bot: your send went out\n"


async def test_ephemeral_is_recorded_for_its_user(fake: FakeSlack, client: AsyncWebClient) -> None:
    answer = await client.chat_postEphemeral(channel="C_GENERAL", user="U_ALICE", text="psst")
    (ephemeral,) = fake.ephemerals
    assert (ephemeral.ts, ephemeral.user, ephemeral.text) == (
        answer["message_ts"],
        "U_ALICE",
        "psst",
    )
    assert fake.messages("C_GENERAL") == []
    assert fake.transcript() == "#C_GENERAL\n  (only visible to you, alice) bot: psst\n"


# --- other methods -------------------------------------------------------------------------


async def test_auth_test_identity(client: AsyncWebClient) -> None:
    answer = await client.auth_test()
    assert (answer["user_id"], answer["bot_id"], answer["team_id"]) == (
        "U_BOT",
        "B_BOT",
        "T_SANDBOX",
    )
    assert answer["team"] == "Sandbox"
    assert answer["url"]


async def test_users_info_time_zones(client: AsyncWebClient) -> None:
    bob = (await client.users_info(user="U_BOB"))["user"]
    alice = (await client.users_info(user="U_ALICE"))["user"]
    assert (bob["name"], bob["tz"]) == ("bob", "America/New_York")
    assert bob["tz_offset"] in (-18000, -14400)
    assert alice["tz"] == "Europe/Berlin"
    assert alice["tz_offset"] in (3600, 7200)
    assert {"id", "name", "real_name", "tz", "tz_label", "tz_offset"} <= set(bob)
    missing = await api_error(client.users_info(user="U_NOBODY"))
    assert missing.response["error"] == "user_not_found"


async def test_users_info_fixed_offset() -> None:
    users = {"U_KIM": SlackUser("U_KIM", "kim", "Asia/Tokyo", tz_offset=32400)}
    async with FakeSlack(users=users) as slack:
        client = AsyncWebClient(token=TOKEN, base_url=slack.api_url)
        kim = (await client.users_info(user="U_KIM"))["user"]
    assert (kim["tz"], kim["tz_offset"]) == ("Asia/Tokyo", 32400)


async def test_usergroups_users_list(client: AsyncWebClient) -> None:
    assert (await client.usergroups_users_list(usergroup="S_SMS"))["users"] == ["U_ALICE", "U_BOB"]
    missing = await api_error(client.usergroups_users_list(usergroup="S_NONE"))
    assert missing.response["error"] == "no_such_subteam"


async def test_a_method_slack_does_not_have_is_unknown_method(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    misspelled = await api_error(client.api_call("chat.postMesage", json={"channel": "C"}))
    unknown = await api_error(client.api_call("reactions.add", json={"name": "x"}))
    assert misspelled.response["error"] == unknown.response["error"] == "unknown_method"
    assert misspelled.response.status_code == 200
    assert misspelled.response["req_method"] == "chat.postMesage"
    assert [call.method for call in fake.calls] == ["chat.postMesage", "reactions.add"]
    assert fake.messages("C") == []


async def test_wait_for_times_out_listing_the_calls(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    await client.auth_test()
    with pytest.raises(AssertionError, match=r"chat\.postMessage[\s\S]*auth\.test"):
        await fake.wait_for("chat.postMessage", timeout=0.05)
    assert [call.method for call in await fake.wait_for("auth.test")] == ["auth.test"]


async def test_wrong_token_is_invalid_auth(fake: FakeSlack) -> None:
    stranger = AsyncWebClient(token="xoxb-wrong", base_url=fake.api_url)
    error = await api_error(stranger.auth_test())
    assert error.response["error"] == "invalid_auth"
    assert fake.calls[-1].token == "xoxb-wrong"


async def test_a_person_posts_and_it_shows_in_the_conversation(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    parent = await client.chat_postMessage(channel="C_GENERAL", text="📤 SMS #1")
    said = fake.post_as("U_ALICE", "C_GENERAL", "Thanks, see you at 3", thread_ts=parent["ts"])
    assert (said.user, said.thread_ts) == ("U_ALICE", parent["ts"])
    assert fake.messages("C_GENERAL")[-1] == said
    assert fake.transcript() == (
        "#C_GENERAL\n  bot: 📤 SMS #1\n    └ alice: Thanks, see you at 3\n"
    )


# --- views ---------------------------------------------------------------------------------


async def test_views_open_once_per_trigger(fake: FakeSlack, client: AsyncWebClient) -> None:
    trigger = fake.new_trigger_id("U_ALICE")
    opened = await client.views_open(trigger_id=trigger, view=MODAL)
    again = await api_error(client.views_open(trigger_id=trigger, view=MODAL))
    assert again.response["error"] == "exchanged_trigger_id"
    assert opened["view"]["id"] == fake.views[0].view_id == "V1"
    assert opened["view"]["callback_id"] == "sms_compose"
    assert (fake.views[0].trigger_id, fake.views[0].view, fake.views[0].user) == (
        trigger,
        MODAL,
        "U_ALICE",
    )
    assert len(fake.views) == 1
    assert fake.transcript() == ('[modal opened for alice: "Send an SMS" — fields: To, Message]\n')


# --- response_url --------------------------------------------------------------------------


async def test_response_url_five_uses_then_404(fake: FakeSlack) -> None:
    url = fake.new_response_url(user_id="U_ALICE", channel_id="C_GENERAL")
    webhook = AsyncWebhookClient(url)
    statuses = [(await webhook.send(text=f"update {n}")).status_code for n in range(6)]
    assert statuses == [200] * 5 + [404]
    assert [post.body["text"] for post in fake.responses] == [f"update {n}" for n in range(5)]
    assert all(post.url == url for post in fake.responses)
    assert url == fake.api_url.replace("/api/", "/response/1")
    unknown = await AsyncWebhookClient(fake.api_url.replace("/api/", "/response/999")).send(
        text="x"
    )
    assert unknown.status_code == 404


async def test_response_url_posts_in_the_transcript(fake: FakeSlack) -> None:
    webhook = AsyncWebhookClient(fake.new_response_url(user_id="U_ALICE", channel_id="C_GENERAL"))
    await webhook.send(text="working on it")
    await webhook.send(text="✅ sent", replace_original=True)
    await AsyncWebhookClient(fake.new_response_url()).send(
        text="hi all", response_type="in_channel"
    )
    assert fake.transcript() == (
        "#C_GENERAL\n  (only visible to you, alice) bot: ✅ sent  (edited)\nbot: hi all\n"
    )


async def test_response_url_of_a_button_replaces_or_deletes_the_message(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    first = await client.chat_postMessage(channel="C_GENERAL", text="🕒 scheduled [Cancel]")
    second = await client.chat_postMessage(channel="C_GENERAL", text="to delete")
    replace_url = fake.new_response_url(channel_id="C_GENERAL", message_ts=first["ts"])
    delete_url = fake.new_response_url(channel_id="C_GENERAL", message_ts=second["ts"])
    await AsyncWebhookClient(replace_url).send(text="🚫 cancelled", replace_original=True)
    await AsyncWebhookClient(delete_url).send(delete_original=True)
    (message,) = fake.messages("C_GENERAL")
    assert (message.ts, message.text, message.edited) == (first["ts"], "🚫 cancelled", True)
    assert fake.transcript() == "#C_GENERAL\n  bot: 🚫 cancelled  (edited)\n"


async def test_response_url_without_text_is_refused(fake: FakeSlack) -> None:
    empty = await AsyncWebhookClient(fake.new_response_url()).send_dict({"response_type": "x"})
    assert empty.status_code == 400
    assert fake.responses == []


# --- Bolt accepts what slack_requests builds -----------------------------------------------


def bolt_app(fake: FakeSlack) -> AsyncApp:
    return AsyncApp(
        client=AsyncWebClient(token=TOKEN, base_url=fake.api_url), signing_secret=SECRET
    )


async def dispatch(app: AsyncApp, body: str) -> BoltResponse:
    return await app.async_dispatch(AsyncBoltRequest(body=body, headers=bolt_headers(body, SECRET)))


def bolt_headers(body: str, secret: str) -> dict[str, str | Sequence[str]]:
    """signed_headers typed as AsyncBoltRequest wants them (its dict is invariant)."""
    return dict(signed_headers(body, secret))


async def test_signed_slash_command_reaches_bolt(fake: FakeSlack) -> None:
    app, done, seen = bolt_app(fake), asyncio.Event(), []

    @app.command("/sms")
    async def sms(
        ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        seen.append(command)
        await ack()
        await client.views_open(trigger_id=command["trigger_id"], view=MODAL)
        await respond("Opening the form…")
        done.set()

    url = fake.new_response_url(user_id="U_ALICE", channel_id="C_GENERAL")
    fields = slash_command_fields(text="", response_url=url, trigger_id=fake.new_trigger_id())
    response = await dispatch(app, form_body(fields))
    await asyncio.wait_for(done.wait(), 5)
    assert response.status == 200
    assert seen[0]["user_id"] == "U_ALICE"
    assert [call.method for call in fake.calls] == ["auth.test", "views.open"]
    assert fake.transcript() == (
        '[modal opened for alice: "Send an SMS" — fields: To, Message]\n'
        "#C_GENERAL\n"
        "  (only visible to you, alice) bot: Opening the form…\n"
    )


async def test_bad_signature_is_refused_by_bolt(fake: FakeSlack) -> None:
    app = bolt_app(fake)
    body = form_body(slash_command_fields(text="", response_url=fake.new_response_url()))
    request = AsyncBoltRequest(body=body, headers=bolt_headers(body, "not-the-secret"))
    assert (await app.async_dispatch(request)).status == 401


async def test_view_submission_reaches_bolt(fake: FakeSlack, client: AsyncWebClient) -> None:
    app, seen = bolt_app(fake), []

    @app.view("sms_compose")
    async def submitted(ack: AsyncAck, view: dict[str, Any]) -> None:
        seen.append(view)
        await ack(response_action="errors", errors={"to": "Not a phone number"})

    opened = (await client.views_open(trigger_id="1.2.3", view=MODAL))["view"]
    state = modal_state(to="hello", message="Hi", when=1_800_000_000)
    payload = view_submission_payload(view=fake.views[0].view, state=state, view_id=opened["id"])
    response = await dispatch(app, interactive_body(payload))
    assert response.status == 200
    assert json.loads(response.body) == {
        "response_action": "errors",
        "errors": {"to": "Not a phone number"},
    }
    assert seen[0]["state"]["values"]["to"]["to"]["value"] == "hello"
    assert json.loads(seen[0]["private_metadata"]) == {"channel_id": "C_GENERAL"}


async def test_block_actions_reaches_bolt_and_respond_replaces(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    app, done = bolt_app(fake), asyncio.Event()

    @app.action("cancel")
    async def cancel(ack: AsyncAck, respond: AsyncRespond, action: dict[str, Any]) -> None:
        await ack()
        await respond(text=f"🚫 cancelled #{action['value']}", replace_original=True)
        done.set()

    posted = await client.chat_postMessage(channel="C_GENERAL", text="🕒 scheduled #7")
    url = fake.new_response_url(user_id="U_ALICE", channel_id="C_GENERAL", message_ts=posted["ts"])
    payload = block_actions_payload(
        action_id="cancel", value="7", message_ts=posted["ts"], response_url=url
    )
    response = await dispatch(app, interactive_body(payload))
    await asyncio.wait_for(done.wait(), 5)
    assert response.status == 200
    assert fake.messages("C_GENERAL")[0].text == "🚫 cancelled #7"
