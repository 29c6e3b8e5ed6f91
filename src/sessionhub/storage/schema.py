"""The tables, one schema for SQLite and PostgreSQL.

Times are epoch milliseconds (UTC) in BIGINT columns: cheap to compare and index on
both backends, and rendered as ISO 8601 at the edge. Migrations under
``migrations/versions`` create exactly these tables; a test checks they agree.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
    literal_column,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

Json = JSON().with_variant(JSONB(), "postgresql")
# SQLite makes only an INTEGER PRIMARY KEY an alias of the rowid (auto-increment).
RowId = BigInteger().with_variant(Integer(), "sqlite")
Millis = BigInteger

apps = Table(
    "apps",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("settings", Json, nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("updated_at", Millis, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("app_id", String(40), ForeignKey("apps.id", ondelete="CASCADE"), nullable=True),
    Column("kind", String(12), nullable=False),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("token_prefix", String(16), nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("expires_at", Millis, nullable=True),
    Column("revoked_at", Millis, nullable=True),
)
Index("ix_api_keys_app", api_keys.c.app_id)

sessions = Table(
    "sessions",
    metadata,
    Column("sid", RowId, primary_key=True, autoincrement=True),
    Column("app_id", String(40), nullable=False),
    Column("id", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("end_reason", String(20), nullable=True),
    Column("user_id", String(200), nullable=True),
    Column("device_id", String(200), nullable=True),
    Column("started_at", Millis, nullable=False),
    Column("last_activity_at", Millis, nullable=False),
    Column("ended_at", Millis, nullable=True),
    Column("idle_timeout_ms", Millis, nullable=True),
    Column("idle_expires_at", Millis, nullable=True),
    Column("expires_at", Millis, nullable=True),
    Column("meta", Json, nullable=False),
    Column("device_type", String(20), nullable=True),
    Column("browser", String(100), nullable=True),
    Column("os", String(100), nullable=True),
    Column("screen", String(20), nullable=True),
    Column("entry_page", Text, nullable=True),
    Column("referrer", Text, nullable=True),
    Column("utm_source", String(200), nullable=True),
    Column("utm_medium", String(200), nullable=True),
    Column("utm_campaign", String(200), nullable=True),
    Column("utm_term", String(200), nullable=True),
    Column("utm_content", String(200), nullable=True),
    Column("exit_page", Text, nullable=True),
    Column("last_action", String(200), nullable=True),
    Column("deleted_at", Millis, nullable=True),
    # Fixed at the session's start, so breakdowns always add up to the total.
    Column("is_bot", Boolean, nullable=False, server_default=false()),
    Column("country", String(2), nullable=True),
    Column("region", String(100), nullable=True),
    Column("city", String(100), nullable=True),
    Column("source", String(200), nullable=True),
    Column("medium", String(50), nullable=True),
    Column("referrer_domain", String(253), nullable=True),
    # Kept up to date by each accepted event.
    Column("page_views", Integer, nullable=False, server_default="0"),
    Column("event_count", Integer, nullable=False, server_default="0"),
    Column("action_count", Integer, nullable=False, server_default="0"),
    Column("error_count", Integer, nullable=False, server_default="0"),
    Column("conversion_count", Integer, nullable=False, server_default="0"),
    Column("workflow_starts", Integer, nullable=False, server_default="0"),
    Column("workflow_completes", Integer, nullable=False, server_default="0"),
    Column("engaged_ms", BigInteger, nullable=False, server_default="0"),
    Column("last_event_at", Millis, nullable=True),
    # When the worker next looks at the session's idle limit: never after ``idle_expires_at``.
    # A touch moves ``idle_expires_at`` but leaves this as it is (see ix_sessions_idle_check).
    Column("idle_check_at", Millis, nullable=True),
)
Index("ux_sessions_app_id", sessions.c.app_id, sessions.c.id, unique=True)
Index("ix_sessions_app_started", sessions.c.app_id, sessions.c.started_at)
Index("ix_sessions_app_user", sessions.c.app_id, sessions.c.user_id, sessions.c.started_at)
Index("ix_sessions_app_device", sessions.c.app_id, sessions.c.device_id, sessions.c.started_at)
# Every validate, heartbeat and event moves a running session's last activity, idle expiry
# and engaged time. No index holds any of them: on SQLite each such index was rewritten on
# each touch (a fifth of a validate's time apiece), and on PostgreSQL one alone makes every
# touch a new row version in every index (no HOT update). Retention finds sessions that
# ended long ago by when they ended, and the worker finds idle ones through
# ``idle_check_at``, an early bound of the idle expiry that only the worker moves: a
# session it looks at too early is rescheduled to its idle expiry of the moment (see
# ``storage.sessions.expire_due``).
Index("ix_sessions_app_status", sessions.c.app_id, sessions.c.status)
# Written as a literal so that queries can use the partial index below: a bound parameter
# would leave the planner unable to prove that the row qualifies.
SESSION_ENDED = sessions.c.status == literal_column("'ended'")
Index(
    "ix_sessions_app_ended",
    sessions.c.app_id,
    sessions.c.ended_at,
    sqlite_where=SESSION_ENDED,
    postgresql_where=SESSION_ENDED,
)
Index("ix_sessions_idle_check", sessions.c.status, sessions.c.idle_check_at)
Index("ix_sessions_abs_due", sessions.c.status, sessions.c.expires_at)
Index("ix_sessions_deleted", sessions.c.deleted_at)

device_links = Table(
    "device_links",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("device_id", String(200), primary_key=True),
    Column("user_id", String(200), nullable=False),
    Column("linked_at", Millis, nullable=False),
)
Index("ix_device_links_user", device_links.c.app_id, device_links.c.user_id)

leases = Table(
    "leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(100), nullable=False),
    Column("expires_at", Millis, nullable=False),
)

# Tables whose rows belong to one session through a ``session_sid`` column. The purge job
# deletes their rows when a session is deleted, so nothing is left orphaned; each capability
# that adds such a table appends it here.
SESSION_CHILD_TABLES: list[Table] = []

# -- conversation memory and session state (issue 5) ---------------------------------------

# One row per session that has memory: when its history expires (inactivity TTL; reads
# treat an expired history as empty at once, the worker removes its messages) and the
# preferences object.
session_memory = Table(
    "session_memory",
    metadata,
    Column("session_sid", BigInteger, primary_key=True, autoincrement=False),
    Column("app_id", String(40), nullable=False),
    Column("history_expires_at", Millis, nullable=True),
    Column("preferences", Json, nullable=False),
    Column("updated_at", Millis, nullable=False),
)
Index("ix_session_memory_history_due", session_memory.c.history_expires_at)

messages = Table(
    "messages",
    metadata,
    # A global sequence: one session's messages are appended under its row lock, so their
    # order by ``seq`` is the order they were committed in, and never changes.
    Column("seq", RowId, primary_key=True, autoincrement=True),
    Column("session_sid", BigInteger, nullable=False),
    Column("id", String(40), nullable=False),
    Column("client_id", String(200), nullable=True),
    Column("role", String(12), nullable=False),
    Column("content", Text, nullable=False),
    Column("meta", Json, nullable=False),
    Column("chars", Integer, nullable=False),
    Column("tokens", Integer, nullable=False),
    Column("created_at", Millis, nullable=False),
)
Index("ix_messages_session_seq", messages.c.session_sid, messages.c.seq)
# Only messages sent with a client id (most have none): those are the ones looked up.
_HAS_CLIENT_ID = messages.c.client_id.isnot(None)
Index(
    "ux_messages_client",
    messages.c.session_sid,
    messages.c.client_id,
    unique=True,
    sqlite_where=_HAS_CLIENT_ID,
    postgresql_where=_HAS_CLIENT_ID,
)

cart_items = Table(
    "cart_items",
    metadata,
    Column("session_sid", BigInteger, primary_key=True),
    Column("sku", String(200), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("name", String(500), nullable=False),
    Column("category", String(200), nullable=True),
    # Decimal as text: exact on both backends (SQLite has no decimal type).
    Column("price", String(40), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("meta", Json, nullable=False),
    Column("added_at", Millis, nullable=False),
    Column("updated_at", Millis, nullable=False),
)

# Key/value state in three scopes: ``session`` (owner = the session's sid), ``user``
# (owner = the user id) and ``app`` (owner = ""). ``session_sid`` is set for the first
# only, so the purge job removes a deleted session's state.
state_entries = Table(
    "state_entries",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("scope", String(10), primary_key=True),
    Column("owner", String(200), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("value", Json, nullable=False),
    Column("session_sid", BigInteger, nullable=True),
    Column("expires_at", Millis, nullable=True),
    Column("updated_at", Millis, nullable=False),
)
Index("ix_state_entries_session", state_entries.c.session_sid)
Index("ix_state_entries_expires", state_entries.c.expires_at)

# Cached answers by normalized prompt; ``scope`` is "app" or "session:<sid>".
response_cache = Table(
    "response_cache",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("scope", String(40), primary_key=True),
    Column("prompt_hash", String(64), primary_key=True),
    Column("prompt", Text, nullable=False),
    Column("response", Text, nullable=False),
    Column("meta", Json, nullable=False),
    Column("session_sid", BigInteger, nullable=True),
    Column("hits", BigInteger, nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("expires_at", Millis, nullable=True),
)
Index("ix_response_cache_session", response_cache.c.session_sid)
Index("ix_response_cache_expires", response_cache.c.expires_at)

response_cache_stats = Table(
    "response_cache_stats",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("scope", String(40), primary_key=True),
    Column("session_sid", BigInteger, nullable=True),
    Column("hits", BigInteger, nullable=False),
    Column("misses", BigInteger, nullable=False),
)
Index("ix_response_cache_stats_session", response_cache_stats.c.session_sid)

# Read-only share links of a conversation; only the token's hash is stored.
shares = Table(
    "shares",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("app_id", String(40), nullable=False),
    Column("session_sid", BigInteger, nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("expires_at", Millis, nullable=True),
    Column("revoked_at", Millis, nullable=True),
)
Index("ix_shares_session", shares.c.session_sid)

SESSION_CHILD_TABLES.extend(
    [
        session_memory,
        messages,
        cart_items,
        state_entries,
        response_cache,
        response_cache_stats,
        shares,
    ]
)

# -- events (issue 3) ------------------------------------------------------------------------

# One row per accepted event. ``id`` is the client's event id (or a server one). An event
# is its app, time and id: a batch sent twice stores each event once. When the client sent
# an id but no time (the time is the server's, so a resend gets another), the id alone is.
events = Table(
    "events",
    metadata,
    Column("eid", RowId, primary_key=True, autoincrement=True),
    Column("app_id", String(40), nullable=False),
    Column("session_sid", BigInteger, nullable=False),
    Column("id", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("occurred_at", Millis, nullable=False),
    Column("received_at", Millis, nullable=False),
    Column("url", Text, nullable=True),
    Column("path", Text, nullable=True),
    Column("title", Text, nullable=True),
    Column("referrer", Text, nullable=True),
    Column("properties", Json, nullable=False),
    Column("since_prev_ms", BigInteger, nullable=True),
    # The client sent an id without a time: a resend is recognised by the id alone.
    Column("dedupe_by_id", Boolean, nullable=False, server_default=false()),
)
# The key of an event, and an app's events by time (analytics). Events arrive in about the
# order they happened, so each insert lands near the index's end: an index on the random
# ids alone took a page write per event once it outgrew a commit.
Index("ux_events_app_time_id", events.c.app_id, events.c.occurred_at, events.c.id, unique=True)
# The key of an event whose client sent an id but no time (few: the tracker and the client
# send both).
EVENT_DEDUPE_BY_ID = events.c.dedupe_by_id.is_(True)
Index(
    "ux_events_app_id_untimed",
    events.c.app_id,
    events.c.id,
    unique=True,
    sqlite_where=EVENT_DEDUPE_BY_ID,
    postgresql_where=EVENT_DEDUPE_BY_ID,
)
# A session's events in order. On SQLite ``ix_events_session_steps`` (below) serves this
# too, so there this one is created empty (a partial index that holds no row).
Index("ix_events_session", events.c.session_sid, events.c.occurred_at, sqlite_where=false())
SESSION_CHILD_TABLES.append(events)
# A session's events in order with the name and path of each: funnels and paths follow the
# sessions of a range into their events reading this index alone (SQLite). On PostgreSQL a
# long path could exceed a B-tree row's size limit (2704 bytes), so there it is created
# empty, and ``ix_events_session`` with the table serve.
Index(
    "ix_events_session_steps",
    events.c.session_sid,
    events.c.occurred_at,
    events.c.eid,
    events.c.name,
    events.c.path,
    postgresql_where=false(),
)

# -- analytics (issue 4) ---------------------------------------------------------------------

# Covers what every analytics scan filters on and counts distinct (visitors, users), so
# a range of sessions is read from the index alone, in start order. Counter updates never
# touch these columns.
Index(
    "ix_sessions_analytics",
    sessions.c.app_id,
    sessions.c.started_at,
    sessions.c.kind,
    sessions.c.is_bot,
    sessions.c.deleted_at,
    sessions.c.device_id,
    sessions.c.user_id,
)

# Per-app, per-day (app timezone) aggregates of the sessions that started that day, for each
# kind: the totals (dimension "") and one row per value of each rolled-up dimension. Each
# counter sums over sessions, so whole days add up; visitors and users are distinct per row.
analytics_rollups = Table(
    "analytics_rollups",
    metadata,
    Column("app_id", String(40), nullable=False),
    Column("day", Integer, nullable=False),  # days since 1970-01-01 in the app's timezone
    Column("kind", String(20), nullable=False),
    Column("dimension", String(40), nullable=False),
    Column("value", Text, nullable=True),
    Column("sessions", BigInteger, nullable=False),
    Column("bounces", BigInteger, nullable=False),
    Column("engaged", BigInteger, nullable=False),
    Column("duration_ms", BigInteger, nullable=False),
    Column("page_views", BigInteger, nullable=False),
    Column("events", BigInteger, nullable=False),
    Column("actions", BigInteger, nullable=False),
    Column("errored", BigInteger, nullable=False),
    Column("converted", BigInteger, nullable=False),
    Column("visitors", BigInteger, nullable=False),
    Column("users", BigInteger, nullable=False),
    # The row's sessions by duration bucket (storage/analytics/durations.py), for medians;
    # NULL in rows made before it was kept.
    Column("durations", LargeBinary, nullable=True),
)
Index(
    "ix_analytics_rollups_day",
    analytics_rollups.c.app_id,
    analytics_rollups.c.dimension,
    analytics_rollups.c.day,
)

# Which days have rollups, computed under which settings (timezone, bounce rule,
# conversions) from which state of the day's sessions (``fingerprint``): a query uses a
# day's rollup only when its settings are the app's current ones.
analytics_days = Table(
    "analytics_days",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("day", Integer, primary_key=True, autoincrement=False),
    Column("settings_key", String(200), nullable=False),
    Column("fingerprint", String(200), nullable=False),
    Column("sealed", Boolean, nullable=False),
    Column("computed_at", Millis, nullable=False),
)

# Who was there on each rolled-up day, per kind: the visitors (devices, else users) and the
# users of the day's sessions as bitsets over ``analytics_keys`` numbers, and the sessions
# with neither (each its own visitor). Distinct visitors or users over many days are the
# union of their days' bitsets: exact, and read without scanning the sessions.
analytics_day_sets = Table(
    "analytics_day_sets",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("day", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(20), primary_key=True),
    Column("visitors", LargeBinary, nullable=False),
    Column("users", LargeBinary, nullable=False),
    Column("anonymous", BigInteger, nullable=False),
)

# A small number per visitor key ("d:<device>", "u:<user>") of an app, given when the key
# first reaches a rollup and never changed: the bit positions of ``analytics_day_sets``.
analytics_keys = Table(
    "analytics_keys",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("key", String(210), primary_key=True),
    Column("n", BigInteger, nullable=False),
)

# Per-app bookkeeping of the analytics jobs.
analytics_state = Table(
    "analytics_state",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("full_check_at", Millis, nullable=True),
    Column("patterns_at", Millis, nullable=True),
)

# Each user's latest pattern, kept by the worker; the ``user_pattern`` dimension reads it.
user_patterns = Table(
    "user_patterns",
    metadata,
    Column("app_id", String(40), primary_key=True),
    Column("user_id", String(200), primary_key=True),
    Column("pattern", String(40), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("patterns", Json, nullable=False),
    Column("engagement_score", Float, nullable=False),
    Column("sessions", Integer, nullable=False),
    Column("computed_at", Millis, nullable=False),
)

# Later capabilities declare their tables in modules of their own, on this metadata; they
# are imported here so that ``metadata`` always holds every table.
from sessionhub.storage import (  # noqa: E402, F401
    schema_audit,
    schema_dashboard,
    schema_personalization,
    schema_privacy,
    schema_work,
)
