"""The Bolt app: built by a factory from its collaborators, never from the environment."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.context import SlackContext
from bot.slack.conversations import register_conversations
from bot.slack.handlers import register
from bot.slack.payload import CheckedApp


def create_app(ctx: SlackContext, client: AsyncWebClient) -> AsyncApp:
    """An AsyncApp with ``/sms``, the compose modal, the buttons, the message shortcut, the
    App Home and the events of conversation threads."""
    app = CheckedApp(
        client=client,
        signing_secret=ctx.settings.slack_signing_secret.value,
        logger=logging.getLogger("bot.bolt"),
        # Slack must get an answer within 3 s: listeners ack, start their work as a task
        # (``after_ack``) and return, so Bolt answers as soon as they return. (Bolt's own
        # background mode polls for the ack every 10 ms: slower under load, and more CPU.)
        process_before_response=True,
    )
    register(app, ctx)
    register_conversations(app, ctx)
    return app
