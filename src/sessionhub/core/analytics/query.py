"""The one analytics query: metrics by dimensions over filtered sessions in a date range.

A question is planned, then answered from parts (see ``definitions``): whole past days
come from the daily rollups when the question allows it and they are up to date, the
rest from a raw scan; both give the same parts, so the same answer. Rows are ordered and
paged in Python, so both backends order them alike (NULLs last, ties by dimension).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import orjson
from pydantic import ValidationError

from sessionhub.clock import iso, to_ms
from sessionhub.core.analytics import calendar as cal
from sessionhub.core.analytics.definitions import (
    Histogram,
    Parts,
    Value,
    add,
    add_histogram,
    compute,
    histogram_median,
    parts_for,
)
from sessionhub.core.pagination import decode_cursor, encode_cursor
from sessionhub.core.personalization.segments import filter_sources
from sessionhub.errors import InvalidInput
from sessionhub.models import AppSettings
from sessionhub.models.analytics import (
    EVENT_DIMENSIONS,
    TIME_DIMENSIONS,
    Between,
    CompareResult,
    Condition,
    Period,
    QueryIn,
    QueryResult,
    Row,
)
from sessionhub.storage.analytics import durations as dq
from sessionhub.storage.analytics import queries as aq
from sessionhub.storage.analytics.sql import Scope, SegmentSource, mentions, segment_keys

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

Key = tuple[Any, ...]
TOTAL: Key = (object(),)  # the key of the totals' median: equal to no group's key


def validated(model: type[Any], spec: Any) -> Any:
    """``spec`` as ``model``, or a 422 naming what was wrong."""
    if isinstance(spec, model):
        return spec
    try:
        return model.model_validate(spec)
    except ValidationError as exc:
        raise InvalidInput.from_validation(exc) from exc


# -- date ranges ---------------------------------------------------------------------------


def _instant(text: str, zone: ZoneInfo, *, end: bool) -> int:
    """A date (whole local day; an end date is included) or an ISO 8601 time (UTC if bare)."""
    try:
        if len(text) == 10:
            day = cal.from_date(datetime.strptime(text, "%Y-%m-%d").date())
            return cal.day_start(zone, day + 1 if end else day)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(
            f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time.",
            details={"field": "date_range"},
        ) from exc
    return to_ms(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


async def app_range(
    engine: Engine, app_id: str, date_range: str | Between, zone: ZoneInfo, now: int
) -> tuple[int, int]:
    """[lo, hi) of ``date_range`` for an app: ``all`` starts at its first session."""
    first = await engine.db.read(aq.first_start, app_id) if date_range == "all" else None
    return resolve_range(date_range, zone, now, first)


def resolve_range(
    date_range: str | Between, zone: ZoneInfo, now: int, first: int | None
) -> tuple[int, int]:
    """[lo, hi) in UTC ms. Named ranges end now; ``7d`` and ``30d`` include today."""
    if isinstance(date_range, Between):
        lo = _instant(date_range.start, zone, end=False)
        hi = _instant(date_range.end, zone, end=True)
        if lo >= hi:
            raise InvalidInput(
                "date_range.from must be before date_range.to.", details={"field": "date_range"}
            )
        return lo, hi
    today = cal.local_day(zone, now)
    hi = now + 1
    if date_range == "today":
        return cal.day_start(zone, today), hi
    if date_range == "24h":
        return now - cal.DAY_MS, hi
    if date_range == "7d":
        return cal.day_start(zone, today - 6), hi
    if date_range == "30d":
        return cal.day_start(zone, today - 29), hi
    if date_range == "month":
        return cal.day_start(zone, cal.month_of(today)), hi
    if date_range == "12mo":
        month = cal.month_of(today)
        for _ in range(11):
            month = cal.month_of(month - 1)
        return cal.day_start(zone, month), hi
    return (
        min(first, cal.day_start(zone, today)) if first is not None else cal.day_start(zone, today)
    ), hi


def previous_period(lo: int, hi: int, zone: ZoneInfo) -> tuple[int, int]:
    """The period just before [lo, hi): for a range starting at a local midnight, the same
    days and times shifted back by the number of days it touches (today so far: yesterday
    up to the same time); otherwise the same span right before."""
    first = cal.local_day(zone, lo)
    if cal.day_start(zone, first) != lo:
        return lo - (hi - lo), lo
    last = cal.local_day(zone, hi - 1)
    days = last - first + 1
    end_day = cal.local_day(zone, hi)
    into = hi - cal.day_start(zone, end_day)
    return cal.day_start(zone, first - days), cal.day_start(zone, end_day - days) + into


def period(lo: int, hi: int) -> Period:
    return Period(start=iso(lo) or "", end=iso(hi) or "")


# -- planning ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """A resolved query: what to count, over which sessions, grouped how."""

    scope: Scope
    lo: int
    hi: int
    metrics: tuple[str, ...]
    dimensions: tuple[str, ...]
    zone: ZoneInfo
    settings_key: str
    rollups: bool  # the question's shape allows rollups


def settings_key(settings: AppSettings) -> str:
    """What rollups depend on besides the sessions: timezone, bounce rule, conversions."""
    analytics = settings.analytics
    events = ",".join(analytics.conversion_events)
    return f"{settings.timezone}|{analytics.bounce_threshold_s}|{events}"


def base_scope(
    app_id: str,
    settings: AppSettings,
    lo: int,
    hi: int,
    dialect: str,
    *,
    filters: Sequence[Any] = (),
    dimensions: Sequence[str] = (),
    include_bots: bool = False,
    conversion_events: Sequence[str] | None = None,
    segments: tuple[SegmentSource, ...] = (),
) -> Scope:
    zone = ZoneInfo(settings.timezone)
    calendar = cal.Calendar.over(zone, lo, hi)
    every_kind = "kind" in dimensions or mentions(filters, "kind")
    events = (
        settings.analytics.conversion_events if conversion_events is None else conversion_events
    )
    return Scope(
        app_id=app_id,
        ranges=((lo, hi),),
        kinds=None if every_kind else ("visit",),
        include_bots=include_bots,
        filters=tuple(filters),
        bounce_ms=settings.analytics.bounce_threshold_s * 1000,
        conversion_events=tuple(sorted(set(events))),
        offsets=calendar.offsets,
        months=calendar.months,
        dialect=dialect,
        segments=segments,
    )


def _rollup_shape(spec: QueryIn, settings: AppSettings, scope: Scope) -> bool:
    """Whether rollups can answer this question's parts (for whole days)."""
    if spec.include_bots or spec.filters:
        return False
    if scope.conversion_events != tuple(settings.analytics.conversion_events):
        return False
    others = [d for d in spec.dimensions if d not in TIME_DIMENSIONS]
    if "time:hour" in spec.dimensions or len(others) > 1:
        return False
    return all(d == "kind" or d in aq.ROLLUP_DIMENSIONS for d in others)


