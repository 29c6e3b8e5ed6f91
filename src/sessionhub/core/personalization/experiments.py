"""Experiments: definitions, deterministic sticky assignment, ``decide``, exposures, results.

Assignment hashes the unit id with the experiment key (BLAKE2b): whether a unit is
covered and which variant it gets are two independent hashes, so raising the coverage
only adds units and never moves one already in. A namespace is a third hash shared by
its experiments, each owning a disjoint range of it: mutually exclusive. The first
assignment a unit is exposed to is stored and wins from then on (sticky, even when the
weights change); the exposure is logged once per unit and variant.

``decide`` is the hot path: running experiments are cached per process (changes made here
apply at once; another process's within ``CACHE_S``), and so are the stored assignments
of the units it has seen and the hash points of units not assigned (a hash never changes,
so a unit outside the coverage or its namespace range costs a dict lookup, not a hash).
A whole answer is kept too when nothing in it can change while the running experiments
stay the same: every experiment of the unit was stored or left out by a hash, none
tested attributes or a segment, and nothing new was assigned.
"""

from __future__ import annotations

import builtins
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sessionhub.clock import from_ms
from sessionhub.core.personalization.results import compute_results
from sessionhub.core.personalization.rules import Rule, compile_rules
from sessionhub.core.personalization.segments import is_member
from sessionhub.errors import Conflict, InvalidInput, NotFound
from sessionhub.models.personalization import (
    Decision,
    Experiment,
    ExperimentIn,
    ExperimentPatch,
    Results,
)
from sessionhub.storage import personalization_experiments as q

if TYPE_CHECKING:
    from sessionhub.core.engine import Engine

CACHE_S = 5.0
Key = tuple[str, str | None, str | None, str | None]
STICKY_CACHE_MAX = 200_000
POINTS_CACHE_MAX = 500_000
_SCALE = float(2**64)


