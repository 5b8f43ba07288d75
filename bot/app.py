"""The composition root: one running bot built from its settings, served until SIGTERM.

``Bot.start`` opens the ledger and builds every part around **one** ``aiohttp.ClientSession``
(the Slack Web API client and the sipgate client share it); ``serve`` runs it in HTTP mode on
``$PORT`` or in Socket Mode with ``SLACK_APP_TOKEN`` (then ``/healthz`` and ``/metrics`` only
when ``PORT`` is set), and stops gracefully.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import secrets
import signal
import socket
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from bot.core import (
    AccessPolicy,
    BalancePorts,
    BalanceWatch,
    Clock,
    InboxPoller,
    InboxRules,
    LeaseKeeper,
    Ledger,
    LedgerUnavailable,
    Scheduler,
    SchedulerConfig,
    SenderDirectory,
    SendFailure,
    SendRules,
    SendScheduler,
    SendService,
    WorkTracker,
    utc_now,
)
from bot.settings import Settings
from bot.sipgate import SipgateClient, client_for
from bot.slack import (
    SLACK_PACE,
    AdminAlert,
    Pace,
    Pacer,
    SlackContext,
    SlackEndpoint,
    SlackWeb,
    StatusChannels,
    StatusDelivery,
    StatusOutbox,
    create_app,
    texts,
    web_client,
)
from bot.slack.http import bound_port, build_web_app, start_site
from bot.store import SqlLedger, database_url_for, open_ledger, redact_url

log = logging.getLogger(__name__)

DRAIN_SECONDS = 10.0  # sends in flight get up to 10 s at shutdown
DEFAULT_PORT = 3000


class StartupError(Exception):
    """The bot cannot start: a dependency (the database) is out of reach."""


@dataclass
class Bot:
    """The parts of a running bot, and how to stop them."""

    settings: Settings
    ledger: Ledger
    session: aiohttp.ClientSession
    sipgate: SipgateClient
    web: SlackWeb
    service: SendService
    tracker: WorkTracker
    app: AsyncApp
    outbox: StatusOutbox
    leases: LeaseKeeper
    scheduler: SendScheduler | None
    inbox: InboxPoller | None
    loops: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def start(
        cls,
        settings: Settings,
        *,
        clock: Clock = utc_now,
        run_scheduler: bool = True,
        pace: Pace = SLACK_PACE,
    ) -> Bot:
        """Open the ledger, build the clients and the app, start the background loops.

        ``run_scheduler=False`` (tests, the demo) leaves the scheduler's and the inbox's rounds
        to be run by hand; ``pace`` is Slack's posting limits unless a test speeds them up.
        """
        ledger = await _open_ledger(settings, clock)
        session = aiohttp.ClientSession()
        client = web_client(settings, session)
        web_api = SlackWeb(client)
        sipgate = client_for(
            settings,
            session,
            tokens=ledger.tokens,
            on_dead=lambda: web_api.dm_all(settings.admins, texts.sipgate_login_expired()),
            claimant=ledger.instance_id,
            clock=clock,
        )
        tracker = WorkTracker()
        balance = _balance_watch(settings, ledger, sipgate, web_api, clock, tracker)
        service = _send_service(settings, ledger, sipgate, web_api, clock, balance)
        outbox = _outbox(settings, session, ledger, service, web_api, clock, pace)
        ctx = SlackContext(settings, service, web_api, tracker, balance, ledger.inbox)
        bot = cls(settings, ledger, session, sipgate, web_api, service, tracker,
                  create_app(ctx, client), outbox, LeaseKeeper(ledger, clock),
                  _scheduler(settings, service, tracker),
                  _inbox(settings, sipgate, ledger, clock))  # fmt: skip
        await bot._begin(run_scheduler)
        return bot

    async def _begin(self, run_scheduler: bool) -> None:
        await self.leases.round()  # the lease first: what this instance claims is its own
        await self._warm_up()
        loops = [self.leases.run(), self.outbox.run()]
        if run_scheduler:
            loops += [part.run() for part in (self.scheduler, self.inbox) if part is not None]
        self.loops = [asyncio.create_task(loop) for loop in loops]

    async def _warm_up(self) -> None:
        # Discovery before the first /sms: views.open must happen within 3 s of the command.
        try:
            await self.service.senders.extensions()
        except SendFailure as failure:
            log.error("sipgate extension discovery failed", extra={"error": failure.kind})

    async def close(self, drain_seconds: float = DRAIN_SECONDS) -> None:
        """Stop the scheduler, give work in flight time to finish, close every connection.

        A send still waiting for sipgate after ``drain_seconds`` is recorded as unknown and
        its requester told.
        """
        for loop in self.loops:
            loop.cancel()
        await asyncio.gather(*self.loops, return_exceptions=True)
        await self.tracker.wait_idle(drain_seconds)
        left = self.service.in_flight()
        await self.tracker.cancel_all()
        await self.service.record_interrupted(left)
        await self.outbox.stop()
        with contextlib.suppress(LedgerUnavailable):
            await self.ledger.end_lease()  # what is left is free for the next instance
        await self.session.close()
        await self.ledger.close()


async def _open_ledger(settings: Settings, clock: Clock) -> SqlLedger:
    try:
        return await open_ledger(settings.database_url, clock=clock, instance_id=_instance_id())
    except (LedgerUnavailable, ValueError) as error:
        where = redact_url(database_url_for(settings.database_url))
        raise StartupError(f"cannot open the database {where}: {error}") from error


def _instance_id() -> str:
    """This process among the instances sharing the database: host, pid and a random part."""
    return f"{socket.gethostname()[:24]}-{os.getpid()}-{secrets.token_hex(4)}"


def _send_service(
    settings: Settings,
    ledger: SqlLedger,
    sipgate: SipgateClient,
    web_api: SlackWeb,
    clock: Clock,
    balance: BalanceWatch,
) -> SendService:
    rules = SendRules(settings.guard_policy, settings.user_hourly_limit, settings.scheduler)
    return SendService(
        ledger=ledger,
        opt_outs=ledger.opt_outs,
        gateway=sipgate,
        access=AccessPolicy(settings.access_rules, web_api.group_members),
        senders=SenderDirectory(sipgate, settings.sipgate_sms_id),
        rules=rules,
        clock=clock,
        balance=balance,
    )


def _balance_watch(
    settings: Settings,
    ledger: Ledger,
    sipgate: SipgateClient,
    web_api: SlackWeb,
    clock: Clock,
    tracker: WorkTracker,
) -> BalanceWatch:
    """The balance for admins' eyes, and the low-balance warning (SIPGATE_LOW_BALANCE)."""
    ports = BalancePorts(sipgate, ledger, AdminAlert(web_api, settings.admins))
    return BalanceWatch(ports, settings.sipgate_low_balance, clock, tracker)