async def segment_sources(
    engine: Engine, app_id: str, filters: Sequence[Any]
) -> tuple[SegmentSource, ...]:
    """The segments ``filters`` name, resolved as of now (a 422 for an unknown one)."""
    keys = segment_keys(filters)
    if not keys:
        return ()
    now = engine.clock.now_ms()
    found: tuple[SegmentSource, ...] = await engine.db.read(
        filter_sources, app_id, keys, now, heavy=True
    )
    return found


class QueryRunner:
    """Answers ``QueryIn`` questions for one engine."""

    def __init__(self, engine: Engine):
        self._engine = engine

    async def run(self, app_id: str, spec: QueryIn) -> QueryResult:
        engine = self._engine
        settings = await engine.apps.settings(app_id)
        zone = ZoneInfo(settings.timezone)
        now = engine.clock.now_ms()
        lo, hi = await app_range(engine, app_id, spec.date_range, zone, now)
        segments = await segment_sources(engine, app_id, spec.filters)
        question = self.question(app_id, spec, settings, lo, hi, segments)
        totals, groups, medians, rolled = await self.parts(question, now)
        rows = self._rows(question, groups, medians, fill=True)
        rows = order_rows(rows, spec, question.dimensions)
        fingerprint = _fingerprint(spec)
        offset = 0
        if spec.cursor is not None:
            position = decode_cursor(spec.cursor)
            assert position is not None
            if position[1] != fingerprint:
                raise InvalidInput(
                    "The cursor belongs to a different query.", details={"field": "cursor"}
                )
            offset = position[0]
        page = rows[offset : offset + spec.limit]
        more = offset + spec.limit < len(rows)
        total_values = compute(question.metrics, totals.get((), {}), medians.get(TOTAL))
        compared = None
        if spec.compare is not None:
            compared = await self._compare(question, spec, settings, page, total_values, now)
        return QueryResult(
            date_range=period(lo, hi),
            timezone=settings.timezone,
            metrics=list(spec.metrics),
            dimensions=list(spec.dimensions),
            totals=total_values,
            rows=[row for row, _ in page],
            next_cursor=encode_cursor(offset + spec.limit, fingerprint) if more else None,
            compare=compared,
            rollup_days=rolled,
        )

    def question(
        self,
        app_id: str,
        spec: QueryIn,
        settings: AppSettings,
        lo: int,
        hi: int,
        segments: tuple[SegmentSource, ...] = (),
    ) -> Question:
        scope = base_scope(
            app_id,
            settings,
            lo,
            hi,
            self._engine.db.dialect,
            filters=spec.filters,
            dimensions=spec.dimensions,
            include_bots=spec.include_bots,
            conversion_events=spec.conversion_events,
            segments=segments,
        )
        return Question(
            scope=scope,
            lo=lo,
            hi=hi,
            metrics=tuple(spec.metrics),
            dimensions=tuple(spec.dimensions),
            zone=ZoneInfo(settings.timezone),
            settings_key=settings_key(settings),
            rollups=_rollup_shape(spec, settings, scope),
        )

    # -- parts -----------------------------------------------------------------------------

    async def parts(
        self, question: Question, now: int, *, rows: bool = True
    ) -> tuple[dict[Key, Parts], dict[Key, Parts], dict[Key, float], int]:
        """(totals, groups, medians, days read from rollups) of a question; the median of
        the totals is under ``TOTAL``."""
        db = self._engine.db
        wanted = parts_for(question.metrics)
        scope, dims = question.scope, question.dimensions
        days = await self._rolled_days(question, now) if question.rollups else []
        totals: dict[Key, Parts]
        groups: dict[Key, Parts]
        if not wanted and not (rows and dims):  # only medians: no parts to add up
            totals, groups = {(): {}}, {}
        elif not days:
            totals = await db.read(aq.aggregate, scope, (), wanted or {"sessions"}, heavy=True)
            groups = (
                await db.read(aq.aggregate, scope, dims, wanted or {"sessions"}, heavy=True)
                if rows and dims
                else {}
            )
        else:  # (the groups of a median come from the parts' groups: count sessions)
            totals = await self._mixed(question, days, (), wanted or {"sessions"})
            groups = (
                await self._mixed(question, days, dims, wanted or {"sessions"})
                if rows and dims
                else {}
            )
        medians: dict[Key, float] = {}
        if "median_duration" in question.metrics:
            picked = _rolled_filter(question)
            if picked is not None:  # one rolled-up dimension's rows answer the filter
                days = await self._rolled_days(question, now)
            medians = await self._medians(question, days, dims if rows else (), picked)
        if not dims:
            groups = {}
        return totals, groups, medians, len(days)

    async def _rolled_days(self, question: Question, now: int) -> list[int]:
        """Whole local days of the range, before today, with up-to-date rollups."""
        zone = question.zone
        today = cal.local_day(zone, now)
        first = cal.local_day(zone, question.lo)
        if cal.day_start(zone, first) < question.lo:
            first += 1
        last = min(cal.local_day(zone, question.hi - 1), today)  # exclusive
        candidates = [
            day for day in range(first, last) if cal.day_start(zone, day + 1) <= question.hi
        ]
        if not candidates:
            return []
        valid = await self._engine.db.read(
            aq.valid_days,
            question.scope.app_id,
            question.settings_key,
            candidates[0],
            candidates[-1] + 1,
        )
        return [day for day in candidates if day in valid]

    async def _mixed(
        self, question: Question, days: list[int], dims: Sequence[str], wanted: set[str]
    ) -> dict[Key, Parts]:
        """Parts from rollups for ``days`` and a raw scan for the rest of the range."""
        db, scope, zone = self._engine.db, question.scope, question.zone
        kinds = scope.kinds
        distinct_ok = "time:day" in dims and (
            "kind" in dims or (kinds is not None and len(kinds) == 1)
        )
        distinct = wanted & set(aq.DISTINCT)
        from_rollups = wanted - distinct if not distinct_ok else set(wanted)
        raw_ranges = _gaps(question.lo, question.hi, days, zone)
        raw_scope = replace(scope, ranges=tuple(raw_ranges))
        found: dict[Key, Parts] = (
            await db.read(aq.aggregate, raw_scope, dims, from_rollups, heavy=True)
            if raw_ranges
            else {}
        )
        others = [d for d in dims if d not in TIME_DIMENSIONS and d != "kind"]
        dimension = others[0] if others else ""
        by_day = any(d in TIME_DIMENSIONS for d in dims)
        rolled = await db.read(
            aq.read_rollups, scope.app_id, dimension, days, kinds, from_rollups, by_day, heavy=True
        )
        for day, kind, value, parts in rolled:
            key = _rolled_key(dims, day, kind, value)
            add(found.setdefault(key, {}), {k: int(v) for k, v in parts.items()})
        if not dims and () not in found:
            found[()] = dict.fromkeys(from_rollups, 0)
        if distinct and not distinct_ok:
            if all(d in SET_DIMENSIONS for d in dims):
                sets, raw = await db.read(
                    aq.sets_and_keys,
                    scope.app_id,
                    kinds,
                    days,
                    raw_scope if raw_ranges else None,
                    dims,
                    heavy=True,
                )
                exact = _distinct_from_sets(sets, raw, dims)
            else:
                exact = await db.read(aq.aggregate, scope, dims, distinct, heavy=True)
            for group, values in exact.items():
                found.setdefault(group, {}).update({k: values[k] for k in distinct})
        return found

    async def _medians(
        self,
        question: Question,
        days: list[int],
        dims: Sequence[str],
        picked: tuple[str, set[str | None]] | None = None,
    ) -> dict[Key, float]:
        """Median durations per group, and of the totals under ``TOTAL``: the duration
        histograms of rolled-up ``days`` added to those of a raw scan of the rest of the
        range (and of days rolled up before histograms were kept). With ``picked`` (a
        dimension and values the filters keep), only those rows of that dimension count."""
        db, scope = self._engine.db, question.scope
        totals: Histogram = {}
        groups: dict[Key, Histogram] = {}
        if days:
            whole = await db.read(
                dq.read_histograms,
                scope.app_id,
                picked[0] if picked else "",
                days,
                scope.kinds,
                heavy=True,
            )
            if picked is not None:
                whole = [row for row in whole if row[2] in picked[1]]
            legacy = {day for day, _, _, found in whole if found is None}
            days = [day for day in days if day not in legacy]
            others = [d for d in dims if d not in TIME_DIMENSIONS and d != "kind"]
            by = (
                await db.read(
                    dq.read_histograms, scope.app_id, others[0], days, scope.kinds, heavy=True
                )
                if others
                else whole
            )
            for _, _, _, found in whole:
                if found is not None:
                    add_histogram(totals, found)
            for day, kind, value, found in by if dims else ():
                if found is not None and day not in legacy:
                    add_histogram(groups.setdefault(_rolled_key(dims, day, kind, value), {}), found)
        raw_ranges = _gaps(question.lo, question.hi, days, question.zone)
        if raw_ranges:
            raw_scope = replace(scope, ranges=tuple(raw_ranges))
            add_histogram(
                totals, (await db.read(aq.histograms, raw_scope, (), heavy=True)).get((), {})
            )
            if dims:
                for key, found in (
                    await db.read(aq.histograms, raw_scope, dims, heavy=True)
                ).items():
                    add_histogram(groups.setdefault(key, {}), found)
        medians = {key: histogram_median(found) for key, found in groups.items()}
        medians[TOTAL] = histogram_median(totals)
        return {key: value for key, value in medians.items() if value is not None}

    # -- rows ------------------------------------------------------------------------------

    def _rows(
        self,
        question: Question,
        groups: dict[Key, Parts],
        medians: dict[Key, float],
        *,
        fill: bool,
    ) -> list[tuple[Row, Key]]:
        dims = question.dimensions
        keys = list(groups)
        time_dim = next((d for d in dims if d in TIME_DIMENSIONS), None)
        if fill and time_dim is not None and len(dims) == 1:
            granularity = time_dim.split(":")[1]
            buckets = cal.buckets_between(granularity, question.zone, question.lo, question.hi)
            keys = [(b,) for b in buckets] + [k for k in keys if k[0] not in set(buckets)]
        rows = []
        for key in keys:
            parts = groups.get(key) or dict.fromkeys(parts_for(question.metrics), 0)
            labels = {name: _label(name, value) for name, value in zip(dims, key, strict=True)}
            values = compute(question.metrics, parts, medians.get(key))
            rows.append((Row(dimensions=labels, metrics=values), key))
        return rows

    async def _compare(
        self,
        question: Question,
        spec: QueryIn,
        settings: AppSettings,
        page: list[tuple[Row, Key]],
        current: dict[str, Value],
        now: int,
    ) -> CompareResult:
        assert spec.compare is not None
        zone = question.zone
        if spec.compare.date_range is not None:
            lo, hi = resolve_range(spec.compare.date_range, zone, now, None)
        else:
            lo, hi = previous_period(question.lo, question.hi, zone)
        other = self.question(
            question.scope.app_id, spec, settings, lo, hi, question.scope.segments
        )
        totals, groups, medians, _ = await self.parts(other, now)
        before = compute(other.metrics, totals.get((), {}), medians.get(TOTAL))
        dims = question.dimensions
        time_at = next((i for i, d in enumerate(dims) if d in TIME_DIMENSIONS), None)
        if time_at is not None:
            granularity = dims[time_at].split(":")[1]
            mine = cal.buckets_between(granularity, zone, question.lo, question.hi)
            theirs = cal.buckets_between(granularity, zone, lo, hi)
            position = {b: i for i, b in enumerate(mine)}
            for row, key in page:
                index = position.get(key[time_at])
                if index is None or index >= len(theirs):
                    continue
                match = (*key[:time_at], theirs[index], *key[time_at + 1 :])
                row.compare = compute(
                    other.metrics, groups.get(match, {}) or _zero(other), medians.get(match)
                )
        elif dims:
            for row, key in page:
                row.compare = compute(
                    other.metrics, groups.get(key) or _zero(other), medians.get(key)
                )
        change: dict[str, float | None] = {}
        for name, value in current.items():
            old = before.get(name)
            change[name] = (
                (float(value) - float(old)) * 100 / float(old)
                if value is not None and old not in (None, 0)
                else None
            )
        return CompareResult(date_range=period(lo, hi), totals=before, change=change)


