"""The Slack fake of the tests: every Web API method, scripted failures, limits and latency.

:class:`ScriptedSlack` is :class:`~tests.fakes.slack_methods.FullApiSlack` that a test can make
fail like Slack does: a scripted error for the next calls of a method (:meth:`fail`), a
conversation the bot was removed from (:meth:`remove_bot_from`), Slack's rate limits, a storm
of 429s or an outage (:attr:`limits`, see :mod:`tests.fakes.slack_limits`), and a delay before
every answer (``latency``, for the benchmark). A call is answered, in this order, by an
outage or storm, a scripted failure, a rate limit, and only then by its handler.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.sandbox.slack import Answer
from bot.sandbox.slack_api import ApiError, JsonDict, ResponsePost, describe_calls, dm_channel
from bot.sandbox.waiting import poll_until
from tests.fakes.slack_limits import SlackLimits
from tests.fakes.slack_methods import FullApiSlack


@dataclass
class _Failure:
    method: str
    error: str
    channel: str | None
    remaining: int | None
    status: int
    headers: dict[str, str]

    def matches(self, method: str, channels: set[str]) -> bool:
        return method == self.method and (self.channel is None or self.channel in channels)

    def consume(self) -> bool:
        """Use it once; whether it is spent."""
        if self.remaining is None:
            return False
        self.remaining -= 1
        return self.remaining <= 0


class ScriptedSlack(FullApiSlack):
    """FullApiSlack that fails, limits and lags when a test says so."""

    def __init__(
        self, *, latency: float = 0.0, clock: Callable[[], float] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.latency = latency
        self.limits = SlackLimits() if clock is None else SlackLimits(clock)
        self._failures: list[_Failure] = []
        self._removed_from: set[str] = set()

    # --- scripting ---------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        error: str,
        *,
        channel: str | None = None,
        times: int | None = 1,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Make the next ``times`` calls (``None``: all) of ``method`` answer ``error``.

        With ``channel``, only calls whose ``channel`` argument is that conversation (a user id
        and its ``D_<user>`` DM count as the same). Scripted failures are used in order.
        """
        self._failures.append(_Failure(method, error, channel, times, status, dict(headers or {})))

    def remove_bot_from(self, channel: str) -> None:
        """From now on, posting, updating or posting ephemerally there fails ``not_in_channel``."""
        self._removed_from.add(channel)

    # --- inspection --------------------------------------------------------------------------

    async def wait_for_responses(
        self,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for a condition, as in wait_for
    ) -> list[ResponsePost]:
        """Wait until ``count`` response_url posts arrived; all of them so far."""
        await poll_until(
            lambda: len(self.responses) >= count,
            timeout,
            lambda: (
                f"expected {count} response_url post(s) within {timeout}s, got "
                f"{len(self.responses)}: {[post.body for post in self.responses]}; "
                f"Web API calls so far:\n{describe_calls(self.calls)}"
            ),
        )
        return list(self.responses)

    # --- answering ---------------------------------------------------------------------------

    def intercept(self, method: str, args: JsonDict) -> Answer | None:
        raw = args.get("channel")
        channel = dm_channel(raw) if isinstance(raw, str) and raw else None
        weather = self.limits.weather(method)
        if weather is not None:
            return weather
        failure = self._take_failure(method, {str(raw), channel} if channel else set())
        if failure is not None:
            return failure.status, {"ok": False, "error": failure.error}, failure.headers
        return self.limits.limit(method, channel)

    def _take_failure(self, method: str, channels: set[str]) -> _Failure | None:
        for failure in self._failures:
            if failure.matches(method, channels):
                if failure.consume():
                    self._failures.remove(failure)
                return failure
        return None

    def writable_channel(self, args: JsonDict) -> str:
        channel = super().writable_channel(args)
        if {args.get("channel"), channel} & self._removed_from:
            raise ApiError("not_in_channel")
        return channel

    async def _serve_api(self, request: web.Request) -> web.Response:
        response = await super()._serve_api(request)  # recorded on arrival, answered late
        await self._lag()
        return response

    async def _serve_response(self, request: web.Request) -> web.Response:
        status = self.limits.response_url_status()
        response = (
            web.Response(status=status, text="service_unavailable")
            if status is not None
            else await super()._serve_response(request)
        )
        await self._lag()
        return response

    async def _lag(self) -> None:
        if self.latency > 0:
            await asyncio.sleep(self.latency)
