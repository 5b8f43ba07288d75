"""Where the ledger's SQL runs: one function per transaction, handed a synchronous connection.

Every ledger operation is a plain function ``work(conn) -> result`` over SQLAlchemy Core. What
runs it differs by database, because what is cheap differs:

* **PostgreSQL** (asyncpg): the function runs in the event loop through ``run_sync``; each
  statement is one round trip to the server, and the server commits concurrent transactions
  together by itself.
* **SQLite** (the standard library's driver): the function runs in a thread, so a transaction
  costs one hop to the thread instead of several per statement (an async SQLite driver hands
  each cursor call to its thread and back, which cost more CPU than the SQL). Writes go through
  one writer thread and are **group-committed**: every write that arrives while a commit is on
  disk joins the next transaction, and one fsync makes the whole group durable. A write that
  raises rolls back alone: the group then runs again with a savepoint per write. Reads run
  on their own threads (WAL: readers never wait for the writer).

Every storage failure (SQLAlchemy's errors, the drivers' ``OSError``s) leaves a ``Database`` as
the core's ``LedgerUnavailable``, translated here and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from bot.core import LedgerUnavailable

T = TypeVar("T")

#: One transaction's work: runs inside the transaction, never commits itself.
Work = Callable[[Connection], T]

#: Execution option: a SQLite transaction that only reads begins DEFERRED.
READ_ONLY = "ledger_read_only"

#: Most writes one group commit takes (bounds the time a transaction holds the write lock).
MAX_GROUP = 256

_READER_THREADS = 2

#: Seconds a SQLite connection waits for another writer (another instance, the same file).
SQLITE_BUSY_TIMEOUT = 30

#: What a database can raise when it is out of reach or unusable.
_STORAGE_FAILURES = (SQLAlchemyError, OSError, sqlite3.Error)


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Turn a storage failure into ``LedgerUnavailable`` (the cause stays chained)."""
    try:
        yield
    except _STORAGE_FAILURES as error:
        raise LedgerUnavailable(type(error).__name__) from error


class Database(Protocol):
    """Runs transactions; the ledger's only way to its database."""

    @property
    def dialect(self) -> str: ...

    async def write(self, work: Work[T]) -> T:
        """Run ``work`` in a write transaction: committed if it returns, rolled back if not."""
        ...

    async def read(self, work: Work[T]) -> T:
        """Run ``work`` in a read-only transaction."""
        ...

    async def close(self) -> None:
        """Release connections; a later call connects again."""
        ...


