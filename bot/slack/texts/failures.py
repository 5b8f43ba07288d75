"""What went wrong, in words: sipgate's answers, the database, forms that cannot open."""

from __future__ import annotations

import math

from bot.core import (
    DENIED_KIND,
    INTERRUPTED_KIND,
    OPTED_OUT,
    SendFailure,
)

_KIND_TEXTS = {
    "invalid": (
        "sipgate rejected the SMS as invalid (empty text, number or time it could not accept)"
    ),
    "auth": "the bot's sipgate credentials are wrong — ask the admin",
    "balance": "the sipgate account balance is too low — ask the admin to top up",
    "bug": "the bot sent a malformed request — a bug; nothing was sent",
    "server": (
        "sipgate had an internal error (it also answers 500 when the extension id is "
        "missing); the SMS may not have gone out — it was not retried, "
        "check before sending it again"
    ),
    "no_answer": (
        "no answer from sipgate; the SMS may or may not have gone out; "
        "not retried to avoid a double send — check before sending it again"
    ),
    "unreachable": "could not reach sipgate; nothing was sent — try again in a few minutes",
    "unreadable": "sipgate sent an answer the bot could not read — ask the admin to check the log",
    "login": (
        "the bot's sipgate login has expired; nothing was sent — ask the admin to run"
        " `python -m bot sipgate-login`"
    ),
    "no_extension": (
        "Web SMS not booked for this user: sipgate lists no SMS extension "
        "for the bot's account — ask the admin"
    ),
    DENIED_KIND: "the requester is no longer allowed to send SMS from Slack; nothing was sent",
    OPTED_OUT: "the recipient opted out of SMS before it fell due; nothing was sent",
    INTERRUPTED_KIND: (
        "the bot stopped while waiting for sipgate's answer; the SMS may or may not have gone"
        " out — check before sending it again"
    ),
}
_UNEXPECTED = "sipgate gave an unexpected answer; nothing is known to have been sent"


def explain(kind: str, *, sms_id: str | None = None, retry_after: float | None = None) -> str:
    """What a failure of ``kind`` means for the requester and what to do."""
    if kind == "forbidden":
        return _forbidden_text(sms_id)
    if kind == "rate_limited":
        return f"sipgate is rate-limiting; try again in {_wait_words(retry_after)}"
    return _KIND_TEXTS.get(kind, _UNEXPECTED)


def explain_failure(failure: SendFailure) -> str:
    """``explain`` for a failure as it was raised (it still knows its Retry-After)."""
    return explain(failure.kind, sms_id=failure.sms_id, retry_after=failure.retry_after)


def _forbidden_text(sms_id: str | None) -> str:
    if sms_id is None:
        return (
            "sipgate refused permission for this request (feature not booked, "
            "or the token lacks a scope such as sms:read) — ask the admin"
        )
    return (
        f"no permission to send from extension {sms_id} (Web SMS not booked, "
        "wrong extension, or token lacks the sessions:sms:write scope)"
    )


def _wait_words(seconds: float | None) -> str:
    """How long to wait, rounded up, in words a requester reads at a glance."""
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        return "a minute"
    if seconds <= 90:
        whole = math.ceil(seconds)
        return "1 second" if whole == 1 else f"{whole} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


DATABASE_DOWN = (
    "⚠️ Nothing was sent: the bot cannot reach its database right now, and it sends no SMS"
    " it cannot record. Try again in a few minutes; if it keeps happening, tell your Slack admin."
)
SOMETHING_WRONG = (
    "⚠️ Something went wrong on the bot's side while handling this. Check `/sms list` before"
    " trying again."
)
STALE_FORM = "This form is out of date. Close it and open a new one with /sms."
NOT_ALLOWED_HERE = "You are not allowed to send SMS from here."


def sipgate_login_expired() -> str:
    """To every admin, once: the OAuth refresh token stopped working."""
    return (
        "⚠️ The bot's sipgate login has expired, so it cannot send SMS any more. Run"
        " `python -m bot sipgate-login` where the bot runs to log in again."
    )


def nothing_sent(failure: SendFailure) -> str:
    return f"Nothing was sent: {explain_failure(failure)}"


def form_cannot_open(failure: SendFailure) -> str:
    return f"The SMS form cannot open: {explain_failure(failure)}"


def form_did_not_open(code: str) -> str:
    return f"The SMS form could not open ({code}). Please run /sms again."
