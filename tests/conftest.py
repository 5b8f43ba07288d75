"""Shared fixtures: the fakes, a manual clock, sandboxed bots and ledgers, isolated from the shell.

Every bot runs the real ``Bot`` against the fake Slack and fake sipgate (aiohttp servers on
127.0.0.1) and gets its own SQLite file; ``make_bot`` closes every bot it started.

Ledger tests run on SQLite and on PostgreSQL (the server of ``TEST_DATABASE_URL``, default the
local one). The test session creates a database of its own there and drops it at the end, so
runs started at the same time by several people or CI jobs never touch each other's tables;
without the privilege to create databases it uses the configured database itself. Each test
starts from an empty database. If PostgreSQL cannot be reached the postgres variant is skipped
locally and fails when ``CI`` is set.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.core import Clock
from bot.sandbox.harness import ManualClock, Sandbox
from bot.slack import Pace
from bot.store import SqlLedger, open_ledger, redact_url
from tests.fakes import ScriptedFakes
from tests.helpers import (
    POSTGRES_URL,
    MakeBot,
    OpenLedger,
    PostgresDatabase,
    drop_ledger_tables,
    own_database,
    skip_or_fail,
)

_ENV_PREFIXES = ("SLACK_", "SIPGATE_", "SMS_")
_ENV_NAMES = ("DATABASE_URL", "PORT")


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's shell or .env must not change what a test sees."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name in _ENV_NAMES:
            monkeypatch.delenv(name, raising=False)


#: The fake Slack has no limits unless a test turns them on: post as fast as it answers
#: (a test of pacing passes Slack's own ``SLACK_PACE``), and what was delivered is written to
#: the ledger soon after. Backoff after failures stays real.
UNPACED = Pace(rate=1000.0, burst=1000.0, mark_every=0.02)


@pytest.fixture
def clock() -> ManualClock:
    """A clock that only moves when the test says so."""
    return ManualClock()


@pytest.fixture
async def fakes(clock: ManualClock) -> AsyncIterator[ScriptedFakes]:
    """A started fake Slack and fake sipgate (on the test's clock), closed after the test."""
    started = await ScriptedFakes.start()
    started.sipgate.clock = clock
    try:
        yield started
    finally:
        await started.close()


@pytest.fixture
async def make_bot(
    fakes: ScriptedFakes, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[MakeBot]:
    """Start sandboxed bots: ``await make_bot(SMS_ADMINS="U_BOB", run_scheduler=False)``.

    Keyword arguments are settings in environment form (strings), plus ``fakes=`` (other
    fakes than the fixture's), ``clock=`` and ``run_scheduler=``. Bots share
    ``DATABASE_URL=sqlite:///<tmp_path>/bot.db`` unless told otherwise, so a second bot is
    the same deployment restarted or scaled out. Every bot is closed at teardown.
    """
    default_fakes, default_clock = fakes, clock
    started: list[Sandbox] = []

    async def make(
        *,
        fakes: ScriptedFakes | None = None,
        clock: Clock | None = None,
        run_scheduler: bool = True,
        pace: Pace = UNPACED,
        **overrides: str,
    ) -> Sandbox:
        overrides.setdefault("DATABASE_URL", f"sqlite:///{tmp_path}/bot.db")
        bot = await Sandbox.start(
            fakes or default_fakes,
            clock=clock or default_clock,
            run_scheduler=run_scheduler,
            pace=pace,
            **overrides,
        )
        started.append(bot)
        return bot

    try:
        yield make
    finally:
        for bot in reversed(started):
            await bot.close()


# --- ledgers on SQLite and PostgreSQL ----------------------------------------------------------


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def postgres_database() -> AsyncIterator[PostgresDatabase]:
    """This test session's own database, dropped at the end of the session."""
    async with own_database("ledger_test") as database:
        yield database


@pytest.fixture
async def disposable_database() -> AsyncIterator[PostgresDatabase]:
    """A database of this test's own, to drop while a bot uses it (needs CREATEDB)."""
    async with own_database("sms_fault") as database:
        if database.name is None:
            skip_or_fail(f"no privilege to create a database on {redact_url(POSTGRES_URL)}")
        yield database


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A ``DATABASE_URL`` (as people write it) on SQLite, then on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    database: PostgresDatabase = request.getfixturevalue("postgres_database")
    return database.url


@pytest.fixture
async def ledger_url(ledger_database: str) -> str:
    """``ledger_database`` with no ledger tables in it yet."""
    if not ledger_database.startswith("sqlite"):
        await drop_ledger_tables(ledger_database)
    return ledger_database


@pytest.fixture
async def open_ledgers(ledger_url: str, clock: ManualClock) -> AsyncIterator[OpenLedger]:
    """Open another ledger (another engine: another instance) on the same database."""
    opened: list[SqlLedger] = []

    async def open_one() -> SqlLedger:
        opened.append(await open_ledger(ledger_url, clock=clock))
        return opened[-1]

    yield open_one
    for ledger in opened:
        await ledger.close()


@pytest.fixture
async def ledger(open_ledgers: OpenLedger) -> SqlLedger:
    return await open_ledgers()
