"""The sipgate fake of the tests: strict credentials, waiting for sends, latency.

:class:`ScriptedSipgate` is :class:`~bot.sandbox.sipgate.FakeSipgate` that a test can also make
require exact credentials (:meth:`expect_auth`), that waits for SMS posts and tells which
scripted answers were not used, and that waits ``latency`` seconds before every answer (for
the benchmark).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.sandbox.sipgate import FakeSipgate, ReceivedRequest, Scripted
from bot.sandbox.waiting import poll_until


class ScriptedSipgate(FakeSipgate):
    """FakeSipgate with credential checks, waits and a delay before every answer."""

    def __init__(self, *, latency: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.latency = latency
        self._expected_auth: str | None = None

    # --- scripting ---------------------------------------------------------------------------

    def expect_auth(self, header_value: str) -> None:
        """Answer 401 to requests whose Authorization header differs from this."""
        self._expected_auth = header_value

    @property
    def unused_script(self) -> tuple[Scripted, ...]:
        """Scripted send answers not yet played (a test can assert it is empty)."""
        return tuple(self._script)

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
        return given is not None and self._expected_auth in (None, given)
