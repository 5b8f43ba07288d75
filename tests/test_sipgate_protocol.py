"""The pure sipgate protocol: request shapes, status mapping, answer parsing."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.core import Balance, SmsExtension
from bot.sipgate import (
    SipgateAuth,
    SipgateAuthError,
    SipgateBalanceError,
    SipgateError,
    SipgateForbidden,
    SipgateMalformed,
    SipgateNoAnswer,
    SipgateNoSmsExtension,
    SipgateRateLimited,
    SipgateRejected,
    SipgateServerError,
    SipgateUnexpected,
    SipgateUnreachable,
    SipgateUnreadable,
    Userinfo,
    build_balance,
    build_send_sms,
    build_sms_extensions,
    build_userinfo,
    decipher,
    parse_balance,
    parse_sms_extensions,
    parse_userinfo,
)
from bot.slack.texts import explain_failure
from tests.helpers import PAT, TOKEN, TOKEN_ID

OAUTH = SipgateAuth.oauth("eyJhbGciOi.eyJzdWIiOiJ3MCJ9.sig")


# -- auth -------------------------------------------------------------------------------


def test_token_header_is_basic_of_id_and_token() -> None:
    expected = base64.b64encode(f"{TOKEN_ID}:{TOKEN}".encode()).decode()
    assert PAT.header() == f"Basic {expected}"


def test_oauth_header_is_bearer() -> None:
    assert OAUTH.header() == "Bearer eyJhbGciOi.eyJzdWIiOiJ3MCJ9.sig"


def test_repr_hides_secrets() -> None:
    assert repr(PAT) == f"SipgateAuth(kind='token', token_id='{TOKEN_ID}')"
    assert repr(OAUTH) == "SipgateAuth(kind='oauth')"
    assert TOKEN not in f"{PAT} {PAT!r}"
    assert "eyJ" not in f"{OAUTH} {OAUTH!r}"


@pytest.mark.parametrize(("token_id", "token"), [("", TOKEN), (TOKEN_ID, ""), ("a:b", TOKEN)])
def test_incomplete_token_is_refused(token_id: str, token: str) -> None:
    with pytest.raises(ValueError, match="token id"):
        SipgateAuth.personal_access_token(token_id, token)


def test_empty_oauth_token_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        SipgateAuth.oauth("")


# -- building requests -------------------------------------------------------------------


def test_send_now_has_no_send_at() -> None:
    request = build_send_sms("s0", "+4915112345678", "Hallo", None, PAT)
    assert (request.method, request.path) == ("POST", "/sessions/sms")
    assert request.json == {"smsId": "s0", "recipient": "+4915112345678", "message": "Hallo"}
    assert request.headers == {
        "Authorization": PAT.header(),
        "Content-Type": "application/json",
        "Accept": "application/json",
    }


def test_scheduled_send_has_int_unix_seconds() -> None:
    when = datetime(2030, 1, 2, 3, 4, 5, 900_000, tzinfo=timezone(timedelta(hours=1)))
    request = build_send_sms("s1", "+4915112345678", "Später", when, OAUTH)
    assert request.json is not None
    assert request.json["sendAt"] == 1893549845
    assert type(request.json["sendAt"]) is int
    assert request.headers["Authorization"] == OAUTH.header()


def test_naive_send_at_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_send_sms("s0", "+4915112345678", "x", datetime(2030, 1, 1), PAT)


def test_body_bytes_are_utf8_json() -> None:
    request = build_send_sms("s0", "+4915112345678", "Grüße 👋", None, PAT)
    assert request.body() == (
        '{"smsId":"s0","recipient":"+4915112345678","message":"Grüße 👋"}'.encode()
    )


def test_discovery_requests() -> None:
    userinfo = build_userinfo(PAT)
    extensions = build_sms_extensions("w0", OAUTH)
    assert (userinfo.method, userinfo.path, userinfo.json) == (
        "GET",
        "/authorization/userinfo",
        None,
    )
    assert (extensions.method, extensions.path) == ("GET", "/w0/sms")
    assert extensions.headers["Authorization"] == OAUTH.header()
    assert "Content-Type" not in extensions.headers


def test_user_id_cannot_escape_its_path() -> None:
    assert build_sms_extensions("../x", PAT).path == "/..%2Fx/sms"


# -- decipher ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_any_2xx_is_success(status: int) -> None:
    decipher(status, {}, b"")  # returns, i.e. does not raise


CASES = [
    (400, SipgateRejected, "invalid", False, "rejected the SMS as invalid"),
    (401, SipgateAuthError, "auth", False, "credentials are wrong"),
    (402, SipgateBalanceError, "balance", False, "balance is too low"),
    (403, SipgateForbidden, "forbidden", False, "no permission to send from extension s3"),
    (404, SipgateMalformed, "bug", False, "malformed request — a bug; nothing was sent"),
    (405, SipgateMalformed, "bug", False, "malformed request"),
    (415, SipgateMalformed, "bug", False, "malformed request"),
    (429, SipgateRateLimited, "rate_limited", False, "rate-limiting; try again in a minute"),
    (500, SipgateServerError, "server", True, "internal error"),
    (502, SipgateServerError, "server", True, "may not have gone out"),
    (503, SipgateServerError, "server", True, "internal error"),
    (418, SipgateUnexpected, "unexpected", False, "unexpected answer"),
    (302, SipgateUnexpected, "unexpected", False, "nothing is known to have been sent"),
]


@pytest.mark.parametrize(("status", "error_type", "kind", "may_have_sent", "phrase"), CASES)
def test_decipher_maps_status(
    status: int, error_type: type[SipgateError], kind: str, may_have_sent: bool, phrase: str
) -> None:
    body = b'{"detail": "Basic dG9rZW4tQUIxMkNEOnNlY3JldA=="}'
    with pytest.raises(error_type) as caught:
        decipher(status, {}, body, sms_id="s3")
    error = caught.value
    assert (error.status, error.kind, error.may_have_sent) == (status, kind, may_have_sent)
    assert phrase in explain_failure(error)
    assert "dG9rZW4" not in f"{error} {error!r} {explain_failure(error)}"


def test_forbidden_without_sms_id_still_explains() -> None:
    with pytest.raises(SipgateForbidden) as caught:
        decipher(403, {}, b"")
    assert "refused permission" in explain_failure(caught.value)


@pytest.mark.parametrize(
    ("header", "retry_after", "phrase"),
    [
        ("30", 30.0, "try again in 30 seconds"),
        ("1", 1.0, "try again in 1 second"),
        ("300", 300.0, "try again in 5 minutes"),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None, "try again in a minute"),
        ("-5", None, "try again in a minute"),
        ("nan", None, "try again in a minute"),
    ],
)
def test_rate_limit_reads_retry_after(header: str, retry_after: float | None, phrase: str) -> None:
    with pytest.raises(SipgateRateLimited) as caught:
        decipher(429, {"retry-after": header}, b"")
    assert caught.value.retry_after == retry_after
    assert phrase in explain_failure(caught.value)


def test_transport_errors_explain_themselves() -> None:
    assert SipgateNoAnswer().may_have_sent
    assert "may or may not have gone out" in explain_failure(SipgateNoAnswer())
    assert not SipgateUnreachable().may_have_sent
    assert "nothing was sent" in explain_failure(SipgateUnreachable())
    assert SipgateNoSmsExtension("w0").kind == "no_extension"
    assert "Web SMS not booked for this user" in explain_failure(SipgateNoSmsExtension("w0"))


# -- parsing -----------------------------------------------------------------------------


def test_parse_userinfo() -> None:
    body = b'{"sub":"w0","domain":"sipgate.de","masterSipId":"0000000","locale":"de_DE"}'
    assert parse_userinfo(body) == Userinfo("w0", "sipgate.de", "0000000", "de_DE")


def test_parse_userinfo_tolerates_missing_optional_keys() -> None:
    assert parse_userinfo(b'{"sub":"w7","locale":null}') == Userinfo("w7", "", "", "")


def test_parse_sms_extensions() -> None:
    body = b'{"items":[{"id":"s0","alias":"SMS von Ada","callerId":"+4915799912345"},{"id":"s1"}]}'
    assert parse_sms_extensions(body) == [
        SmsExtension("s0", "SMS von Ada", "+4915799912345"),
        SmsExtension("s1", "", ""),
    ]
    assert parse_sms_extensions(b'{"items":[]}') == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[]",
        b"null",
        b'{"domain":"x"}',
        b'{"sub":7}',
        b"[" * 100_000,  # too deep for the json module
    ],
)
def test_parse_userinfo_refuses_malformed(body: bytes) -> None:
    with pytest.raises(SipgateUnreadable) as caught:
        parse_userinfo(body)
    assert "could not read" in explain_failure(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        b"<html>",
        b"{}",
        b'{"items":{}}',
        b'{"items":[1]}',
        b'{"items":[{"alias":"no id"}]}',
        b'{"items":[{"id":"s0","callerId":42}]}',
    ],
)
def test_parse_sms_extensions_refuses_malformed(body: bytes) -> None:
    with pytest.raises(SipgateUnreadable):
        parse_sms_extensions(body)


def test_datetime_in_utc_matches_epoch() -> None:
    when = datetime(2030, 1, 1, tzinfo=UTC)
    request = build_send_sms("s0", "+4915112345678", "x", when, PAT)
    assert request.json is not None
    assert request.json["sendAt"] == int(when.timestamp())


# -- balance ------------------------------------------------------------------------------


def test_balance_is_a_get_of_balance() -> None:
    request = build_balance(PAT)
    assert (request.method, request.path, request.body()) == ("GET", "/balance", None)
    assert request.headers["Authorization"] == PAT.header()


def test_parse_balance_reads_ten_thousandths_and_the_currency() -> None:
    balance = parse_balance(b'{"amount": 35000, "currency": "EUR"}')
    assert balance == Balance(35000, "EUR")
    assert str(balance.amount) == "3.5"


@pytest.mark.parametrize(
    "body",
    [b"[]", b'{"amount": "35000", "currency": "EUR"}', b'{"amount": 3.5, "currency": "EUR"}',
     b'{"amount": true, "currency": "EUR"}', b'{"amount": 35000}', b"not json"],
)  # fmt: skip
def test_parse_balance_refuses_malformed(body: bytes) -> None:
    with pytest.raises(SipgateUnreadable):
        parse_balance(body)
