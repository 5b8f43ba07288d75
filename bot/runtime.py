"""One running bot: every client, the ledger, the Bolt app and the scheduler, wired once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.records import Clock, Scheduler
from bot.scheduler import SchedulerConfig, SendScheduler
from bot.senders import SenderDirectory
from bot.sending import SendService
from bot.settings import Settings
from bot.sipgate import SipgateAuth, SipgateClient, SipgateError
from bot.slack.access import AccessPolicy
from bot.slack.app import create_app
from bot.slack.deps import Deps
from bot.slack.outbox import SlackOutbox
from bot.slack.status import StatusReporter
from bot.store import Ledger, database_url_for, open_ledger
from bot.store.url import redact_url

log = logging.getLogger(__name__)

DRAIN_SECONDS = 10.0  # PRODUCT.md §5: sends in flight get up to 10 s at shutdown


class StartupError(Exception):
    """The bot cannot start: a dependency (the database) is out of reach."""


async def _open_ledger(settings: Settings, clock: Clock) -> Ledger:
    try:
        return await open_ledger(settings.database_url, clock=clock)
    except (OSError, SQLAlchemyError, ValueError) as error:
        where = redact_url(database_url_for(settings.database_url))
        raise StartupError(f"cannot open the database {where}: {type(error).__name__}") from error


def utc_now() -> datetime:
    return datetime.now(UTC)


def sipgate_auth(settings: Settings) -> SipgateAuth:
    """OAuth when a bearer token is configured, else the personal access token."""
    if settings.sipgate_oauth_token:
        return SipgateAuth.oauth(settings.sipgate_oauth_token.value)
    return SipgateAuth.personal_access_token(
        settings.sipgate_token_id, settings.sipgate_token.value
    )


def slack_client(settings: Settings, session: aiohttp.ClientSession) -> AsyncWebClient:
    """The Web API client: one session, retries on dropped connections and on 429."""
    return AsyncWebClient(
        token=settings.slack_bot_token.value,
        base_url=settings.slack_api_url,
        session=session,
        timeout=10,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
        ],
    )


@dataclass
class Runtime:
    """The parts of a running bot, and how to stop them."""

    settings: Settings
    ledger: Ledger
    sipgate: SipgateClient
    session: aiohttp.ClientSession
    client: AsyncWebClient
    deps: Deps
    app: AsyncApp
    scheduler: SendScheduler | None
    scheduler_task: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls, settings: Settings, *, clock: Clock = utc_now, run_scheduler: bool = True
    ) -> Runtime:
        """Open the ledger, build the clients and the app, start the scheduler."""
        ledger = await _open_ledger(settings, clock)
        session = aiohttp.ClientSession()
        sipgate = SipgateClient(
            base_url=settings.sipgate_api_url,
            auth=sipgate_auth(settings),
            timeout=settings.sipgate_timeout,
        )
        client = slack_client(settings, session)
        deps = _deps(settings, ledger, sipgate, client, clock)
        runtime = cls(
            settings,
            ledger,
            sipgate,
            session,
            client,
            deps,
            create_app(deps, client),
            _scheduler(settings, deps, clock),
        )
        await runtime._warm_up()
        if run_scheduler and runtime.scheduler is not None:
            runtime.scheduler_task = asyncio.create_task(runtime.scheduler.run())
        return runtime

    async def _warm_up(self) -> None:
        # Discovery before the first /sms: views.open must happen within 3 s of the command.
        try:
            await self.deps.senders.extensions()
        except SipgateError as error:
            log.error("sipgate extension discovery failed: %s", error.explanation)

    async def close(self, drain_seconds: float = DRAIN_SECONDS) -> None:
        """Stop the scheduler, give sends in flight time to finish, close every connection."""
        if self.scheduler_task is not None:
            self.scheduler_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.scheduler_task
        await self.deps.service.drain(drain_seconds)
        if self.scheduler is not None:
            await self.scheduler.stop()
        await self.sipgate.close()
        await self.session.close()
        await self.ledger.close()


def _deps(
    settings: Settings, ledger: Ledger, sipgate: SipgateClient, client: AsyncWebClient, clock: Clock
) -> Deps:
    outbox = SlackOutbox(client)
    senders = SenderDirectory(sipgate, settings.sipgate_sms_id)
    access = AccessPolicy(settings, lambda group: _group_members(client, group))
    reporter = StatusReporter(outbox, ledger, senders.label)
    service = SendService(
        ledger=ledger,
        sipgate=sipgate,
        reporter=reporter,
        access=access,
        hourly_limit=settings.user_hourly_limit,
        clock=clock,
    )
    return Deps(settings, ledger, access, senders, outbox, service, clock)


async def _group_members(client: AsyncWebClient, group: str) -> list[str]:
    response = await client.usergroups_users_list(usergroup=group)
    return [str(user) for user in response.get("users") or []]


def _scheduler(settings: Settings, deps: Deps, clock: Clock) -> SendScheduler | None:
    if settings.scheduler is not Scheduler.BOT:
        return None
    config = SchedulerConfig(
        grace=timedelta(seconds=settings.schedule_grace),
        orphan_after=timedelta(seconds=settings.sipgate_timeout + 30),
    )
    return SendScheduler(deps.ledger, deps.service, config, clock)
