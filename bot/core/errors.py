"""The failures the core knows about; the edges raise them, the Slack edge words them.

    LedgerUnavailable     the database cannot be used (any storage failure, translated once)
    └── NotStored         … while storing a request: nothing was sent
    SendFailure           an SMS gateway call did not succeed (kind, status, may_have_sent)

``SendFailure.kind`` is stored with a failed send, so its values never change. The sipgate
edge's error classes are ``SendFailure``s, one class per kind.
"""

from __future__ import annotations

from typing import ClassVar

# The names read as outcomes ("NotStored"), so the "Error" suffix rule does not fit them.
# ruff: noqa: N818


class LedgerUnavailable(Exception):
    """The ledger's database is out of reach or unusable; nothing of the operation is stored."""


class NotStored(LedgerUnavailable):
    """The ledger could not store a request, so nothing was sent (no SMS without a record)."""


class SendFailure(Exception):
    """A gateway call failed.

    ``may_have_sent`` is True only where the SMS may have gone out although no success was
    seen; such a send is never repeated (a retry could text and bill the recipient twice).
    """

    kind: ClassVar[str] = "unexpected"
    may_have_sent: ClassVar[bool] = False

    def __init__(
        self,
        status: int | None = None,
        *,
        sms_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status)
        self.status = status
        self.sms_id = sms_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{self.kind}{status}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, kind={self.kind!r})"


#: Kinds the bot records without a gateway failure behind them.
DENIED_KIND = "denied"  # the requester lost access before a scheduled send fired
INTERRUPTED_KIND = "interrupted"  # the bot stopped while waiting for the gateway's answer
OPTED_OUT = "opted_out"  # the recipient opted out before a scheduled send fell due
