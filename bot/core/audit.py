"""The audit export: every recipient of every request in a period, as CSV or JSON lines.

``/sms export`` and ``python -m bot export`` run the same query through ``Export``: the
ledger hands over the rows of ``BATCH`` requests at a time (keyset paging, one short read
each), and every batch is formatted and handed on before the next is read, so a year of a
busy workspace never sits in memory at once.

A CSV is opened by spreadsheet apps, which run a cell that starts with ``=``, ``+``, ``-`` or
``@`` (or a tab or carriage return) as a formula; such a cell gets a leading ``'``, which the
apps show as text and people read past (``'+4915112345678``).
"""

from __future__ import annotations

import csv
import enum
import io
import json
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta

from bot.core.model import AuditPeriod, AuditRow
from bot.core.ports import Ledger

BATCH = 1000
MAX_DAYS = 366  # /sms export takes at most this many days
DEFAULT_DAYS = 30

COLUMNS = (
    "request_id",
    "created_utc",
    "requester_user_id",
    "channel_id",
    "origin",
    "recipient",
    "state",
    "sipgate_status",
    "error_kind",
    "scheduled_for_utc",
    "finished_at_utc",
    "segments",
    "message",
    "status_delivery",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


def last_days(now: datetime, days: int) -> AuditPeriod:
    """The requests of the last ``days`` days up to now."""
    return AuditPeriod(now - timedelta(days=days))


def between_dates(since: date, until: date) -> AuditPeriod:
    """The requests of the UTC days ``since`` to ``until``, both included."""
    start = datetime.combine(since, time(), UTC)
    return AuditPeriod(start, datetime.combine(until + timedelta(days=1), time(), UTC))


def utc_text(moment: datetime | None) -> str:
    """ISO 8601 in UTC to the second (``2026-11-24T14:00:00Z``); empty for no time."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def formula_safe(cell: str) -> str:
    """A cell a spreadsheet app shows as text, never runs: ``'`` before a formula start."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def row_values(row: AuditRow) -> list[str | int | None]:
    """The row's values in ``COLUMNS`` order, times as ISO 8601 text."""
    return [
        row.request_id,
        utc_text(row.created_at),
        row.user_id,
        row.channel_id,
        row.origin.value,
        row.recipient,
        row.state.value,
        row.sipgate_status,
        row.error_kind,
        utc_text(row.scheduled_for) or None,
        utc_text(row.finished_at) or None,
        row.segments,
        row.message,
        row.status_delivery,
    ]


def csv_text(rows: Sequence[Sequence[str | int | None]]) -> str:
    """CSV lines (the csv module quotes separators, quotes and line breaks), formula-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for values in rows:
        writer.writerow(["" if v is None else formula_safe(str(v)) for v in values])
    return buffer.getvalue()


def jsonl_text(rows: Sequence[Sequence[str | int | None]]) -> str:
    """One JSON object per line, keyed by ``COLUMNS``."""
    objects = (dict(zip(COLUMNS, values, strict=True)) for values in rows)
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in objects)


_FORMATTERS: dict[ExportFormat, Callable[[Sequence[Sequence[str | int | None]]], str]] = {
    ExportFormat.CSV: csv_text,
    ExportFormat.JSONL: jsonl_text,
}


async def export_rows(ledger: Ledger, period: AuditPeriod) -> AsyncIterator[list[AuditRow]]:
    """The period's rows, oldest request first, the sends of ``BATCH`` requests at a time."""
    after: int | None = None
    while True:
        batch = await ledger.audit_rows(period, after=after, limit=BATCH)
        if batch:
            yield batch
        if len({row.request_id for row in batch}) < BATCH:
            return
        after = batch[-1].request_id


class Export:
    """One export of a period in a format; ``rows`` counts the rows handed out so far."""

    def __init__(
        self, ledger: Ledger, period: AuditPeriod, fmt: ExportFormat = ExportFormat.CSV
    ) -> None:
        self._ledger = ledger
        self.period = period
        self.format = fmt
        self.rows = 0

    async def chunks(self) -> AsyncIterator[str]:
        """The export as text: a CSV's header row first, then one chunk per batch."""
        formatter = _FORMATTERS[self.format]
        if self.format is ExportFormat.CSV:
            yield csv_text([COLUMNS])
        async for batch in export_rows(self._ledger, self.period):
            self.rows += len(batch)
            yield formatter([row_values(row) for row in batch])