def _rolled_filter(question: Question) -> tuple[str, set[str | None]] | None:
    """(dimension, values) when the question is over the sessions with one of ``values`` of
    one rolled-up dimension (its only filter is ``is`` on it) and otherwise rolls up: its
    medians then read that dimension's rollup rows."""
    scope, dims = question.scope, question.dimensions
    if question.rollups or scope.include_bots or len(scope.filters) != 1:
        return None
    if any(d not in ("time:day", "time:week", "time:month", "kind") for d in dims):
        return None
    found = scope.filters[0]
    if not isinstance(found, Condition) or found.op != "is":
        return None
    if found.dimension not in aq.ROLLUP_DIMENSIONS:
        return None
    values = found.value if isinstance(found.value, list) else [found.value]
    if not all(v is None or isinstance(v, str) for v in values):
        return None
    return found.dimension, set(values)


# Groupings whose distinct counts the per-day visitor and user sets answer.
SET_DIMENSIONS = ("time:day", "time:week", "time:month", "kind")


def _rolled_key(dims: Sequence[str], day: int, kind: str, value: Any) -> Key:
    """The group of a rolled-up (day, kind, dimension value) row."""
    key: list[Any] = []
    for name in dims:
        if name in TIME_DIMENSIONS:
            key.append(cal.bucket_of(name.split(":")[1], day * cal.DAY_MS))
        elif name == "kind":
            key.append(kind)
        else:
            key.append(value)
    return tuple(key)


