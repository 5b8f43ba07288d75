"""Group commit on SQLite: concurrent writes share a transaction, and one failing write is
rolled back alone while the others are committed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, Table, event, insert, select

from bot.store.database import ThreadedSqlite, connect
from bot.store.url import database_url_for

rows = Table("rows", MetaData(), Column("id", Integer, primary_key=True))


class RefusedError(Exception):
    pass


def add(row_id: int) -> Callable[[Connection], int]:
    def work(conn: Connection) -> int:
        conn.execute(insert(rows).values(id=row_id))
        return row_id

    return work


def add_then_refuse(conn: Connection) -> None:
    conn.execute(insert(rows).values(id=99))
    raise RefusedError


def stored(conn: Connection) -> list[int]:
    return list(conn.scalars(select(rows.c.id).order_by(rows.c.id)))


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[ThreadedSqlite]:
    database = connect(database_url_for(f"sqlite:///{tmp_path / 'group.db'}"))
    assert isinstance(database, ThreadedSqlite)
    await database.write(rows.create)
    yield database
    await database.close()


async def test_a_failing_write_rolls_back_alone_and_the_others_commit(
    database: ThreadedSqlite,
) -> None:
    results = await asyncio.gather(
        database.write(add(1)),
        database.write(add_then_refuse),
        database.write(add(2)),
        return_exceptions=True,
    )

    assert results[0] == 1
    assert isinstance(results[1], RefusedError)
    assert results[2] == 2
    assert await database.read(stored) == [1, 2]


async def test_a_write_failing_alone_leaves_nothing(database: ThreadedSqlite) -> None:
    with pytest.raises(RefusedError):
        await database.write(add_then_refuse)
    assert await database.read(stored) == []


async def test_concurrent_writes_share_commits(database: ThreadedSqlite) -> None:
    commits: list[object] = []
    event.listen(database.engine, "commit", commits.append)

    written = await asyncio.gather(*(database.write(add(n)) for n in range(1, 101)))

    assert written == list(range(1, 101))
    assert await database.read(stored) == list(range(1, 101))
    assert 1 <= len(commits) < 100  # grouped: far fewer transactions than writes
