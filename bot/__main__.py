"""``python -m bot`` (serve), ``check``, ``demo``, ``export``, ``sipgate-login``."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence

from dotenv import load_dotenv

from bot.app import StartupError, serve
from bot.check import run_check
from bot.demo import run_demo
from bot.export import run_export
from bot.login import run_login
from bot.logs import configure_logging
from bot.settings import SettingsError, load_settings

USAGE = """usage: python -m bot [serve|check|demo|export|sipgate-login]
  serve          run the bot (the default): HTTP on $PORT, or Socket Mode with SLACK_APP_TOKEN
  check          check a real configuration against Slack and sipgate, and say how to fix it
  demo           run the whole flow offline with a sipgate sandbox and a local Slack stand-in
  export         --since YYYY-MM-DD [--until YYYY-MM-DD] [--format csv|jsonl]: the audit
                 export of the database at DATABASE_URL to stdout
  sipgate-login  log the bot in to sipgate with OAuth (SIPGATE_OAUTH_CLIENT_ID/_SECRET) once;
                 --no-browser: only print the address to open"""


def main(argv: Sequence[str]) -> int:
    """Dispatch the sub-command; the return value is the exit code."""
    command = argv[0] if argv else "serve"
    if command in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if command == "demo":
        return asyncio.run(run_demo())
    load_dotenv(override=False)  # the environment wins over .env
    if command == "check":
        return asyncio.run(run_check(os.environ))
    if command == "sipgate-login":
        return asyncio.run(run_login(os.environ, open_browser="--no-browser" not in argv[1:]))
    if command == "export":
        return _export(argv[1:])
    if command == "serve":
        return _serve()
    print(USAGE, file=sys.stderr)
    return 2


def _export(argv: Sequence[str]) -> int:
    """The audit export to stdout; log lines (to stderr) at LOG_LEVEL if it is a level."""
    level = os.environ.get("LOG_LEVEL", "INFO").strip().upper()
    configure_logging(level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO")
    return asyncio.run(run_export(argv, os.environ))


def _serve() -> int:
    try:
        settings = load_settings(os.environ)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.secret_values())
    try:
        return asyncio.run(serve(settings))
    except StartupError as error:
        print(f"The bot cannot start: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
