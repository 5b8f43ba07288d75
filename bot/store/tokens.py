"""The sipgate OAuth tokens in the ledger (the core's ``TokenStore``).

One row. A refresh is claimed first (``refreshing_by``/``refreshing_until``), so only one
instance calls the token endpoint at a time; its result is stored only if the row is still at
the generation the refresh started from, in the same statement that makes the old refresh
token history: a refresh token is never used twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from bot.core import Clock, OAuthTokens
from bot.store.database import Database
from bot.store.schema import sipgate_oauth

_ROW = sipgate_oauth.c.id == 1


class SqlTokens:
    """The ``TokenStore`` on the ledger's database."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self._database = database
        self._clock = clock

    async def load_tokens(self) -> OAuthTokens | None:
        return await self._database.read(_load)

    async def save_login(self, tokens: OAuthTokens) -> None:
        def work(conn: Connection) -> None:
            conn.execute(delete(sipgate_oauth))
            conn.execute(insert(sipgate_oauth).values(id=1, **_values(tokens, self._clock())))

        await self._database.write(work)

    async def claim_refresh(
        self, claimant: str, now: datetime, ttl: timedelta, *, refused: str | None = None
    ) -> OAuthTokens | None:
        free = sipgate_oauth.c.refreshing_until.is_(None) | (sipgate_oauth.c.refreshing_until < now)
        due = sipgate_oauth.c.refresh_at.is_(None) | (sipgate_oauth.c.refresh_at <= now)
        if refused is not None:
            due = due | (sipgate_oauth.c.access_token == refused)
        stmt = (
            update(sipgate_oauth)
            .where(_ROW, sipgate_oauth.c.dead_at.is_(None), free, due)
            .values(refreshing_by=claimant, refreshing_until=now + ttl)
        )

        def work(conn: Connection) -> OAuthTokens | None:
            return _load(conn) if conn.execute(stmt).rowcount == 1 else None

        return await self._database.write(work)

    async def save_refresh(self, generation: int, tokens: OAuthTokens) -> bool:
        values = {**_values(tokens, self._clock()), "generation": generation + 1}
        stmt = (
            update(sipgate_oauth)
            .where(_ROW, sipgate_oauth.c.generation == generation)
            .values(**values, refreshing_by=None, refreshing_until=None)
        )
        return await self._database.write(lambda conn: conn.execute(stmt).rowcount == 1)

    async def mark_dead(self, generation: int) -> bool:
        stmt = (
            update(sipgate_oauth)
            .where(
                _ROW, sipgate_oauth.c.generation == generation, sipgate_oauth.c.dead_at.is_(None)
            )
            .values(dead_at=self._clock(), refreshing_by=None, refreshing_until=None)
        )
        return await self._database.write(lambda conn: conn.execute(stmt).rowcount == 1)


def _load(conn: Connection) -> OAuthTokens | None:
    row = conn.execute(select(sipgate_oauth).where(_ROW)).first()
    if row is None:
        return None
    return OAuthTokens(
        refresh_token=row.refresh_token,
        access_token=row.access_token,
        expires_at=row.access_expires_at,
        refresh_at=row.refresh_at,
        generation=row.generation,
        dead=row.dead_at is not None,
    )


def _values(tokens: OAuthTokens, now: datetime) -> dict[str, Any]:
    return {
        "refresh_token": tokens.refresh_token,
        "access_token": tokens.access_token,
        "access_expires_at": tokens.expires_at,
        "refresh_at": tokens.refresh_at,
        "generation": tokens.generation,
        "dead_at": None,
        "updated_at": now,
    }
