"""Echoed user text must never ping or link in Slack: what people typed is shown as typed."""

import pytest

from bot.slack.texts import escape_mrkdwn


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("<!channel> call me", "&lt;!channel&gt; call me"),
        ("<!here|here>", "&lt;!here|here&gt;"),
        ("<@U123ABC>", "&lt;@U123ABC&gt;"),
        ("<http://evil.example|click>", "&lt;http://evil.example|click&gt;"),
        ("Tom & Jerry", "Tom &amp; Jerry"),
        ("&lt; stays visible", "&amp;lt; stays visible"),
        ("*bold* _it_ ~x~ `code`", "*bold* _it_ ~x~ `code`"),
        ("line 1\nline 2", "line 1\nline 2"),
        ("", ""),
    ],
)
def test_escape_mrkdwn(text: str, escaped: str) -> None:
    assert escape_mrkdwn(text) == escaped