def bucket(salt: str, unit_id: str) -> float:
    """A uniform number in [0, 1) from ``salt`` and the unit id: the same every time."""
    digest = hashlib.blake2b(f"{salt}\x1f{unit_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def pick(weights: builtins.list[tuple[str, float]], point: float) -> str:
    """The variant whose share of the weights holds ``point``."""
    total = sum(w for _, w in weights)
    edge = 0.0
    for key, weight in weights:
        edge += weight / total
        if point < edge:
            return key
    return weights[-1][0]


@dataclass
class Running:
    """A running experiment, prepared for ``decide``."""

    key: str
    unit: str
    weights: builtins.list[tuple[str, float]]
    features: dict[str, dict[str, Any]]
    coverage: float
    namespace: str | None
    ns_start: float
    ns_end: float
    segment: str | None
    conditions: Rule | None
    ns_salt: str = ""
    cov_salt: str = ""


def not_found(key: str) -> NotFound:
    return NotFound(f"No experiment {key!r}.", details={"experiment": key})


def to_experiment(row: Mapping[Any, Any]) -> Experiment:
    ns = row["namespace"]
    return Experiment.model_validate(
        {
            "key": row["key"],
            "name": row["name"],
            "status": row["status"],
            "unit": row["unit"],
            "variants": row["variants"],
            "coverage": row["coverage"],
            "targeting": row["targeting"],
            "namespace": {"name": ns, "start": row["namespace_start"], "end": row["namespace_end"]}
            if ns
            else None,
            "goal": row["goal"],
            "min_sample": row["min_sample"],
            "created_at": from_ms(row["created_at"]),
            "started_at": from_ms(row["started_at"]) if row["started_at"] else None,
            "stopped_at": from_ms(row["stopped_at"]) if row["stopped_at"] else None,
        }
    )


def _check_namespace(
    conn: Any, app_id: str, key: str, ns: str | None, lo: float, hi: float
) -> None:
    if ns is None:
        return
    for other in q.all_of(conn, app_id):
        if other["key"] == key or other["namespace"] != ns or other["status"] == "stopped":
            continue
        if lo < other["namespace_end"] and other["namespace_start"] < hi:
            raise Conflict(
                f"Namespace {ns!r} range overlaps experiment {other['key']!r}.",
                details={"field": "namespace", "experiment": other["key"]},
            )


def _create(conn: Any, row: dict[str, Any]) -> None:
    if q.get(conn, row["app_id"], row["key"]) is not None:
        raise Conflict(f"Experiment {row['key']!r} exists.", details={"field": "key"})
    _check_namespace(
        conn,
        row["app_id"],
        row["key"],
        row["namespace"],
        row["namespace_start"],
        row["namespace_end"],
    )
    q.add(conn, row)


def _patch(conn: Any, app_id: str, key: str, patch: ExperimentPatch, now: int) -> None:
    row = q.get(conn, app_id, key)
    if row is None:
        raise not_found(key)
    values: dict[str, Any] = {"updated_at": now}
    if patch.name is not None:
        values["name"] = patch.name
    if patch.coverage is not None:
        values["coverage"] = patch.coverage
    if patch.weights is not None:
        known = {v["key"] for v in row["variants"]}
        unknown = sorted(set(patch.weights) - known)
        if unknown:
            raise InvalidInput(
                f"Unknown variant {unknown[0]!r}.", details={"field": f"weights.{unknown[0]}"}
            )
        values["variants"] = [
            {**v, "weight": patch.weights.get(v["key"], v["weight"])} for v in row["variants"]
        ]
    if patch.status is not None and patch.status != row["status"]:
        if row["status"] == "stopped":
            raise Conflict("A stopped experiment cannot be restarted.", details={"field": "status"})
        if patch.status == "running":
            _check_namespace(
                conn, app_id, key, row["namespace"], row["namespace_start"], row["namespace_end"]
            )
            values["started_at"] = row["started_at"] or now
        elif patch.status == "stopped":
            values["stopped_at"] = now
        values["status"] = patch.status
    q.change(conn, app_id, key, values)


def prepare(row: Mapping[Any, Any]) -> Running:
    targeting = row["targeting"] or {}
    conditions = targeting.get("conditions")
    return Running(
        key=row["key"],
        unit=row["unit"],
        weights=[(v["key"], float(v["weight"])) for v in row["variants"]],
        features={v["key"]: v.get("features") or {} for v in row["variants"]},
        coverage=float(row["coverage"]),
        namespace=row["namespace"],
        ns_start=float(row["namespace_start"]),
        ns_end=float(row["namespace_end"]),
        segment=targeting.get("segment"),
        conditions=compile_rules(conditions, "targeting.conditions") if conditions else None,
        ns_salt=f"ns:{row['namespace']}",
        cov_salt=f"cov:{row['key']}",
    )


def memberships(
    conn: Any, app_id: str, keys: builtins.list[str], user_id: str, now: int
) -> dict[str, bool]:
    """Whether ``user_id`` is in each segment now; a segment deleted since is no member."""
    found = {}
    for key in keys:
        try:
            found[key] = is_member(conn, app_id, key, user_id, now)
        except NotFound:
            found[key] = False
    return found


class Experiments:
    """Define experiments, decide variants for units, and read results."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._running: dict[str, tuple[float, builtins.list[Running]]] = {}
        self._sticky: dict[tuple[str, str], dict[str, str]] = {}
        self._points: dict[tuple[str, str], float] = {}  # (salt, unit id) -> bucket()
        # (app, user, device, session) -> (the running list it holds for, variants, features)
        self._decided: dict[Key, tuple[builtins.list[Running], dict[str, str], dict[str, Any]]]
        self._decided = {}

    def _bucket(self, salt: str, unit: str) -> float:
        """``bucket(salt, unit)``, remembered: it is the same every time."""
        found = self._points.get((salt, unit))
        if found is None:
            if len(self._points) >= POINTS_CACHE_MAX:
                self._points.clear()
            found = self._points[(salt, unit)] = bucket(salt, unit)
        return found

    def _forget(self, app_id: str) -> None:
        self._running.pop(app_id, None)
        self._decided.clear()
        self._sticky.clear()  # a restarted or re-weighted experiment: read assignments afresh

    async def create(self, app_id: str, spec: ExperimentIn) -> Experiment:
        """Define an experiment (draft, or running at once)."""
        if spec.targeting.conditions is not None:
            rule = compile_rules(spec.targeting.conditions, "targeting.conditions")
            if rule.kinds - {"trait"}:
                raise InvalidInput(
                    "targeting.conditions test the decide call's attributes: use trait "
                    "conditions only (target profiles through a segment).",
                    details={"field": "targeting.conditions"},
                )
        now = self._engine.clock.now_ms()
        ns = spec.namespace
        row = {
            "app_id": app_id,
            "key": spec.key,
            "name": spec.name or spec.key,
            "status": spec.status,
            "unit": spec.unit,
            "variants": [v.model_dump(mode="json") for v in spec.variants],
            "coverage": spec.coverage,
            "targeting": spec.targeting.model_dump(mode="json", exclude_none=True),
            "namespace": ns.name if ns else None,
            "namespace_start": ns.start if ns else 0.0,
            "namespace_end": ns.end if ns else 1.0,
            "goal": spec.goal.model_dump(mode="json", exclude_none=True),
            "min_sample": spec.min_sample,
            "created_at": now,
            "updated_at": now,
            "started_at": now if spec.status == "running" else None,
            "stopped_at": None,
        }
        await self._engine.db.write(_create, row)
        self._forget(app_id)
        return await self.get(app_id, spec.key)

    async def get(self, app_id: str, key: str) -> Experiment:
        row = await self._engine.db.read(q.get, app_id, key)
        if row is None:
            raise not_found(key)
        return to_experiment(row)

    async def list(self, app_id: str) -> builtins.list[Experiment]:
        return [to_experiment(r) for r in await self._engine.db.read(q.all_of, app_id)]

    async def update(self, app_id: str, key: str, patch: ExperimentPatch) -> Experiment:
        """Rename, start, stop, change coverage or weights."""
        await self._engine.db.write(_patch, app_id, key, patch, self._engine.clock.now_ms())
        self._forget(app_id)
        return await self.get(app_id, key)

    async def running(self, app_id: str) -> builtins.list[Running]:
        cached = self._running.get(app_id)
        if cached is not None and time.monotonic() - cached[0] < CACHE_S:
            return cached[1]
        rows = await self._engine.db.read(q.all_of, app_id, "running")
        prepared = [prepare(row) for row in rows]
        self._running[app_id] = (time.monotonic(), prepared)
        return prepared

    async def _stored(self, app_id: str, units: builtins.list[str]) -> dict[str, dict[str, str]]:
        """The stored assignments of each unit id (cached once read)."""
        missing = [u for u in units if (app_id, u) not in self._sticky]
        if missing:
            found = await self._engine.db.read(q.assignments, app_id, missing)
            if len(self._sticky) > STICKY_CACHE_MAX:
                self._sticky.clear()
            for unit in missing:
                self._sticky[(app_id, unit)] = {}
            for (experiment, unit), variant in found.items():
                self._sticky[(app_id, unit)][experiment] = variant
        return {u: self._sticky[(app_id, u)] for u in units}

    async def _memberships(
        self, app_id: str, keys: set[str], user_id: str | None, now: int
    ) -> dict[str, bool]:
        """Whether the user is in each segment now: one database read for all of them."""
        if not user_id or not keys:
            return {}
        found: dict[str, bool] = await self._engine.db.read(
            memberships, app_id, sorted(keys), user_id, now
        )
        return found

    async def decide(
        self,
        app_id: str,
        *,
        user_id: str | None = None,
        device_id: str | None = None,
        session_id: str | None = None,
        attributes: Mapping[Any, Any] | None = None,
        track: bool = True,
    ) -> Decision:
        """The variant of each running experiment the unit is in, and their feature values."""
        experiments = await self.running(app_id)
        key = (app_id, user_id, device_id, session_id)
        decided = self._decided.get(key)
        if decided is not None and decided[0] is experiments:
            return Decision(variants=decided[1], features=decided[2])
        ids = {"user": user_id, "device": device_id, "session": session_id}
        units = sorted({v for v in ids.values() if v})
        stored = await self._stored(app_id, units) if experiments and units else {}
        attrs = {"traits": dict(attributes or {})}
        variants: dict[str, str] = {}
        features: dict[str, Any] = {}
        exposures: builtins.list[dict[str, Any]] = []
        now = self._engine.clock.now_ms()
        settled = True  # the answer stays as long as ``experiments`` (see the docstring)
        # First what needs no database: stored variants, and the hash and attribute tests of
        # the rest; then the segments those need, in one read; then, in order, the answer.
        candidates: builtins.list[tuple[Running, str, str | None]] = []
        segments: set[str] = set()
        for exp in experiments:
            unit = ids[exp.unit]
            if not unit:
                continue
            variant = stored[unit].get(exp.key)
            if variant is None:
                if exp.namespace is not None and not (
                    exp.ns_start <= self._bucket(exp.ns_salt, unit) < exp.ns_end
                ):
                    continue
                if self._bucket(exp.cov_salt, unit) >= exp.coverage:
                    continue
                settled = False
                if exp.conditions is not None and not exp.conditions.test(attrs):
                    continue
                if exp.segment is not None:
                    segments.add(exp.segment)
            candidates.append((exp, unit, variant))
        member = await self._memberships(app_id, segments, user_id, now) if segments else {}
        for exp, unit, variant in candidates:
            if variant is None:
                if exp.segment is not None and not member.get(exp.segment, False):
                    continue
                variant = pick(exp.weights, self._bucket(exp.key, unit))
                if track:
                    exposures.append(
                        {
                            "app_id": app_id,
                            "experiment_key": exp.key,
                            "unit_id": unit,
                            "variant": variant,
                            "exposed_at": now,
                        }
                    )
            variants[exp.key] = variant
            features.update(exp.features.get(variant, {}))
        if exposures:
            await self._engine.db.write(q.expose, exposures)
            for row in exposures:
                stored[row["unit_id"]][row["experiment_key"]] = row["variant"]
        if settled:
            if len(self._decided) >= STICKY_CACHE_MAX:
                self._decided.clear()
            self._decided[key] = (experiments, variants, features)
        return Decision(variants=variants, features=features)

    async def results(self, app_id: str, key: str) -> Results:
        """Per variant: units, the metric with its interval, tests against control, SRM."""
        db = self._engine.db
        row = await db.read(q.get, app_id, key)
        if row is None:
            raise not_found(key)
        goal = row["goal"]
        exposures = await db.read(q.exposure_rows, app_id, key, heavy=True)
        events = await db.read(q.goal_events, app_id, key, row["unit"], goal["event"], heavy=True)
        return compute_results(row, exposures, events)
