"""Durable storage: the ``Ledger`` interface and its SQL implementation."""

from bot.store.base import (
    CancelOutcome,
    CancelResult,
    Duplicate,
    Ledger,
    Opened,
    OpenResult,
    OverLimit,
    Usage,
)
from bot.store.sql import SqlLedger, open_ledger
from bot.store.url import database_url_for, redact_url

__all__ = [
    "CancelOutcome",
    "CancelResult",
    "Duplicate",
    "Ledger",
    "OpenResult",
    "Opened",
    "OverLimit",
    "SqlLedger",
    "Usage",
    "database_url_for",
    "open_ledger",
    "redact_url",
]
