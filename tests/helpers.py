"""Helpers the test modules share (test modules never import each other; fixtures are in
``conftest.py``): where the repository is, waiting for what the bot did, driving a sandboxed
bot through a scheduled send, and what a test needs when it runs outside CI.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import NoReturn

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.core import RequestDraft, SendRecord
from bot.sandbox.harness import (
    SIGNING_SECRET,
    Fakes,
    ManualClock,
    Sandbox,
    in_minutes,
    sandbox_environ,
)
from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack_api import Message
from bot.sandbox.slack_requests import form_body, signed_headers, slash_command_fields
from bot.sandbox.waiting import poll_until, probe_until
from bot.sipgate import SipgateAuth
from bot.store import SqlLedger, database_url_for, redact_url
from bot.store.schema import metadata

ROOT = Path(__file__).resolve().parent.parent  # the repository
#: Copies of the specifications the tests check against (sipgate's Swagger, Slack's manifest
#: schema, real Slack payloads), kept in the repository so a clean clone tests alone.
REFERENCE = ROOT / "tests" / "fixtures" / "reference"
#: sipgate credentials of the tests: obviously not real, and one pair for every test.
TOKEN_ID = "token-TEST01"
TOKEN = "test-token-not-a-secret"
PAT = SipgateAuth.personal_access_token(TOKEN_ID, TOKEN)

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
NUMBER = "+49 151 12345678"
INBOX = "C_INBOX"  # SMS_INBOX_CHANNEL of the bots with inbound on
ANNA = "+4915112345678"  # NUMBER, as the ledger keeps it

MakeBot = Callable[..., Awaitable[Sandbox]]
OpenLedger = Callable[[], Awaitable[SqlLedger]]


# --- the environment ---------------------------------------------------------------------------


def in_ci() -> bool:
    """Whether the suite runs in CI (``CI`` set to 1/true/yes), where nothing may be skipped."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def skip_or_fail(why: str) -> NoReturn:
    """Skip the test locally; in CI a missing prerequisite is a failure."""
    if in_ci():
        pytest.fail(why)
    pytest.skip(why)


def reference_file(*parts: str) -> Path:
    """A file of the reference material kept with the tests."""
    path = REFERENCE.joinpath(*parts)
    assert path.exists(), f"reference file {path} is missing"
    return path


