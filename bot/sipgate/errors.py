"""Typed sipgate failures, each carrying the plain-words text the requester sees.

``protocol.decipher`` is the single place that turns an HTTP answer into one of these;
the client adds the transport cases (no answer, unreachable).

    SipgateError                  status, kind, may_have_sent, explanation
    ├── SipgateRejected           400          kind "invalid"
    ├── SipgateAuthError          401          kind "auth"
    ├── SipgateBalanceError       402          kind "balance"
    ├── SipgateForbidden          403          kind "forbidden"     (+ sms_id)
    ├── SipgateMalformed          404/405/415  kind "bug"
    ├── SipgateRateLimited        429          kind "rate_limited"  (+ retry_after)
    ├── SipgateServerError        5xx          kind "server"        may_have_sent
    ├── SipgateNoAnswer           timeout / connection lost after sending
    │                                          kind "no_answer"     may_have_sent
    ├── SipgateUnreachable        could not connect, nothing sent
    │                                          kind "unreachable"
    ├── SipgateUnexpected         any other non-2xx, unreadable answer
    │                                          kind "unexpected"
    └── SipgateNoSmsExtension     discovery found no SMS extension
                                               kind "no_extension"

``kind`` is stored in the database, so its values never change. ``may_have_sent`` is True
only where sipgate may have accepted the SMS even though we saw no success; such sends
are never retried automatically (a retry could text and bill the recipient twice).
Explanations never contain tokens, headers or response bodies.
"""

# The names below are imported across the bot; they read as outcomes ("Rejected",
# "NoAnswer"), so the "Error" suffix rule does not fit them.
# ruff: noqa: N818

from __future__ import annotations

import math
from typing import ClassVar

__all__ = [
    "SipgateAuthError",
    "SipgateBalanceError",
    "SipgateError",
    "SipgateForbidden",
    "SipgateMalformed",
    "SipgateNoAnswer",
    "SipgateNoSmsExtension",
    "SipgateRateLimited",
    "SipgateRejected",
    "SipgateServerError",
    "SipgateUnexpected",
    "SipgateUnreachable",
    "explain",
    "explain_kind",
]


class SipgateError(Exception):
    """A sipgate call did not succeed; ``explanation`` says so in plain words."""

    kind: ClassVar[str] = "unexpected"
    may_have_sent: ClassVar[bool] = False
    _text: ClassVar[str] = "sipgate did not accept the request"

    def __init__(self, status: int | None = None) -> None:
        self.status = status
        super().__init__(status)

    @property
    def explanation(self) -> str:
        """The text shown to the requester (PRODUCT.md §4)."""
        return self._text

    def __str__(self) -> str:
        prefix = f"HTTP {self.status}: " if self.status is not None else ""
        return f"{prefix}{self.explanation}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, kind={self.kind!r})"


class SipgateRejected(SipgateError):
    kind = "invalid"
    _text = "sipgate rejected the SMS as invalid (empty text, number or time it could not accept)"


class SipgateAuthError(SipgateError):
    kind = "auth"
    _text = "the bot's sipgate credentials are wrong — ask the admin"


class SipgateBalanceError(SipgateError):
    kind = "balance"
    _text = "the sipgate account balance is too low — ask the admin to top up"


class SipgateForbidden(SipgateError):
    """403: names the extension, because that is what the admin has to check."""

    kind = "forbidden"

    def __init__(self, status: int | None = 403, *, sms_id: str | None = None) -> None:
        super().__init__(status)
        self.sms_id = sms_id

    @property
    def explanation(self) -> str:
        if self.sms_id is None:
            return (
                "sipgate refused permission for this request (feature not booked, "
                "or the token lacks a scope such as sms:read) — ask the admin"
            )
        return (
            f"no permission to send from extension {self.sms_id} (Web SMS not booked, "
            "wrong extension, or token lacks the sessions:sms:write scope)"
        )


class SipgateMalformed(SipgateError):
    kind = "bug"
    _text = "the bot sent a malformed request — a bug; nothing was sent"


class SipgateRateLimited(SipgateError):
    """429: ``retry_after`` is the server's Retry-After in seconds, if it gave one."""

    kind = "rate_limited"

    def __init__(self, status: int | None = 429, *, retry_after: float | None = None) -> None:
        super().__init__(status)
        self.retry_after = retry_after

    @property
    def explanation(self) -> str:
        return f"sipgate is rate-limiting; try again in {_wait_words(self.retry_after)}"


class SipgateServerError(SipgateError):
    kind = "server"
    may_have_sent = True
    _text = (
        "sipgate had an internal error (it also answers 500 when the extension id is "
        "missing); the SMS may not have gone out — it was not retried, "
        "check before sending it again"
    )


class SipgateNoAnswer(SipgateError):
    kind = "no_answer"
    may_have_sent = True
    _text = (
        "no answer from sipgate; the SMS may or may not have gone out; "
        "not retried to avoid a double send — check before sending it again"
    )


class SipgateUnreachable(SipgateError):
    kind = "unreachable"
    _text = "could not reach sipgate; nothing was sent — try again in a few minutes"


class SipgateUnexpected(SipgateError):
    """Any other outcome; ``reason`` is a fixed phrase chosen by our code, never a body."""

    kind = "unexpected"

    def __init__(self, status: int | None = None, *, reason: str | None = None) -> None:
        super().__init__(status)
        self.reason = reason

    @property
    def explanation(self) -> str:
        if self.reason is not None:
            return f"{self.reason} — ask the admin to check the bot's log"
        status = "" if self.status is None else f" (HTTP {self.status})"
        return f"sipgate gave an unexpected answer{status}; nothing is known to have been sent"


class SipgateNoSmsExtension(SipgateError):
    """Discovery succeeded but the account lists no SMS extension."""

    kind = "no_extension"

    def __init__(self, user_id: str | None = None) -> None:
        super().__init__(None)
        self.user_id = user_id

    @property
    def explanation(self) -> str:
        return (
            "Web SMS not booked for this user: sipgate lists no SMS extension "
            "for the bot's account — ask the admin"
        )


def explain(error: SipgateError) -> str:
    """Return the requester-facing text for ``error``."""
    return error.explanation


_BY_KIND: dict[str, type[SipgateError]] = {
    cls.kind: cls
    for cls in (
        SipgateRejected, SipgateAuthError, SipgateBalanceError, SipgateMalformed,
        SipgateRateLimited, SipgateServerError, SipgateNoAnswer, SipgateUnreachable,
        SipgateUnexpected, SipgateNoSmsExtension,
    )
}  # fmt: skip

#: Kinds the bot records without a sipgate error behind them.
BOT_KINDS = {
    "denied": "the requester is no longer allowed to send SMS from Slack; nothing was sent",
    "interrupted": (
        "the bot stopped while waiting for sipgate's answer; the SMS may or may not have gone"
        " out — check before sending it again"
    ),
}


def explain_kind(kind: str, sms_id: str | None = None) -> str:
    """The requester-facing text for a stored ``kind`` (the ledger keeps kinds, not errors)."""
    if kind == SipgateForbidden.kind:
        return SipgateForbidden(sms_id=sms_id).explanation
    if kind in BOT_KINDS:
        return BOT_KINDS[kind]
    return _BY_KIND.get(kind, SipgateUnexpected)().explanation


def _wait_words(seconds: float | None) -> str:
    """Say how long to wait, rounded up, in words a requester reads at a glance."""
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        return "a minute"
    if seconds <= 90:
        whole = math.ceil(seconds)
        return "1 second" if whole == 1 else f"{whole} seconds"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes"
