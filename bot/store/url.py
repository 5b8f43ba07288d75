"""Turn the ``DATABASE_URL`` people write into the SQLAlchemy URL the ledger uses.

SQLite runs on the standard library's driver in threads, PostgreSQL on asyncpg (see
``bot.store.database``); ``sqlite+aiosqlite://`` is still accepted and means the same file.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

#: No ``DATABASE_URL``: a SQLite file in the working directory.
DEFAULT_DATABASE_URL = "sqlite+pysqlite:///sipgate-sms.db"

_SQLITE = "sqlite+pysqlite"
_POSTGRES = "postgresql+asyncpg"

#: The schemes people write (``postgres://`` is what Heroku sets) and the driver each gets.
_DRIVERS = {
    "sqlite": _SQLITE,
    _SQLITE: _SQLITE,
    "sqlite+aiosqlite": _SQLITE,
    "postgres": _POSTGRES,
    "postgresql": _POSTGRES,
    _POSTGRES: _POSTGRES,
}

_FORMS = "sqlite:///path/to/file.db or postgresql://user:password@host:5432/database"


def database_url_for(raw: str | None) -> str:
    """The SQLAlchemy URL for a ``DATABASE_URL`` value (None or empty: the default)."""
    written = (raw or "").strip()
    if not written:
        return DEFAULT_DATABASE_URL
    scheme, separator, _ = written.partition("://")
    driver = _DRIVERS.get(scheme.lower()) if separator else None
    if driver is None:
        raise ValueError(f"DATABASE_URL {redact_url(written)} is not supported; use {_FORMS}")
    try:
        url = make_url(written)
    except (ArgumentError, ValueError):
        raise ValueError(f"DATABASE_URL {redact_url(written)} cannot be parsed") from None
    url = url.set(drivername=driver)
    if driver == _POSTGRES:
        url = _libpq_to_asyncpg(url)
    return url.render_as_string(hide_password=False)


def redact_url(url: str | URL) -> str:
    """The URL with its password (if any) shown as ``***``; safe for logs and messages."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    userinfo, at, location = rest.rpartition("@")
    if not at:
        return url
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}{separator}{user}{':***' if colon else ''}@{location}"


def _libpq_to_asyncpg(url: URL) -> URL:
    """asyncpg calls libpq's ``sslmode`` ``ssl`` (Heroku-style URLs may carry ``sslmode``)."""
    mode = url.query.get("sslmode")
    if mode is None:
        return url
    value = mode if isinstance(mode, str) else mode[-1]
    return url.difference_update_query(["sslmode"]).update_query_dict({"ssl": value})
