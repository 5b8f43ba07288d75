"""Settings: read once from the environment into a frozen object.

Every problem is collected and reported together, so an admin fixes the configuration in one
round. Secrets are kept in ``Secret`` wrappers whose ``repr`` never shows the value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TypeVar

import phonenumbers

from bot.core import AccessRules, GuardPolicy, Scheduler

T = TypeVar("T")

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_SIPGATE_API_URL = "https://api.sipgate.com/v2"
DEFAULT_SIPGATE_LOGIN_URL = "https://login.sipgate.com"
DEFAULT_SIPGATE_OAUTH_REALM = "sipgate-apps"
_SMS_ID = re.compile(r"^s(0|[1-9][0-9]*)$")
_SLACK_ID = re.compile(r"^[A-Z][A-Z0-9_]{2,}$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class Secret:
    """A value that must never be printed; ``repr`` and ``str`` hide it."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('********')" if self.value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self.value)


class SettingsError(Exception):
    """The configuration has problems; ``problems`` lists every one of them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"The bot cannot start; fix these settings:\n{lines}")


@dataclass(frozen=True)
class Settings:
    """Every setting, typed and validated."""

    slack_bot_token: Secret
    slack_signing_secret: Secret
    slack_app_token: Secret
    slack_api_url: str
    sipgate_token_id: str
    sipgate_token: Secret
    sipgate_oauth_token: Secret
    sipgate_oauth_client_id: str
    sipgate_oauth_client_secret: Secret
    sipgate_oauth_realm: str
    sipgate_login_url: str
    sipgate_sms_id: str | None
    sipgate_api_url: str
    sipgate_timeout: float
    allowed_users: frozenset[str]
    allowed_usergroups: frozenset[str]
    allowed_channels: frozenset[str]
    allow_everyone: bool
    admins: frozenset[str]
    default_region: str
    allowed_countries: frozenset[str]
    max_recipients: int
    max_length: int
    user_hourly_limit: int
    scheduler: Scheduler
    schedule_max_days: int
    schedule_grace: float
    inbox_channel: str | None
    poll_interval: float
    conversation_days: int
    thread_replies: str  # "mention" or "all"
    database_url: str | None = field(repr=False)  # may hold a password
    port: int | None
    log_level: str
    sipgate_low_balance: Decimal | None = None  # warn the admins below this amount

    def secret_values(self) -> list[str]:
        """The secret values, so the log formatter can keep them out of every line."""
        return [value.value for value in vars(self).values() if isinstance(value, Secret) and value]

    @property
    def guard_policy(self) -> GuardPolicy:
        """The cost and abuse limits every request is held to."""
        return GuardPolicy(
            self.allowed_countries, self.max_recipients, self.max_length, self.schedule_max_days
        )

    @property
    def access_rules(self) -> AccessRules:
        """Who may send from where, and who administers. With SMS_ALLOWED_CHANNELS set, the
        inbox channel counts as allowed too: replies to SMS are written there."""
        channels = self.allowed_channels
        if channels and self.inbox_channel is not None:
            channels = channels | {self.inbox_channel}
        return AccessRules(
            self.allowed_users, self.allowed_usergroups, channels, self.allow_everyone, self.admins
        )

    @property
    def inbound(self) -> bool:
        """Whether SMS coming back are shown in Slack (``SMS_INBOX_CHANNEL`` is set)."""
        return self.inbox_channel is not None

    @property
    def sipgate_oauth_login(self) -> bool:
        """Whether the bot logs in to sipgate with OAuth (``sipgate-login``, refresh tokens)."""
        return bool(self.sipgate_oauth_client_id)

    @property
    def socket_mode(self) -> bool:
        """Socket Mode when an app-level token is configured."""
        return bool(self.slack_app_token)


class _Reader:
    """Reads typed values from a mapping, collecting problems instead of raising."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []

    def text(self, name: str, default: str = "") -> str:
        return self.environ.get(name, "").strip() or default

    def secret(self, name: str) -> Secret:
        return Secret(self.text(name))

    def parsed(self, name: str, default: T, parse: Callable[[str], T], expected: str) -> T:
        raw = self.text(name)
        if not raw:
            return default
        try:
            return parse(raw)
        except ValueError:
            self.problems.append(f"{name} must be {expected} (got {raw!r})")
            return default

    def integer(self, name: str, default: int, minimum: int = 1) -> int:
        value = self.parsed(name, default, int, f"a whole number ≥ {minimum}")
        if value < minimum:
            self.problems.append(f"{name} must be a whole number ≥ {minimum} (got {value})")
        return value

    def number(self, name: str, default: float) -> float:
        value = self.parsed(name, default, float, "a number of seconds")
        if value <= 0:
            self.problems.append(f"{name} must be more than 0 seconds (got {value})")
        return value

    def flag(self, name: str) -> bool:
        return self.parsed(name, False, _parse_bool, "true or false")

    def ids(self, name: str) -> frozenset[str]:
        values = frozenset(part.strip() for part in self.text(name).split(",") if part.strip())
        bad = sorted(value for value in values if not _SLACK_ID.match(value))
        if bad:
            self.problems.append(f"{name} must list Slack IDs like U0123ABC (got {bad})")
        return values


