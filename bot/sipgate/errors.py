"""Typed sipgate failures: each a ``SendFailure`` of one kind, worded by the Slack edge.

``protocol.decipher`` is the single place that turns an HTTP answer into one of these;
the client adds the transport cases (no answer, unreachable).

    SipgateError (SendFailure)    status, kind, may_have_sent
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
    ├── SipgateUnexpected         any other non-2xx
    │   │                                      kind "unexpected"
    │   └── SipgateUnreadable     an answer the bot could not read
    │                                          kind "unreadable"
    ├── SipgateNoSmsExtension     discovery found no SMS extension
    │                                          kind "no_extension"
    └── SipgateLoginNeeded        no OAuth login stored, or its refresh token stopped working
                                               kind "login"

``kind`` is stored in the database, so its values never change. ``may_have_sent`` is True
only where sipgate may have accepted the SMS even though we saw no success; such sends
are never retried automatically. Errors never carry tokens, headers or response bodies.
"""

# The names below read as outcomes ("Rejected", "NoAnswer"), so the "Error" suffix rule does
# not fit them.
# ruff: noqa: N818

from __future__ import annotations

from bot.core import SendFailure

__all__ = [
    "SipgateAuthError",
    "SipgateBalanceError",
    "SipgateError",
    "SipgateForbidden",
    "SipgateLoginNeeded",
    "SipgateMalformed",
    "SipgateNoAnswer",
    "SipgateNoSmsExtension",
    "SipgateRateLimited",
    "SipgateRejected",
    "SipgateServerError",
    "SipgateUnexpected",
    "SipgateUnreachable",
    "SipgateUnreadable",
]


class SipgateError(SendFailure):
    """A sipgate call did not succeed."""


class SipgateRejected(SipgateError):
    kind = "invalid"


class SipgateAuthError(SipgateError):
    kind = "auth"


class SipgateBalanceError(SipgateError):
    kind = "balance"


class SipgateForbidden(SipgateError):
    """403: ``sms_id`` names the extension (None outside a send), what the admin checks."""

    kind = "forbidden"


class SipgateMalformed(SipgateError):
    kind = "bug"


class SipgateRateLimited(SipgateError):
    """429: ``retry_after`` is the server's Retry-After in seconds, if it gave one."""

    kind = "rate_limited"


class SipgateServerError(SipgateError):
    kind = "server"
    may_have_sent = True


class SipgateNoAnswer(SipgateError):
    kind = "no_answer"
    may_have_sent = True


class SipgateUnreachable(SipgateError):
    kind = "unreachable"


class SipgateUnexpected(SipgateError):
    kind = "unexpected"


class SipgateUnreadable(SipgateUnexpected):
    """sipgate answered 2xx with a body of the wrong shape."""

    kind = "unreadable"


class SipgateNoSmsExtension(SipgateError):
    """Discovery succeeded but the account lists no SMS extension."""

    kind = "no_extension"

    def __init__(self, user_id: str | None = None) -> None:
        super().__init__(None)
        self.user_id = user_id


class SipgateLoginNeeded(SipgateError):
    """OAuth: no login is stored, or its refresh token no longer works (nothing was sent)."""

    kind = "login"