def _distinct_from_sets(
    sets: list[tuple[int, str, bytes, bytes, int]],
    raw: dict[Key, aq.DaySet],
    dims: Sequence[str],
) -> dict[Key, Parts]:
    """Exact visitors and users per group (of time buckets and kind): the union of the
    rolled-up days' sets, plus the raw part's keys, by number or (not numbered yet, so in
    no set) by key."""
    groups: dict[Key, list[Any]] = {}  # [visitor bits, user bits, anonymous, new v, new u]

    def group(key: Key) -> list[Any]:
        found = groups.get(key)
        if found is None:
            found = groups[key] = [0, 0, 0, set(), set()]
        return found

    for key, keys in raw.items():
        into = group(key)
        into[0] |= aq.decode_bits(aq.encode_bits(keys.visitors.values()))
        into[1] |= aq.decode_bits(aq.encode_bits(keys.users.values()))
        into[2] += keys.anonymous
        into[3].update(k for k, n in keys.visitors.items() if n is None)
        into[4].update(k for k, n in keys.users.items() if n is None)
    for day, kind, visitors, users, anonymous in sets:
        into = group(_rolled_key(dims, day, kind, None))
        into[0] |= aq.decode_bits(visitors)
        into[1] |= aq.decode_bits(users)
        into[2] += anonymous
    return {
        key: {
            "visitors": v.bit_count() + anonymous + len(new_v),
            "users": u.bit_count() + len(new_u),
        }
        for key, (v, u, anonymous, new_v, new_u) in groups.items()
    }


