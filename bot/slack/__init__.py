"""The Slack edge: listeners, Slack's text and payload formats, views, the status sink, copy.

It implements the core's ``StatusSink`` (``SlackStatus``) and ``GroupMembers``
(``SlackWeb.group_members``); every sentence the bot says is in ``bot.slack.texts``.
"""

from bot.slack.app import create_app
from bot.slack.handlers import SlackContext
from bot.slack.http import SlackEndpoint
from bot.slack.status import SlackStatus
from bot.slack.web import SlackWeb, web_client

__all__ = [
    "SlackContext",
    "SlackEndpoint",
    "SlackStatus",
    "SlackWeb",
    "create_app",
    "web_client",
]