def free_port() -> int:
    """A local port nothing listens on (bound, then released): connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- what the bot did --------------------------------------------------------------------------


async def assert_stays(condition: Callable[[], bool], within: float = 0.2, what: str = "") -> None:
    """Poll ``condition`` for ``within`` seconds; fail as soon as it stops holding.

    For "nothing more happens" checks, and only after the test awaited a terminal state (the
    outcome it expects, ``Sandbox.settle()``): a short window alone proves nothing.
    """
    try:
        await poll_until(lambda: not condition(), within, lambda: "")
    except AssertionError:
        return
    raise AssertionError(what or "the condition stopped holding")


async def assert_settled(bot: Sandbox, condition: Callable[[], bool], what: str) -> None:
    """``condition`` holds once the bot finished everything it started (after its acks, in the
    scheduler): the terminal state a "nothing (more) was sent" check needs."""
    await bot.settle()
    assert condition(), what


def top_level(slack: FakeSlack, channel: str) -> list[Message]:
    """The messages of a conversation that are not thread replies."""
    return [m for m in slack.messages(channel) if m.thread_ts in (None, m.ts)]


def thread(slack: FakeSlack, channel: str, parent_ts: str) -> list[Message]:
    """The replies in the thread of ``parent_ts``, oldest first."""
    return [m for m in slack.messages(channel) if m.thread_ts == parent_ts and m.ts != parent_ts]


async def wait_thread(
    slack: FakeSlack, channel: str, replies: int = 1, *, parents: int = 1, within: float = 5.0
) -> tuple[Message, list[Message]]:
    """Wait until the ``parents``-th top-level message has ``replies`` replies; both."""

    def ready() -> bool:
        tops = top_level(slack, channel)
        return len(tops) >= parents and len(thread(slack, channel, tops[parents - 1].ts)) >= replies

    await poll_until(
        ready, within, lambda: f"no thread with {replies} replies:\n{slack.transcript()}"
    )
    parent = top_level(slack, channel)[parents - 1]
    return parent, thread(slack, channel, parent.ts)


def response_texts(slack: FakeSlack) -> list[str]:
    """What the bot posted to response_urls (text and blocks, as JSON)."""
    return [json.dumps(post.body, ensure_ascii=False) for post in slack.responses]


def bot_output(slack: FakeSlack) -> str:
    """Everything the bot sent to Slack (Web API arguments and response_url bodies) as JSON."""
    calls = [json.dumps(call.args, ensure_ascii=False) for call in slack.calls]
    return "\n".join(calls + response_texts(slack))


async def only_send(bot: Sandbox, user: str = "U_ALICE") -> SendRecord:
    """The one send of the one request ``user`` made."""
    (request,) = await bot.ledger.list_for_user(user)
    (send,) = request.sends
    return send


# --- scheduled sends ---------------------------------------------------------------------------


async def schedule(
    bot: Sandbox,
    clock: ManualClock,
    *,
    minutes: int = 30,
    user: str = "U_ALICE",
    channel: str = "C_GENERAL",
    message: str = "Reminder",
) -> int:
    """Schedule an SMS through the modal, announced and idle again; its request id."""
    opened = len(bot.slack.views)
    await bot.command("", user=user, channel=channel, trigger_id=bot.slack.new_trigger_id(user))
    await bot.slack.wait_for("views.open", opened + 1)
    before = {request.id for request in await bot.ledger.list_for_user(user)}
    announced = bot_output(bot.slack).lower().count("scheduled for")
    when = in_minutes(clock, minutes)
    view_id = bot.slack.views[-1].view_id
    response = await bot.submit(to=NUMBER, message=message, when=when, user=user, view_id=view_id)
    assert response.status == 200
    assert response.body == ""
    # Stored and announced after the ack: the 🕒 reply (in the thread or on the response_url,
    # wherever the bot could post it), then every update the bot started.
    await poll_until(
        lambda: bot_output(bot.slack).lower().count("scheduled for") > announced,
        5.0,
        lambda: f"the scheduled send was never announced:\n{bot.slack.transcript()}",
    )
    await bot.settle()
    await bot.delivered()
    (request_id,) = {r.id for r in await bot.ledger.list_for_user(user)} - before
    return request_id


async def fire_due(bot: Sandbox, clock: ManualClock, minutes: int = 31) -> None:
    """Move the clock on and run one scheduler round to its end."""
    clock.advance(timedelta(minutes=minutes))
    await bot.fire_due()


def due_draft(index: int, clock: ManualClock) -> RequestDraft:
    """A one-recipient request of alice's, due a minute from the clock's now."""
    return RequestDraft(
        interaction_key=f"view:BULK{index}",
        team_id="T_SANDBOX",
        user_id="U_ALICE",
        channel_id="C_GENERAL",
        response_url=None,
        recipients=(f"+49151{index:08d}",),
        message=f"bulk {index}",
        sms_id="s0",
        segments=1,
        requested_at=clock(),
        send_at=clock() + timedelta(minutes=1),
    )


# --- the bot as a process ----------------------------------------------------------------------


@dataclass
class BotProcess:
    """A running ``python -m bot``: its base URL, database and captured stderr."""

    process: asyncio.subprocess.Process
    url: str
    database_url: str
    stderr: Path

    def log(self) -> str:
        return self.stderr.read_text(encoding="utf-8", errors="replace")

    async def wait_exit(self, timeout: float) -> int:  # noqa: ASYNC109
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"the bot did not exit within {timeout}s:\n{self.log()}") from None


@asynccontextmanager
async def bot_process(fakes: Fakes, tmp_path: Path, **overrides: str) -> AsyncIterator[BotProcess]:
    """Start ``python -m bot`` on a free port; wait for /healthz 200; kill it if still running."""
    port = free_port()
    database_url = f"sqlite:///{tmp_path}/bot.db"
    settings = sandbox_environ(
        fakes.slack, fakes.sipgate, DATABASE_URL=database_url, PORT=str(port), **overrides
    )
    environ = {"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1", **settings}
    stderr = tmp_path / "bot.stderr"
    with _log_file(stderr) as fd:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=tmp_path,  # no .env of the developer's checkout is read
            env={**environ, "PYTHONPATH": str(ROOT)},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
        )
    running = BotProcess(process, f"http://127.0.0.1:{port}", database_url, stderr)
    try:
        await _wait_healthy(running)
        yield running
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@contextmanager
def _log_file(path: Path) -> Iterator[int]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        yield fd
    finally:
        os.close(fd)


async def _wait_healthy(bot: BotProcess) -> None:
    async with aiohttp.ClientSession() as session:

        async def healthy() -> bool:
            if bot.process.returncode is not None:
                raise AssertionError(f"the bot exited with {bot.process.returncode}:\n{bot.log()}")
            return await health(session, bot.url) == 200

        await probe_until(healthy, 20, lambda: f"/healthz never answered 200:\n{bot.log()}")


async def health(session: aiohttp.ClientSession, url: str) -> int | None:
    """``/healthz``'s status, or None when nothing listens."""
    try:
        async with session.get(f"{url}/healthz") as response:
            return response.status
    except aiohttp.ClientConnectionError:
        return None


def quick_send_body(fakes: Fakes, text: str, user: str = "U_ALICE") -> str:
    """A ``/sms`` command body from ``user`` in C_GENERAL."""
    fields = slash_command_fields(
        text=text,
        user_id=user,
        response_url=fakes.slack.new_response_url(user_id=user, channel_id="C_GENERAL"),
        trigger_id=fakes.slack.new_trigger_id(user),
    )
    return form_body(fields)


