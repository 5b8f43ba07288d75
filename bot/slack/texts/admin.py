"""For admins: the balance, the audit export, the home tab."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.core import (
    Balance,
    Decision,
    SendFailure,
    SmsRequest,
    UserCounts,
)
from bot.slack.texts.answers import and_more, preview
from bot.slack.texts.blocks import SlackMessage, escape_mrkdwn, format_time, section_block
from bot.slack.texts.failures import explain_failure
from bot.slack.texts.status import _ICONS, _LABELS, recipient_text


def balance_text(balance: Balance) -> str:
    """A balance as people read it: two decimals and the currency (``3.50 EUR``)."""
    return f"{balance.amount:.2f} {balance.currency}"


def low_balance_warning(balance: Balance, threshold: Decimal) -> SlackMessage:
    """The DM every admin gets once when the balance drops below SIPGATE_LOW_BALANCE."""
    limit = f"{threshold:.2f} {balance.currency}"
    text = (
        f"⚠️ The sipgate balance is {balance_text(balance)}, below {limit}"
        " (SIPGATE_LOW_BALANCE). Top up the sipgate account: without credit sipgate refuses"
        " every SMS. You hear this again only after the balance was above the limit."
    )
    return SlackMessage(text, [section_block(text)])


def balance_line(reading: Balance | SendFailure) -> str:
    """The balance on an admin's home tab, or why it cannot be shown."""
    if isinstance(reading, Balance):
        return f"*sipgate balance:* {balance_text(reading)}"
    if reading.kind == "forbidden":
        return "*sipgate balance:* not shown — the sipgate token lacks the balance:read scope"
    return f"*sipgate balance:* not shown — {explain_failure(reading)}"


def export_title(days: int) -> str:
    return f"SMS audit export, last {days} days"


def _rows(count: int) -> str:
    return "1 row" if count == 1 else f"{count} rows"


def export_comment(rows: int, days: int) -> str:
    return (
        f"📄 Every SMS request of the last {days} days: {_rows(rows)}, one per recipient"
        " (times in UTC)."
    )


def export_done(rows: int, days: int) -> str:
    return f"📄 The export of the last {days} days ({_rows(rows)}) is in your DM with the bot."


def export_failed(code: str) -> str:
    return f"The export could not be uploaded ({code}). Please try again in a few minutes."


HOME_TITLE = "📱 SMS through sipgate"
COMPOSE_BUTTON = "Compose an SMS"
CANCEL_BUTTON = "Cancel"
HOME_SCHEDULED = "Your scheduled SMS"
HOME_NOTHING_SCHEDULED = "Nothing scheduled."
HOME_LATEST = "Your latest SMS"
HOME_NOTHING_SENT = "You have not sent an SMS from Slack yet."
HOME_ADMIN = "For SMS admins"
HOME_EVERYONE = "Everyone's latest SMS"
HOME_NOBODY = "Nobody has sent an SMS from Slack yet."
HOME_HELP = "Or type `/sms help` in any conversation."


def home_not_allowed(decision: Decision, admins: Iterable[str]) -> str:
    """Why there is no Compose button: not on the allowlist, or not from this conversation."""
    if decision is Decision.CHANNEL_DENIED:
        return (
            "⛔ SMS cannot be sent from the home tab here: only from the conversations the"
            " admin allowed. Use `/sms` there."
        )
    mentions = ", ".join(f"<@{admin}>" for admin in sorted(admins)) or "your Slack admin"
    return f"⛔ You are not allowed to send SMS from Slack. Ask {mentions}."


def home_sent(request_id: int) -> str:
    return f"📤 SMS #{request_id} is on its way; its status is in your DM with the bot."


def usage_text(count: int, limit: int) -> str:
    return f"{count} of {limit} SMS this hour"


def export_button(days: int) -> str:
    return f"Export {days} days (CSV)"


def home_request_text(request: SmsRequest, tz: ZoneInfo, *, who: bool = False) -> str:
    """A request on the home tab: id, when, who (for admins), the text, each recipient."""
    moment = request.send_at or request.requested_at
    head = f"`#{request.id}` · {format_time(moment, tz)}"
    if who:
        head += f" · <@{request.user_id}>"
    head += f" · “{escape_mrkdwn(preview(request.message, 60))}”"
    lines = (f"{_ICONS[s.state]} {escape_mrkdwn(recipient_text(s))}: {_LABELS[s.state]}"
             for s in request.sends)  # fmt: skip
    return "\n".join([head, *lines])


def per_user_text(counts: Sequence[UserCounts], shown: int) -> str:
    """SMS per user over the last 24 hours and 30 days, busiest first."""
    if not counts:
        return "*SMS per user:* none in the last 30 days"
    lines = [f"<@{c.user_id}>: {c.day} in 24 h · {c.month} in 30 days" for c in counts[:shown]]
    if len(counts) > shown:
        lines.append(and_more(len(counts) - shown))
    return "\n".join(["*SMS per user*", *lines])


def opt_outs_text(count: int) -> str:
    numbers = "1 number" if count == 1 else f"{count} numbers"
    return f"*Opt-out list:* {numbers}"
