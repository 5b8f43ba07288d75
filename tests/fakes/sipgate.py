"""The sipgate fake of the tests: scripted reads, strict credentials, OAuth tokens, latency.

:class:`ScriptedSipgate` is :class:`~bot.sandbox.sipgate.FakeSipgate` that a test can also make
answer reads (history, contacts, account, balance) as scripted: a 5xx, a 401 or 403, a hang or a
dropped connection (:meth:`script_read`); require exact credentials (:meth:`expect_auth`);
accept only the Bearer tokens a :class:`~tests.fakes.oauth.FakeSipgateLogin` issued and that
have not expired (:meth:`accept_tokens_from`); and wait for SMS posts.
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any

from aiohttp import web

from bot.sandbox.sipgate import FakeSipgate, ReceivedRequest, Scripted
from bot.sandbox.waiting import poll_until
from tests.fakes.oauth import FakeSipgateLogin

READS = frozenset({"history", "contacts", "account", "balance"})


class ScriptedSipgate(FakeSipgate):
    """FakeSipgate with scripted reads, credential checks and a delay before every answer."""

    def __init__(self, *, latency: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.latency = latency
        self._expected_auth: str | None = None
        self._issuer: FakeSipgateLogin | None = None
        self._reads: defaultdict[str, deque[Scripted]] = defaultdict(deque)

    # --- scripting ---------------------------------------------------------------------------

    def script_read(self, name: str, *responses: Scripted) -> None:
        """Queue answers for the next reads of ``name`` (history, contacts, account, balance)."""
        if name not in READS:
            raise ValueError(f"{name!r} is not one of {sorted(READS)}")
        self._reads[name].extend(responses)

    def expect_auth(self, header_value: str) -> None:
        """Answer 401 to requests whose Authorization header differs from this."""
        self._expected_auth = header_value

    def accept_tokens_from(self, issuer: FakeSipgateLogin) -> None:
        """Bearer tokens are valid only if ``issuer`` issued them and they have not expired."""
        self._issuer = issuer

    @property
    def unused_script(self) -> tuple[Scripted, ...]:
        """Scripted send answers not yet played (a test can assert it is empty)."""
        return tuple(self._script)

    @property
    def unused_reads(self) -> dict[str, tuple[Scripted, ...]]:
        """Scripted read answers not yet played, by read."""
        return {name: tuple(queue) for name, queue in self._reads.items() if queue}

    # --- inspection --------------------------------------------------------------------------

    async def wait_for_posts(
        self,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for a condition
    ) -> list[ReceivedRequest]:
        """Wait until at least ``count`` SMS posts arrived; all of them so far."""
        await poll_until(
            lambda: len(self.sms_posts) >= count,
            timeout,
            lambda: (
                f"expected {count} POST /sessions/sms within {timeout}s, got {len(self.sms_posts)}"
            ),
        )
        return self.sms_posts

    # --- hooks -------------------------------------------------------------------------------

    async def admit(self, request: web.Request) -> bool:
        if self.latency > 0 and not await self._pause(self.latency):
            return False
        return await super().admit(request)

    def authorized(self, request: web.Request) -> bool:
        given = request.headers.get("Authorization")
        if given is None:
            return False
        if self._issuer is not None and given.startswith("Bearer "):
            return self._issuer.accepts(given.removeprefix("Bearer "))
        return self._expected_auth in (None, given)

    def scripted_read(self, name: str) -> Scripted | None:
        queue = self._reads[name]
        return queue.popleft() if queue else None
