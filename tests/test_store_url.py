"""``DATABASE_URL`` as people write it (``sqlite:///…``, ``postgresql://…``) → the async
SQLAlchemy URL."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from bot.store import database_url_for, redact_url


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_nothing_set_means_a_sqlite_file_in_the_working_directory(raw: str | None) -> None:
    assert database_url_for(raw) == "sqlite+pysqlite:///sipgate-sms.db"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sqlite:///bot.db", "sqlite+pysqlite:///bot.db"),
        ("sqlite:///path/bot.db", "sqlite+pysqlite:///path/bot.db"),
        ("sqlite:////var/lib/sms/bot.db", "sqlite+pysqlite:////var/lib/sms/bot.db"),
        ("sqlite+aiosqlite:///path/bot.db", "sqlite+pysqlite:///path/bot.db"),
        ("sqlite://", "sqlite+pysqlite://"),
        ("SQLite:///bot.db", "sqlite+pysqlite:///bot.db"),
        (
            "postgres://u1abc:p4ss@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d9x",
            "postgresql+asyncpg://u1abc:p4ss@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d9x",
        ),
        ("postgresql://sms@db/sms", "postgresql+asyncpg://sms@db/sms"),
        ("postgresql://db/sms", "postgresql+asyncpg://db/sms"),
        ("postgresql+asyncpg://sms:pw@db:6432/sms", "postgresql+asyncpg://sms:pw@db:6432/sms"),
        (" postgresql://sms@db/sms\n", "postgresql+asyncpg://sms@db/sms"),
    ],
)
def test_every_documented_form_is_accepted(raw: str, expected: str) -> None:
    assert database_url_for(raw) == expected


def test_a_password_with_special_characters_survives() -> None:
    url = make_url(database_url_for("postgres://sms:p%40ss%2Fw0rd@db/sms"))
    assert (url.drivername, url.password, url.host) == ("postgresql+asyncpg", "p@ss/w0rd", "db")


def test_libpq_sslmode_becomes_asyncpg_ssl() -> None:
    url = make_url(database_url_for("postgres://u:p@db/sms?sslmode=require"))
    assert dict(url.query) == {"ssl": "require"}


@pytest.mark.parametrize(
    "raw",
    [
        "mysql://root:hunter2@db/sms",
        "postgresql+psycopg2://root:hunter2@db/sms",
        "sqlite+pysqlcipher:///bot.db",
        "bot.db",
        "root:hunter2@db/sms",
        "http://root:hunter2@db/sms",
    ],
)
def test_anything_else_is_refused_without_showing_the_password(raw: str) -> None:
    with pytest.raises(ValueError, match="DATABASE_URL") as refused:
        database_url_for(raw)
    assert "hunter2" not in str(refused.value)
    assert "sqlite:///" in str(refused.value)  # says what to write instead


def test_an_unparseable_url_is_refused_without_showing_the_password() -> None:
    with pytest.raises(ValueError, match="cannot be parsed") as refused:
        database_url_for("postgresql://root:hunter2@db:notaport/sms")
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("postgres://u:secret@db:5432/sms", "postgres://u:***@db:5432/sms"),
        ("postgresql+asyncpg://u:se:c@r@et@db/sms", "postgresql+asyncpg://u:***@db/sms"),
        ("postgresql://u@db/sms", "postgresql://u@db/sms"),
        ("postgresql://db/sms", "postgresql://db/sms"),
        ("sqlite:///bot.db", "sqlite:///bot.db"),
        ("u:secret@db/sms", "u:***@db/sms"),
        ("", ""),
    ],
)
def test_redact_url_hides_the_password(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def test_redact_url_takes_a_sqlalchemy_url() -> None:
    assert redact_url(make_url("postgresql+asyncpg://u:secret@db/sms")) == (
        "postgresql+asyncpg://u:***@db/sms"
    )
