"""sipgate's call and SMS history for the sandbox: SMS entries, and ``GET /history`` queries.

sipgate has no webhook for SMS: incoming SMS are found by reading the history. The entries are
shaped like sipgate's (``HistoryEntryResponse`` plus ``smsContent`` and ``scheduled``), newest
first. The query is read like sipgate reads it: arrays as repeated keys (``types=SMS&types=FAX``),
``limit`` 10 unless given and at most 1000, ``from``/``to`` as ISO-8601 date-times.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from multidict import MultiMapping

JsonDict = dict[str, Any]

TYPES = frozenset({"CALL", "VOICEMAIL", "SMS", "FAX"})
DIRECTIONS = frozenset({"INCOMING", "OUTGOING", "MISSED_INCOMING", "MISSED_OUTGOING"})
DEFAULT_LIMIT = 10
MAX_LIMIT = 1000


class QueryError(ValueError):
    """A query sipgate would refuse with 400."""


@dataclass(frozen=True)
class HistoryQuery:
    """What one ``GET /history`` asks for (empty sets: no filter)."""

    types: frozenset[str] = frozenset()
    directions: frozenset[str] = frozenset()
    connection_ids: frozenset[str] = frozenset()
    phonenumber: str | None = None
    since: datetime | None = None  # the ``from`` parameter, inclusive
    until: datetime | None = None  # the ``to`` parameter, inclusive
    archived: bool = False
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    def matches(self, entry: JsonDict, created: datetime) -> bool:
        return (
            _within(self.types, entry["type"])
            and _within(self.directions, entry["direction"])
            and (not self.connection_ids or bool(self.connection_ids & set(entry["connectionIds"])))
            and self.phonenumber in (None, entry["source"], entry["target"])
            and (self.since is None or created >= self.since)
            and (self.until is None or created <= self.until)
            and entry["archived"] is self.archived
        )


def _within(allowed: frozenset[str], value: str) -> bool:
    return not allowed or value in allowed


def read_query(query: MultiMapping[str]) -> HistoryQuery:
    """The query of ``GET /history``; QueryError for what sipgate answers 400 to."""
    return HistoryQuery(
        types=_enums(query.getall("types", []), TYPES, "types"),
        directions=_enums(query.getall("directions", []), DIRECTIONS, "directions"),
        connection_ids=frozenset(query.getall("connectionIds", [])),
        phonenumber=query.get("phonenumber"),
        since=_moment(query.get("from"), "from"),
        until=_moment(query.get("to"), "to"),
        archived=_flag(query.get("archived", "false")),
        limit=_number(query.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT, "limit"),
        offset=_number(query.get("offset"), 0, 0, None, "offset"),
    )


def _enums(values: Iterable[str], allowed: frozenset[str], name: str) -> frozenset[str]:
    chosen = frozenset(values)
    if not chosen <= allowed:
        raise QueryError(f"{name}: {sorted(chosen - allowed)} not in {sorted(allowed)}")
    return chosen


def _moment(raw: str | None, name: str) -> datetime | None:
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise QueryError(f"{name}: {raw!r} is not an ISO-8601 date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _flag(raw: str) -> bool:
    if raw not in ("true", "false"):
        raise QueryError(f"archived: {raw!r} is not true or false")
    return raw == "true"


def _number(raw: str | None, default: int, low: int, high: int | None, name: str) -> int:
    try:
        value = default if raw is None else int(raw)
    except ValueError:
        raise QueryError(f"{name}: {raw!r} is not a number") from None
    if value < low or (high is not None and value > high):
        raise QueryError(f"{name}: {value} is out of range")
    return value


def iso(moment: datetime) -> str:
    """sipgate's timestamps: UTC, whole seconds, ``Z`` (``2026-12-07T10:00:00Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SmsHistory:
    """The account's SMS history, in the order entries were made."""

    def __init__(self) -> None:
        self.entries: list[JsonDict] = []
        self._created: dict[str, datetime] = {}
        self._ids = itertools.count(1)

    def add(
        self,
        *,
        incoming: bool,
        source: str,
        target: str,
        text: str,
        at: datetime,
        connection_id: str = "s0",
    ) -> JsonDict:
        """A new SMS entry (``incoming``: received, else sent); the entry as sipgate shows it."""
        entry_id = str(next(self._ids))
        entry = {
            "id": entry_id,
            "source": source,
            "target": target,
            "sourceAlias": "",
            "targetAlias": "",
            "type": "SMS",
            "created": iso(at),
            "lastModified": iso(at),
            "direction": "INCOMING" if incoming else "OUTGOING",
            "incoming": incoming,
            "status": "PICKUP",
            "connectionIds": [connection_id],
            "read": False,
            "archived": False,
            "note": "",
            "endpoints": [],
            "starred": "UNSTARRED",
            "labels": [],
            "smsContent": text,
            "scheduled": None,
        }
        self.entries.append(entry)
        self._created[entry_id] = at.astimezone(UTC).replace(microsecond=0)
        return entry

    def page(self, query: HistoryQuery) -> JsonDict:
        """``{"items": [...], "totalCount": n}``: the matching entries, newest first, paged."""
        found = [
            entry
            for entry in self._newest_first()
            if query.matches(entry, self._created[entry["id"]])
        ]
        items = found[query.offset : query.offset + query.limit]
        return {"items": items, "totalCount": len(found)}

    def _newest_first(self) -> list[JsonDict]:
        order = {entry["id"]: index for index, entry in enumerate(self.entries)}
        return sorted(
            self.entries,
            key=lambda entry: (self._created[entry["id"]], order[entry["id"]]),
            reverse=True,
        )
