"""The SQL pieces of analytics: which sessions a question covers, its buckets and its tests.

Everything here builds SQLAlchemy expressions that mean the same on SQLite and
PostgreSQL: integer arithmetic for time buckets (offsets come from Python), substring
tests with instr/strpos (both case-sensitive), regular expressions through a Python
function registered on SQLite connections, and tests that are never NULL, so ``not``
inverts them exactly.
"""

from __future__ import annotations

import itertools
import re
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import KeyedColumnElement, UnaryExpression

from sessionhub.models.analytics import (
    AllOf,
    AnyOf,
    Condition,
    Did,
    EventCondition,
    Filter,
    Not,
)
from sessionhub.storage.schema import events, sessions, user_patterns
from sessionhub.storage.schema_personalization import segment_members

s = sessions.c
e = events.c
up = user_patterns.c

DAY_MS = 86_400_000
HOUR_MS = 3_600_000

SESSION_COLUMNS: dict[str, KeyedColumnElement[Any]] = {
    "kind": s.kind,
    "entry_page": s.entry_page,
    "exit_page": s.exit_page,
    "source": s.source,
    "medium": s.medium,
    "campaign": s.utm_campaign,
    "referrer_domain": s.referrer_domain,
    "device_type": s.device_type,
    "browser": s.browser,
    "os": s.os,
    "country": s.country,
    "region": s.region,
    "city": s.city,
    "utm_source": s.utm_source,
    "utm_medium": s.utm_medium,
    "utm_term": s.utm_term,
    "utm_content": s.utm_content,
    "user_pattern": up.pattern,
}


@dataclass(frozen=True)
class SegmentSource:
    """Who is in a segment a filter names: a static one's stored list, or the user ids a
    rule segment's evaluation found (as of the question)."""

    app_id: str
    key: str
    static: bool
    users: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scope:
    """The sessions one question covers, and the rules to count them by."""

    app_id: str
    ranges: tuple[tuple[int, int], ...]  # started_at in any [lo, hi)
    kinds: tuple[str, ...] | None = ("visit",)  # None: every kind
    include_bots: bool = False
    filters: tuple[Filter, ...] = ()
    bounce_ms: int = 10_000
    conversion_events: tuple[str, ...] = ()
    offsets: tuple[tuple[int, int], ...] = ((0, 0),)  # (from_ms, utc offset) in force
    months: tuple[int, ...] = ()  # day numbers of month starts, for time:month
    dialect: str = "sqlite"
    segments: tuple[SegmentSource, ...] = ()  # the segments the filters name, resolved

    def uses_patterns(self, dimensions: Sequence[str]) -> bool:
        return "user_pattern" in dimensions or any(
            _mentions(f, "user_pattern") for f in self.filters
        )


def _mentions(node: Filter, dimension: str) -> bool:
    if isinstance(node, Condition):
        return node.dimension == dimension
    if isinstance(node, AllOf):
        return any(_mentions(child, dimension) for child in node.all_of)
    if isinstance(node, AnyOf):
        return any(_mentions(child, dimension) for child in node.any_of)
    if isinstance(node, Not):
        return _mentions(node.negated, dimension)
    return False


def mentions(filters: Sequence[Filter], dimension: str) -> bool:
    """Whether any filter tests ``dimension``."""
    return any(_mentions(f, dimension) for f in filters)


def segment_keys(filters: Sequence[Filter]) -> list[str]:
    """The keys of the segments the filters test, each once, in order."""
    found: dict[str, None] = {}

    def walk(node: Filter) -> None:
        if isinstance(node, Condition):
            if node.dimension == "segment":
                value = node.value
                found.update(dict.fromkeys(v for v in _values(value) if v is not None))
        elif isinstance(node, AllOf):
            for child in node.all_of:
                walk(child)
        elif isinstance(node, AnyOf):
            for child in node.any_of:
                walk(child)
        elif isinstance(node, Not):
            walk(node.negated)

    for node in filters:
        walk(node)
    return list(found)


# -- session measures ----------------------------------------------------------------------

DURATION = s.last_activity_at - s.started_at
INTERACTIVE = or_(
    s.action_count > 0, s.conversion_count > 0, s.workflow_starts > 0, s.workflow_completes > 0
)


def engaged(scope: Scope) -> ColumnElement[bool]:
    """More than one page view, an interactive event, or a duration of the bounce threshold."""
    return or_(s.page_views > 1, INTERACTIVE, scope.bounce_ms <= DURATION)


def bounced(scope: Scope) -> ColumnElement[bool]:
    """A visit with at most one page view, no interactive event and a short duration."""
    return and_(s.kind == "visit", not_(engaged(scope)))


def converted(scope: Scope) -> ColumnElement[bool]:
    plain = s.conversion_count > 0
    if not scope.conversion_events:
        return plain
    named = scope.conversion_events
    return or_(plain, session_has(lambda ev: ev.name.in_(named)))


