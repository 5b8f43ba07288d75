"""``python -m bot export --since YYYY-MM-DD [--until YYYY-MM-DD] [--format csv|jsonl]``.

The audit export for someone with access to the database: the same rows as ``/sms export``
(one per recipient of every request created in the period, denied ones included), written to
stdout batch by batch (a CSV's header row first); dates are UTC days, both included. Log lines
go to stderr. Only ``DATABASE_URL`` (and ``LOG_LEVEL``) are read.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TextIO

from bot.core import (
    AuditPeriod,
    Export,
    ExportFormat,
    LedgerUnavailable,
    between_dates,
    utc_now,
)
from bot.settings import SettingsError, load_settings
from bot.store import database_url_for, open_ledger, redact_url

log = logging.getLogger(__name__)


def parser() -> argparse.ArgumentParser:
    found = argparse.ArgumentParser(
        prog="python -m bot export",
        description="Write every SMS request of a period (one row per recipient) to stdout.",
    )
    found.add_argument("--since", required=True, type=_day, help="first UTC day, YYYY-MM-DD")
    found.add_argument("--until", type=_day, help="last UTC day, YYYY-MM-DD (default: today)")
    found.add_argument(
        "--format", choices=[f.value for f in ExportFormat], default=ExportFormat.CSV.value
    )
    return found


def _day(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date like 2026-01-31: {raw!r}") from None


async def run_export(
    argv: Sequence[str], environ: Mapping[str, str], out: TextIO = sys.stdout
) -> int:
    """Write the export; 0 when done, 2 for wrong arguments or settings, 1 without a database."""
    args = parser().parse_args(argv)
    until: date = args.until or utc_now().date()
    if until < args.since:
        print("--until must not be before --since", file=sys.stderr)
        return 2
    try:
        settings = load_settings(environ, require_service=False)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    period = between_dates(args.since, until)
    return await write_export(settings.database_url, period, ExportFormat(args.format), out)


async def write_export(
    database_url: str | None, period: AuditPeriod, fmt: ExportFormat, out: TextIO
) -> int:
    """The export of ``period`` from the database to ``out``, a batch at a time."""
    try:
        ledger = await open_ledger(database_url)
    except (LedgerUnavailable, ValueError) as error:
        where = redact_url(database_url_for(database_url))
        print(f"cannot open the database {where}: {error}", file=sys.stderr)
        return 1
    try:
        export = Export(ledger, period, fmt)
        async for chunk in export.chunks():
            out.write(chunk)
        out.flush()
    finally:
        await ledger.close()
    log.info("export written", extra={"rows": export.rows})
    return 0
