"""``python -m bot check`` against the fakes: the sipgate balance is printed; a token that cannot
read it, or a balance below SIPGATE_LOW_BALANCE, is a warning that does not fail the check."""

from __future__ import annotations

import io
from pathlib import Path

from bot.check import run_check
from bot.sandbox.harness import sandbox_environ
from tests.fakes import ScriptedFakes


async def check(fakes: ScriptedFakes, tmp_path: Path, **overrides: str) -> tuple[int, str]:
    environ = sandbox_environ(
        fakes.slack, fakes.sipgate, DATABASE_URL=f"sqlite:///{tmp_path}/check.db", **overrides
    )
    out = io.StringIO()
    code = await run_check(environ, out)
    return code, out.getvalue()


async def test_check_prints_the_balance(fakes: ScriptedFakes, tmp_path: Path) -> None:
    code, printed = await check(fakes, tmp_path)

    assert code == 0, printed
    assert "✓ sipgate balance: 3.50 EUR" in printed.splitlines()
    assert "✓ sipgate: user w0, SMS extensions: s0" in printed


async def test_a_token_without_balance_read_is_a_warning_only(
    fakes: ScriptedFakes, tmp_path: Path
) -> None:
    fakes.sipgate.scopes = {"sessions:sms:write", "sms:read"}

    code, printed = await check(fakes, tmp_path)

    assert code == 0, printed
    (line,) = [line for line in printed.splitlines() if "sipgate balance" in line]
    assert line.startswith("! sipgate balance: not readable (403): give the token the balance:read")


async def test_a_balance_below_the_low_balance_setting_is_a_warning(
    fakes: ScriptedFakes, tmp_path: Path
) -> None:
    code, printed = await check(fakes, tmp_path, SIPGATE_LOW_BALANCE="5")

    assert code == 0, printed
    assert "! sipgate balance: 3.50 EUR, below SIPGATE_LOW_BALANCE=5: top up the account" in printed
