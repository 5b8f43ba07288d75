"""The Web API methods the sandbox's Slack stand-in leaves out, for tests.

:class:`FullApiSlack` is :class:`~bot.sandbox.slack.FakeSlack` plus ``views.update``,
``conversations.open`` and ``apps.connections.open`` (refused for a bot token). Each answers
what Slack answers and refuses what Slack refuses.
"""

from __future__ import annotations

from typing import Any

from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack_api import ApiError, JsonDict, OpenedView, dm_channel, parse_view


class FullApiSlack(FakeSlack):
    """FakeSlack with every Web API method the bot calls or is about to call."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.handlers.update(
            {
                "views.update": self._views_update,
                "conversations.open": self._conversations_open,
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

    # --- people and conversations ------------------------------------------------------------

    def _conversations_open(self, args: JsonDict) -> JsonDict:
        ids = [uid.strip() for uid in str(args.get("users") or "").split(",") if uid.strip()]
        if not ids:
            raise ApiError("users_list_not_supplied")
        if any(uid not in self.users for uid in ids):
            raise ApiError("user_not_found")
        channel = dm_channel(ids[0]) if len(ids) == 1 else "G_" + "_".join(sorted(ids))
        return {"channel": {"id": channel}}

    def _apps_connections_open(self, args: JsonDict) -> JsonDict:
        raise ApiError("not_allowed_token_type")
