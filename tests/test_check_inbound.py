"""``python -m bot check`` with SMS replies on: the history, its lifetime, contacts (optional)."""

from __future__ import annotations

import io
from pathlib import Path

from bot.check import run_check
from bot.sandbox.harness import sandbox_environ
from tests.fakes import ScriptedFakes

INBOUND = {"SMS_INBOX_CHANNEL": "C_INBOX", "SIPGATE_POLL_INTERVAL": "15"}


async def check(fakes: ScriptedFakes, tmp_path: Path, **overrides: str) -> tuple[int, list[str]]:
    """The exit code and the printed findings."""
    out = io.StringIO()
    database = f"sqlite:///{tmp_path / 'check.db'}"
    env = sandbox_environ(fakes.slack, fakes.sipgate, DATABASE_URL=database, **overrides)
    code = await run_check(env, out)
    return code, out.getvalue().splitlines()


async def test_with_replies_on_the_history_is_read_and_its_lifetime_and_contacts_named(
    fakes: ScriptedFakes, tmp_path: Path
) -> None:
    code, lines = await check(fakes, tmp_path, **INBOUND)

    assert code == 0
    assert "✓ sipgate history: readable, polled every 15 s for SMS replies" in lines
    assert "✓ sipgate keeps its history: UNLIMITED" in lines
    assert "✓ sipgate contacts: readable, SMS replies show the contact's name" in lines
    assert [dict(request.query)["limit"] for request in fakes.sipgate.history_requests] == ["100"]


async def test_a_token_without_history_read_fails_the_check(
    fakes: ScriptedFakes, tmp_path: Path
) -> None:
    fakes.sipgate.scopes = {"sessions:sms:write", "sms:read", "account:read", "contacts:read"}

    code, lines = await check(fakes, tmp_path, **INBOUND)

    assert code == 1
    assert any(line.startswith("✗ sipgate refused GET /history (403)") for line in lines)
    assert any("history:read" in line for line in lines)


async def test_history_switched_off_and_no_contacts_scope_are_warnings(
    fakes: ScriptedFakes, tmp_path: Path
) -> None:
    fakes.sipgate.scopes = {"sessions:sms:write", "sms:read", "account:read", "history:read"}
    fakes.sipgate.account["historyLifeTime"] = "NONE"

    code, lines = await check(fakes, tmp_path, **INBOUND)

    assert code == 0
    assert any(line.startswith("! sipgate keeps no call and SMS history") for line in lines)
    assert any(line.startswith("! sipgate contacts: not readable (contacts:read") for line in lines)


async def test_without_an_inbox_channel_nothing_inbound_is_checked(
    fakes: ScriptedFakes, tmp_path: Path
) -> None:
    code, lines = await check(fakes, tmp_path)

    assert code == 0
    assert any(line.startswith("✓ sipgate: user") for line in lines)  # sipgate was checked
    assert fakes.sipgate.history_requests == []
    assert not any("history" in line or "contacts" in line for line in lines)
