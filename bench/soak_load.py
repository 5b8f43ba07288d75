"""What a soak run asks of the bot: quick sends, modal sends and scheduled sends, mixed.

Each request carries a run-unique tag (``bench-<n>``) in its message and texts a number of its
own, so everything the fakes saw can be traced back to it. They go to a handful of channels,
from two users, so Slack's pace per channel is part of what the bot has to live with.
"""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass

import aiohttp

from bench.load import new_number, new_tag
from bench.scenarios import command_body, modal_submission
from bot.sandbox.harness import SIGNING_SECRET
from bot.sandbox.slack import FakeSlack
from bot.sandbox.slack_requests import (
    signed_headers,
)

CHANNELS = tuple(f"C_SOAK_{n}" for n in range(1, 7))
USERS = ("U_ALICE", "U_BOB")
#: Out of every ten requests: five quick sends, three modal sends, two scheduled ones.
KINDS = (
    *("quick", "modal", "quick", "scheduled", "quick"),
    *("modal", "quick", "quick", "modal", "scheduled"),
)


@dataclass
class SoakRequest:
    """One request driven into the bot, and how the bot answered it."""

    tag: str
    kind: str
    recipient: str
    channel: str
    user: str
    due: float
    status_code: int | None = None
    answer: str = ""  # the body of the bot's answer, or the error when there was none

    @property
    def acked(self) -> bool:
        return self.status_code == 200

    @property
    def refused_in_form(self) -> bool:
        """The modal stayed open with an error under a field: nothing was submitted."""
        return self.acked and '"response_action": "errors"' in self.answer


class SoakLoad:
    """Builds the next request of the mix and posts it, signed, to the bot."""

    def __init__(self, slack: FakeSlack, schedule_ahead: tuple[int, int], seed: int = 2) -> None:
        self.slack = slack
        self.schedule_ahead = schedule_ahead
        self.requests: list[SoakRequest] = []
        self._kinds = itertools.cycle(KINDS)
        self._places = itertools.cycle(itertools.product(CHANNELS, USERS))
        self._views = itertools.count(1)
        self._ahead = random.Random(seed).randint  # a load plan, not a secret

    def next(self, due: float) -> tuple[SoakRequest, str]:
        """The next request and its body."""
        channel, user = next(self._places)
        request = SoakRequest(new_tag(), next(self._kinds), new_number(), channel, user, due)
        self.requests.append(request)
        return request, self._body(request)

    async def post(self, session: aiohttp.ClientSession, url: str, body: str) -> tuple[int, str]:
        """POST the signed body; the HTTP status and body, or 0 and the error."""
        headers = signed_headers(body, SIGNING_SECRET)
        try:
            async with session.post(f"{url}/slack/events", data=body, headers=headers) as answer:
                return answer.status, await answer.text()
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            return 0, type(error).__name__

    def _body(self, request: SoakRequest) -> str:
        message = f"{request.tag} soak {request.kind}"
        if request.kind == "quick":
            return command_body(
                self.slack, f"{request.recipient} {message}", request.channel, request.user
            )
        when = None
        if request.kind == "scheduled":
            when = int(time.time()) + self._ahead(*self.schedule_ahead)
        view_id = f"VS{next(self._views)}"
        return modal_submission(
            request.channel, request.recipient, message, view_id, user=request.user, when=when
        )