def visitor_key() -> ColumnElement[Any]:
    """The device, else the user, else the session itself: who a visitor is."""
    text = String()
    return case(
        (s.device_id.is_not(None), literal("d:", text) + s.device_id),
        (s.user_id.is_not(None), literal("u:", text) + s.user_id),
        else_=literal("s:", text) + cast(s.sid, text),
    )


def flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


# -- time buckets --------------------------------------------------------------------------


def local_ms(scope: Scope, column: ColumnElement[int] | None = None) -> ColumnElement[int]:
    """An instant (default: the session's start) in the app's local time (ms), from the
    offsets in force."""
    at = s.started_at if column is None else column
    offsets = scope.offsets
    if len(offsets) == 1:
        return at + offsets[0][1]
    whens = [(at < nxt_from, offset) for (_, offset), (nxt_from, _) in itertools.pairwise(offsets)]
    return at + case(*whens, else_=offsets[-1][1])


def time_bucket(
    scope: Scope, granularity: str, column: ColumnElement[int] | None = None
) -> ColumnElement[int]:
    """Hour number, or the day number of the bucket's first day, of an instant (default:
    the session's start)."""
    local = local_ms(scope, column)
    if granularity == "hour":
        return local // HOUR_MS
    day = local // DAY_MS
    if granularity == "day":
        return day
    if granularity == "week":
        return day - (day + 3) % 7
    months = scope.months or (0,)
    whens = [(day < nxt, start) for start, nxt in itertools.pairwise(months)]
    if not whens:
        return literal(months[0])
    return case(*whens, else_=months[-1])


# -- tests ---------------------------------------------------------------------------------


def register_regexp(conn: Connection) -> None:
    """Give an SQLite connection the REGEXP operator (Python's ``re``); PostgreSQL has ``~``."""
    if conn.dialect.name != "sqlite":
        return
    info = conn.connection.info  # lives as long as the driver's connection
    raw = conn.connection.dbapi_connection
    if raw is None or info.get("sessionhub_regexp"):
        return
    raw.create_function("regexp", 2, _regexp, deterministic=True)
    info["sessionhub_regexp"] = True


def _regexp(pattern: str, value: Any) -> bool:
    return value is not None and re.search(pattern, str(value)) is not None


def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def text_test(column: ColumnElement[Any], op: str, value: Any, dialect: str) -> ColumnElement[bool]:
    """``column`` op ``value``, never NULL: a missing value is neither equal nor containing."""
    values = _values(value)
    if op in ("is", "is_not"):
        present = [v for v in values if v is not None]
        parts: list[ColumnElement[bool]] = []
        if present:
            parts.append(and_(column.is_not(None), column.in_(present)))
        if len(present) < len(values):
            parts.append(column.is_(None))
        test = or_(*parts) if parts else false()
        return not_(test) if op == "is_not" else test
    if op == "contains":
        finder = func.instr if dialect == "sqlite" else func.strpos
        return and_(column.is_not(None), or_(*(finder(column, v) > 0 for v in values)))
    return and_(column.is_not(None), or_(*(column.regexp_match(v) for v in values)))


def event_field(name: str, dialect: str, ev: Any = e) -> ColumnElement[Any]:
    """An event's column, or a scalar property as text (``true``, ``5``, ``abc``)."""
    if not name.startswith("properties."):
        return ev[name]  # type: ignore[no-any-return]
    key = name.split(".", 1)[1]
    if dialect == "postgresql":
        return ev.properties.op("->>")(literal(key))  # type: ignore[no-any-return]
    path = literal('$."' + key + '"')
    kind = func.json_type(ev.properties, path)
    return case(
        (kind == "text", func.json_extract(ev.properties, path)),
        (kind.in_(("integer", "real", "true", "false")), ev.properties.op("->")(path)),
        else_=None,
    )


def event_tests(
    conditions: Sequence[EventCondition], dialect: str, ev: Any = e
) -> list[ColumnElement[bool]]:
    return [
        text_test(event_field(c.field, dialect, ev), c.op, c.value, dialect) for c in conditions
    ]


def event_dimension_test(condition: Condition, dialect: str, ev: Any = e) -> ColumnElement[bool]:
    """The part of a page/event condition that one event must meet."""
    if condition.dimension == "page":
        return and_(
            ev.name == "page_view", text_test(ev.path, condition.op, condition.value, dialect)
        )
    return text_test(ev.name, condition.op, condition.value, dialect)


def session_has(test: Callable[[Any], ColumnElement[bool]]) -> ColumnElement[bool]:
    """The session has an event meeting ``test`` (given the columns of its own alias of
    ``events``, so it never correlates with an ``events`` of the enclosing query)."""
    ev = events.alias("has_event").c
    # An event's session is its app's: the session id alone finds it, in the session index.
    return exists().where(ev.session_sid == s.sid, test(ev))


