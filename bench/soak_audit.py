"""The audit after a soak run: the ledger against what the fakes saw.

It holds when every request the bot stored has a final state, none is lost (acked but neither
stored nor answered), no number got two SMS and the ledger agrees with sipgate about which went
out, every status post reached Slack (or is marked undelivered with a reason) and every status
message in Slack shows its request's final state, and each send cut off by a kill was told as
"unknown" soon after the restart.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from bench.load import TAG
from bench.soak_load import SoakRequest
from bot.core import SendRecord, State
from bot.sandbox.sipgate import FakeSipgate
from bot.slack.texts import DATABASE_DOWN, overall
from bot.store.schema import requests, sends, status_outbox
from bot.store.url import database_url_for
from tests.fakes import ScriptedFakes
from tests.fakes.slack import ScriptedSlack

OPEN_STATES = frozenset({State.SCHEDULED, State.SENDING})
UNKNOWN_LABEL = "outcome unknown"


@dataclass(frozen=True)
class StoredRequest:
    id: int
    status_channel: str | None
    status_ts: str | None
    sends: tuple[SendRecord, ...]


@dataclass(frozen=True)
class Outbox:
    total: int
    pending: int
    undelivered: int
    undelivered_without_reason: int


@dataclass
class Snapshot:
    """The ledger as the audit needs it: stored requests by tag, and the outbox's counts."""

    stored: dict[str, StoredRequest]
    outbox: Outbox


@dataclass(frozen=True)
class CutOff:
    """A send the bot was killed in the middle of, and when the next bot was healthy."""

    recipient: str
    restarted_at: float


@dataclass
class Audit:
    figures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def check(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)


async def read_ledger(database_url: str) -> Snapshot:
    engine = create_async_engine(database_url_for(database_url))
    try:
        async with engine.connect() as conn:
            request_rows = (await conn.execute(select(requests))).all()
            send_rows = (await conn.execute(select(sends))).all()
            outbox_rows = (await conn.execute(_outbox_counts())).one()
    finally:
        await engine.dispose()
    return Snapshot(_stored(request_rows, send_rows), Outbox(*outbox_rows))


def _outbox_counts() -> Any:
    pending = status_outbox.c.done_at.is_(None)
    undelivered = status_outbox.c.undelivered.is_(True)
    no_reason = undelivered & status_outbox.c.last_error.is_(None)
    return select(
        func.count(),
        func.count().filter(pending),
        func.count().filter(undelivered),
        func.count().filter(no_reason),
    ).select_from(status_outbox)


def _stored(request_rows: Iterable[Any], send_rows: Iterable[Any]) -> dict[str, StoredRequest]:
    by_request: dict[int, list[SendRecord]] = {}
    for row in send_rows:
        record = SendRecord(row.id, row.request_id, row.recipient, row.state, error_kind=None)
        by_request.setdefault(row.request_id, []).append(record)
    stored = {}
    for row in request_rows:
        found = TAG.search(row.message)
        if found:
            sends_of = tuple(by_request.get(row.id, ()))
            stored[found.group(0)] = StoredRequest(
                row.id, row.status_channel, row.status_ts, sends_of
            )
    return stored


def audit(
    driven: list[SoakRequest],
    snapshot: Snapshot,
    fakes: ScriptedFakes,
    cut_offs: list[CutOff],
) -> Audit:
    result = Audit()
    _requests(result, driven, snapshot, fakes.slack)
    _sms_once(result, driven, snapshot, fakes.sipgate)
    _statuses(result, snapshot, fakes.slack)
    _cut_offs(result, driven, snapshot, fakes.slack, cut_offs)
    return result


def _requests(
    result: Audit, driven: list[SoakRequest], snapshot: Snapshot, slack: ScriptedSlack
) -> None:
    """Every stored request is final; an acked one not stored was told why."""
    stored = snapshot.stored
    states = Counter(send.state.value for r in stored.values() for send in r.sends)
    open_sends = sum(states[state.value] for state in OPEN_STATES)
    refused = [r for r in driven if r.refused_in_form]
    submitted = [r for r in driven if r.acked and not r.refused_in_form]
    unstored_acked = [r for r in submitted if r.tag not in stored]
    told = _told_database_down(slack)
    result.figures.update(
        requests_driven=len(driven),
        acked=sum(r.acked for r in driven),
        not_acked_bot_down=sum(not r.acked for r in driven),
        stored=sum(r.tag in stored for r in driven),
        refused_in_form=len(refused),
        acked_not_stored=len(unstored_acked),
        told_database_down=told,
        send_states=dict(states),
    )
    result.check(open_sends == 0, f"{open_sends} sends not final (scheduled or sending)")
    result.check(
        len(unstored_acked) <= told,
        f"acked, neither stored nor told: {[(r.tag, r.kind) for r in unstored_acked]}",
    )


