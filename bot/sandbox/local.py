"""Serving a sandbox stand-in on 127.0.0.1 with a port the OS picks."""

from __future__ import annotations

from types import TracebackType
from typing import Any, ClassVar, Self

from aiohttp import web

HOST = "127.0.0.1"


async def listen_locally(app: web.Application, **runner_options: Any) -> tuple[web.AppRunner, int]:
    """Start ``app`` on a free loopback port; the runner (to clean up) and the port."""
    runner = web.AppRunner(app, access_log=None, **runner_options)
    await runner.setup()
    await web.TCPSite(runner, HOST, 0).start()
    return runner, int(runner.addresses[0][1])


class LocalServer:
    """A stand-in served on ``127.0.0.1``: ``start()``/``close()`` or ``async with``.

    A subclass builds its routes in ``web_app`` and may pass ``runner_options``.
    """

    runner_options: ClassVar[dict[str, Any]] = {}

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._origin = ""

    def web_app(self) -> web.Application:
        raise NotImplementedError

    async def start(self) -> None:
        """Listen on a free port."""
        self._runner, port = await listen_locally(self.web_app(), **self.runner_options)
        self._origin = f"http://{HOST}:{port}"

    async def close(self) -> None:
        """Stop listening (idempotent)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>`` (only once started)."""
        if not self._origin:
            raise RuntimeError(f"{type(self).__name__} is not started: use `async with` or start()")
        return self._origin