def _parse_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def _regions(reader: _Reader, name: str, default: str) -> frozenset[str]:
    parts = reader.text(name, default).split(",")
    codes = frozenset(code.strip().upper() for code in parts if code.strip())
    known = phonenumbers.SUPPORTED_REGIONS
    bad = sorted(code for code in codes if code not in known)
    if bad:
        reader.problems.append(f"{name} must list ISO region codes like DE,AT (unknown: {bad})")
    return frozenset(codes - {""})


def _url(reader: _Reader, name: str, default: str) -> str:
    url = reader.text(name, default)
    if not url.startswith(("http://", "https://")):
        reader.problems.append(f"{name} must be an http(s) URL (got {url!r})")
    return url


def load_settings(environ: Mapping[str, str], *, require_service: bool = True) -> Settings:
    """Read and check every setting; raise SettingsError listing all problems.

    ``require_service`` adds the checks that only matter when the bot serves Slack
    (credentials, the allowlist); ``python -m bot check`` reports those itself.
    """
    reader = _Reader(environ)
    settings = _read(reader)
    reader.problems.extend(oauth_problems(settings))
    if require_service:
        reader.problems.extend(service_problems(settings))
    if reader.problems:
        raise SettingsError(reader.problems)
    return settings


def _read(reader: _Reader) -> Settings:
    return Settings(
        slack_bot_token=reader.secret("SLACK_BOT_TOKEN"),
        slack_signing_secret=reader.secret("SLACK_SIGNING_SECRET"),
        slack_app_token=reader.secret("SLACK_APP_TOKEN"),
        slack_api_url=_url(reader, "SLACK_API_URL", DEFAULT_SLACK_API_URL),
        sipgate_token_id=reader.text("SIPGATE_TOKEN_ID"),
        sipgate_token=reader.secret("SIPGATE_TOKEN"),
        sipgate_oauth_token=reader.secret("SIPGATE_OAUTH_TOKEN"),
        sipgate_oauth_client_id=reader.text("SIPGATE_OAUTH_CLIENT_ID"),
        sipgate_oauth_client_secret=reader.secret("SIPGATE_OAUTH_CLIENT_SECRET"),
        sipgate_oauth_realm=reader.text("SIPGATE_OAUTH_REALM", DEFAULT_SIPGATE_OAUTH_REALM),
        sipgate_login_url=_url(reader, "SIPGATE_LOGIN_URL", DEFAULT_SIPGATE_LOGIN_URL),
        sipgate_sms_id=_sms_id(reader),
        sipgate_api_url=_url(reader, "SIPGATE_API_URL", DEFAULT_SIPGATE_API_URL).rstrip("/"),
        sipgate_timeout=reader.number("SIPGATE_TIMEOUT", 15.0),
        allowed_users=reader.ids("SMS_ALLOWED_USERS"),
        allowed_usergroups=reader.ids("SMS_ALLOWED_USERGROUPS"),
        allowed_channels=reader.ids("SMS_ALLOWED_CHANNELS"),
        allow_everyone=reader.flag("SMS_ALLOW_EVERYONE"),
        admins=reader.ids("SMS_ADMINS"),
        default_region=_default_region(reader),
        allowed_countries=_regions(reader, "SMS_ALLOWED_COUNTRIES", "DE"),
        max_recipients=reader.integer("SMS_MAX_RECIPIENTS", 10),
        max_length=_max_length(reader),
        user_hourly_limit=reader.integer("SMS_USER_HOURLY_LIMIT", 30),
        scheduler=reader.parsed("SMS_SCHEDULER", Scheduler.BOT, _scheduler, "bot or sipgate"),
        schedule_max_days=_max_days(reader),
        schedule_grace=reader.number("SMS_SCHEDULE_GRACE", 900.0),
        inbox_channel=_inbox_channel(reader),
        poll_interval=_poll_interval(reader),
        conversation_days=reader.integer("SMS_CONVERSATION_DAYS", 7),
        thread_replies=_thread_replies(reader),
        database_url=reader.text("DATABASE_URL") or None,
        port=reader.parsed("PORT", None, _port, "a TCP port number"),
        log_level=_log_level(reader),
        sipgate_low_balance=reader.parsed(
            "SIPGATE_LOW_BALANCE", None, _amount, "an amount like 5 or 12.50"
        ),
    )


def _inbox_channel(reader: _Reader) -> str | None:
    channel = reader.text("SMS_INBOX_CHANNEL") or None
    if channel is not None and not re.match(r"^[CG][A-Z0-9_]{2,}$", channel):
        reader.problems.append(
            f"SMS_INBOX_CHANNEL must be a channel ID like C0123ABC (got {channel!r})"
        )
    return channel


def _poll_interval(reader: _Reader) -> float:
    value = reader.number("SIPGATE_POLL_INTERVAL", 30.0)
    if value < 10:
        reader.problems.append(f"SIPGATE_POLL_INTERVAL must be at least 10 seconds (got {value})")
    return value


