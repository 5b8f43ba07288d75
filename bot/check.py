"""``python -m bot check``: try the real configuration and say what to fix, never a secret."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import Balance, LedgerUnavailable, SmsExtension, is_low
from bot.settings import Settings, SettingsError, load_settings, service_problems
from bot.sipgate import (
    SipgateAuthError,
    SipgateClient,
    SipgateError,
    SipgateForbidden,
    SipgateLoginNeeded,
    client_for,
)
from bot.slack.texts import balance_text, explain_failure
from bot.store import database_url_for, open_ledger, redact_url


@dataclass(frozen=True)
class Finding:
    """One thing checked; a ``warning`` is worth fixing but does not fail the check."""

    ok: bool
    text: str
    warning: bool = False

    def __str__(self) -> str:
        mark = "✗" if not self.ok else "!" if self.warning else "✓"
        return f"{mark} {self.text}"


LOGIN_NEEDED = (
    "sipgate: no working OAuth login is stored (never logged in, or the refresh token"
    " stopped working): run python -m bot sipgate-login"
)
SHORT_LIVED_ACCESS = (
    "SIPGATE_OAUTH_TOKEN is an access token that expires within minutes: set"
    " SIPGATE_OAUTH_CLIENT_ID and SIPGATE_OAUTH_CLIENT_SECRET and run python -m bot"
    " sipgate-login instead, or use a personal access token"
)

HISTORY_FORBIDDEN = (
    "sipgate refused GET /history (403): SMS_INBOX_CHANNEL is set, so the token needs the"
    " history:read scope to receive SMS replies"
)
HISTORY_OFF = (
    "sipgate keeps no call and SMS history (historyLifeTime NONE): no SMS reply can be"
    " received until the history is switched on in the sipgate app"
)
LIFETIME_UNREAD = (
    "sipgate: could not read how long the history is kept (GET /account, scope account:read);"
    " make sure the history is on, or no SMS reply can be received"
)
CONTACTS_OPTIONAL = (
    "sipgate contacts: not readable (contacts:read, optional): SMS replies show the number"
    " without a contact name"
)
CHECKED_NUMBER = "+4915100000000"  # any number: the check only needs the call to be allowed


async def run_check(environ: Mapping[str, str], out: TextIO = sys.stdout) -> int:
    """Print every finding; exit code 1 when anything needs fixing."""
    try:
        settings = load_settings(environ, require_service=False)
    except SettingsError as error:
        print(error, file=out)
        return 2
    findings = [Finding(False, problem) for problem in service_problems(settings)]
    findings += [await check_slack(settings), *await check_sipgate(settings)]
    findings += await check_inbound(settings)
    findings.append(await check_database(settings))
    for finding in findings:
        print(finding, file=out)
    return 0 if all(finding.ok for finding in findings) else 1


async def check_slack(settings: Settings) -> Finding:
    """``auth.test`` with the bot token."""
    if not settings.slack_bot_token:
        return Finding(False, "Slack: skipped, SLACK_BOT_TOKEN is not set")
    client = AsyncWebClient(token=settings.slack_bot_token.value, base_url=settings.slack_api_url)
    try:
        response = await client.auth_test()
    except SlackApiError as error:
        code = error.response.get("error")
        return Finding(
            False,
            f"Slack rejected SLACK_BOT_TOKEN ({code}): copy the Bot User"
            " OAuth Token (xoxb-…) from OAuth & Permissions",
        )
    except OSError as error:
        return Finding(False, f"Slack: cannot reach {settings.slack_api_url} ({error})")
    return Finding(True, f"Slack: connected as {response.get('user')} in {response.get('team')}")


async def check_sipgate(settings: Settings) -> list[Finding]:
    """userinfo, then the SMS extensions; 401/403 name the token or its missing scope."""
    if not _has_credentials(settings):
        return [Finding(False, "sipgate: skipped, no credentials")]
    static = [Finding(True, SHORT_LIVED_ACCESS, warning=True)]
    if not settings.sipgate_oauth_token:
        static = []
    async with _sipgate(settings) as sipgate:
        try:
            user = await sipgate.userinfo()
            extensions = await sipgate.sms_extensions(user.sub)
        except SipgateError as error:
            return [*static, _sipgate_failure(error)]
        balance = await check_balance(settings, sipgate)
    return [*static, *_extension_findings(settings, user.sub, extensions), balance]


def _has_credentials(settings: Settings) -> bool:
    return bool(
        settings.sipgate_oauth_token or settings.sipgate_token or settings.sipgate_oauth_login
    )


@contextlib.asynccontextmanager
async def _sipgate(settings: Settings) -> AsyncIterator[SipgateClient]:
    """The client as the bot would build it (with OAuth: the tokens in its database)."""
    if not settings.sipgate_oauth_login:
        async with client_for(settings) as sipgate:
            yield sipgate
        return
    ledger = await open_ledger(settings.database_url)
    try:
        async with aiohttp.ClientSession() as session:
            yield client_for(settings, session, tokens=ledger.tokens, claimant="check")
    finally:
        await ledger.close()


async def check_balance(settings: Settings, sipgate: SipgateClient) -> Finding:
    """``GET /balance``: printed; unreadable (the scope missing) or low is a warning only."""
    try:
        balance = await sipgate.balance()
    except SipgateForbidden:
        return Finding(True, _NO_BALANCE_SCOPE, warning=True)
    except SipgateError as error:
        return Finding(
            True, f"sipgate balance: unreadable ({explain_failure(error)})", warning=True
        )
    return _balance_finding(balance, settings)


_NO_BALANCE_SCOPE = (
    "sipgate balance: not readable (403): give the token the balance:read scope to see it"
    " on the admins' home tab and to be warned by SIPGATE_LOW_BALANCE"
)


def _balance_finding(balance: Balance, settings: Settings) -> Finding:
    threshold = settings.sipgate_low_balance
    if threshold is not None and is_low(balance, threshold):
        text = f"sipgate balance: {balance_text(balance)}, below SIPGATE_LOW_BALANCE={threshold}"
        return Finding(True, f"{text}: top up the account", warning=True)
    return Finding(True, f"sipgate balance: {balance_text(balance)}")


def _sipgate_failure(error: SipgateError) -> Finding:
    if isinstance(error, SipgateLoginNeeded):
        return Finding(False, LOGIN_NEEDED)
    if isinstance(error, SipgateAuthError):
        return Finding(
            False,
            "sipgate rejected the credentials (401): check SIPGATE_TOKEN_ID and"
            " SIPGATE_TOKEN (or SIPGATE_OAUTH_TOKEN)",
        )
    if isinstance(error, SipgateForbidden):
        return Finding(
            False,
            "sipgate refused GET /{userId}/sms (403): give the personal access"
            " token the sms:read scope (and sessions:sms:write to send)",
        )
    return Finding(False, f"sipgate: {explain_failure(error)}")


def _extension_findings(
    settings: Settings, sub: str, extensions: list[SmsExtension]
) -> list[Finding]:
    if not extensions:
        return [
            Finding(
                False,
                f"sipgate user {sub} has no SMS extension: Web SMS is not booked"
                " for this user; book it or use a token of a user who has it",
            )
        ]
    ids = ", ".join(
        f"{e.id} ({e.alias or 'no alias'}, sender {e.caller_id or '?'})" for e in extensions
    )
    findings = [Finding(True, f"sipgate: user {sub}, SMS extensions: {ids}")]
    configured = settings.sipgate_sms_id
    if configured and configured not in {extension.id for extension in extensions}:
        findings.append(
            Finding(
                False,
                f"SIPGATE_SMS_ID={configured} is not one of the"
                " extensions above; fix it or leave it unset",
            )
        )
    return findings


async def check_inbound(settings: Settings) -> list[Finding]:
    """With SMS_INBOX_CHANNEL: one history page, how long sipgate keeps it, contacts (optional)."""
    if not settings.inbound or not _has_credentials(settings):
        return []
    async with _sipgate(settings) as sipgate:
        return [
            await _history(sipgate, settings),
            await _lifetime(sipgate),
            await _contacts(sipgate),
        ]


async def _history(sipgate: SipgateClient, settings: Settings) -> Finding:
    try:
        await sipgate.incoming(datetime.now(UTC))
    except SipgateForbidden:
        return Finding(False, HISTORY_FORBIDDEN)
    except SipgateError as error:
        return Finding(False, f"sipgate history: {explain_failure(error)}")
    every = f"{settings.poll_interval:g}"
    return Finding(True, f"sipgate history: readable, polled every {every} s for SMS replies")


async def _lifetime(sipgate: SipgateClient) -> Finding:
    try:
        lifetime = await sipgate.history_lifetime()
    except SipgateError:
        return Finding(True, LIFETIME_UNREAD, warning=True)
    if lifetime == "NONE":
        return Finding(True, HISTORY_OFF, warning=True)
    return Finding(True, f"sipgate keeps its history: {lifetime}")


async def _contacts(sipgate: SipgateClient) -> Finding:
    try:
        await sipgate.find_contact(CHECKED_NUMBER)
    except SipgateForbidden:
        return Finding(True, CONTACTS_OPTIONAL, warning=True)
    except SipgateError as error:
        return Finding(True, f"sipgate contacts: {explain_failure(error)}", warning=True)
    return Finding(True, "sipgate contacts: readable, SMS replies show the contact's name")


async def check_database(settings: Settings) -> Finding:
    """Open (and migrate) the database the bot would use."""
    where = redact_url(database_url_for(settings.database_url))
    try:
        ledger = await open_ledger(settings.database_url)
    except (LedgerUnavailable, ValueError) as error:
        return Finding(False, f"database {where}: cannot open it ({error}); check DATABASE_URL")
    await ledger.close()
    return Finding(True, f"database {where}: ready")
