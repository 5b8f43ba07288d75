"""A fake of sipgate's login server (Keycloak): the OAuth authorization-code flow and refreshes.

:class:`FakeSipgateLogin` serves, for one realm (``sipgate-apps`` unless told otherwise):

- ``GET  /auth/realms/<realm>/protocol/openid-connect/auth?client_id=…&redirect_uri=…&
  response_type=code&state=…``: the person logs in and consents at once; the answer is a 302 to
  ``redirect_uri?state=…&session_state=…&code=…``.
- ``POST /auth/realms/<realm>/protocol/openid-connect/token`` with form fields: ``grant_type=
  authorization_code`` + ``code`` + ``redirect_uri``, or ``grant_type=refresh_token`` +
  ``refresh_token``; the client authenticates with ``client_id`` + ``client_secret`` fields
  (or HTTP Basic). The answer holds ``access_token``, ``expires_in``, ``refresh_token``,
  ``refresh_expires_in`` and ``token_type: "Bearer"``.

Each refresh rotates the refresh token: a refresh token works once, then (and once revoked or
expired) it is answered 400 ``invalid_grant``. Codes work once, for the redirect_uri they were
issued for, within a minute. Every token request is recorded in :attr:`FakeSipgateLogin.grants`.
Access tokens expire after ``access_lifetime`` seconds of ``clock`` (``time.time`` unless a test
passes a manual one); ``ScriptedSipgate.accept_tokens_from`` makes the sipgate fake accept
exactly the unexpired ones.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import BasicAuth, web

from bot.sandbox.local import LocalServer

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-client-secret"
CODE_LIFETIME = 60
OIDC = "/auth/realms/{realm}/protocol/openid-connect"


@dataclass(frozen=True)
class Grant:
    """One token request: its form fields as sent, and the HTTP status it was answered."""

    grant_type: str
    form: Mapping[str, str]
    basic_auth: bool
    status: int


@dataclass
class _Issued:
    """A code, access token or refresh token this server gave out."""

    kind: str  # "code", "access", "refresh"
    client_id: str
    expires_at: float
    redirect_uri: str = ""
    used: bool = False
    revoked: bool = False


class _Refused(Exception):  # noqa: N818 - a refusal, answered as an OAuth error
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(error)
        self.status, self.error, self.description = status, error, description


class FakeSipgateLogin(LocalServer):
    """sipgate's Keycloak on a local port: codes, access tokens and rotating refresh tokens."""

    def __init__(
        self,
        *,
        realm: str = "sipgate-apps",
        clients: Mapping[str, str] | None = None,
        access_lifetime: int = 300,
        refresh_lifetime: int = 2_592_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.realm = realm
        self.clients = dict(clients or {CLIENT_ID: CLIENT_SECRET})
        self.access_lifetime = access_lifetime
        self.refresh_lifetime = refresh_lifetime
        self.clock = clock
        self.grants: list[Grant] = []
        self._issued: dict[str, _Issued] = {}

    def web_app(self) -> web.Application:
        app = web.Application()
        base = OIDC.format(realm=self.realm)
        app.router.add_get(f"{base}/auth", self._serve_auth)
        app.router.add_post(f"{base}/token", self._serve_token)
        return app

    @property
    def url(self) -> str:
        """The login server's base URL (``SIPGATE_LOGIN_URL``)."""
        return self.origin

    @property
    def token_url(self) -> str:
        return self.url + OIDC.format(realm=self.realm) + "/token"

    @property
    def auth_url(self) -> str:
        return self.url + OIDC.format(realm=self.realm) + "/auth"

    # --- what a test does --------------------------------------------------------------------

    def authorize(self, redirect_uri: str, client_id: str = CLIENT_ID) -> str:
        """A code, as if a person had logged in and consented for ``client_id``."""
        return self._issue("code", client_id, CODE_LIFETIME, redirect_uri)

    def revoke(self, refresh_token: str) -> None:
        """The refresh token no longer works (as when the person logs the app out)."""
        if refresh_token in self._issued:
            self._issued[refresh_token].revoked = True

    def accepts(self, access_token: str) -> bool:
        """Whether ``access_token`` is one this server issued and it has not expired."""
        issued = self._issued.get(access_token)
        return issued is not None and issued.kind == "access" and self._live(issued)

    def refresh_tokens(self) -> list[str]:
        """Every refresh token issued so far, oldest first."""
        return [token for token, issued in self._issued.items() if issued.kind == "refresh"]

    # --- HTTP --------------------------------------------------------------------------------

    async def _serve_auth(self, request: web.Request) -> web.Response:
        query = request.query
        client_id, redirect_uri = query.get("client_id", ""), query.get("redirect_uri", "")
        if (
            client_id not in self.clients
            or not redirect_uri
            or query.get("response_type") != "code"
        ):
            return web.Response(status=400, text="Invalid parameter")
        fields = {"state": query.get("state", ""), "session_state": secrets.token_hex(8)}
        fields["code"] = self.authorize(redirect_uri, client_id)
        raise web.HTTPFound(f"{redirect_uri}?{urllib.parse.urlencode(fields)}")

    async def _serve_token(self, request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        basic = request.headers.get("Authorization", "").startswith("Basic ")
        try:
            status, body = 200, self._grant(form, self._client(request, form))
        except _Refused as refused:
            status = refused.status
            body = {"error": refused.error, "error_description": refused.description}
        self.grants.append(Grant(form.get("grant_type", ""), form, basic, status))
        return web.json_response(body, status=status)

    def _client(self, request: web.Request, form: Mapping[str, str]) -> str:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            auth = BasicAuth.decode(header)
            client_id, secret = str(auth.login), str(auth.password)
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if self.clients.get(client_id) != secret or not secret:
            raise _Refused(
                401, "unauthorized_client", "Invalid client or Invalid client credentials"
            )
        return client_id

    def _grant(self, form: Mapping[str, str], client_id: str) -> dict[str, Any]:
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            self._use(form, "code", client_id, "Code not valid")
            if self._issued[form["code"]].redirect_uri != form.get("redirect_uri"):
                raise _Refused(400, "invalid_grant", "Incorrect redirect_uri")
        elif grant_type == "refresh_token":
            self._use(form, "refresh_token", client_id, "Invalid refresh token")
        else:
            raise _Refused(400, "unsupported_grant_type", "Unsupported grant_type")
        return self._tokens(client_id)

    def _use(self, form: Mapping[str, str], name: str, client_id: str, why: str) -> None:
        """Spend the code or refresh token ``form[name]``; invalid_grant unless it is live."""
        value = form.get(name)
        if not value:
            raise _Refused(400, "invalid_request", f"Missing parameter: {name}")
        issued = self._issued.get(value)
        kind = "code" if name == "code" else "refresh"
        if issued is None or issued.kind != kind or issued.client_id != client_id:
            raise _Refused(400, "invalid_grant", why)
        if issued.used or not self._live(issued):
            raise _Refused(400, "invalid_grant", why)
        issued.used = True

    def _tokens(self, client_id: str) -> dict[str, Any]:
        return {
            "access_token": self._issue("access", client_id, self.access_lifetime),
            "expires_in": self.access_lifetime,
            "refresh_expires_in": self.refresh_lifetime,
            "refresh_token": self._issue("refresh", client_id, self.refresh_lifetime),
            "token_type": "Bearer",
            "not-before-policy": 0,
            "session_state": secrets.token_hex(8),
            "scope": "all",
        }

    def _issue(self, kind: str, client_id: str, lifetime: int, redirect_uri: str = "") -> str:
        now = self.clock()
        value = _jwt({"typ": kind, "azp": client_id, "iat": int(now), "exp": int(now + lifetime)})
        self._issued[value] = _Issued(kind, client_id, now + lifetime, redirect_uri)
        return value

    def _live(self, issued: _Issued) -> bool:
        return not issued.revoked and self.clock() < issued.expires_at


def _jwt(claims: Mapping[str, Any]) -> str:
    """A token shaped like Keycloak's (three base64url parts; the signature is random)."""
    header = {"alg": "RS256", "typ": "JWT"}
    payload = {**claims, "jti": secrets.token_hex(8), "iss": "sipgate-login"}
    parts = [_b64(json.dumps(header)), _b64(json.dumps(payload)), _b64(secrets.token_hex(16))]
    return ".".join(parts)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
