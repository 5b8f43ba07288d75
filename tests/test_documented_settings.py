"""Every setting the bot reads is documented where admins look: the README and .env.example."""

from __future__ import annotations

import re

import pytest

from tests.helpers import ROOT

SETTING = re.compile(r'"((?:SLACK|SIPGATE|SMS)_[A-Z_]+|DATABASE_URL|PORT|LOG_LEVEL)"')


def settings_read() -> list[str]:
    """The names ``bot/settings.py`` reads from the environment."""
    source = (ROOT / "bot" / "settings.py").read_text(encoding="utf-8")
    return sorted(set(SETTING.findall(source)))


def test_the_settings_are_found() -> None:
    assert {"SLACK_BOT_TOKEN", "SMS_INBOX_CHANNEL", "DATABASE_URL"} <= set(settings_read())


@pytest.mark.parametrize("name", settings_read())
def test_each_setting_is_in_the_readme_table_and_the_example_env(name: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    table_rows = [line for line in readme.splitlines() if line.startswith("| `")]
    assert any(f"`{name}`" in row for row in table_rows), f"{name} is not in the README table"
    assert re.search(rf"^#? ?{name}=", example, re.MULTILINE), f"{name} not in .env.example"