def _thread_replies(reader: _Reader) -> str:
    value = reader.text("SMS_THREAD_REPLIES", "mention").lower()
    if value not in ("mention", "all"):
        reader.problems.append(f"SMS_THREAD_REPLIES must be mention or all (got {value!r})")
    return value


def _sms_id(reader: _Reader) -> str | None:
    sms_id = reader.text("SIPGATE_SMS_ID") or None
    if sms_id is not None and not _SMS_ID.match(sms_id):
        reader.problems.append(f"SIPGATE_SMS_ID must look like s0 or s1 (got {sms_id!r})")
    return sms_id


def _default_region(reader: _Reader) -> str:
    region = reader.text("SMS_DEFAULT_REGION", "DE").upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        reader.problems.append(f"SMS_DEFAULT_REGION must be an ISO region code (got {region!r})")
    return region


def _max_length(reader: _Reader) -> int:
    value = reader.integer("SMS_MAX_LENGTH", 1600)
    if value > 3000:  # Slack's plain_text_input cannot hold more
        reader.problems.append(f"SMS_MAX_LENGTH must be at most 3000 (got {value})")
    return value


def _max_days(reader: _Reader) -> int:
    value = reader.integer("SMS_SCHEDULE_MAX_DAYS", 30)
    if reader.text("SMS_SCHEDULER").lower() == "sipgate" and value > 30:
        reader.problems.append("SMS_SCHEDULE_MAX_DAYS must be ≤ 30 with SMS_SCHEDULER=sipgate")
    return value


def _scheduler(raw: str) -> Scheduler:
    return Scheduler(raw.lower())


def _amount(raw: str) -> Decimal:
    """A non-negative amount of money with at most four decimals (sipgate's precision)."""
    try:
        amount = Decimal(raw.replace(",", "."))
        exact = amount.is_finite() and amount == amount.quantize(Decimal("0.0001"))
    except InvalidOperation:
        raise ValueError(raw) from None
    if not exact or amount < 0:
        raise ValueError(raw)
    return amount


def _port(raw: str) -> int:
    port = int(raw)
    if not 0 <= port <= 65535:
        raise ValueError(raw)
    return port


def _log_level(reader: _Reader) -> str:
    level = reader.text("LOG_LEVEL", "INFO").upper()
    if level not in _LOG_LEVELS:
        reader.problems.append(f"LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)} (got {level!r})")
    return level


def service_problems(settings: Settings) -> list[str]:
    """What stops the bot from serving Slack with these settings."""
    problems = _slack_problems(settings) + _sipgate_problems(settings)
    if not settings.allow_everyone and not (settings.allowed_users or settings.allowed_usergroups):
        problems.append(
            "No allowlist: set SMS_ALLOWED_USERS (Slack user IDs) and/or SMS_ALLOWED_USERGROUPS"
            " (IDs starting with S), or SMS_ALLOW_EVERYONE=true to let every member send"
        )
    return problems


def _slack_problems(settings: Settings) -> list[str]:
    problems = []
    if not settings.slack_bot_token:
        problems.append("SLACK_BOT_TOKEN is missing (the Bot User OAuth Token, xoxb-…)")
    if not settings.socket_mode and not settings.slack_signing_secret:
        problems.append(
            "SLACK_SIGNING_SECRET is missing (Basic Information › Signing Secret);"
            " or set SLACK_APP_TOKEN (xapp-…) for Socket Mode"
        )
    return problems


def oauth_problems(settings: Settings) -> list[str]:
    """What is wrong with the OAuth client settings (also for ``sipgate-login``)."""
    has_id, has_secret = (
        bool(settings.sipgate_oauth_client_id),
        bool(settings.sipgate_oauth_client_secret),
    )
    if has_id != has_secret:
        return ["SIPGATE_OAUTH_CLIENT_ID and SIPGATE_OAUTH_CLIENT_SECRET must be set together"]
    if has_id and (settings.sipgate_token_id or settings.sipgate_token):
        return [
            "set either SIPGATE_OAUTH_CLIENT_ID/SIPGATE_OAUTH_CLIENT_SECRET (OAuth) or"
            " SIPGATE_TOKEN_ID/SIPGATE_TOKEN (personal access token), not both"
        ]
    return []


def _sipgate_problems(settings: Settings) -> list[str]:
    has_pat = bool(settings.sipgate_token_id and settings.sipgate_token)
    if has_pat or settings.sipgate_oauth_token or settings.sipgate_oauth_login:
        return []
    if settings.sipgate_token_id or settings.sipgate_token:
        return ["SIPGATE_TOKEN_ID and SIPGATE_TOKEN must be set together"]
    return [
        "sipgate credentials are missing: set SIPGATE_TOKEN_ID and SIPGATE_TOKEN, or"
        " SIPGATE_OAUTH_CLIENT_ID and SIPGATE_OAUTH_CLIENT_SECRET and run sipgate-login"
    ]