def user_ids(ids: Sequence[str], dialect: str) -> Any:
    """A SELECT of the given user ids, sent as one JSON parameter however many there are."""
    text = orjson.dumps(list(ids)).decode()
    if dialect == "postgresql":
        rows = func.jsonb_array_elements_text(cast(literal(text, String()), JSONB)).table_valued(
            "value"
        )
    else:
        rows = func.json_each(literal(text, String())).table_valued("value")
    return select(rows.c.value)


def segment_test(
    node: Condition, dialect: str, segments: Sequence[SegmentSource]
) -> ColumnElement[bool]:
    """The session's user is in (any of) the segments: never NULL, so ``is_not`` is exact."""
    known = {source.key: source for source in segments}
    tests: list[ColumnElement[bool]] = []
    for key in _values(node.value):
        source = known.get(key)
        if source is None:  # resolved by the caller; a bug if not
            raise AssertionError(f"segment {key!r} of a filter was not resolved")
        if source.static:
            members: Any = select(segment_members.c.user_id).where(
                segment_members.c.app_id == source.app_id,
                segment_members.c.segment_key == source.key,
            )
        else:
            members = user_ids(source.users, dialect)
        tests.append(s.user_id.in_(members))
    test = and_(s.user_id.is_not(None), or_(false(), *tests))
    return not_(test) if node.op == "is_not" else test


def compile_filter(
    node: Filter, dialect: str, segments: Sequence[SegmentSource] = ()
) -> ColumnElement[bool]:
    """A filter as a test on a session (``sessions`` and, if used, ``user_patterns``);
    ``segments`` resolves the segments it names."""
    if isinstance(node, Condition):
        if node.dimension in ("page", "event"):
            return session_has(lambda ev: event_dimension_test(node, dialect, ev))
        if node.dimension == "segment":
            return segment_test(node, dialect, segments)
        return text_test(SESSION_COLUMNS[node.dimension], node.op, node.value, dialect)
    if isinstance(node, AllOf):
        return and_(true(), *(compile_filter(c, dialect, segments) for c in node.all_of))
    if isinstance(node, AnyOf):
        return or_(false(), *(compile_filter(c, dialect, segments) for c in node.any_of))
    if isinstance(node, Not):
        return not_(compile_filter(node.negated, dialect, segments))
    assert isinstance(node, Did)
    match = node.did
    return session_has(
        lambda ev: and_(ev.name == match.event, *event_tests(match.where, dialect, ev))
    )


def _tested(column: KeyedColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """``column`` for a test SQLite must not seek an index by: ``+column``. After the range of
    start times, the analytics index can only filter on kind, bots and deletion anyway; as
    seek terms SQLite would count those columns as fixed and, its order then broken, sort
    rows that the index already delivers in order."""
    if dialect != "sqlite":
        return column
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


def scope_where(scope: Scope) -> list[ColumnElement[bool]]:
    """The conditions a session meets to be counted."""
    dialect = scope.dialect
    where: list[ColumnElement[bool]] = [
        s.app_id == scope.app_id,
        _tested(s.deleted_at, dialect).is_(None),
    ]
    if scope.ranges:
        where.append(or_(*(and_(s.started_at >= lo, s.started_at < hi) for lo, hi in scope.ranges)))
    else:
        where.append(false())
    if scope.kinds is not None:
        kind, kinds = _tested(s.kind, dialect), scope.kinds
        where.append(kind == kinds[0] if len(kinds) == 1 else kind.in_(kinds))
    if not scope.include_bots:
        where.append(_tested(s.is_bot, dialect) == false())
    where.extend(compile_filter(f, scope.dialect, scope.segments) for f in scope.filters)
    return where


def session_from(scope: Scope, dimensions: Sequence[str]) -> Any:
    """``sessions``, joined to ``user_patterns`` when the question uses it."""
    if scope.uses_patterns(dimensions):
        return sessions.outerjoin(
            user_patterns, and_(up.app_id == s.app_id, up.user_id == s.user_id)
        )
    return sessions


def fetch(conn: Connection, query: Any) -> Iterable[Sequence[Any]]:
    """The rows of a SELECT as plain tuples. On SQLite straight from the driver's cursor:
    reports read up to millions of rows, and a result row object each costs more than
    the read. (Parameters here are plain strings and numbers, which need no conversion.)"""
    if conn.dialect.name != "sqlite":
        return conn.execute(query)
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    cursor.execute(compiled.string, [params[name] for name in compiled.positiontup or ()])
    return typing.cast("Iterable[Sequence[Any]]", cursor)


def sessions_in_scope(scope: Scope) -> Any:
    """A SELECT of the sids of the sessions in scope."""
    return select(s.sid).select_from(session_from(scope, ())).where(*scope_where(scope))
