"""``python -m bot demo``: the whole flow offline, printed as Slack would show it.

The real bot (the same ``Bot`` and HTTP endpoint as production) runs against a local Slack
stand-in and a sipgate sandbox; Slack's requests are signed like Slack signs them. No account,
no network, nothing to configure. Besides the conversation it prints two home tabs (a person's
and an admin's) and the first rows of an admin's export.
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import timedelta
from typing import TextIO

import aiohttp

from bot.logs import configure_logging
from bot.sandbox.harness import Fakes, ManualClock, Sandbox, in_minutes
from bot.sandbox.sipgate import Scripted
from bot.sandbox.slack_api import SlackUser
from bot.sandbox.slack_events import app_home_opened_event, app_mention_event, event_callback
from bot.sandbox.slack_requests import BOT_USER_ID, modal_state
from bot.sandbox.waiting import poll_until
from bot.slack import Pace
from bot.slack.texts import CANCEL_ACTION

SHORTCUT = "send_as_sms"

NUMBER = "+49 151 12345678"
E164 = "+4915112345678"
#: The local stand-in has no rate limits: the demo posts as fast as it answers.
LOCAL_PACE = Pace(rate=1000.0, burst=1000.0, mark_every=0.02)


class Demo:
    """Drives a sandboxed bot through the scenes of the demo and narrates them."""

    def __init__(
        self, sandbox: Sandbox, clock: ManualClock, http: aiohttp.ClientSession, out: TextIO
    ) -> None:
        self.sandbox, self.clock, self.http, self.out = sandbox, clock, http, out
        self.thread: str | None = None  # bob's message that SMS #8 was sent from
        self.slack, self.sipgate = sandbox.slack, sandbox.sipgate

    def say(self, text: str) -> None:
        print(text, file=self.out)

    async def send(self, body: str) -> str:
        """POST a signed request to the bot's real /slack/events; the ack body."""
        response = await self.sandbox.post(self.http, body)
        async with response:
            return await response.text()

    async def until(
        self, request_id: int, state: str, replies: int = 1, thread: str | None = None
    ) -> None:
        """Wait until SMS #id's status message shows ``state`` and its thread (or ``thread``,
        for a status that is itself in a thread) has ``replies`` more replies."""

        def done() -> bool:
            messages = self.slack.messages("C_GENERAL")
            status = next((m for m in messages if m.text.startswith(f"SMS #{request_id} ")), None)
            if status is None or state not in status.text:
                return False
            in_thread = sum(m.thread_ts == (thread or status.ts) for m in messages)
            return in_thread >= replies + (1 if thread else 0)  # the status message too

        await poll_until(done, 5.0, lambda: f"SMS #{request_id} never reached {state!r}")

    async def quick_send(self) -> None:
        self.say(f"▶ alice types: /sms {NUMBER} Your technician arrives at 3pm")
        await self.send(self.sandbox.command_body(f"{NUMBER} Your technician arrives at 3pm"))
        await self.until(1, "accepted")

    async def modal_send(self) -> None:
        self.say("▶ alice types: /sms   (opens the form)")
        await self.send(self.sandbox.command_body(""))
        await self.slack.wait_for("views.open", 1)
        self.say("▶ alice submits the form with To = “0170 12” and Message = “Meeting moved”")
        ack = await self.send(
            self.sandbox.submission_body(modal_state(to="0170 12", message="Meeting moved to 4pm"))
        )
        for block, error in json.loads(ack).get("errors", {}).items():
            self.say(f"  the form stays open; under “{block}” Slack shows: {error}")
        self.say("▶ alice corrects To to “0170 1234567” and submits again")
        await self.send(
            self.sandbox.submission_body(
                modal_state(to="0170 1234567", message="Meeting moved to 4pm")
            )
        )
        await self.until(2, "accepted")

    async def scheduled_send(self) -> None:
        await self._schedule("Reminder: your appointment is tomorrow", view_id="V2", minutes=30)
        await self.until(3, "scheduled")
        self.say("▶ 31 minutes later the bot's scheduler finds it due and sends it")
        self.clock.advance(timedelta(minutes=31))
        await self.sandbox.fire_due()
        await self.until(3, "accepted", replies=2)

    async def cancelled_send(self) -> None:
        await self._schedule("Please call us back", view_id="V3", minutes=120)
        await self.until(4, "scheduled")
        self.say("▶ alice clicks Cancel on SMS #4")
        await self.send(self.sandbox.click_body(CANCEL_ACTION, "4"))
        await self.until(4, "cancelled", replies=2)

    async def failed_send(self) -> None:
        self.say("▶ the sipgate account runs out of credit; alice sends another SMS")
        self.sipgate.script_send(Scripted(status=402))
        await self.send(self.sandbox.command_body(f"{NUMBER} Your parcel is here"))
        await self.until(5, "failed")

    async def denied_send(self) -> None:
        self.say(f"▶ mallory (not on the allowlist) types: /sms {NUMBER} hi")
        await self.send(self.sandbox.command_body(f"{NUMBER} hi", user="U_MALLORY"))
        await poll_until(
            lambda: any("not allowed" in str(p.body) for p in self.slack.responses),
            5.0,
            lambda: "mallory was never told",
        )

    async def colleague_send(self) -> None:
        self.say("▶ alice types: /sms @carol, +49 151 12345678 The customer called back & waits")
        text = f"<@U_CAROL|carol>, {NUMBER} The customer called back &amp; waits"
        await self.send(self.sandbox.command_body(text))
        await self.until(7, "accepted")  # (#6 is mallory's denied attempt)

    async def shortcut_send(self) -> None:
        said = self.slack.post_as(
            "U_BOB",
            "C_GENERAL",
            "Can <@U_ALICE> tell the customer: the technician comes at 3pm, see"
            " <https://example.com/ticket/42|ticket 42> &amp; bring the key",
        )
        self.thread = said.ts
        self.say("▶ bob posts in #C_GENERAL; alice runs “Send as SMS” on his message")
        await self.send(self.sandbox.shortcut_body(SHORTCUT, said))
        opened = await self.slack.wait_for("views.open", 4)
        view = self.slack.views[-1]
        message = _initial(view.view, "message")
        self.say(f"  the form opens with Message = “{message}”")
        self.say(f"▶ alice fills in To = “{NUMBER}” and sends; the status goes into bob's thread")
        state = modal_state(to=NUMBER, message=message)
        await self.send(self.sandbox.submission_body(state, view_id=view.view_id))
        await self.until(8, "accepted", replies=0, thread=said.ts)
        assert len(opened) == 4

    async def customer_replies(self) -> None:
        await self.sandbox.delivered()  # where #8's status is shown is in the ledger
        self.say("▶ the customer answers SMS #8 by SMS: “Can we make it 10am?”")
        self.sipgate.receive_sms(E164, "Can we make it 10am?", at=self.clock())
        self.say(
            "▶ the bot's next look at the sipgate history (every 30 s) finds it and posts it in"
            " the thread of the last SMS sent to that number: #8, under bob's message"
        )
        await self.sandbox.poll_inbox()
        await self.until(8, "accepted", replies=1, thread=self.thread)

    async def reply_by_mention(self) -> None:
        text = f"<@{BOT_USER_ID}> Yes, 10am works. See you tomorrow!"
        self.say("▶ alice answers in the thread: @sipgate SMS Yes, 10am works. See you tomorrow!")
        said = self.slack.post_as("U_ALICE", "C_GENERAL", text, thread_ts=self.thread)
        mention = event_callback(app_mention_event(text=text, ts=said.ts, thread_ts=self.thread))
        await self.sandbox.deliver(mention)
        await self.until(9, "accepted", replies=0, thread=self.thread)

    async def customer_opts_out(self) -> None:
        self.say("▶ the customer texts back: “STOP”")
        self.sipgate.receive_sms(E164, "STOP", at=self.clock())
        await self.sandbox.poll_inbox()
        self.say(f"▶ alice tries: /sms {NUMBER} One more thing")
        await self.send(self.sandbox.command_body(f"{NUMBER} One more thing"))
        await poll_until(
            lambda: any("opted out" in str(p.body) for p in self.slack.responses),
            5.0,
            lambda: "alice was never told about the opt-out",
        )

    async def open_home(self, user: str) -> None:
        await self.sandbox.deliver(event_callback(app_home_opened_event(user=user)))
        await poll_until(lambda: self.slack.home(user) is not None, 5.0, lambda: "no home tab")

    async def export(self) -> list[str]:
        self.say("▶ bob (an SMS admin) types: /sms export")
        await self.send(self.sandbox.command_body("export", user="U_BOB"))
        await self.slack.wait_for("files.completeUploadExternal", 1)
        (upload,) = self.slack.uploads.values()
        return (upload.content or b"").decode("utf-8-sig").splitlines()

    async def _schedule(self, message: str, *, view_id: str, minutes: int) -> None:
        self.say(f"▶ alice uses the form to schedule “{message}” in {minutes} minutes")
        await self.send(self.sandbox.command_body(""))
        await self.slack.wait_for("views.open", 2 if view_id == "V2" else 3)
        state = modal_state(to=NUMBER, message=message, when=in_minutes(self.clock, minutes))
        await self.send(self.sandbox.submission_body(state, view_id=view_id))


