"""Ledger fixtures: every test that uses them runs on SQLite and on PostgreSQL.

PostgreSQL is the server of ``TEST_DATABASE_URL`` (default: the local one). Each test process
creates a database of its own there (and drops it at exit), so test runs started at the same
time by several people or CI jobs never touch each other's tables; without the privilege to
create databases it uses the configured database itself. Each test starts from an empty
database: the ledger's tables are dropped before it opens. If PostgreSQL cannot be reached the
postgres variant is skipped locally and fails when ``CI`` is set.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import NoReturn

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.store import SqlLedger, database_url_for, open_ledger, redact_url
from bot.store.schema import metadata

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")

OpenLedger = Callable[[], Awaitable[SqlLedger]]


class FakeClock:
    """The ledger's clock, moved by hand (starts at the current second)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def ledger_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgres"])
async def ledger_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> str:
    """A ``DATABASE_URL`` (as people write it) for an empty database."""
    if request.param == "sqlite":
        return f"sqlite:///{os.path.join(tmp_path, 'ledger.db')}"
    url = await _session_database()
    await _drop_ledger_tables(url)
    return url


_session: dict[str, str] = {}  # the URL of this test process's database, once created


async def _session_database() -> str:
    """This test process's own database on the ``TEST_DATABASE_URL`` server, made once.

    Not a session fixture: test modules import ``ledger_url`` alone, by name. The database
    is dropped when the process exits.
    """
    if "url" not in _session:
        name = f"ledger_test_{os.getpid()}_{secrets.token_hex(4)}"
        own = await _create_database(POSTGRES_URL, name)
        if own is not None:
            atexit.register(lambda: asyncio.run(_drop_database(POSTGRES_URL, name)))
        _session["url"] = own or POSTGRES_URL
    return _session["url"]


@pytest.fixture
async def open_ledgers(ledger_url: str, ledger_clock: FakeClock) -> AsyncIterator[OpenLedger]:
    """Open another ledger (another engine: another instance) on the same database."""
    opened: list[SqlLedger] = []

    async def open_one() -> SqlLedger:
        opened.append(await open_ledger(ledger_url, clock=ledger_clock))
        return opened[-1]

    yield open_one
    for ledger in opened:
        await ledger.close()


@pytest.fixture
async def ledger(open_ledgers: OpenLedger) -> SqlLedger:
    return await open_ledgers()


async def _create_database(url: str, name: str) -> str | None:
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


async def _drop_database(url: str, name: str) -> None:
    engine = _admin_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await engine.dispose()


def _admin_engine(url: str) -> AsyncEngine:
    return create_async_engine(
        database_url_for(url),
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT",
        connect_args={"timeout": 5},
    )


async def _drop_ledger_tables(url: str) -> None:
    engine = create_async_engine(
        database_url_for(url), poolclass=NullPool, connect_args={"timeout": 5}
    )
    try:
        conn = await _connect(engine, url)
        try:
            await conn.run_sync(metadata.drop_all)
            await conn.commit()
        finally:
            await conn.close()
    finally:
        await engine.dispose()


_unreachable: list[str] = []  # why PostgreSQL could not be reached, once known


async def _connect(engine: AsyncEngine, url: str) -> AsyncConnection:
    conn = None if _unreachable else await _try_connect(engine, url)
    if conn is None:
        _skip_or_fail(_unreachable[0])
    return conn


async def _try_connect(engine: AsyncEngine, url: str) -> AsyncConnection | None:
    try:
        return await engine.connect()
    except (OSError, DBAPIError) as exc:
        why = f"{type(exc).__name__}: {exc}"
        _unreachable.append(f"PostgreSQL at {redact_url(url)} is unreachable ({why})")
        return None


def _skip_or_fail(why: str) -> NoReturn:
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        pytest.fail(why)
    pytest.skip(why)
