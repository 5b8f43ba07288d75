"""Thin Slack Web API calls: post, update, respond, DM, tell — and what a failure means.

Every Slack call that can fail is caught here (``SLACK_FAILURES``) and logged with Slack's error
code (``failure_code``); callers get "it worked" or "use the fallback".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.core import Origin
from bot.settings import Settings
from bot.slack.texts import SlackMessage

log = logging.getLogger(__name__)

TZ_CACHE_SECONDS = 600.0
PROFILE_CACHE_SECONDS = 600.0
DEFAULT_TZ = ZoneInfo("UTC")


@dataclass(frozen=True)
class Profile:
    """What the bot reads from a person's Slack profile (``users.profile.get``)."""

    display_name: str
    real_name: str
    phone: str

    @property
    def name(self) -> str:
        """How Slack shows the person: the display name, else the real name."""
        return self.display_name or self.real_name


#: What a failed Slack call can raise; every one of them means "use the fallback".
SLACK_FAILURES = (SlackClientError, aiohttp.ClientError, asyncio.TimeoutError)

#: Error codes that say "not now" rather than "never": worth trying again later.
_TRANSIENT_CODES = frozenset(
    {
        "ratelimited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "invalid_auth",  # the token may be fixed; a status waits for it (up to a day)
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
    }
)


