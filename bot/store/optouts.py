"""Numbers that asked not to be texted (the core's ``OptOutList``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, func, select

from bot.core import Opt, OptOut, opt_keyword
from bot.store.database import Database
from bot.store.queries import dialect_insert
from bot.store.schema import opt_outs


class SqlOptOuts:
    """The opt-out list on the ledger's database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def opted_out(self, numbers: Sequence[str]) -> dict[str, OptOut]:
        if not numbers:
            return {}
        stmt = select(opt_outs).where(opt_outs.c.number.in_(list(numbers)))
        rows = await self._database.read(lambda conn: conn.execute(stmt).all())
        return {row.number: _opt_out(row) for row in rows}

    async def count(self) -> int:
        stmt = select(func.count()).select_from(opt_outs)
        found: int | None = await self._database.read(lambda conn: conn.scalar(stmt))
        return found or 0

    async def opt_out(self, number: str, how: str, by: str | None, now: datetime) -> bool:
        return await self._database.write(lambda conn: add(conn, number, how, by, now))

    async def opt_in(self, number: str) -> bool:
        return await self._database.write(lambda conn: remove(conn, number))

    async def opt_outs(self) -> list[OptOut]:
        stmt = select(opt_outs).order_by(opt_outs.c.since.desc(), opt_outs.c.number)
        rows = await self._database.read(lambda conn: conn.execute(stmt).all())
        return [_opt_out(row) for row in rows]


def apply(conn: Connection, number: str, opt: Opt | None, text: str, now: datetime) -> None:
    """What an incoming SMS says about its sender's opt-out (the keyword is ``how``)."""
    if opt == "out":
        add(conn, number, opt_keyword(text), number, now)
    elif opt == "in":
        remove(conn, number)


def add(conn: Connection, number: str, how: str, by: str | None, now: datetime) -> bool:
    """Opt ``number`` out; False if it already was (one statement: two writers racing on the
    same number cannot both insert, and the loser's transaction stays usable)."""
    stmt = dialect_insert(conn)(opt_outs).values(number=number, since=now, how=how[:32], by=by)
    added = conn.scalar(stmt.on_conflict_do_nothing().returning(opt_outs.c.number))
    return added is not None


def remove(conn: Connection, number: str) -> bool:
    return conn.execute(delete(opt_outs).where(opt_outs.c.number == number)).rowcount == 1


def _opt_out(row: object) -> OptOut:
    return OptOut(row.number, row.since, row.how, row.by)  # type: ignore[attr-defined]
