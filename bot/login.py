"""``python -m bot sipgate-login``: log the bot in to sipgate once (OAuth authorization code).

It listens on ``http://127.0.0.1:<free port>/callback``, prints the address to open (and opens
it in a browser unless told not to), waits up to five minutes for sipgate to send the browser
back with a code, exchanges the code for tokens and stores the refresh token in the bot's
database, where the running bot finds it and keeps it fresh. It prints no token or secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
import webbrowser
from collections.abc import Mapping
from typing import TextIO

import aiohttp
from aiohttp import web

from bot.core import LedgerUnavailable, utc_now
from bot.settings import Settings, SettingsError, load_settings
from bot.sipgate import OAuthClient, SipgateError, oauth_client, request_tokens
from bot.slack.texts import explain_failure
from bot.store import open_ledger

WAIT_SECONDS = 300.0
HOST = "127.0.0.1"
PAGE = "<p>Logged in to sipgate. You can close this window and go back to the terminal.</p>"


class Callback:
    """The local address sipgate sends the browser back to, with the code (or an error)."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.code: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def serve(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("state") != self.state:
            return web.Response(status=400, text="This is not the login this command started.")
        if not self.code.done():
            self._settle(query)
        return web.Response(text=PAGE, content_type="text/html")

    def _settle(self, query: Mapping[str, str]) -> None:
        if query.get("code"):
            self.code.set_result(query["code"])
        else:
            self.code.set_exception(PermissionError(query.get("error", "no code")))


async def run_login(
    environ: Mapping[str, str],
    out: TextIO = sys.stdout,
    *,
    open_browser: bool = True,
    wait: float = WAIT_SECONDS,
) -> int:
    """The whole login; the exit code."""
    try:
        settings = load_settings(environ, require_service=False)
    except SettingsError as error:
        print(error, file=out)
        return 2
    if not settings.sipgate_oauth_login:
        print("Set SIPGATE_OAUTH_CLIENT_ID and SIPGATE_OAUTH_CLIENT_SECRET first.", file=out)
        return 2
    return await _login(settings, oauth_client(settings), out, open_browser, wait)


async def _login(
    settings: Settings, client: OAuthClient, out: TextIO, open_browser: bool, wait: float
) -> int:
    callback = Callback(secrets.token_urlsafe(16))
    runner, redirect_uri = await _listen(callback)
    try:
        url = client.authorize_url(redirect_uri, callback.state)
        print(f"Open this address in a browser and log in to sipgate:\n\n  {url}\n", file=out)
        if open_browser:
            with contextlib.suppress(Exception):
                webbrowser.open(url)
        code = await _code(callback, wait, out)
        if code is None:
            return 1
        return await _store(settings, client, code, redirect_uri, out)
    finally:
        await runner.cleanup()


async def _listen(callback: Callback) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/callback", callback.serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, HOST, 0).start()
    return runner, f"http://{HOST}:{runner.addresses[0][1]}/callback"


async def _code(callback: Callback, wait: float, out: TextIO) -> str | None:
    try:
        return await asyncio.wait_for(asyncio.shield(callback.code), wait)
    except TimeoutError:
        print(f"No login within {int(wait // 60)} minutes; run the command again.", file=out)
    except PermissionError as refused:
        print(f"sipgate did not log the bot in ({refused}); run the command again.", file=out)
    return None


async def _store(
    settings: Settings, client: OAuthClient, code: str, redirect_uri: str, out: TextIO
) -> int:
    try:
        async with aiohttp.ClientSession() as session:
            form = client.code_grant(code, redirect_uri)
            tokens = await request_tokens(session, client, form, utc_now())
        ledger = await open_ledger(settings.database_url)
        try:
            await ledger.tokens.save_login(tokens)
        finally:
            await ledger.close()
    except SipgateError as error:
        print(f"The login did not work: {explain_failure(error)}", file=out)
        return 1
    except (LedgerUnavailable, ValueError) as error:
        print(f"The login worked, but it could not be stored ({error}).", file=out)
        return 1
    print("Logged in. The bot keeps the sipgate login fresh by itself from now on.", file=out)
    return 0
