"""The faults a soak run injects, and the database it runs on.

* sipgate answers a share of SMS posts ``503`` and holds another share longer than the bot's
  ``SIPGATE_TIMEOUT`` (a hang): :class:`FaultySipgate`;
* Slack answers every post and update ``429`` for a while (a storm, on top of its rate limits,
  which are enforced all along): ``ScriptedSlack.limits``;
* the database restarts: :meth:`SoakDatabase.restart` cuts every connection of the soak's own
  PostgreSQL database and refuses new ones for a few seconds, which is what a client sees of a
  restart, without disturbing the other databases of the machine (the tests' among them);
* the bot is killed (``SIGKILL``) while sipgate holds one of its sends: :func:`kill_mid_send`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections import Counter
from dataclasses import dataclass

from bench.proc import Server
from bot.sandbox.sipgate import HANG, Scripted
from bot.sandbox.waiting import poll_until
from tests.fakes.sipgate import ScriptedSipgate
from tests.helpers import create_database, drop_database, restart_database

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"
ADMIN_URL = f"{POSTGRES_SERVER}/postgres"


class FaultySipgate(ScriptedSipgate):
    """ScriptedSipgate that fails a share of SMS posts (503) and holds another share (a hang);
    an answer scripted by :meth:`script_send` goes first."""

    def __init__(
        self, *, latency: float, error_share: float, hang_share: float, seed: int = 1
    ) -> None:
        super().__init__(latency=latency)
        self.error_share = error_share
        self.hang_share = hang_share
        self.faults: Counter[str] = Counter()
        self._draw = random.Random(seed).random  # a fault plan, not a secret

    def next_send_answer(self) -> Scripted:
        if self.unused_script:
            self.faults["held for a kill"] += 1
            return super().next_send_answer()
        draw = self._draw()
        if draw < self.error_share:
            self.faults["503"] += 1
            return Scripted(status=503)
        if draw < self.error_share + self.hang_share:
            self.faults["hang"] += 1
            return HANG
        return Scripted()


async def kill_mid_send(bot: Server, sipgate: FaultySipgate, within: float) -> str | None:
    """Hold the next SMS post and kill -9 the bot while sipgate holds it; the recipient held
    (None if no send came ``within`` seconds: the bot is killed all the same)."""
    before = len(sipgate.sms_posts)
    sipgate.script_send(HANG)
    with contextlib.suppress(AssertionError):
        await poll_until(lambda: len(sipgate.sms_posts) > before, within, lambda: "no send")
    posts = sipgate.sms_posts
    held = str(posts[before].json["recipient"]) if len(posts) > before else None
    await asyncio.sleep(0.1)  # the bot is waiting for sipgate's answer now
    bot.kill()
    return held


@dataclass(frozen=True)
class SoakDatabase:
    """A PostgreSQL database of the soak's own, created for the run and dropped after it."""

    name: str

    @classmethod
    def fresh(cls) -> SoakDatabase:
        return cls(f"bench_soak_{os.getpid()}")

    @property
    def url(self) -> str:
        return f"{POSTGRES_SERVER}/{self.name}"

    async def create(self) -> None:
        await drop_database(ADMIN_URL, self.name)
        if await create_database(ADMIN_URL, self.name) is None:
            raise RuntimeError(f"cannot create database {self.name} at {POSTGRES_SERVER}")

    async def drop(self) -> None:
        await drop_database(ADMIN_URL, self.name)

    async def restart(self, down_seconds: float) -> None:
        """Every connection cut, none accepted for ``down_seconds``, then back."""
        await restart_database(ADMIN_URL, self.name, down_seconds)
