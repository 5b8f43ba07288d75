"""The home view (pure): what a person and an admin see, lists cut with "…and N more", and never
more than Slack's 100 blocks, whatever the ledger holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.core import (
    Balance,
    Decision,
    OriginKind,
    Scheduler,
    SendFailure,
    SendRecord,
    SmsRequest,
    State,
    Usage,
    UserCounts,
)
from bot.sandbox.transcript import home_tab
from bot.slack.home_view import (
    CANCEL_ACTION,
    COMPOSE_ACTION,
    LATEST_SHOWN,
    MAX_BLOCKS,
    SCHEDULED_SHOWN,
    AdminPart,
    HomeData,
    home_view,
)

BERLIN = ZoneInfo("Europe/Berlin")
AT = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def request(number: int, *states: State, user: str = "U_ALICE", message: str = "Hi") -> SmsRequest:
    sends = tuple(
        SendRecord(
            number * 10 + i, number, f"+4915112345{i:03d}", state, label="@anna" if i else None
        )
        for i, state in enumerate(states or (State.ACCEPTED,))
    )
    scheduled = any(state is State.SCHEDULED for state in states)
    return SmsRequest(
        id=number, interaction_key=f"k{number}", team_id="T", user_id=user, channel_id="C",
        response_url=None, message=message, sms_id="s0", segments=1, requested_at=AT,
        send_at=AT + timedelta(hours=1) if scheduled else None, scheduler=Scheduler.BOT,
        status_channel=None, status_ts=None, sends=sends, origin=OriginKind.COMMAND,
    )  # fmt: skip


def data(
    *mine: SmsRequest, admin: AdminPart | None = None, decision: Decision = Decision.ALLOWED
) -> HomeData:
    return HomeData(
        tz=BERLIN,
        decision=decision,
        admins=frozenset({"U_BOB"}),
        mine=mine,
        usage=Usage(12, None),
        limit=30,
        admin=admin,
    )


def admin_part(everyone: int = 3, users: int = 2) -> AdminPart:
    return AdminPart(
        everyone=[request(100 + i, user=f"U{i}") for i in range(everyone)],
        counts=[UserCounts(f"U{i}", i, 2 * i) for i in range(users)],
        balance=Balance(35000, "EUR"),
        opt_outs=4,
    )


def shown(view: dict[str, Any]) -> str:
    return home_tab(view, "U_ALICE", {"U_ALICE": "alice", "U_BOB": "bob"})


def actions(view: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for block in view["blocks"]:
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if element.get("type") == "button":
                found.append((element["action_id"], element["value"]))
    return found


class Forbidden(SendFailure):
    kind = "forbidden"


def test_a_person_s_home() -> None:
    view = home_view(data(request(2, State.SCHEDULED), request(1, State.ACCEPTED, State.FAILED)))

    text = shown(view)
    assert view["type"] == "home"
    assert "12 of 30 SMS this hour" in text
    assert actions(view) == [(COMPOSE_ACTION, "compose"), (CANCEL_ACTION, "2")]
    assert "`#2` · Tue 24 Nov 2026, 16:00 CET · “Hi”\n  🕒 +49 1511 2345000: scheduled" in text
    assert "✅ +49 1511 2345000: accepted by sipgate\n  ❌ @anna (+49 1511 2345001): failed" in text
    assert "For SMS admins" not in text


def test_someone_not_allowed_sees_who_to_ask_instead_of_compose() -> None:
    view = home_view(data(decision=Decision.USER_DENIED))

    assert "⛔ You are not allowed to send SMS from Slack. Ask @bob." in shown(view)
    assert actions(view) == []
    assert "Nothing scheduled." in shown(view)
    assert "You have not sent an SMS from Slack yet." in shown(view)


def test_where_only_some_channels_may_send_the_home_tab_says_to_use_sms_there() -> None:
    view = home_view(data(decision=Decision.CHANNEL_DENIED))

    assert "SMS cannot be sent from the home tab here" in shown(view)
    assert actions(view) == []


def test_an_admin_s_home_adds_balance_opt_outs_counts_exports_and_everyone() -> None:
    view = home_view(data(admin=admin_part()))

    text = shown(view)
    assert "*sipgate balance:* 3.50 EUR\n  *Opt-out list:* 4 numbers" in text
    assert "@U1: 1 in 24 h · 2 in 30 days" in text
    assert ("home_export_30", "30") in actions(view)
    assert ("home_export_366", "366") in actions(view)
    assert "`#102` · Tue 24 Nov 2026, 15:00 CET · @U2 · “Hi”" in text


def test_an_admin_s_home_says_why_the_balance_is_missing() -> None:
    part = admin_part()
    view = home_view(data(admin=AdminPart(part.everyone, part.counts, Forbidden(403), 0)))

    assert "not shown — the sipgate token lacks the balance:read scope" in shown(view)


def test_long_lists_are_cut_with_and_more() -> None:
    scheduled = [request(1000 + i, State.SCHEDULED) for i in range(SCHEDULED_SHOWN + 7)]
    latest = [request(i) for i in range(LATEST_SHOWN + 3)]

    view = home_view(data(*scheduled, *latest, admin=admin_part(everyone=25, users=40)))

    text = shown(view)
    assert "…and 7 more" in text
    assert "…and 3 more" in text
    assert "…and 5 more" in text  # everyone's
    assert "…and 25 more" in text  # SMS per user, 15 shown
    assert len(view["blocks"]) <= MAX_BLOCKS


def test_a_home_never_has_more_than_100_blocks_and_every_text_fits() -> None:
    many = [request(i, *[State.FAILED] * 10, message="x" * 1600) for i in range(500)]
    waiting = [request(1000 + i, State.SCHEDULED) for i in range(500)]

    view = home_view(data(*waiting, *many, admin=admin_part(everyone=500, users=500)))

    assert len(view["blocks"]) <= MAX_BLOCKS
    for block in view["blocks"]:
        text = (block.get("text") or {}).get("text", "")
        assert len(text) <= 3000
    assert len(json.dumps(view)) < 250_000  # Slack's limit for a whole view


def test_text_people_typed_cannot_ping_or_link_on_the_home_tab() -> None:
    view = home_view(data(request(1, message="<!channel> <https://evil|click> & co")))

    raw = json.dumps(view)
    assert "<!channel>" not in raw
    assert "&lt;!channel&gt; &lt;https://evil|click&gt; &amp; co" in raw