def _outbox(
    settings: Settings,
    session: aiohttp.ClientSession,
    ledger: SqlLedger,
    service: SendService,
    web_api: SlackWeb,
    clock: Clock,
    pace: Pace,
) -> StatusOutbox:
    """Status posts through a client of their own (same session) that does not retry."""
    posts = SlackWeb(web_client(settings, session, retries=False))
    channels = StatusChannels(posts, web_api, Pacer(pace))
    delivery = StatusDelivery(
        ledger, channels, service.senders.known, ledger.inbox, settings.inbox_channel
    )
    return StatusOutbox(ledger, delivery, clock, ledger.inbox)


def _inbox(
    settings: Settings, sipgate: SipgateClient, ledger: SqlLedger, clock: Clock
) -> InboxPoller | None:
    """SMS coming back: only with an inbox channel."""
    if settings.inbox_channel is None:
        return None
    rules = InboxRules(settings.inbox_channel, settings.conversation_days,
                       settings.default_region, settings.poll_interval)  # fmt: skip
    return InboxPoller(sipgate, ledger.inbox, rules, clock)


def _scheduler(
    settings: Settings, service: SendService, tracker: WorkTracker
) -> SendScheduler | None:
    if settings.scheduler is not Scheduler.BOT:
        return None
    config = SchedulerConfig(grace=timedelta(seconds=settings.schedule_grace))
    return SendScheduler(service.ledger, service, config, service.clock, tracker)


# --- serving -----------------------------------------------------------------------------------


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> int:
    """Run until ``stop`` is set (SIGTERM/SIGINT set it); return the exit code."""
    stop = stop or _stop_on_signals()
    bot = await Bot.start(settings)
    handler = await _connect_socket_mode(bot) if settings.socket_mode else None
    connected = handler.client.is_connected if handler else None
    endpoint = SlackEndpoint(bot.app, settings.slack_signing_secret.value, connected)
    runner = await _serve_http(settings, endpoint, socket_mode=handler is not None)
    port = bound_port(runner) if runner is not None else None
    _freeze_start_up_heap()
    log.info("bot started", extra={"mode": "socket" if handler else "http", "port": port})
    await stop.wait()
    log.info("stopping: no new requests, waiting for sends in flight")
    endpoint.stopping = True
    if handler is not None:
        await handler.close_async()  # type: ignore[no-untyped-call]
    await bot.close()
    if runner is not None:
        await runner.cleanup()
    log.info("stopped")
    return 0


def _freeze_start_up_heap() -> None:
    """What start-up built lives as long as the process: moved out of the collector's sight,
    a full collection under load pauses the loop for milliseconds instead of ~100 ms."""
    gc.collect()
    gc.freeze()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def _connect_socket_mode(bot: Bot) -> AsyncSocketModeHandler:
    # Created here, inside the running loop: its client opens a session (for the websocket)
    # on construction; Web API calls still go through the bot's one client and session.
    handler = AsyncSocketModeHandler(
        bot.app, bot.settings.slack_app_token.value, web_client=bot.web.client
    )
    await handler.connect_async()  # type: ignore[no-untyped-call]
    return handler


async def _serve_http(
    settings: Settings, endpoint: SlackEndpoint, *, socket_mode: bool
) -> web.AppRunner | None:
    port = settings.port
    if port is None and socket_mode:
        return None
    web_app = build_web_app(endpoint, slack_routes=not socket_mode)
    return await start_site(web_app, DEFAULT_PORT if port is None else port)