class SlackCallFailed(Exception):  # noqa: N818 - an outcome, like the core's SendFailure
    """A Slack call failed: ``code`` says why; ``transient`` when a later try may work.

    ``retry_after``: Slack's ``Retry-After`` (seconds) when it rate-limited the call.
    """

    def __init__(self, code: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.transient = transient
        self.retry_after = retry_after


def classify(error: Exception) -> SlackCallFailed:
    """What a failed call means for a status that should reach Slack eventually."""
    if not isinstance(error, SlackClientError):  # a dropped connection, a timeout
        return SlackCallFailed(type(error).__name__, transient=True)
    response: Any = getattr(error, "response", None)
    status = getattr(response, "status_code", None) or getattr(response, "status", None) or 0
    code = failure_code(error)
    retry_after = _retry_after(response) if status == 429 or code == "ratelimited" else None
    transient = status == 429 or status >= 500 or code in _TRANSIENT_CODES
    return SlackCallFailed(code, transient=transient, retry_after=retry_after)


def _retry_after(response: Any) -> float:
    headers = getattr(response, "headers", None) or {}
    raw = next((v for k, v in dict(headers).items() if str(k).lower() == "retry-after"), None)
    try:
        return max(0.0, float(raw)) if raw is not None else 1.0
    except (TypeError, ValueError):
        return 1.0


def web_client(
    settings: Settings, session: aiohttp.ClientSession, *, retries: bool = True
) -> AsyncWebClient:
    """A Web API client on the bot's one session.

    With ``retries`` (calls a person is waiting for) a dropped connection or a 429 is tried
    again at once; without (the status outbox) every failure comes back to the caller, which
    waits as long as Slack asks and paces itself.
    """
    handlers = [AsyncConnectionErrorRetryHandler(), AsyncRateLimitErrorRetryHandler(2)]
    return AsyncWebClient(
        token=settings.slack_bot_token.value,
        base_url=settings.slack_api_url,
        session=session,
        timeout=10,
        retry_handlers=handlers if retries else [],
    )


def _profile(data: Any) -> Profile:
    """A ``users.profile.get`` profile; missing fields read as empty."""
    if not isinstance(data, dict):
        raise TypeError("profile is not an object")
    fields = (data.get(name) for name in ("display_name", "real_name", "phone"))
    return Profile(*(value.strip() if isinstance(value, str) else "" for value in fields))


def failure_code(error: Exception) -> str:
    """The Slack error code (``not_in_channel``…) or the exception's type name."""
    if isinstance(error, SlackApiError):
        data: Any = getattr(error.response, "data", None)
        return str(data.get("error")) if isinstance(data, dict) else "unknown_error"
    return type(error).__name__


class SlackWeb:
    """Everything the bot sends to (and reads from) Slack outside of an ack."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._people: dict[str, tuple[float, dict[str, Any]]] = {}
        self._profiles: dict[str, tuple[float, Profile]] = {}
        self._dms: dict[str, str] = {}

    async def tell(self, origin: Origin, text: str) -> None:
        """An ephemeral answer to the requester: response_url, else ephemeral, else DM."""
        message = SlackMessage(text)
        if origin.response_url and await self.respond(origin.response_url, message):
            return
        if await self.ephemeral(origin.channel_id, origin.user_id, message, origin.thread_ts):
            return
        await self.dm(origin.user_id, message)

    async def dm_all(self, users: Iterable[str], text: str) -> None:
        """The same direct message to each of ``users`` (admins)."""
        for user in sorted(users):
            await self.dm(user, SlackMessage(text))

    async def group_members(self, group: str) -> list[str]:
        """The members of a user group (the core's ``GroupMembers``); LookupError if unknown."""
        try:
            response = await self.client.usergroups_users_list(usergroup=group)
        except SLACK_FAILURES as error:
            raise LookupError(failure_code(error)) from error
        return [str(user) for user in response.get("users") or []]

    async def post(
        self, channel: str, message: SlackMessage, thread_ts: str | None = None
    ) -> str | None:
        """Post a message; its ts, or None when the bot cannot post there."""
        try:
            return await self.posted(channel, message, thread_ts)
        except SlackCallFailed:
            return None

    async def posted(
        self, channel: str, message: SlackMessage, thread_ts: str | None = None
    ) -> str:
        """Post a message; its ts. Raises ``SlackCallFailed``."""
        try:
            response = await self.client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
                **message.as_kwargs(),
            )
        except SLACK_FAILURES as error:
            raise self._classified("chat.postMessage", channel, error) from error
        return str(response["ts"])

    async def updated(self, channel: str, ts: str, message: SlackMessage) -> None:
        """Replace a message the bot posted earlier. Raises ``SlackCallFailed``."""
        try:
            await self.client.chat_update(channel=channel, ts=ts, **message.as_kwargs())
        except SLACK_FAILURES as error:
            raise self._classified("chat.update", channel, error) from error

    async def dm(self, user_id: str, message: SlackMessage) -> bool:
        """A direct message from the bot to a person (the app's Messages tab)."""
        return await self.post(user_id, message) is not None

    async def respond(self, response_url: str, message: SlackMessage) -> bool:
        """An ephemeral message through a response_url (works where the bot is no member)."""
        webhook = AsyncWebhookClient(
            response_url, session=self.client.session, timeout=self.client.timeout
        )
        try:
            response = await webhook.send(response_type="ephemeral", **message.as_kwargs())
        except (TimeoutError, aiohttp.ClientError) as error:
            self._failed("response_url", None, error)
            return False
        if response.status_code != 200:
            log.warning("response_url refused", extra={"status": response.status_code})
        return response.status_code == 200

    async def ephemeral(
        self, channel: str, user_id: str, message: SlackMessage, thread_ts: str | None = None
    ) -> bool:
        """An ephemeral message in a conversation (or one of its threads), for one person."""
        try:
            await self.client.chat_postEphemeral(
                channel=channel, user=user_id, thread_ts=thread_ts, **message.as_kwargs()
            )
        except SLACK_FAILURES as error:
            self._failed("chat.postEphemeral", channel, error)
            return False
        return True

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> str | None:
        """Open a modal; the Slack error code when it could not be opened."""
        try:
            await self.client.views_open(trigger_id=trigger_id, view=view)
        except SLACK_FAILURES as error:
            return self._failed("views.open", None, error)
        return None

    async def publish_home(self, user_id: str, view: dict[str, Any]) -> str | None:
        """Show ``view`` as the person's App Home; the Slack error code when it failed."""
        try:
            await self.client.views_publish(user_id=user_id, view=view)
        except SLACK_FAILURES as error:
            return self._failed("views.publish", None, error)
        return None

    async def dm_channel(self, user_id: str) -> str | None:
        """The person's DM with the bot (``conversations.open``), kept once known."""
        if user_id in self._dms:
            return self._dms[user_id]
        try:
            response = await self.client.conversations_open(users=user_id)
            channel = str(response["channel"]["id"])
        except (*SLACK_FAILURES, KeyError, TypeError) as error:
            self._failed("conversations.open", None, error)
            return None
        self._dms[user_id] = channel
        return channel

    async def profile(self, user_id: str) -> Profile | None:
        """The person's profile (cached for minutes); None when Slack does not give it."""
        cached = self._profiles.get(user_id)
        if cached and time.monotonic() - cached[0] < PROFILE_CACHE_SECONDS:
            return cached[1]
        try:
            response = await self.client.users_profile_get(user=user_id)
            found = _profile(response["profile"])
        except (*SLACK_FAILURES, KeyError, TypeError) as error:
            self._failed("users.profile.get", None, error)
            return None
        self._profiles[user_id] = (time.monotonic(), found)
        return found

    async def upload(self, channel: str, path: Path, title: str, comment: str) -> str | None:
        """Share a file in a conversation (``files_upload_v2``); the error code if it failed."""
        try:
            await self.client.files_upload_v2(
                channel=channel, file=str(path), filename=path.name, title=title,
                initial_comment=comment,
            )  # fmt: skip
        except SLACK_FAILURES as error:
            return self._failed("files_upload_v2", channel, error)
        return None

    async def timezone(self, user_id: str) -> ZoneInfo:
        """The person's Slack time zone (users.info ``tz``), UTC if it cannot be read."""
        try:
            return ZoneInfo(str((await self._person(user_id))["tz"]))
        except (KeyError, TypeError, ValueError, ZoneInfoNotFoundError):
            log.warning("no time zone for user; using UTC", extra={"user": user_id})
            return DEFAULT_TZ

    async def _person(self, user_id: str) -> dict[str, Any]:
        """users.info's ``user``, cached for minutes (empty when it cannot be read)."""
        cached = self._people.get(user_id)
        if cached and time.monotonic() - cached[0] < TZ_CACHE_SECONDS:
            return cached[1]
        try:
            found = (await self.client.users_info(user=user_id)).get("user")
        except SLACK_FAILURES as error:
            self._failed("users.info", None, error)
            found = None
        person = found if isinstance(found, dict) else {}
        self._people[user_id] = (time.monotonic(), person)
        return person

    def _failed(self, method: str, channel: str | None, error: Exception) -> str:
        if not isinstance(error, SLACK_FAILURES):  # an answer of the wrong shape
            log.warning("slack answer unreadable", extra={"method": method})
            return "unreadable_answer"
        return self._classified(method, channel, error).code

    @staticmethod
    def _classified(method: str, channel: str | None, error: Exception) -> SlackCallFailed:
        failed = classify(error)
        log.warning(
            "slack call failed", extra={"method": method, "channel": channel, "error": failed.code}
        )
        return failed
