"""The Slack edge: listeners, Slack's text and payload formats, views, the status sink, copy.

It delivers the ledger's status posts (``StatusOutbox``), implements the core's
``GroupMembers`` (``SlackWeb.group_members``) and ``BalanceAlert`` (``AdminAlert``); every
sentence the bot says is in ``bot.slack.texts``.
"""

from bot.slack.alerts import AdminAlert
from bot.slack.app import create_app
from bot.slack.context import SlackContext
from bot.slack.http import SlackEndpoint
from bot.slack.outbox import StatusOutbox
from bot.slack.pacing import SLACK as SLACK_PACE
from bot.slack.pacing import Pace, Pacer
from bot.slack.status import StatusChannels, StatusDelivery
from bot.slack.web import SlackWeb, web_client

__all__ = [
    "SLACK_PACE",
    "AdminAlert",
    "Pace",
    "Pacer",
    "SlackContext",
    "SlackEndpoint",
    "SlackWeb",
    "StatusChannels",
    "StatusDelivery",
    "StatusOutbox",
    "create_app",
    "web_client",
]
