"""Server processes under test: start, wait for /healthz, read CPU and memory, stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bot.sandbox.harness import Fakes, sandbox_environ

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
STOP_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` from /proc/<pid>/stat."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mb(pid: int) -> float:
    """VmHWM of ``pid`` in MiB."""
    return _status_mb(pid, "VmHWM:")


def rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` in MiB."""
    return _status_mb(pid, "VmRSS:")


def _status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return float("nan")


def bot_env(fakes: Fakes, database_url: str, **overrides: str) -> dict[str, str]:
    """The bot's settings against ``fakes``: two allowed users, no hourly limit to speak of."""
    settings = {
        "SMS_ALLOWED_USERS": "U_ALICE,U_BOB",
        "SMS_ALLOWED_COUNTRIES": "DE",
        "SMS_USER_HOURLY_LIMIT": "1000000000",
        "SIPGATE_TIMEOUT": "15",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url,
    }
    return sandbox_environ(fakes.slack, fakes.sipgate, **{**settings, **overrides})


@dataclass
class Server:
    """One server process (the bot or a floor) on 127.0.0.1:<port>."""

    name: str
    module: str
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    startup_seconds: float = float("nan")
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    async def start(self, log_dir: Path, timeout: float = 30.0) -> None:
        env = {**os.environ, **self.env, "PORT": str(self.port), "PYTHONPATH": str(ROOT)}
        self.log_path = log_dir / f"{self.name}.log"
        with self.log_path.open("wb") as log:
            started = time.monotonic()
            self.process = subprocess.Popen(  # noqa: ASYNC220, S603 - returns at once; our own argv
                [sys.executable, "-m", self.module],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = started + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: {self.tail_log()}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with session.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            self.startup_seconds = time.monotonic() - started
                            return
                await asyncio.sleep(0.02)
        raise TimeoutError(f"{self.name} not healthy within {timeout}s: {self.tail_log()}")

    def tail_log(self, chars: int = 2000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    async def quiet(self, *, share: float = 0.05, window: float = 0.5, most: float = 60.0) -> None:
        """Wait until the process uses less than ``share`` of a core over ``window`` seconds
        (at most ``most`` seconds)."""
        deadline = time.monotonic() + most
        while time.monotonic() < deadline:
            before = self.cpu()
            await asyncio.sleep(window)
            if self.cpu() - before < share * window:
                return

    def rss(self) -> float:
        return peak_rss_mb(self.pid)

    def rss_now(self) -> float:
        """VmRSS of the process now, in MiB."""
        return rss_mb(self.pid)

    def kill(self) -> None:
        """SIGKILL: the process dies at once, as in a crash."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(5)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a timeout (idempotent)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
