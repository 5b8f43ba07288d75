"""load_settings: defaults, every problem at once, the allowlist rule, secrets kept secret."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.core import Scheduler
from bot.settings import Secret, SettingsError, load_settings

BOT_TOKEN = "xoxb-1111-2222-SECRETBOT"
SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"
APP_TOKEN = "xapp-1-secret-app-for-tests"
SIPGATE_TOKEN = "test-SECRET-not-real"
OAUTH_TOKEN = "eyJhbGciOi.SECRET-OAUTH"
SECRETS = (BOT_TOKEN, SIGNING_SECRET, APP_TOKEN, SIPGATE_TOKEN, OAUTH_TOKEN)

MINIMAL = {
    "SLACK_BOT_TOKEN": BOT_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "SIPGATE_TOKEN_ID": "token-ABC123",
    "SIPGATE_TOKEN": SIPGATE_TOKEN,
    "SMS_ALLOWED_USERS": "U_ALICE",
}


def problems_of(**environ: str) -> tuple[str, ...]:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ)
    return caught.value.problems


def test_defaults() -> None:
    settings = load_settings(MINIMAL)

    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.sipgate_api_url == "https://api.sipgate.com/v2"
    assert settings.sipgate_timeout == 15.0
    assert settings.sipgate_sms_id is None
    assert settings.allowed_users == frozenset({"U_ALICE"})
    assert settings.allowed_usergroups == frozenset()
    assert settings.allowed_channels == frozenset()
    assert settings.allow_everyone is False
    assert settings.admins == frozenset()
    assert settings.default_region == "DE"
    assert settings.allowed_countries == frozenset({"DE"})
    assert settings.max_recipients == 10
    assert settings.max_length == 1600
    assert settings.user_hourly_limit == 30
    assert settings.scheduler is Scheduler.BOT
    assert settings.schedule_max_days == 30
    assert settings.schedule_grace == 900.0
    assert settings.database_url is None
    assert settings.port is None
    assert settings.log_level == "INFO"
    assert settings.socket_mode is False


def test_values_are_read_and_normalised() -> None:
    settings = load_settings(
        {
            **MINIMAL,
            "SMS_ALLOWED_USERS": " U_ALICE , U_BOB ,",
            "SMS_ALLOWED_USERGROUPS": "S_OPS",
            "SMS_ALLOWED_CHANNELS": "C_SUPPORT",
            "SMS_ADMINS": "U_BOB",
            "SMS_ALLOWED_COUNTRIES": "de, at",
            "SMS_DEFAULT_REGION": "at",
            "SMS_SCHEDULER": "sipgate",
            "SIPGATE_API_URL": "http://127.0.0.1:9/v2/",
            "SIPGATE_SMS_ID": "s3",
            "SIPGATE_TIMEOUT": "2.5",
            "SMS_MAX_RECIPIENTS": "3",
            "PORT": "8080",
            "LOG_LEVEL": "debug",
            "SLACK_APP_TOKEN": APP_TOKEN,
        }
    )

    assert settings.allowed_users == frozenset({"U_ALICE", "U_BOB"})
    assert settings.allowed_usergroups == frozenset({"S_OPS"})
    assert settings.allowed_countries == frozenset({"DE", "AT"})
    assert settings.default_region == "AT"
    assert settings.scheduler is Scheduler.SIPGATE
    assert settings.sipgate_api_url == "http://127.0.0.1:9/v2"
    assert settings.sipgate_sms_id == "s3"
    assert settings.sipgate_timeout == 2.5
    assert settings.max_recipients == 3
    assert settings.port == 8080
    assert settings.log_level == "DEBUG"
    assert settings.socket_mode is True


def test_every_problem_is_reported_together() -> None:
    problems = problems_of(
        SMS_MAX_RECIPIENTS="ten",
        SMS_MAX_LENGTH="0",
        SIPGATE_TIMEOUT="-1",
        SMS_SCHEDULER="cron",
        SMS_DEFAULT_REGION="XX",
        PORT="70000",
    )

    text = "\n".join(problems)
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SIPGATE_TOKEN_ID",
        "SMS_ALLOWED_USERS",
        "SMS_MAX_RECIPIENTS",
        "SMS_MAX_LENGTH",
        "SIPGATE_TIMEOUT",
        "SMS_SCHEDULER",
        "SMS_DEFAULT_REGION",
        "PORT",
    ):
        assert name in text, name
    assert len(problems) == 10


def test_the_error_lists_every_problem_in_its_message() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**MINIMAL, "SMS_MAX_LENGTH": "x", "SMS_USER_HOURLY_LIMIT": "0"})

    message = str(caught.value)
    assert "SMS_MAX_LENGTH" in message
    assert "SMS_USER_HOURLY_LIMIT" in message


def test_no_allowlist_refuses_to_start_naming_the_setting() -> None:
    environ = {key: value for key, value in MINIMAL.items() if key != "SMS_ALLOWED_USERS"}

    with pytest.raises(SettingsError) as caught:
        load_settings(environ)

    (problem,) = caught.value.problems
    assert "SMS_ALLOWED_USERS" in problem
    assert "SMS_ALLOW_EVERYONE=true" in problem


def test_allow_everyone_lets_it_start_without_an_allowlist() -> None:
    environ = {key: value for key, value in MINIMAL.items() if key != "SMS_ALLOWED_USERS"}

    settings = load_settings({**environ, "SMS_ALLOW_EVERYONE": "true"})

    assert settings.allow_everyone is True
    assert settings.allowed_users == frozenset()


def test_a_user_group_alone_is_an_allowlist() -> None:
    environ = {key: value for key, value in MINIMAL.items() if key != "SMS_ALLOWED_USERS"}

    settings = load_settings({**environ, "SMS_ALLOWED_USERGROUPS": "S_OPS"})

    assert settings.allowed_usergroups == frozenset({"S_OPS"})


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_allow_everyone_must_be_a_boolean(value: str) -> None:
    problems = problems_of(**MINIMAL, SMS_ALLOW_EVERYONE=value)

    assert any("SMS_ALLOW_EVERYONE" in problem for problem in problems)


def test_secrets_are_not_in_the_repr() -> None:
    settings = load_settings(
        {**MINIMAL, "SLACK_APP_TOKEN": APP_TOKEN, "SIPGATE_OAUTH_TOKEN": OAUTH_TOKEN}
    )

    shown = repr(settings) + str(settings)
    for secret in SECRETS:
        assert secret not in shown
    assert settings.slack_bot_token.value == BOT_TOKEN
    assert repr(Secret("x")) == "Secret('********')"
    assert set(settings.secret_values()) == set(SECRETS)


def test_secrets_are_not_in_the_error() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            {
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_APP_TOKEN": APP_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SIPGATE_TOKEN": SIPGATE_TOKEN,  # without its id
                "SIPGATE_OAUTH_TOKEN": "",
                "SMS_MAX_LENGTH": "lots",
            }
        )

    shown = str(caught.value) + repr(caught.value) + "\n".join(caught.value.problems)
    assert "SIPGATE_TOKEN_ID and SIPGATE_TOKEN must be set together" in shown
    for secret in SECRETS:
        assert secret not in shown


def test_database_password_is_not_in_the_repr() -> None:
    settings = load_settings({**MINIMAL, "DATABASE_URL": "postgres://bot:hunter2@db:5432/sms"})

    assert "hunter2" not in repr(settings)


def test_oauth_token_alone_is_enough_for_sipgate() -> None:
    environ = {
        key: value
        for key, value in MINIMAL.items()
        if key not in ("SIPGATE_TOKEN_ID", "SIPGATE_TOKEN")
    }

    settings = load_settings({**environ, "SIPGATE_OAUTH_TOKEN": OAUTH_TOKEN})

    assert settings.sipgate_oauth_token.value == OAUTH_TOKEN


def test_socket_mode_needs_no_signing_secret() -> None:
    environ = {key: value for key, value in MINIMAL.items() if key != "SLACK_SIGNING_SECRET"}

    settings = load_settings({**environ, "SLACK_APP_TOKEN": APP_TOKEN})

    assert settings.socket_mode


def test_check_mode_skips_the_service_requirements() -> None:
    settings = load_settings({}, require_service=False)

    assert not settings.slack_bot_token


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SMS_MAX_RECIPIENTS", "0"),
        ("SMS_MAX_RECIPIENTS", "1.5"),
        ("SMS_MAX_LENGTH", "3001"),
        ("SMS_USER_HOURLY_LIMIT", "-3"),
        ("SMS_SCHEDULE_MAX_DAYS", "zero"),
        ("SMS_SCHEDULE_GRACE", "0"),
        ("SIPGATE_TIMEOUT", "soon"),
        ("PORT", "http"),
        ("SIPGATE_SMS_ID", "p0"),
        ("SLACK_API_URL", "slack.com/api"),
        ("SIPGATE_API_URL", "ftp://api.sipgate.com"),
        ("LOG_LEVEL", "LOUD"),
        ("SMS_ADMINS", "bob"),
        ("SIPGATE_LOW_BALANCE", "-5"),
        ("SIPGATE_LOW_BALANCE", "five euros"),
        ("SIPGATE_LOW_BALANCE", "0.00001"),
        ("SIPGATE_LOW_BALANCE", "NaN"),
    ],
)
def test_bad_values_are_refused_by_name(name: str, value: str) -> None:
    problems = problems_of(**{**MINIMAL, name: value})

    (problem,) = problems
    assert problem.startswith(name)


@pytest.mark.parametrize(
    ("name", "value", "unknown"),
    [
        ("SMS_DEFAULT_REGION", "XX", "XX"),
        ("SMS_DEFAULT_REGION", "Germany", "GERMANY"),
        ("SMS_ALLOWED_COUNTRIES", "DE,ZZ", "ZZ"),
        ("SMS_ALLOWED_COUNTRIES", "DE,EU", "EU"),
    ],
)
def test_unknown_regions_are_refused(name: str, value: str, unknown: str) -> None:
    (problem,) = problems_of(**{**MINIMAL, name: value})

    assert problem.startswith(name)
    assert unknown in problem


def test_trailing_comma_in_countries_is_accepted() -> None:
    settings = load_settings({**MINIMAL, "SMS_ALLOWED_COUNTRIES": "DE,AT,"})

    assert settings.allowed_countries == frozenset({"DE", "AT"})


@pytest.mark.parametrize("scheduler", ["cron", "both", "sipgate-later"])
def test_unknown_scheduler_is_refused(scheduler: str) -> None:
    (problem,) = problems_of(**{**MINIMAL, "SMS_SCHEDULER": scheduler})

    assert "SMS_SCHEDULER must be bot or sipgate" in problem


def test_sipgate_scheduler_allows_at_most_30_days() -> None:
    (problem,) = problems_of(
        **{**MINIMAL, "SMS_SCHEDULER": "sipgate", "SMS_SCHEDULE_MAX_DAYS": "31"}
    )

    assert "SMS_SCHEDULE_MAX_DAYS" in problem
    assert "30" in problem


def test_sipgate_scheduler_limit_ignores_case() -> None:
    problems = problems_of(**{**MINIMAL, "SMS_SCHEDULER": "SIPGATE", "SMS_SCHEDULE_MAX_DAYS": "60"})

    assert any("SMS_SCHEDULE_MAX_DAYS" in problem for problem in problems)


def test_bot_scheduler_may_schedule_further_ahead() -> None:
    settings = load_settings({**MINIMAL, "SMS_SCHEDULE_MAX_DAYS": "90"})

    assert settings.schedule_max_days == 90


# --- sipgate OAuth ---------------------------------------------------------------------------

OAUTH = {**MINIMAL, "SIPGATE_TOKEN_ID": "", "SIPGATE_TOKEN": ""}


def test_oauth_client_settings_are_credentials_with_their_defaults() -> None:
    settings = load_settings(
        {**OAUTH, "SIPGATE_OAUTH_CLIENT_ID": "bot", "SIPGATE_OAUTH_CLIENT_SECRET": "c-secret"}
    )

    assert settings.sipgate_oauth_login
    assert settings.sipgate_login_url == "https://login.sipgate.com"
    assert settings.sipgate_oauth_realm == "sipgate-apps"
    assert "c-secret" not in repr(settings)
    assert "c-secret" in settings.secret_values()


def test_oauth_client_and_personal_access_token_together_are_refused() -> None:
    problems = problems_of(
        **MINIMAL, SIPGATE_OAUTH_CLIENT_ID="bot", SIPGATE_OAUTH_CLIENT_SECRET="s"
    )

    assert any("not both" in problem for problem in problems)


@pytest.mark.parametrize("half", ["SIPGATE_OAUTH_CLIENT_ID", "SIPGATE_OAUTH_CLIENT_SECRET"])
def test_half_an_oauth_client_is_refused(half: str) -> None:
    problems = problems_of(**OAUTH, **{half: "x"})

    assert any("must be set together" in problem for problem in problems)


@pytest.mark.parametrize(
    ("raw", "amount"),
    [("5", Decimal(5)), ("12.50", Decimal("12.5")), ("3,75", Decimal("3.75")), ("0", Decimal(0))],
)
def test_the_low_balance_is_an_amount_in_the_account_s_currency(raw: str, amount: Decimal) -> None:
    assert load_settings({**MINIMAL, "SIPGATE_LOW_BALANCE": raw}).sipgate_low_balance == amount


def test_without_a_low_balance_there_is_no_warning() -> None:
    assert load_settings(MINIMAL).sipgate_low_balance is None


def test_the_inbox_channel_is_an_allowed_channel_when_channels_are_limited() -> None:
    limited = {**MINIMAL, "SMS_ALLOWED_CHANNELS": "C_SALES"}

    with_inbox = load_settings({**limited, "SMS_INBOX_CHANNEL": "C_INBOX"}).access_rules
    without = load_settings(limited).access_rules
    unlimited = load_settings({**MINIMAL, "SMS_INBOX_CHANNEL": "C_INBOX"}).access_rules

    assert with_inbox.channels == {"C_SALES", "C_INBOX"}
    assert without.channels == {"C_SALES"}
    assert unlimited.channels == frozenset()  # no limit stays no limit
