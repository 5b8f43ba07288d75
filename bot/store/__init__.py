"""Durable storage: the SQL implementation of the core's ``Ledger``.

Every storage failure reaches callers as the core's ``LedgerUnavailable``.
"""

from bot.store.sql import SqlLedger, open_ledger
from bot.store.url import database_url_for, redact_url

__all__ = ["SqlLedger", "database_url_for", "open_ledger", "redact_url"]