def _initial(view: dict[str, object], block_id: str) -> str:
    """The initial value of an input of a form."""
    blocks = view.get("blocks")
    for block in blocks if isinstance(blocks, list) else []:
        if block.get("block_id") == block_id:
            return str(block["element"].get("initial_value", ""))
    return ""


async def run_demo(out: TextIO = sys.stdout) -> int:
    """Run every scene and print the conversation; 0 when the whole flow worked."""
    configure_logging("ERROR")  # the demo prints the conversation, not the bot's log
    clock = ManualClock()
    fakes = await Fakes.start()
    fakes.slack.users["U_CAROL"] = SlackUser("U_CAROL", "carol", phone="0170 7654321")
    with tempfile.TemporaryDirectory() as folder:
        sandbox = await Sandbox.start(
            fakes,
            clock=clock,
            run_scheduler=False,
            pace=LOCAL_PACE,
            DATABASE_URL=f"sqlite:///{folder}/demo.db",
            SMS_ALLOWED_USERS="U_ALICE",
            SMS_ADMINS="U_BOB",
            SMS_INBOX_CHANNEL="C_SMS_INBOX",
        )
        try:
            fakes.sipgate.contacts[E164] = "Erika Mustermann"  # in the account's contacts
            await sandbox.serve_http()
            await sandbox.poll_inbox()  # the bot's first look at the sipgate history, at start
            async with aiohttp.ClientSession() as http:
                await _scenes(Demo(sandbox, clock, http, out))
        finally:
            await sandbox.close()
            await fakes.close()
    return 0


async def _scenes(demo: Demo) -> None:
    demo.say("sipgate SMS for Slack — offline demo (local Slack stand-in, sipgate sandbox)\n")
    for scene in (
        demo.quick_send,
        demo.modal_send,
        demo.scheduled_send,
        demo.cancelled_send,
        demo.failed_send,
        demo.denied_send,
        demo.colleague_send,
        demo.shortcut_send,
        demo.customer_replies,
        demo.reply_by_mention,
        demo.customer_opts_out,
    ):
        await scene()
    rows = await demo.export()
    await demo.open_home("U_ALICE")
    await demo.open_home("U_BOB")
    demo.say("\n──── What people see in Slack ────")
    demo.say(demo.slack.transcript())
    demo.say("──── The home tabs ────")
    demo.say(demo.slack.home_text("U_ALICE"))
    demo.say(demo.slack.home_text("U_BOB"))
    demo.say("\n──── bob's export (the first rows of the CSV in his DM) ────")
    demo.say("\n".join(rows[:4]))
    demo.say("──── What reached sipgate ────")
    for post in demo.sipgate.sms_posts:
        body = post.json if isinstance(post.json, dict) else {}
        demo.say(f"POST /sessions/sms {json.dumps({k: body.get(k) for k in sorted(body)})}")