def _told_database_down(slack: ScriptedSlack) -> int:
    """Requesters told that nothing was sent because the database was down."""
    workspace = slack.workspace
    texts = [str(post.body) for post in workspace.responses]
    texts += [ephemeral.text for ephemeral in workspace.ephemerals]
    return sum(DATABASE_DOWN[:40] in text for text in texts)


def _sms_once(
    result: Audit, driven: list[SoakRequest], snapshot: Snapshot, sipgate: FakeSipgate
) -> None:
    """No number got two SMS posts; sipgate and the ledger agree on what went out."""
    posted = Counter(str(post.json["recipient"]) for post in sipgate.sms_posts)
    accepted = {str(post.json["recipient"]) for post in sipgate.sms}
    twice = [number for number, count in posted.items() if count > 1]
    in_ledger = {s.recipient: s.state for r in snapshot.stored.values() for s in r.sends}
    said_accepted = {n for n, state in in_ledger.items() if state is State.ACCEPTED}
    unstored = {r.recipient for r in driven if r.tag not in snapshot.stored}
    result.figures.update(
        sms_posts=len(sipgate.sms_posts),
        sms_accepted_by_sipgate=len(accepted),
        numbers_texted_twice=len(twice),
    )
    result.check(not twice, f"{len(twice)} numbers got more than one SMS post: {twice[:5]}")
    missing = said_accepted - accepted
    result.check(not missing, f"{len(missing)} sends accepted in the ledger, not by sipgate")
    unexplained = {n for n in accepted if in_ledger.get(n) not in (State.ACCEPTED, State.UNKNOWN)}
    result.check(
        not unexplained, f"{len(unexplained)} SMS sipgate accepted the ledger calls otherwise"
    )
    result.check(not (posted.keys() & unstored), "an SMS went out for a request not stored")


def _statuses(result: Audit, snapshot: Snapshot, slack: ScriptedSlack) -> None:
    """Every status post is done; every status message shows its request's final state."""
    outbox = snapshot.outbox
    stale = [tag for tag, request in snapshot.stored.items() if not _shows_final(slack, request)]
    result.figures.update(
        status_posts=outbox.total,
        status_posts_pending=outbox.pending,
        status_posts_undelivered=outbox.undelivered,
        status_messages_not_final=len(stale),
        slack_429s=sum(r.status == 429 for r in slack.limits.refusals),
    )
    result.check(outbox.pending == 0, f"{outbox.pending} status posts not delivered")
    result.check(
        outbox.undelivered_without_reason == 0,
        f"{outbox.undelivered_without_reason} undelivered status posts without a reason",
    )
    result.check(not stale, f"{len(stale)} status messages not final: {stale[:5]}")


def _shows_final(slack: ScriptedSlack, request: StoredRequest) -> bool:
    if request.status_channel is None or request.status_ts is None:
        return False
    message = slack.workspace.message(request.status_channel, request.status_ts)
    return message is not None and overall(request.sends) in f"{message.text}{message.blocks}"


def _cut_offs(
    result: Audit,
    driven: list[SoakRequest],
    snapshot: Snapshot,
    slack: ScriptedSlack,
    cut_offs: list[CutOff],
) -> None:
    """Each send held at a kill is unknown, and its requester was told soon after the restart."""
    tags = {r.recipient: r.tag for r in driven}
    delays = []
    for cut in cut_offs:
        tag = tags.get(cut.recipient)
        stored = snapshot.stored.get(tag or "")
        states = [s.state for s in stored.sends] if stored else []
        result.check(states == [State.UNKNOWN], f"cut-off send to {cut.recipient}: {states}")
        told = _first_call_showing(slack, tag or "", UNKNOWN_LABEL, after=cut.restarted_at)
        delays.append(told - cut.restarted_at if told is not None else float("inf"))
    worst = max(delays, default=float("nan"))
    result.figures.update(cut_off_sends=len(cut_offs), cut_off_told_within_s=worst)
    result.check(not delays or worst <= 15, f"a cut-off send was told {worst:.1f} s after restart")


def _first_call_showing(
    slack: ScriptedSlack, tag: str, words: str, *, after: float
) -> float | None:
    about = re.compile(rf"{re.escape(tag)}\b")
    for call in slack.calls:
        if call.at >= after and call.method in ("chat.update", "chat.postMessage"):
            shown = str(call.args)
            if words in shown and about.search(shown):
                return call.at
    return None
