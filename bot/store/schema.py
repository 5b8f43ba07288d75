"""The ledger's tables (how a database gets to them: ``migrations.py``).

sms_requests ─< sms_sends ─< sms_events       every request, send and transition
status_outbox                                 every status post, until Slack has it
bot_instances                                 the leases of running instances
conversations ─< inbound_sms                  SMS coming back, and where they are shown
opt_outs                                      numbers that asked not to be texted
bot_state                                     small durable values (watermarks, flags)
sipgate_oauth                                 the sipgate OAuth refresh token
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from bot.core import OriginKind, Scheduler, State
from bot.store.types import StrEnumType, UtcDateTime

metadata = MetaData()

#: One row per interaction; ``id`` is the ``#id`` users see. ``thread_ts``: the status goes
#: into that thread of ``channel_id`` (replies, shortcuts). ``response_url_used``: the first
#: outcome went to the response_url because the bot could not post in the channel.
requests = Table(
    "sms_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("interaction_key", String(255), nullable=False, unique=True),
    Column("team_id", String(64), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("channel_id", String(64), nullable=False),
    Column("response_url", Text),
    Column("message", Text, nullable=False),
    Column("sms_id", String(64), nullable=False),
    Column("segments", Integer, nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("send_at", UtcDateTime),
    Column("scheduler", StrEnumType(Scheduler), nullable=False),
    Column("status_channel", String(64)),
    Column("status_ts", String(64)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("origin", StrEnumType(OriginKind), nullable=False, server_default="command"),
    Column("thread_ts", String(64)),
    Column("response_url_used", Boolean, nullable=False, server_default=text("false")),
    Index("ix_sms_requests_user", "user_id", "id"),
    Index("ix_sms_requests_created", "created_at"),
    sqlite_autoincrement=True,  # never hand out an id twice, even after a delete
)

#: One row per recipient of a request.
#:
#: ``user_id`` and ``requested_at`` are copied from the request on purpose, so the hourly
#: count is one indexed query on this table; ``due_at`` is the request's ``send_at`` for sends
#: the bot holds (NULL otherwise), so the scheduler's "what is due" is one indexed query too.
#: All three are written once, when the send is created, and never change. ``claimed_by``:
#: the instance that moved it to ``sending`` (its lease tells whether it is still alive).
#: ``label``: who the number belongs to when the requester named a colleague (``@anna``).
sends = Table(
    "sms_sends",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", Integer, ForeignKey("sms_requests.id"), nullable=False),
    Column("recipient", String(32), nullable=False),
    Column("state", StrEnumType(State), nullable=False),
    Column("sipgate_status", Integer),
    Column("error_kind", String(64)),
    Column("claimed_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime),
    Column("claimed_by", String(64)),
    Column("label", String(96)),
    UniqueConstraint("request_id", "recipient", name="uq_sms_sends_request_recipient"),
    Index("ix_sms_sends_state_due", "state", "due_at"),
    Index("ix_sms_sends_user_requested", "user_id", "requested_at"),
    Index("ix_sms_sends_recipient", "recipient", "updated_at"),
    sqlite_autoincrement=True,
)

#: One row per transition of a send, its creation included: the audit history.
events = Table(
    "sms_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("send_id", Integer, ForeignKey("sms_sends.id"), nullable=False),
    Column("state", StrEnumType(State), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("detail", Text),
    Index("ix_sms_events_send", "send_id", "id"),
    sqlite_autoincrement=True,
)

#: Every status post or update, written in the transaction of the change it reports and
#: delivered in ``id`` order per ``queue`` (``request:<id>``, ``conversation:<id>``).
#: ``locked_by``: the instance delivering it (free again when that instance's lease ends);
#: ``done_at``: delivered, or given up (``undelivered``) after a day.
status_outbox = Table(
    "status_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("queue", String(96), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("request_id", Integer, ForeignKey("sms_requests.id")),
    Column("send_ids", Text),  # comma-separated
    Column("detail", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("locked_by", String(64)),
    Column("done_at", UtcDateTime),
    Column("undelivered", Boolean, nullable=False, server_default=text("false")),
    Column("last_error", String(64)),
    Index(
        "ix_status_outbox_pending",
        "queue",
        "id",
        sqlite_where=text("done_at IS NULL"),
        postgresql_where=text("done_at IS NULL"),
    ),
    Index("ix_status_outbox_request", "request_id"),
    sqlite_autoincrement=True,
)

#: One row per running instance, renewed every few seconds; an expired lease means the
#: instance is gone and its sends and status posts are free to be resolved by others.
instances = Table(
    "bot_instances",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("renewed_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

#: A thread where an exchange with one number is shown: an inbox thread, or a request's
#: thread that an incoming SMS was posted in (``request_id``).
conversations = Table(
    "conversations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("number", String(32), nullable=False),
    Column("channel_id", String(64), nullable=False),
    Column("thread_ts", String(64)),
    Column("request_id", Integer, ForeignKey("sms_requests.id")),
    Column("started_at", UtcDateTime, nullable=False),
    Column("last_activity_at", UtcDateTime, nullable=False),
    Index("ix_conversations_number", "number", "last_activity_at"),
    Index("ix_conversations_thread", "channel_id", "thread_ts"),
    sqlite_autoincrement=True,
)

#: One row per sipgate history entry claimed (``entry_id`` unique: posted exactly once).
inbound_sms = Table(
    "inbound_sms",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry_id", String(64), nullable=False, unique=True),
    Column("source", String(32), nullable=False),
    Column("target", String(32)),
    Column("text", Text, nullable=False),
    Column("sent_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("conversation_id", Integer, ForeignKey("conversations.id")),
    Column("contact_name", String(255)),
    Column("opt", String(8)),  # "out" or "in" when the SMS was an opt-out/opt-in keyword
    sqlite_autoincrement=True,
)

#: Numbers that must not be texted; ``how``: the keyword, or "admin"; ``by``: who.
opt_outs = Table(
    "opt_outs",
    metadata,
    Column("number", String(32), primary_key=True),
    Column("since", UtcDateTime, nullable=False),
    Column("how", String(32), nullable=False),
    Column("by", String(64)),
)

#: Small durable values: the inbox watermark, the first start with inbound on, flags.
bot_state = Table(
    "bot_state",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

#: The sipgate OAuth tokens (one row); ``generation`` grows with each rotation, so a refresh
#: stores its new token only if nobody rotated it meanwhile. ``refreshing_by`` claims the next
#: refresh until ``refreshing_until``: one instance refreshes at a time.
sipgate_oauth = Table(
    "sipgate_oauth",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("refresh_token", Text, nullable=False),
    Column("access_token", Text),
    Column("access_expires_at", UtcDateTime),
    Column("refresh_at", UtcDateTime),
    Column("generation", Integer, nullable=False),
    Column("dead_at", UtcDateTime),
    Column("refreshing_by", String(64)),
    Column("refreshing_until", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("id = 1", name="ck_sipgate_oauth_single_row"),
)

#: Exactly one row: the schema version the tables are at.
schema_version = Table(
    "schema_version",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
    CheckConstraint("id = 1", name="ck_schema_version_single_row"),
)
