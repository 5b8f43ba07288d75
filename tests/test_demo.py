"""``python -m bot demo`` runs the whole flow offline and prints what people would see."""

from __future__ import annotations

import io
import subprocess
import sys

from bot.demo import run_demo


async def test_demo_shows_every_scene() -> None:
    out = io.StringIO()

    assert await run_demo(out) == 0

    text = out.getvalue()
    assert "✅ +49 1511 2345678: accepted by sipgate" in text  # the quick send
    assert "is not a valid phone number" in text  # the modal's validation error
    assert "🕒 Scheduled for" in text  # the scheduled send…
    assert "Reminder: your appointment is tomorrow" in text
    assert "🚫 SMS #4 was cancelled by @alice" in text  # …and the cancelled one
    assert "balance is too low" in text  # the 402 failure
    assert "(only visible to you, mallory)" in text  # the denied user
    assert "✅ @carol (+49 170 7654321): accepted by sipgate" in text  # a colleague
    assert "ticket 42 (https://example.com/ticket/42) & bring the key" in text  # the shortcut
    assert "📥 +49 1511 2345678 (Erika Mustermann):\n           > Can we make it 10am?" in text
    assert "    └ bot: 📱 SMS #9 from @alice" in text  # the reply by mention, in the thread
    assert "opted out of SMS: the bot sends this number nothing any more" in text  # the STOP…
    assert "• +49 1511 2345678 opted out of SMS on" in text  # …and the send it refused
    assert "[home tab of alice]" in text
    assert "[home tab of bob]" in text
    assert "*sipgate balance:* 3.50 EUR" in text
    assert "request_id,created_utc,requester_user_id,channel_id,origin,recipient" in text
    assert "1,20" in text.split("first rows of the CSV")[1]  # the export's first row
    posts = [line for line in text.splitlines() if line.startswith("POST /sessions/sms")]
    # quick, modal, scheduled, failed, the colleague and a number, the shortcut, the reply;
    # nothing for mallory, #4 or after the STOP
    assert len(posts) == 8
    assert "Yes, 10am works" in posts[-1]


def test_demo_runs_as_a_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "What people see in Slack" in result.stdout
    assert result.stderr == ""
