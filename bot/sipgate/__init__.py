"""sipgate REST v2: pure protocol (``protocol``), aiohttp transport (``client``), errors.

The client implements the core's ``SmsGateway`` and ``BalanceReader``; its errors are the
core's ``SendFailure``s.
"""

from bot.sipgate.client import SipgateClient, client_for, oauth_client
from bot.sipgate.errors import (
    SipgateAuthError,
    SipgateBalanceError,
    SipgateError,
    SipgateForbidden,
    SipgateLoginNeeded,
    SipgateMalformed,
    SipgateNoAnswer,
    SipgateNoSmsExtension,
    SipgateRateLimited,
    SipgateRejected,
    SipgateServerError,
    SipgateUnexpected,
    SipgateUnreachable,
    SipgateUnreadable,
)
from bot.sipgate.oauth import AuthSource, FixedAuth, OAuthAccess, OAuthClient, request_tokens
from bot.sipgate.protocol import (
    BALANCE_PATH,
    SEND_SMS_PATH,
    USERINFO_PATH,
    PreparedRequest,
    SipgateAuth,
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

__all__ = [
    "BALANCE_PATH",
    "SEND_SMS_PATH",
    "USERINFO_PATH",
    "AuthSource",
    "FixedAuth",
    "OAuthAccess",
    "OAuthClient",
    "PreparedRequest",
    "SipgateAuth",
    "SipgateAuthError",
    "SipgateBalanceError",
    "SipgateClient",
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
    "Userinfo",
    "build_balance",
    "build_send_sms",
    "build_sms_extensions",
    "build_userinfo",
    "client_for",
    "decipher",
    "oauth_client",
    "parse_balance",
    "parse_sms_extensions",
    "parse_userinfo",
    "request_tokens",
]