def _zero(question: Question) -> Parts:
    return dict.fromkeys(parts_for(question.metrics), 0)


def _label(dimension: str, value: Any) -> str | None:
    if dimension in TIME_DIMENSIONS:
        return cal.bucket_label(dimension.split(":")[1], int(value))
    return None if value is None else str(value)


def _gaps(lo: int, hi: int, days: list[int], zone: ZoneInfo) -> list[tuple[int, int]]:
    """The parts of [lo, hi) outside the given whole days."""
    gaps = []
    at = lo
    for day in sorted(days):
        start, end = cal.day_start(zone, day), cal.day_start(zone, day + 1)
        if start > at:
            gaps.append((at, start))
        at = max(at, end)
    if at < hi:
        gaps.append((at, hi))
    return gaps


def _fingerprint(spec: QueryIn) -> int:
    shape = spec.model_dump(mode="json", exclude={"cursor", "limit"}, by_alias=True)
    return zlib.crc32(orjson.dumps(shape, option=orjson.OPT_SORT_KEYS)) & 0x7FFFFFFF


def _sort_value(value: Any) -> tuple[int, Any]:
    return (1, 0) if value is None else (0, value)


def order_rows(
    rows: list[tuple[Row, Key]], spec: QueryIn, dimensions: Sequence[str]
) -> list[tuple[Row, Key]]:
    """Sort by ``order_by`` (default: time ascending, else the first metric descending),
    then by every dimension ascending; missing values (NULL) last either way."""
    order = [(o.field, o.direction) for o in spec.order_by]
    if not order:
        time_dim = next((d for d in dimensions if d in TIME_DIMENSIONS), None)
        order = [(time_dim, "asc")] if time_dim else [(spec.metrics[0], "desc")]
    order += [(d, "asc") for d in dimensions if d not in {name for name, _ in order}]
    index = {d: i for i, d in enumerate(dimensions)}
    result = list(rows)
    for name, direction in reversed(order):
        if name in index:
            i = index[name]

            def dim_key(item: tuple[Row, Key], i: int = i) -> Any:
                value = item[1][i]
                return _sort_value(value)

            present = [r for r in result if r[1][index[name]] is not None]
            missing = [r for r in result if r[1][index[name]] is None]
            present.sort(key=dim_key, reverse=direction == "desc")
            result = present + missing
        else:

            def metric_key(item: tuple[Row, Key], name: str = name) -> Any:
                return item[0].metrics.get(name)

            present = [r for r in result if metric_key(r) is not None]
            missing = [r for r in result if metric_key(r) is None]
            present.sort(key=metric_key, reverse=direction == "desc")
            result = present + missing
    return result


__all__ = ["EVENT_DIMENSIONS", "QueryRunner", "resolve_range", "validated"]