class AsyncDatabase:
    """PostgreSQL through asyncpg: the work runs in the event loop with ``run_sync``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    async def write(self, work: Work[T]) -> T:
        with translated():
            async with self._engine.begin() as conn:
                return await conn.run_sync(work)

    async def read(self, work: Work[T]) -> T:
        with translated():
            async with self._engine.connect() as conn:
                return await conn.run_sync(work)

    async def close(self) -> None:
        await self._engine.dispose()


@dataclasses.dataclass
class _Write:
    work: Work[Any]
    done: asyncio.Future[Any]


class ThreadedSqlite:
    """SQLite through the standard driver, in threads, with group commit (see the module)."""

    def __init__(self, engine: Engine, *, shared_connection: bool = False) -> None:
        self._engine = engine
        # An in-memory database is one connection: everything runs on the writer thread.
        self._shared = shared_connection
        self._writer: ThreadPoolExecutor | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._queue: list[_Write] = []
        self._flusher: asyncio.Task[None] | None = None

    @property
    def dialect(self) -> str:
        return "sqlite"

    @property
    def engine(self) -> Engine:
        return self._engine

    async def write(self, work: Work[T]) -> T:
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Write(work, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        with translated():
            return await done

    async def read(self, work: Work[T]) -> T:
        if self._shared:
            return await self.write(work)
        loop = asyncio.get_running_loop()
        with translated():
            return await loop.run_in_executor(self._reader_threads(), self._read_now, work)

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        for pool in (self._writer, self._readers):
            if pool is not None:
                pool.shutdown(wait=True)  # idle once the flusher is done: returns at once
        self._writer = self._readers = None
        self._engine.dispose()

    async def _flush(self) -> None:
        """Commit what is queued, group by group, until the queue is empty."""
        loop = asyncio.get_running_loop()
        while self._queue:
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
            try:
                outcomes = await loop.run_in_executor(
                    self._writer_thread(), self._commit_now, [w.work for w in group]
                )
            except asyncio.CancelledError:
                for write in group:
                    write.done.cancel()
                raise
            except Exception as error:  # the transaction failed as a whole: nothing written
                outcomes = [_Failed(error)] * len(group)
            for write, outcome in zip(group, outcomes, strict=True):
                _settle(write.done, outcome)

    def _commit_now(self, works: list[Work[Any]]) -> list[Any]:
        """In the writer thread: the group in one transaction.

        First without savepoints (the common case: nothing fails). If a write raises, that
        transaction is rolled back whole and the group runs again with a savepoint per
        write, so only the failing one is lost.
        """
        with self._engine.connect() as conn:
            with conn.begin() as transaction:
                outcomes = _run_all(conn, works)
                if not any(isinstance(outcome, _Failed) for outcome in outcomes):
                    return outcomes
                transaction.rollback()
            with conn.begin():
                return [_in_savepoint(conn, work) for work in works]

    def _read_now(self, work: Work[T]) -> T:
        with self._engine.connect() as conn:
            reading = conn.execution_options(**{READ_ONLY: True})
            with reading.begin():
                return work(reading)

    def _writer_thread(self) -> ThreadPoolExecutor:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="ledger-writer")
        return self._writer

    def _reader_threads(self) -> ThreadPoolExecutor:
        if self._readers is None:
            self._readers = ThreadPoolExecutor(_READER_THREADS, thread_name_prefix="ledger-read")
        return self._readers


class _Failed:
    """A write that raised, or whose transaction failed: nothing of it is stored."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _run_all(conn: Connection, works: list[Work[Any]]) -> list[Any]:
    """Run the writes in order; stop at the first that raises (its outcome is ``_Failed``)."""
    outcomes: list[Any] = []
    for work in works:
        try:
            outcomes.append(work(conn))
        except Exception as error:
            outcomes.append(_Failed(error))
            break
    return outcomes


def _in_savepoint(conn: Connection, work: Work[Any]) -> Any:
    savepoint = conn.begin_nested()
    try:
        result = work(conn)
    except Exception as error:
        savepoint.rollback()
        return _Failed(error)
    savepoint.commit()
    return result


def _settle(done: asyncio.Future[Any], outcome: Any) -> None:
    if done.done():  # the caller gave up (cancelled); the write is committed all the same
        return
    if isinstance(outcome, _Failed):
        done.set_exception(outcome.error)
    else:
        done.set_result(outcome)


def connect(url: str) -> Database:
    """The ``Database`` for a SQLAlchemy URL from ``database_url_for``."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return AsyncDatabase(create_async_engine(parsed, pool_pre_ping=True))
    memory = parsed.database in (None, "", ":memory:")
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT, "check_same_thread": False}
    # In memory, one connection *is* the database: every transaction runs on the writer.
    pool: dict[str, Any] = {"poolclass": StaticPool} if memory else {}
    engine = create_engine(parsed, connect_args=connect_args, **pool)
    _serialise_sqlite_writes(engine)
    return ThreadedSqlite(engine, shared_connection=memory)


def _serialise_sqlite_writes(engine: Any) -> None:
    """The driver stops issuing BEGIN; we issue the kind we need (``BEGIN IMMEDIATE`` takes the
    write lock up front, so a second writer waits for it instead of failing mid-transaction)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        _use_wal(cursor)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _use_wal(cursor: Any) -> None:
    """Switch the file to WAL (readers never wait for the writer); it stays WAL once switched.

    A speed-up, not needed for correctness (``BEGIN IMMEDIATE`` and the busy timeout are): when
    several instances open a new file at once the switch may find the file locked, and then
    whichever switches it wins for everyone.
    """
    cursor.execute("PRAGMA journal_mode")
    if cursor.fetchone()[0] in ("wal", "memory"):
        return
    with contextlib.suppress(sqlite3.OperationalError):
        cursor.execute("PRAGMA journal_mode = WAL")
