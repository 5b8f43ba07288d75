"""Logging: one line per event, phone numbers masked, secrets and message text kept out.

Every record goes through ``OneLineFormatter``, which appends the record's ``extra`` fields as
``key=value`` and then masks anything that looks like a phone number and every configured
secret — in our lines and in library lines alike. Library loggers that would print whole
request bodies at DEBUG (and so message text) are held at INFO whatever ``LOG_LEVEL`` says, and
the database loggers (SQL with its parameters at INFO) at WARNING.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from contextvars import ContextVar

_NUMBER = re.compile(r"(?<![\w.])\+?\d[\d ()/-]{7,}\d")
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_CHATTY = (
    "slack_sdk",
    # The Web API client builds its DEBUG lines (whole request bodies) whenever *its own*
    # logger's level is NOTSET, even if nothing would print them: it needs a level of its own.
    "slack_sdk.web.async_base_client",
    "slack_bolt",
    "bot.bolt",
    "aiohttp",
    "asyncio",
    "urllib3",
)
# SQLAlchemy logs every statement *with its parameters* (message text, numbers, response_urls)
# as soon as INFO is enabled for ``sqlalchemy.engine``, so the database loggers stay at WARNING.
_QUIET = ("sqlalchemy", "asyncpg")


#: The request (ledger id) or Slack interaction the current task works on, for every log line.
_REQUEST_ID: ContextVar[int | None] = ContextVar("request_id", default=None)
_INTERACTION: ContextVar[str | None] = ContextVar("interaction", default=None)


@contextlib.contextmanager
def about_request(request_id: int) -> Iterator[None]:
    """Log lines written inside carry ``request_id`` (also those of the sipgate client)."""
    token = _REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        _REQUEST_ID.reset(token)


@contextlib.contextmanager
def about_interaction(interaction: str) -> Iterator[None]:
    """Log lines written inside carry ``interaction`` (the Slack trigger or view)."""
    token = _INTERACTION.set(interaction)
    try:
        yield
    finally:
        _INTERACTION.reset(token)


class RequestContext(logging.Filter):
    """Adds ``request_id`` / ``interaction`` of the current task to records lacking them."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (("request_id", _REQUEST_ID.get()), ("interaction", _INTERACTION.get())):
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        return True


def mask_number(number: str) -> str:
    """Hide the middle of a number for logs (``+49151****678``); never reveals it whole."""
    if len(number) < 10:
        return number[: min(2, len(number) - 1)] + "****"  # even "+4" keeps a digit hidden
    return number[:6] + "****" + number[-3:]


def _mask_match(match: re.Match[str]) -> str:
    digits = re.sub(r"[^\d+]", "", match.group(0))
    return mask_number(digits) if len(digits) >= 8 else match.group(0)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask phone numbers and remove secrets from a finished log line."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return _NUMBER.sub(_mask_match, text)


class OneLineFormatter(logging.Formatter):
    """``time level logger message key=value…`` on one line, redacted."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self._secrets = tuple(secret for secret in secrets if len(secret) >= 6)

    def format(self, record: logging.LogRecord) -> str:
        # Only what follows the prefix is redacted: the timestamp looks like a phone number.
        prefix = f"{self.formatTime(record)} {record.levelname} {record.name} "
        body = record.getMessage()
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if extras:
            body += " " + " ".join(f"{key}={value}" for key, value in sorted(extras.items()))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            body += "\n" + record.exc_text
        if record.stack_info:
            body += "\n" + self.formatStack(record.stack_info)
        return prefix + redact(body.replace("\n", " ⏎ "), self._secrets)


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    """Send every log line to stderr through the redacting one-line formatter."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter(secrets))
    handler.addFilter(RequestContext())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLevelName(level)))
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
