"""Secrets and personal data never reach the logs, even at LOG_LEVEL=DEBUG.

The real ``python -m bot`` runs with DEBUG logging and made-up but distinctive credentials;
the test drives a quick send, a failing send, a dropped connection, a denied user, a Slack
error and a modal with errors, then reads every line the process wrote to stderr.
"""

from __future__ import annotations

import base64
import json
import re
import signal
from pathlib import Path

import aiohttp

from bot.sandbox.sipgate import DROP, Scripted
from bot.sandbox.slack_requests import (
    interactive_body,
    modal_state,
    signed_headers,
    view_submission_payload,
)
from tests.fakes import ScriptedFakes
from tests.fakes.sipgate import ScriptedSipgate
from tests.fakes.slack import ScriptedSlack
from tests.helpers import bot_process, quick_send_body

BOT_TOKEN = "xoxb-4711-0815-SecretBotTokenValue"
SIGNING_SECRET = "f00dfeedcafe5ecretsigningvalue01"
SIPGATE_TOKEN_ID = "token-Q7XWZ3"
SIPGATE_TOKEN = "5ecret00-aaaa-bbbb-cccc-sipgatetoken"
SECRET_WORD = "Zauberwort"  # in every SMS text; must never be logged

NUMBERS = {
    "accepted": "+4915112345678",
    "payment": "+4916098765432",
    "dropped": "+4917011223344",
    "denied": "+4917255667788",
    "slack_error": "+4915233445566",
    "modal": "+4915799887766",
}


async def test_debug_logs_hold_no_secret_no_number_no_message_text(tmp_path: Path) -> None:
    fakes = await ScriptedFakes(ScriptedSlack(bot_token=BOT_TOKEN), ScriptedSipgate()).started()
    try:
        await _drive(fakes, tmp_path)
    finally:
        await fakes.close()


async def _drive(fakes: ScriptedFakes, tmp_path: Path) -> None:
    overrides = {
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SIPGATE_TOKEN_ID": SIPGATE_TOKEN_ID,
        "SIPGATE_TOKEN": SIPGATE_TOKEN,
        "LOG_LEVEL": "DEBUG",
    }
    async with bot_process(fakes, tmp_path, **overrides) as bot, aiohttp.ClientSession() as http:

        async def post(body: str) -> aiohttp.ClientResponse:
            headers = signed_headers(body, SIGNING_SECRET)
            async with http.post(f"{bot.url}/slack/events", data=body, headers=headers) as r:
                await r.read()
                return r

        async def quick(kind: str, user: str = "U_ALICE") -> None:
            text = f"{NUMBERS[kind]} {SECRET_WORD} {kind} für dich"
            response = await post(quick_send_body(fakes, text, user=user))
            assert response.status == 200

        await quick("accepted")
        fakes.sipgate.script_send(Scripted(status=402))
        await quick("payment")
        fakes.sipgate.script_send(DROP)
        await quick("dropped")
        await fakes.sipgate.wait_for_posts(3)
        await quick("denied", user="U_MALLORY")
        fakes.slack.fail("chat.postMessage", "channel_not_found")
        await quick("slack_error")
        await fakes.sipgate.wait_for_posts(4)

        assert (await post(quick_send_body(fakes, ""))).status == 200  # opens the modal
        await fakes.slack.wait_for("views.open")
        opened = fakes.slack.views[-1]
        state = modal_state(
            to=f"{NUMBERS['modal']}, 12345", message=f"{SECRET_WORD} modal für dich"
        )
        payload = view_submission_payload(view=opened.view, state=state, view_id=opened.view_id)
        async with http.post(
            f"{bot.url}/slack/events",
            data=(body := interactive_body(payload)),
            headers=signed_headers(body, SIGNING_SECRET),
        ) as response:
            answer = await response.json()
        assert answer.get("response_action") == "errors", answer

        await fakes.slack.wait_for_responses(1)  # the denied user was told
        bot.process.send_signal(signal.SIGTERM)
        assert await bot.wait_exit(15) == 0
        log = bot.log()

    assert "request opened" in log
    assert "sipgate answered 402" in log
    _assert_clean("the log", log)
    slack_side = json.dumps(
        [call.args for call in fakes.slack.calls]
        + [post.body for post in fakes.slack.responses]
        + [view.view for view in fakes.slack.views],
        ensure_ascii=False,
    )
    _assert_no_secret("what Slack received", slack_side)


def _secrets() -> dict[str, str]:
    basic = base64.b64encode(f"{SIPGATE_TOKEN_ID}:{SIPGATE_TOKEN}".encode()).decode()
    return {
        "bot token": BOT_TOKEN,
        "signing secret": SIGNING_SECRET,
        "sipgate token": SIPGATE_TOKEN,
        "sipgate token id": SIPGATE_TOKEN_ID,
        "sipgate Basic credentials": basic,
    }


def _assert_no_secret(where: str, text: str) -> None:
    for name, value in _secrets().items():
        assert value not in text, f"{name} appears in {where}: {_around(text, value)}"


def _assert_clean(where: str, text: str) -> None:
    _assert_no_secret(where, text)
    assert SECRET_WORD.lower() not in text.lower(), (
        f"SMS text appears in {where}: {_around(text, SECRET_WORD)}"
    )
    digits_only = re.sub(r"[\s()/.-]", "", text)
    for kind, number in NUMBERS.items():
        national = number.removeprefix("+49")  # 15112345678: the number without country code
        assert national not in digits_only, (
            f"the full {kind} number appears in {where}: {_around(digits_only, national)}"
        )
    assert "****" in text, "no masked number was logged at all"


def _around(text: str, needle: str, width: int = 300) -> str:
    at = text.lower().find(needle.lower())
    return text[max(0, at - width) : at + len(needle) + width]
