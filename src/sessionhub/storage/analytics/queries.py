"""Aggregates over sessions: the raw scan behind every metric, and the daily rollups.

A question is answered as *parts* per group: sums and counts (sessions, bounces,
durations, page views …) that add up across days, plus distinct counts (visitors, users)
that don't. The core turns parts into metrics, whether they came from a raw scan or from
rollups, so both give the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    true,
)

from sessionhub.models.analytics import AllOf, Condition, Filter
from sessionhub.storage.analytics.durations import Histogram, bucket_sql, encode_histogram
from sessionhub.storage.analytics.sql import (
    DURATION,
    SESSION_COLUMNS,
    Scope,
    bounced,
    converted,
    e,
    engaged,
    event_dimension_test,
    flag,
    register_regexp,
    s,
    scope_where,
    session_from,
    sessions_in_scope,
    time_bucket,
)
from sessionhub.storage.dialect import lock_key
from sessionhub.storage.schema import (
    analytics_day_sets,
    analytics_days,
    analytics_keys,
    analytics_rollups,
    analytics_state,
    apps,
    sessions,
)

ADDITIVE = (
    "sessions",
    "bounces",
    "engaged",
    "duration_ms",
    "page_views",
    "events",
    "actions",
    "errored",
    "converted",
)
DISTINCT = ("visitors", "users")
PARTS = (*ADDITIVE, *DISTINCT)
ROLLUP_DIMENSIONS = (
    "entry_page",
    "exit_page",
    "source",
    "medium",
    "campaign",
    "referrer_domain",
    "device_type",
    "browser",
    "os",
    "country",
)

Key = tuple[Any, ...]
Parts = dict[str, int]
r = analytics_rollups.c
d = analytics_days.c
ds = analytics_day_sets.c
k = analytics_keys.c


def _int(value: Any) -> int:
    if value is None:
        return 0
    return int(value) if not isinstance(value, Decimal) else int(value.to_integral_value())


def dimension_expr(scope: Scope, dimension: str) -> ColumnElement[Any]:
    if dimension.startswith("time:"):
        return time_bucket(scope, dimension.split(":", 1)[1])
    return SESSION_COLUMNS[dimension]


def _row_restrictions(filters: Iterable[Filter], dimension: str) -> list[Condition]:
    """Top-level (and-ed) conditions on the event dimension a breakdown is by: they pick
    the rows too, not only the sessions."""
    found: list[Condition] = []
    for node in filters:
        if isinstance(node, Condition) and node.dimension == dimension:
            found.append(node)
        elif isinstance(node, AllOf):
            found.extend(_row_restrictions(node.all_of, dimension))
    return found


def _aggregates(
    scope: Scope, parts: Iterable[str], views: Any, count_events: Any
) -> list[ColumnElement[Any]]:
    wanted = set(parts)
    columns: dict[str, ColumnElement[Any]] = {
        "sessions": func.count(),
        "bounces": func.sum(flag(bounced(scope))),
        "engaged": func.sum(flag(engaged(scope))),
        "duration_ms": func.sum(DURATION),
        "page_views": func.sum(views),
        "events": func.sum(count_events),
        "actions": func.sum(s.action_count),
        "errored": func.sum(flag(s.error_count > 0)),
        "converted": func.sum(flag(converted(scope))),
        # = count(distinct visitor_key()), without building a string per session: devices,
        # users of sessions without a device, and sessions with neither never overlap.
        "visitors": func.count(s.device_id.distinct())
        + func.count(case((s.device_id.is_(None), s.user_id)).distinct())
        + func.sum(flag(and_(s.device_id.is_(None), s.user_id.is_(None)))),
        "users": func.count(s.user_id.distinct()),
    }
    return [columns[name].label(f"p_{name}") for name in PARTS if name in wanted]


def _units(scope: Scope, dimensions: Sequence[str]) -> tuple[list[Any], Any, Any]:
    """The group columns, the FROM clause and the (views, events) sources of a question:
    one unit per session, or per (session, page/event) for an event dimension."""
    event_dim = next((x for x in dimensions if x in ("page", "event")), None)
    if event_dim is None:
        groups = [dimension_expr(scope, x).label(f"d{i}") for i, x in enumerate(dimensions)]
        return groups, session_from(scope, dimensions), (s.page_views, s.event_count)
    value = e.path if event_dim == "page" else e.name
    tests: list[ColumnElement[bool]] = [
        event_dimension_test(c, scope.dialect) for c in _row_restrictions(scope.filters, event_dim)
    ]
    if event_dim == "page":
        tests.append(e.name == "page_view")
    inner = (
        select(
            e.session_sid.label("sid"),
            value.label("value"),
            func.count().label("n_events"),
            func.sum(flag(e.name == "page_view")).label("n_views"),
        )
        .where(e.app_id == scope.app_id, e.session_sid.in_(sessions_in_scope(scope)), *tests)
        .group_by(e.session_sid, value)
        .subquery("units")
    )
    groups = [
        (inner.c.value if x == event_dim else dimension_expr(scope, x)).label(f"d{i}")
        for i, x in enumerate(dimensions)
    ]
    source = inner.join(session_from(scope, dimensions), s.sid == inner.c.sid)
    return groups, source, (inner.c.n_views, inner.c.n_events)


def aggregate(
    conn: Connection, scope: Scope, dimensions: Sequence[str], parts: Iterable[str]
) -> dict[Key, Parts]:
    """Parts per group of ``dimensions`` (one empty-key group when there are none)."""
    register_regexp(conn)
    wanted = list(parts)
    groups, source, (views, count_events) = _units(scope, dimensions)
    query = select(*groups, *_aggregates(scope, wanted, views, count_events)).select_from(source)
    if not any(x in ("page", "event") for x in dimensions):
        query = query.where(*scope_where(scope))
    if groups:
        query = query.group_by(*groups)
    found: dict[Key, Parts] = {}
    width = len(groups)
    for row in conn.execute(query):
        values = tuple(row)
        found[values[:width]] = {
            name: _int(v) for name, v in zip(_names(wanted), values[width:], strict=True)
        }
    return found


def _names(parts: Iterable[str]) -> list[str]:
    wanted = set(parts)
    return [name for name in PARTS if name in wanted]


# Built once: a CASE of some forty branches takes milliseconds to build.
DURATION_BUCKET = bucket_sql(DURATION)


def histograms(conn: Connection, scope: Scope, dimensions: Sequence[str]) -> dict[Key, Histogram]:
    """Sessions (or units of an event dimension) per duration bucket, per group."""
    register_regexp(conn)
    groups, source, _ = _units(scope, dimensions)
    units = select(*groups, DURATION_BUCKET.label("bucket")).select_from(source)
    if not any(x in ("page", "event") for x in dimensions):
        units = units.where(*scope_where(scope))
    unit = units.subquery("u")
    keys = [unit.c[f"d{i}"] for i in range(len(groups))]
    query = select(*keys, unit.c.bucket, func.count()).group_by(*keys, unit.c.bucket)
    found: dict[Key, Histogram] = {}
    width = len(keys)
    for row in conn.execute(query):
        values = tuple(row)
        found.setdefault(values[:width], {})[int(values[width])] = int(values[width + 1])
    return found


def first_start(conn: Connection, app_id: str) -> int | None:
    """When the app's first session started."""
    query = select(func.min(s.started_at)).where(s.app_id == app_id, s.deleted_at.is_(None))
    value = conn.execute(query).scalar()
    return int(value) if value is not None else None


