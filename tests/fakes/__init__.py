"""The fakes of the tests: the sandbox's Slack and sipgate stand-ins, plus what only tests need.

The sandbox (``bot/sandbox``) holds what ``python -m bot demo`` runs. The subclasses here add
scripted failures, rate limits, the Web API methods the demo does not use, credential checks,
latency (for the benchmark), Socket Mode and a fake of sipgate's OAuth login server.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.sandbox.harness import Fakes
from tests.fakes.sipgate import ScriptedSipgate
from tests.fakes.slack import ScriptedSlack


@dataclass
class ScriptedFakes(Fakes):
    """A ScriptedSlack and a ScriptedSipgate, shared by one or more bots."""

    slack: ScriptedSlack
    sipgate: ScriptedSipgate

    @classmethod
    async def start(cls, *, latency: float = 0.0) -> ScriptedFakes:
        """Both fakes started; ``latency`` seconds before every answer (for the benchmark)."""
        pair = cls(ScriptedSlack(latency=latency), ScriptedSipgate(latency=latency))
        return await pair.started()
