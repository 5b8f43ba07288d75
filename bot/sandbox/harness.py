"""A real bot wired to a local Slack stand-in and a sipgate sandbox.

The offline demo, the test suite and the benchmark all drive the bot through this: the same
``Bot`` as production, with settings whose URLs point at the fakes, and Slack's requests
built and signed exactly as Slack builds and signs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.app import Bot
from bot.core import Clock, Ledger, SendScheduler, utc_now
from bot.sandbox.sipgate import FakeSipgate
from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack_api import Message
from bot.sandbox.slack_events import (
    JSON_CONTENT_TYPE,
    app_home_opened_event,
    event_body,
    event_callback,
    retry_headers,
)
from bot.sandbox.slack_requests import (
    FORM_CONTENT_TYPE,
    block_actions_payload,
    form_body,
    home_actions_payload,
    interactive_body,
    message_shortcut_payload,
    modal_state,
    signed_headers,
    slash_command_fields,
    view_submission_payload,
)
from bot.sandbox.waiting import poll_until
from bot.settings import Settings, load_settings
from bot.slack import SLACK_PACE, Pace, SlackEndpoint
from bot.slack.http import bound_port, build_web_app, start_site

SIGNING_SECRET = "sandbox-signing-secret"  # noqa: S105 - made up for the sandbox
SIPGATE_TOKEN_ID = "token-SANDBX"  # noqa: S105
SIPGATE_TOKEN = "sandbox-token-not-a-secret"  # noqa: S105


class ManualClock:
    """A clock that only moves when told to (scheduling tests and the demo)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move on by ``delta``; the new now."""
        self._now += delta
        return self._now


def sandbox_environ(slack: FakeSlack, sipgate: FakeSipgate, **overrides: str) -> dict[str, str]:
    """Settings for a bot that talks to the fakes; ``overrides`` win."""
    environ = {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "SIPGATE_API_URL": sipgate.url,
        "SIPGATE_TOKEN_ID": SIPGATE_TOKEN_ID,
        "SIPGATE_TOKEN": SIPGATE_TOKEN,
        "SMS_ALLOWED_USERS": "U_ALICE,U_BOB",
        "SMS_ALLOWED_COUNTRIES": "DE,AT,CH",
        "SIPGATE_TIMEOUT": "2",
    }
    environ.update(overrides)
    return environ


@dataclass
class Fakes:
    """The fake Slack and fake sipgate, shared by one or more bots."""

    slack: FakeSlack
    sipgate: FakeSipgate

    @classmethod
    async def start(cls) -> Fakes:
        return await cls(FakeSlack(), FakeSipgate()).started()

    async def started(self) -> Self:
        """Start both fakes; this pair."""
        await self.slack.start()
        await self.sipgate.start()
        return self

    async def close(self) -> None:
        await self.slack.close()
        await self.sipgate.close()


class Sandbox:
    """One bot instance on the fakes; drive it like Slack would."""

    def __init__(self, fakes: Fakes, settings: Settings, bot: Bot) -> None:
        self.fakes = fakes
        self.slack = fakes.slack
        self.sipgate = fakes.sipgate
        self.settings = settings
        self.bot = bot
        self.endpoint = SlackEndpoint(bot.app, settings.slack_signing_secret.value)
        self._runner: web.AppRunner | None = None
        self.url: str | None = None

    @classmethod
    async def start(
        cls,
        fakes: Fakes,
        *,
        clock: Clock = utc_now,
        run_scheduler: bool = True,
        pace: Pace = SLACK_PACE,
        **overrides: str,
    ) -> Sandbox:
        """A bot on ``fakes`` with sandbox settings plus ``overrides``."""
        settings = load_settings(sandbox_environ(fakes.slack, fakes.sipgate, **overrides))
        bot = await Bot.start(settings, clock=clock, run_scheduler=run_scheduler, pace=pace)
        return cls(fakes, settings, bot)

    @property
    def ledger(self) -> Ledger:
        return self.bot.ledger

    @property
    def scheduler(self) -> SendScheduler:
        """The bot's scheduler (the sandbox's bots hold scheduled sends themselves)."""
        if self.bot.scheduler is None:
            raise RuntimeError("this bot runs with SMS_SCHEDULER=sipgate")
        return self.bot.scheduler

    async def settle(self, within: float = 5.0) -> None:
        """Wait until the work the bot started (after acks, by the scheduler) is done."""
        if not await self.bot.tracker.wait_idle(within):
            raise AssertionError(f"the bot was still busy after {within} s")

    async def delivered(self, within: float = 5.0) -> None:
        """Wait until the bot's status posts are in Slack (or waiting to be tried again)."""
        await poll_until(
            lambda: not self.bot.outbox.busy,
            within,
            lambda: f"status posts still under way after {within} s",
        )

    async def fire_due(self) -> bool:
        """One scheduler round, then wait for what it fired and its statuses; whether more
        may be due."""
        more = await self.scheduler.run_once()
        await self.settle()
        await self.delivered()
        return more

    async def poll_inbox(self) -> int:
        """One inbox round (SMS coming back), then wait for its posts; how many were new."""
        if self.bot.inbox is None:
            raise RuntimeError("this bot has no SMS_INBOX_CHANNEL")
        new = await self.bot.inbox.round()
        await self.delivered()
        return new

    async def serve_http(self) -> str:
        """Also serve the real HTTP endpoint on 127.0.0.1:<free port>; its base URL."""
        self._runner = await start_site(build_web_app(self.endpoint), 0, host="127.0.0.1")
        self.url = f"http://127.0.0.1:{bound_port(self._runner)}"
        return self.url

    async def close(self, drain_seconds: float = 2.0) -> None:
        self.endpoint.stopping = True
        await self.bot.close(drain_seconds)
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()

    # --- what Slack sends ------------------------------------------------------------------

    def command_body(
        self,
        text: str,
        *,
        user: str = "U_ALICE",
        channel: str = "C_GENERAL",
        trigger_id: str | None = None,
    ) -> str:
        """A ``/sms`` slash command body with a fresh response_url."""
        response_url = self.slack.new_response_url(user_id=user, channel_id=channel)
        fields = slash_command_fields(
            text=text,
            user_id=user,
            channel_id=channel,
            response_url=response_url,
            trigger_id=trigger_id or self.slack.new_trigger_id(user),
        )
        return form_body(fields)

    def submission_body(
        self,
        state: Mapping[str, Any],
        *,
        view: Mapping[str, Any] | None = None,
        user: str = "U_ALICE",
        view_id: str = "V1",
    ) -> str:
        """A view_submission of the last modal the bot opened (or ``view``)."""
        opened = view if view is not None else self.slack.views[-1].view
        payload = view_submission_payload(view=opened, state=state, user_id=user, view_id=view_id)
        return interactive_body(payload)

    def click_body(
        self, action_id: str, value: str, *, user: str = "U_ALICE", channel: str = "C_GENERAL"
    ) -> str:
        """A button click on a bot message in ``channel``."""
        response_url = self.slack.new_response_url(user_id=user, channel_id=channel)
        payload = block_actions_payload(
            action_id=action_id,
            value=value,
            user_id=user,
            channel_id=channel,
            response_url=response_url,
        )
        return interactive_body(payload)

    async def dispatch(
        self,
        body: str,
        *,
        secret: str = SIGNING_SECRET,
        timestamp: int | None = None,
        content_type: str = FORM_CONTENT_TYPE,
        extra_headers: Mapping[str, str] | None = None,
    ) -> BoltResponse:
        """Sign ``body`` and hand it to the Bolt app, as the HTTP endpoint would."""
        headers = signed_headers(body, secret, timestamp=timestamp, content_type=content_type)
        headers.update(extra_headers or {})
        request = AsyncBoltRequest(body=body, headers={k: [v] for k, v in headers.items()})
        return await self.bot.app.async_dispatch(request)

    async def deliver(
        self, event: Mapping[str, Any], *, retry: int = 0, reason: str = "http_timeout"
    ) -> BoltResponse:
        """Deliver an Events API envelope (``retry`` > 0: Slack's redelivery number ``retry``)."""
        extra = retry_headers(retry, reason) if retry else {}
        body = event_body(event)
        return await self.dispatch(body, content_type=JSON_CONTENT_TYPE, extra_headers=extra)

    def shortcut_body(
        self,
        callback_id: str,
        message: Message,
        *,
        user: str = "U_ALICE",
        trigger_id: str | None = None,
    ) -> str:
        """``user`` runs the message shortcut ``callback_id`` on ``message`` (of the fake)."""
        response_url = self.slack.new_response_url(user_id=user, channel_id=message.channel)
        payload = message_shortcut_payload(
            callback_id=callback_id,
            text=message.text,
            message_ts=message.ts,
            author=message.user,
            user_id=user,
            channel_id=message.channel,
            thread_ts=message.thread_ts,
            response_url=response_url,
            trigger_id=trigger_id or self.slack.new_trigger_id(user),
        )
        return interactive_body(payload)

    def home_click_body(
        self, action_id: str, value: str, *, user: str = "U_ALICE", trigger_id: str | None = None
    ) -> str:
        """``user`` clicks a button of the home tab the bot last published for them."""
        published = [p for p in self.slack.published if p.user == user]
        if not published:
            raise AssertionError(f"no home tab was published for {user}")
        payload = home_actions_payload(
            action_id=action_id,
            value=value,
            view=published[-1].view,
            view_id=published[-1].view_id,
            user_id=user,
            trigger_id=trigger_id or self.slack.new_trigger_id(user),
        )
        return interactive_body(payload)

    async def open_home(self, user: str = "U_ALICE", *, tab: str = "home") -> BoltResponse:
        """``user`` opens the app's Home (its ``tab``)."""
        return await self.deliver(event_callback(app_home_opened_event(user=user, tab=tab)))

    async def command(self, text: str, **kwargs: Any) -> BoltResponse:
        return await self.dispatch(self.command_body(text, **kwargs))

    async def submit(
        self,
        *,
        user: str = "U_ALICE",
        view_id: str = "V1",
        view: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> BoltResponse:
        """Submit the modal with ``to``/``message``/``sms_id``/``when`` field values."""
        body = self.submission_body(modal_state(**fields), view=view, user=user, view_id=view_id)
        return await self.dispatch(body)

    async def post(
        self,
        session: aiohttp.ClientSession,
        body: str,
        *,
        secret: str = SIGNING_SECRET,
        timestamp: int | None = None,
        content_type: str = FORM_CONTENT_TYPE,
        extra_headers: Mapping[str, str] | None = None,
    ) -> aiohttp.ClientResponse:
        """POST ``body`` to the real ``/slack/events`` (after ``serve_http``)."""
        headers = signed_headers(body, secret, timestamp=timestamp, content_type=content_type)
        headers.update(extra_headers or {})
        return await session.post(f"{self.url}/slack/events", data=body, headers=headers)


def in_minutes(clock: ManualClock, minutes: int) -> int:
    """A datetimepicker value (whole Unix seconds) ``minutes`` from the clock's now."""
    moment = clock() + timedelta(minutes=minutes)
    return int(moment.replace(second=0).timestamp())