# -- rollups -------------------------------------------------------------------------------


def fingerprints(conn: Connection, scope: Scope, now: int) -> dict[int, tuple[str, bool]]:
    """Per local day of ``scope``: a digest of its sessions' state, and whether any of them
    may still change by activity (one is running)."""
    day = time_bucket(scope, "day").label("day")
    running = and_(
        s.status == "active",
        or_(s.idle_expires_at.is_(None), s.idle_expires_at > now),
        or_(s.expires_at.is_(None), s.expires_at > now),
    )
    query = (
        select(
            day,
            func.count(),
            func.count(s.user_id),
            func.sum(s.event_count),
            func.sum(DURATION),
            func.sum(flag(s.is_bot == true())),
            func.sum(flag(running)),
        )
        .where(s.app_id == scope.app_id, s.deleted_at.is_(None))
        .where(or_(*(and_(s.started_at >= lo, s.started_at < hi) for lo, hi in scope.ranges)))
        .group_by(day)
    )
    found: dict[int, tuple[str, bool]] = {}
    for row in conn.execute(query):
        values = [_int(v) for v in tuple(row)]
        found[values[0]] = (":".join(str(v) for v in values[1:6]), values[6] == 0)
    return found


def rollup_rows(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """The rollup rows of the days in ``scope``: totals and each rolled-up dimension."""
    rows: list[dict[str, Any]] = []
    for dimension in ("", *ROLLUP_DIMENSIONS):
        dims = ["time:day", "kind", *([dimension] if dimension else [])]
        durations = histograms(conn, scope, dims)
        for key, parts in aggregate(conn, scope, dims, PARTS).items():
            rows.append(
                {
                    "app_id": scope.app_id,
                    "day": key[0],
                    "kind": key[1],
                    "dimension": dimension,
                    "value": key[2] if dimension else None,
                    **parts,
                    "durations": encode_histogram(durations.get(key, {})),
                }
            )
    return rows


def replace_days(
    conn: Connection,
    app_id: str,
    days: dict[int, tuple[str, bool]],
    rows: list[dict[str, Any]],
    sets: dict[tuple[int, str], DaySet],
    settings_key: str,
    now: int,
) -> None:
    """Swap in the rollups and sets of ``days`` (day -> (fingerprint, sealed)) in one
    transaction."""
    numbers = sorted(days)
    for start in range(0, len(numbers), 500):
        chunk = numbers[start : start + 500]
        conn.execute(delete(analytics_rollups).where(r.app_id == app_id, r.day.in_(chunk)))
        conn.execute(delete(analytics_days).where(d.app_id == app_id, d.day.in_(chunk)))
        conn.execute(delete(analytics_day_sets).where(ds.app_id == app_id, ds.day.in_(chunk)))
    if rows:
        conn.execute(insert(analytics_rollups), rows)
    if sets:
        _number_keys(conn, app_id, sets.values())
        conn.execute(
            insert(analytics_day_sets),
            [
                {
                    "app_id": app_id,
                    "day": day,
                    "kind": kind,
                    "visitors": encode_bits(found.visitors.values()),
                    "users": encode_bits(found.users.values()),
                    "anonymous": found.anonymous,
                }
                for (day, kind), found in sorted(sets.items())
            ],
        )
    if numbers:
        conn.execute(
            insert(analytics_days),
            [
                {
                    "app_id": app_id,
                    "day": day,
                    "settings_key": settings_key,
                    "fingerprint": days[day][0],
                    "sealed": days[day][1],
                    "computed_at": now,
                }
                for day in numbers
            ],
        )


def drop_days(conn: Connection, app_id: str, days: Sequence[int]) -> None:
    """Forget the rollups of ``days`` (they have no sessions any more)."""
    for start in range(0, len(days), 500):
        chunk = list(days[start : start + 500])
        conn.execute(delete(analytics_rollups).where(r.app_id == app_id, r.day.in_(chunk)))
        conn.execute(delete(analytics_days).where(d.app_id == app_id, d.day.in_(chunk)))
        conn.execute(delete(analytics_day_sets).where(ds.app_id == app_id, ds.day.in_(chunk)))


def rolled_days(
    conn: Connection, app_id: str, lo_day: int, hi_day: int
) -> dict[int, tuple[str, str, bool]]:
    """day -> (settings key, fingerprint, sealed) for the days in [lo_day, hi_day)."""
    query = select(d.day, d.settings_key, d.fingerprint, d.sealed).where(
        d.app_id == app_id, d.day >= lo_day, d.day < hi_day
    )
    return {row[0]: (row[1], row[2], bool(row[3])) for row in conn.execute(query)}


def valid_days(
    conn: Connection, app_id: str, settings_key: str, lo_day: int, hi_day: int
) -> set[int]:
    """Days in [lo_day, hi_day) whose rollups were computed under ``settings_key``."""
    query = select(d.day).where(
        d.app_id == app_id, d.settings_key == settings_key, d.day >= lo_day, d.day < hi_day
    )
    return set(conn.execute(query).scalars())


def read_rollups(
    conn: Connection,
    app_id: str,
    dimension: str,
    days: Sequence[int],
    kinds: Sequence[str] | None,
    parts: Iterable[str],
    by_day: bool = True,
) -> list[tuple[int, str, Any, Parts]]:
    """(day, kind, value, parts) of the rollup rows of ``dimension`` ("" for totals); without
    ``by_day``, summed over the days by the database (day is then the first one)."""
    names = _names(parts)
    if not days:
        return []
    columns = [r[name] for name in names]
    query = select(r.day if by_day else func.min(r.day), r.kind, r.value)
    query = query.where(r.app_id == app_id, r.dimension == dimension, day_runs(r.day, days))
    if by_day:
        query = query.add_columns(*columns)
    else:
        query = query.add_columns(*(func.sum(c) for c in columns)).group_by(r.kind, r.value)
    if kinds is not None:
        query = query.where(r.kind.in_(kinds))
    return [
        (int(values[0]), values[1], values[2], dict(zip(names, values[3:], strict=True)))
        for values in map(tuple, conn.execute(query))
    ]


def day_runs(column: Any, days: Sequence[int]) -> ColumnElement[bool]:
    """``column`` is one of ``days``: a range test per run of consecutive days."""
    runs: list[list[int]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][1] == day - 1:
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return or_(*(column.between(lo, hi) for lo, hi in runs))


# -- visitor and user sets -----------------------------------------------------------------
#
# Distinct visitors (or users) over several days do not add up, and counting them raw
# means a distinct pass over every session of the range. Instead each rolled-up day keeps
# who was there as a bitset over small numbers given to visitor keys (``analytics_keys``);
# the union of the days' bitsets counts them exactly, in microseconds. Keys a raw part of
# a range adds are looked up by the same numbers (or are new: then they are in no bitset).


@dataclass
class DaySet:
    """Who was there in one group: visitor and user keys with their numbers (None: not
    numbered yet), and how many sessions had neither device nor user."""

    visitors: dict[str, int | None] = field(default_factory=dict)
    users: dict[str, int | None] = field(default_factory=dict)
    anonymous: int = 0


def visitor_keys() -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """(the session's visitor key: "d:<device>", else "u:<user>", else NULL;
    its user key "u:<user>" or NULL)."""
    text = String()
    visitor = case(
        (s.device_id.is_not(None), literal("d:", text) + s.device_id),
        (s.user_id.is_not(None), literal("u:", text) + s.user_id),
        else_=null(),
    )
    return visitor, literal("u:", text) + s.user_id


def key_sets(conn: Connection, scope: Scope, dimensions: Sequence[str]) -> dict[Key, DaySet]:
    """Per group of ``dimensions`` (time buckets and kind only): the visitor and user keys
    of the sessions in scope, numbered where a number exists."""
    groups = [dimension_expr(scope, x) for x in dimensions]
    visitor, user = visitor_keys()
    kv = analytics_keys.alias("kv")
    ku = analytics_keys.alias("ku")
    query = (
        select(*groups, visitor, kv.c.n, user, ku.c.n)
        .select_from(
            sessions.outerjoin(kv, and_(kv.c.app_id == s.app_id, kv.c.key == visitor)).outerjoin(
                ku, and_(ku.c.app_id == s.app_id, ku.c.key == user)
            )
        )
        .where(*scope_where(scope))
    )
    found: dict[Key, DaySet] = {}
    width = len(groups)
    for row in conn.execute(query):
        values = tuple(row)
        group = found.get(values[:width])
        if group is None:
            group = found[values[:width]] = DaySet()
        v_key, v_n, u_key, u_n = values[width:]
        if v_key is None:
            group.anonymous += 1
        else:
            group.visitors[v_key] = None if v_n is None else int(v_n)
        if u_key is not None:
            group.users[u_key] = None if u_n is None else int(u_n)
    return found


def rollup_days(
    conn: Connection, scope: Scope
) -> tuple[list[dict[str, Any]], dict[tuple[int, str], DaySet]]:
    """The rollup rows and the sets, per (day, kind), of the days in ``scope``: read
    together, so they describe the same sessions."""
    sets = {
        (int(key[0]), str(key[1])): found
        for key, found in key_sets(conn, scope, ("time:day", "kind")).items()
    }
    return rollup_rows(conn, scope), sets


def _number_keys(conn: Connection, app_id: str, sets: Iterable[DaySet]) -> None:
    """Give every key of ``sets`` its number, numbering the new ones (in place)."""
    sets = list(sets)
    missing = sorted(
        {
            key
            for found in sets
            for part in (found.visitors, found.users)
            for key, n in part.items()
            if n is None
        }
    )
    if not missing:
        return
    lock_key(conn, f"analytics_keys:{app_id}")
    numbers: dict[str, int] = {}
    for start in range(0, len(missing), 500):  # numbered since the read: keep those
        chunk = missing[start : start + 500]
        query = select(k.key, k.n).where(k.app_id == app_id, k.key.in_(chunk))
        numbers.update({row[0]: int(row[1]) for row in conn.execute(query)})
    new = [key for key in missing if key not in numbers]
    if new:
        top = conn.execute(select(func.max(k.n)).where(k.app_id == app_id)).scalar()
        first = 0 if top is None else int(top) + 1
        added = {key: first + i for i, key in enumerate(new)}
        conn.execute(
            insert(analytics_keys),
            [{"app_id": app_id, "key": key, "n": n} for key, n in added.items()],
        )
        numbers.update(added)
    for found in sets:
        for part in (found.visitors, found.users):
            for key, n in part.items():
                if n is None:
                    part[key] = numbers[key]


def encode_bits(numbers: Iterable[int | None]) -> bytes:
    """A bitset (little-endian bytes) with the given bits set."""
    present = [n for n in numbers if n is not None]
    if not present:
        return b""
    bits = bytearray(max(present) // 8 + 1)
    for n in present:
        bits[n >> 3] |= 1 << (n & 7)
    return bytes(bits)


def decode_bits(blob: bytes) -> int:
    """A bitset as a Python int (bit n set: number n is in it)."""
    return int.from_bytes(blob, "little")


def read_sets(
    conn: Connection, app_id: str, days: Sequence[int], kinds: Sequence[str] | None
) -> list[tuple[int, str, bytes, bytes, int]]:
    """(day, kind, visitors bitset, users bitset, anonymous sessions) of rolled-up days."""
    if not days:
        return []
    query = select(ds.day, ds.kind, ds.visitors, ds.users, ds.anonymous).where(
        ds.app_id == app_id, ds.day >= min(days), ds.day <= max(days)
    )
    if kinds is not None:
        query = query.where(ds.kind.in_(kinds))
    wanted = set(days)
    return [
        (int(row[0]), str(row[1]), bytes(row[2]), bytes(row[3]), int(row[4]))
        for row in conn.execute(query)
        if row[0] in wanted
    ]


def sets_and_keys(
    conn: Connection,
    app_id: str,
    kinds: Sequence[str] | None,
    days: Sequence[int],
    raw_scope: Scope | None,
    dimensions: Sequence[str],
) -> tuple[list[tuple[int, str, bytes, bytes, int]], dict[Key, DaySet]]:
    """The sets of rolled-up ``days`` and the keys of the raw part of a range (``raw_scope``,
    None when there is none) per group of ``dimensions``, in one read."""
    raw = key_sets(conn, raw_scope, dimensions) if raw_scope is not None else {}
    return read_sets(conn, app_id, days, kinds), raw


def state(conn: Connection, app_id: str) -> dict[str, Any]:
    row = conn.execute(select(analytics_state).where(analytics_state.c.app_id == app_id)).first()
    return dict(row._mapping) if row is not None else {"app_id": app_id}


def save_state(conn: Connection, app_id: str, values: dict[str, Any]) -> None:
    table = analytics_state
    updated = conn.execute(table.update().where(table.c.app_id == app_id).values(**values)).rowcount
    if not updated:
        conn.execute(insert(table).values(app_id=app_id, **values))


def app_ids(conn: Connection) -> list[str]:
    return list(conn.execute(select(apps.c.id).order_by(apps.c.id)).scalars())
