"""The Web API methods the sandbox's Slack stand-in leaves out, for tests.

:class:`FullApiSlack` is :class:`~bot.sandbox.slack.FakeSlack` (which has what the demo runs:
App Home's ``views.publish``, ``conversations.open``, ``users.profile.get`` and the calls behind
``files_upload_v2``) plus ``views.update``, ``chat.getPermalink`` and ``apps.connections.open``
(refused for a bot token). Each answers what Slack answers and refuses what Slack refuses.
"""

from __future__ import annotations

from typing import Any

from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack_api import (
    TEAM_URL,
    ApiError,
    JsonDict,
    Message,
    OpenedView,
    dm_channel,
    parse_view,
)


class FullApiSlack(FakeSlack):
    """FakeSlack with every Web API method the bot calls or is about to call."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.handlers.update(
            {
                "views.update": self._views_update,
                "chat.getPermalink": self._chat_get_permalink,
                "apps.connections.open": self._apps_connections_open,
            }
        )

    # --- views -------------------------------------------------------------------------------

    def _views_update(self, args: JsonDict) -> JsonDict:
        previous = self._find_view(args)
        view = parse_view(args.get("view"))
        updated = OpenedView(None, view, previous.view_id, previous.user, "views.update")
        return {"view": self.record_view(updated)}

    def _find_view(self, args: JsonDict) -> OpenedView:
        wanted_id, external_id = args.get("view_id"), args.get("external_id")
        for view in reversed(self.views):
            if view.view_id == wanted_id or (
                external_id and view.view.get("external_id") == external_id
            ):
                return view
        raise ApiError("not_found")

    def _chat_get_permalink(self, args: JsonDict) -> JsonDict:
        channel = dm_channel(str(args.get("channel") or ""))
        if not self.messages(channel):
            raise ApiError("channel_not_found")
        message = self.workspace.message(channel, str(args.get("message_ts") or ""))
        if message is None:
            raise ApiError("message_not_found")
        return {"channel": channel, "permalink": permalink(message)}

    def _apps_connections_open(self, args: JsonDict) -> JsonDict:
        raise ApiError("not_allowed_token_type")


def permalink(message: Message) -> str:
    """A message's permalink, as Slack builds it (a reply names its thread)."""
    link = f"{TEAM_URL}archives/{message.channel}/p{message.ts.replace('.', '')}"
    if message.thread_ts and message.thread_ts != message.ts:
        link += f"?thread_ts={message.thread_ts}&cid={message.channel}"
    return link
