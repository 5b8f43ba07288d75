"""The App Home view (pure): what a person sees on the bot's home tab.

Everyone: a Compose button (or why they may not send), their usage this hour, their scheduled
SMS with a Cancel button each, their latest requests with each recipient's state. Admins also
see the balance, the opt-out list's size, SMS per user, Export buttons and everyone's latest
requests. Slack allows 100 blocks in a view: every list is cut with "…and N more" well inside
that, and ``home_view`` never hands over more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from bot.core import Balance, Decision, SendFailure, SmsRequest, State, Usage, UserCounts
from bot.slack import texts
from bot.slack.texts.blocks import context_block, plain_text, section_block

COMPOSE_ACTION = "home_compose"
CANCEL_ACTION = "home_cancel"
EXPORT_ACTION_PREFIX = "home_export_"
EXPORT_DAYS = (30, 366)
MAX_BLOCKS = 100
SCHEDULED_SHOWN = 20
LATEST_SHOWN = 20
USERS_SHOWN = 15

Block = dict[str, Any]


@dataclass(frozen=True)
class AdminPart:
    """What only admins see: everyone's latest requests, SMS per user, balance, opt-outs."""

    everyone: Sequence[SmsRequest]
    counts: Sequence[UserCounts]
    balance: Balance | SendFailure
    opt_outs: int


@dataclass(frozen=True)
class HomeData:
    """Everything one person's home tab shows (``admin`` only for admins)."""

    tz: ZoneInfo
    decision: Decision  # may they send from their DM with the bot (the Compose button)
    admins: frozenset[str]
    mine: Sequence[SmsRequest]  # their scheduled requests and their latest others
    usage: Usage
    limit: int
    admin: AdminPart | None = None
    notice: str | None = None


def home_view(data: HomeData) -> dict[str, Any]:
    """The view for ``views.publish``."""
    blocks = [*_top(data), *_mine(data)]
    if data.admin is not None:
        blocks += _admin(data.admin, data.tz)
    return {"type": "home", "blocks": _within_limit(blocks)}


def _top(data: HomeData) -> list[Block]:
    blocks = [_header(texts.HOME_TITLE)]
    if data.notice:
        blocks.append(context_block(data.notice))
    if data.decision.allowed:
        blocks.append(_actions([_button(texts.COMPOSE_BUTTON, COMPOSE_ACTION, "compose", True)]))
    else:
        blocks.append(section_block(texts.home_not_allowed(data.decision, data.admins)))
    usage = texts.usage_text(data.usage.count, data.limit)
    blocks.append(context_block(f"{usage} · {texts.HOME_HELP}"))
    return blocks


def _mine(data: HomeData) -> list[Block]:
    scheduled = [r for r in data.mine if _waiting(r)]
    latest = [r for r in data.mine if not _waiting(r)]
    blocks = [_divider(), _header(texts.HOME_SCHEDULED)]
    blocks += [_cancellable(r, data.tz) for r in scheduled[:SCHEDULED_SHOWN]]
    blocks += _rest(len(scheduled), SCHEDULED_SHOWN, texts.HOME_NOTHING_SCHEDULED)
    blocks += [_divider(), _header(texts.HOME_LATEST)]
    blocks += [section_block(texts.home_request_text(r, data.tz)) for r in latest[:LATEST_SHOWN]]
    return blocks + _rest(len(latest), LATEST_SHOWN, texts.HOME_NOTHING_SENT)


def _admin(part: AdminPart, tz: ZoneInfo) -> list[Block]:
    facts = f"{texts.balance_line(part.balance)}\n{texts.opt_outs_text(part.opt_outs)}"
    buttons = [
        _button(texts.export_button(days), f"{EXPORT_ACTION_PREFIX}{days}", str(days))
        for days in EXPORT_DAYS
    ]
    blocks = [_divider(), _header(texts.HOME_ADMIN), section_block(facts)]
    blocks += [section_block(texts.per_user_text(part.counts, USERS_SHOWN)), _actions(buttons)]
    blocks += [_divider(), _header(texts.HOME_EVERYONE)]
    shown = part.everyone[:LATEST_SHOWN]
    blocks += [section_block(texts.home_request_text(r, tz, who=True)) for r in shown]
    return blocks + _rest(len(part.everyone), LATEST_SHOWN, texts.HOME_NOBODY)


def _waiting(request: SmsRequest) -> bool:
    return any(send.state is State.SCHEDULED for send in request.sends)


def _rest(count: int, shown: int, empty: str) -> list[Block]:
    """ "Nothing" for an empty list, "…and N more" for a cut one."""
    if count == 0:
        return [context_block(empty)]
    return [context_block(texts.and_more(count - shown))] if count > shown else []


def _cancellable(request: SmsRequest, tz: ZoneInfo) -> Block:
    block = section_block(texts.home_request_text(request, tz))
    block["accessory"] = _button(texts.CANCEL_BUTTON, CANCEL_ACTION, str(request.id))
    block["accessory"]["style"] = "danger"
    return block


def _within_limit(blocks: list[Block]) -> list[Block]:
    """At most MAX_BLOCKS: the last ones give way to "…and N more" (a backstop)."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    kept = blocks[: MAX_BLOCKS - 1]
    return [*kept, context_block(texts.and_more(len(blocks) - len(kept)))]


# --- Block Kit -------------------------------------------------------------------------------


def _header(text: str) -> Block:
    return {"type": "header", "text": plain_text(text)}


def _divider() -> Block:
    return {"type": "divider"}


def _actions(elements: list[Block]) -> Block:
    return {"type": "actions", "elements": elements}


def _button(text: str, action_id: str, value: str, primary: bool = False) -> Block:
    button: Block = {"type": "button", "text": plain_text(text), "action_id": action_id}
    button["value"] = value
    if primary:
        button["style"] = "primary"
    return button
