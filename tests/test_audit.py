"""The audit export's pure parts: the columns, times, periods, CSV and its formula guard, JSONL."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from bot.core import (
    COLUMNS,
    AuditRow,
    OriginKind,
    State,
    between_dates,
    formula_safe,
    last_days,
    utc_text,
)
from bot.core.audit import csv_text, jsonl_text, row_values

CREATED = datetime(2026, 11, 24, 14, 0, 5, 123456, UTC)


def a_row(**changes: object) -> AuditRow:
    values: dict[str, object] = {
        "request_id": 12,
        "send_id": 30,
        "created_at": CREATED,
        "user_id": "U_ALICE",
        "channel_id": "C_GENERAL",
        "origin": OriginKind.COMMAND,
        "recipient": "+4915112345678",
        "state": State.ACCEPTED,
        "sipgate_status": None,
        "error_kind": None,
        "scheduled_for": None,
        "finished_at": CREATED + timedelta(seconds=1),
        "segments": 1,
        "message": "Your technician arrives at 3pm",
        "status_delivery": "delivered",
    }
    values.update(changes)
    return AuditRow(**values)  # type: ignore[arg-type]


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_columns_are_those_of_the_specification_plus_the_status_delivery() -> None:
    assert COLUMNS == (
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


def test_times_are_utc_iso_8601_to_the_second() -> None:
    berlin = timezone(timedelta(hours=1))
    assert utc_text(datetime(2026, 11, 24, 15, 0, 5, 999, berlin)) == "2026-11-24T14:00:05Z"
    assert utc_text(None) == ""


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+4915112345678", "'+4915112345678"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Call me = now", "Call me = now"),
        ("", ""),
        ("12", "12"),
    ],
)
def test_a_cell_that_starts_like_a_formula_gets_a_leading_quote(cell: str, shown: str) -> None:
    assert formula_safe(cell) == shown


def test_a_csv_row_is_formula_safe_and_keeps_quotes_commas_and_line_breaks() -> None:
    message = '=cmd|"/c calc"!A1, then\na "quote"'
    text = csv_text([row_values(a_row(message=message, error_kind="balance", sipgate_status=402))])

    (row,) = read_csv(text)
    values = dict(zip(COLUMNS, row, strict=True))
    assert values["message"] == "'" + message
    assert values["recipient"] == "'+4915112345678"  # still reads as the number
    assert values["created_utc"] == "2026-11-24T14:00:05Z"
    assert values["finished_at_utc"] == "2026-11-24T14:00:06Z"
    assert values["scheduled_for_utc"] == ""
    assert values["sipgate_status"] == "402"
    assert values["origin"] == "command"
    assert text.endswith("\r\n")


def test_jsonl_has_one_object_per_line_keyed_by_the_columns_without_the_guard() -> None:
    rows = [row_values(a_row()), row_values(a_row(request_id=13, message="two\nlines"))]

    lines = jsonl_text(rows).splitlines()

    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert list(first) == list(COLUMNS)
    assert first["recipient"] == "+4915112345678"
    assert first["sipgate_status"] is None
    assert second["message"] == "two\nlines"


def test_dates_cover_whole_utc_days_both_included() -> None:
    period = between_dates(date(2026, 1, 1), date(2026, 1, 31))

    assert period.start == datetime(2026, 1, 1, tzinfo=UTC)
    assert period.end == datetime(2026, 2, 1, tzinfo=UTC)


def test_the_last_days_reach_up_to_now() -> None:
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)

    period = last_days(now, 30)

    assert period.start == now - timedelta(days=30)
    assert period.end is None