async def post_signed(
    session: aiohttp.ClientSession, url: str, body: str, secret: str = SIGNING_SECRET
) -> int:
    """POST ``body``, signed, to the bot at ``url``; the HTTP status."""
    headers = signed_headers(body, secret)
    async with session.post(f"{url}/slack/events", data=body, headers=headers) as response:
        await response.read()
        return response.status


# --- databases of their own --------------------------------------------------------------------


@dataclass
class PostgresDatabase:
    """A database of its own on the ``TEST_DATABASE_URL`` server."""

    url: str
    name: str | None  # None: no privilege to create one, so the configured database is shared

    async def drop(self) -> None:
        """Drop it now (its live connections are cut); nothing if it is the shared one."""
        if self.name is not None:
            await drop_database(POSTGRES_URL, self.name)

    async def restart(self, down_seconds: float) -> None:
        """What its clients see of a restart: every connection cut, none accepted for
        ``down_seconds``, then back (the other databases of the server are left alone)."""
        if self.name is not None:
            await restart_database(POSTGRES_URL, self.name, down_seconds)


@asynccontextmanager
async def own_database(prefix: str) -> AsyncIterator[PostgresDatabase]:
    """A new database on the server (or the shared one without CREATEDB), dropped on exit."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    url = await create_database(POSTGRES_URL, name)
    database = PostgresDatabase(url or POSTGRES_URL, name if url else None)
    try:
        yield database
    finally:
        await database.drop()


async def create_database(url: str, name: str) -> str | None:
    """The URL of a new database ``name``; None if PostgreSQL refuses or cannot be reached."""
    engine = _admin_engine(url)
    try:
        conn = await _try_connect(engine, url)
        if conn is None:
            return None
        try:
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        except DBAPIError:  # no CREATEDB privilege: share the configured database
            return None
        finally:
            await conn.close()
    finally:
        await engine.dispose()
    own = make_url(database_url_for(url)).set(database=name)
    return own.render_as_string(hide_password=False)


async def drop_database(url: str, name: str) -> None:
    """Drop database ``name`` on the server of ``url`` (its live connections are cut)."""
    engine = _admin_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await engine.dispose()


async def restart_database(url: str, name: str, down_seconds: float) -> None:
    """Cut every connection to database ``name`` and refuse new ones for ``down_seconds``."""
    engine = _admin_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            try:
                cut = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                await conn.execute(text(cut), {"n": name})
                await asyncio.sleep(down_seconds)
            finally:
                await conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    finally:
        await engine.dispose()


def _admin_engine(url: str) -> AsyncEngine:
    return create_async_engine(
        database_url_for(url),
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT",
        connect_args={"timeout": 5},
    )


async def drop_ledger_tables(url: str) -> None:
    """Empty the database: the ledger's tables are dropped (skip/fail if unreachable)."""
    engine = create_async_engine(
        database_url_for(url), poolclass=NullPool, connect_args={"timeout": 5}
    )
    try:
        conn = None if _unreachable else await _try_connect(engine, url)
        if conn is None:
            skip_or_fail(_unreachable[0])
        try:
            await conn.run_sync(metadata.drop_all)
            await conn.commit()
        finally:
            await conn.close()
    finally:
        await engine.dispose()


_unreachable: list[str] = []  # why PostgreSQL could not be reached, when it could not


async def _try_connect(engine: AsyncEngine, url: str) -> AsyncConnection | None:
    try:
        return await engine.connect()
    except (OSError, DBAPIError) as exc:
        why = f"{type(exc).__name__}: {exc}"
        _unreachable.append(f"PostgreSQL at {redact_url(url)} is unreachable ({why})")
        return None


# --- SMS coming back ---------------------------------------------------------------------------


async def inbox_bot(make_bot: MakeBot, **settings: str) -> Sandbox:
    """A bot with inbound on (the inbox channel ``INBOX``), polled by the test."""
    return await make_bot(run_scheduler=False, SMS_INBOX_CHANNEL=INBOX, **settings)


async def sms_arrives(bot: Sandbox, text: str = "Can you come at 3?") -> Message:
    """An SMS from Anna, polled and shown (in the inbox, or in the thread of a request that
    texted her); the message it is shown in."""
    before = {m.ts for channel in (INBOX, "C_GENERAL") for m in bot.slack.messages(channel)}
    bot.sipgate.receive_sms(ANNA, text)
    assert bot.bot.inbox is not None
    assert await bot.bot.inbox.round() == 1
    await bot.delivered()
    shown = [
        m
        for channel in (INBOX, "C_GENERAL")
        for m in bot.slack.messages(channel)
        if m.ts not in before
    ]
    (message,) = shown
    return message


async def status_known(bot: Sandbox, ts: str) -> bool:
    """Whether the ledger knows the status message ``ts`` of one of alice's requests."""
    return any(r.status_ts == ts for r in await bot.ledger.list_for_user("U_ALICE"))
