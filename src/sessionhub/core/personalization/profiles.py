"""Profiles: per user (and per anonymous device until identified), kept up as events arrive.

``absorb`` runs inside event ingestion's write, once per batch: it groups the batch's
accepted events by subject, loads those profiles in one query, folds the events in and
writes them back in at most two statements. Nothing is kept for a subject whose
``personalization`` consent is refused (no consent, no profile). ``merge_on_identify``
folds a device's profile into its user's. ``rebuild`` recomputes profiles from raw events
with the same fold.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from sessionhub.core import consent
from sessionhub.core.personalization import vectors
from sessionhub.models.apps import AppSettings
from sessionhub.models.personalization import PersonalizationSettings
from sessionhub.models.privacy import ConsentMode
from sessionhub.storage import personalization as q
from sessionhub.storage import privacy as pq
from sessionhub.storage.privacy import Subject

PURPOSE = "personalization"
RESURRECT_GAP_MS = 30 * vectors.DAY_MS  # activity after this long away "resurrects"
MAX_DEVICES = 20
CONFIG_CACHE_S = 5.0
MAX_COUNTED_TYPES = 100
Key = tuple[str, str]


_configs: dict[str, tuple[float, PersonalizationSettings]] = {}


def config_of(conn: Connection, app_id: str) -> PersonalizationSettings:
    """The app's personalization settings (the defaults when it set none).

    Kept per process for ``CONFIG_CACHE_S``: ingestion reads them on every batch. A change
    made through this process applies at once (``forget_config``), another's within that.
    """
    cached = _configs.get(app_id)
    if cached is not None and time.monotonic() < cached[0]:
        return cached[1]
    raw = q.get_config(conn, app_id)
    config = PersonalizationSettings.model_validate(raw or {})
    if len(_configs) > 10_000:
        _configs.clear()
    _configs[app_id] = (time.monotonic() + CONFIG_CACHE_S, config)
    return config


def forget_config(app_id: str) -> None:
    _configs.pop(app_id, None)


def half_life_ms(config: PersonalizationSettings) -> int:
    return max(1, int(config.half_life_days * vectors.DAY_MS))


def refused_personalization(
    conn: Connection,
    app_id: str,
    mode: ConsentMode,
    pairs: Iterable[tuple[str | None, str | None]],
) -> set[tuple[str | None, str | None]]:
    """Which (device, user) pairs may not have a profile: personalization is refused for them.

    The same rule as consent's analytics gate (a refusal by either wins, then a grant, then
    the app's consent mode); in ``opt_out`` mode one index probe answers the usual case.
    """
    wanted = set(pairs)
    if not wanted or (mode == "opt_out" and not pq.any_refusal(conn, app_id, PURPOSE)):
        return set()
    subjects: set[Subject] = set()
    for device, user in wanted:
        if device is not None:
            subjects.add(("device", device))
        if user is not None:
            subjects.add(("user", user))
    answers = {
        (row["subject_kind"], row["subject_id"]): bool(row["granted"])
        for row in pq.records(conn, app_id, subjects, PURPOSE)
    }
    return {
        (device, user)
        for device, user in wanted
        if not consent.decide(
            mode, [answers.get(("device", device or "")), answers.get(("user", user or ""))]
        )
    }


def new_profile(kind: str, subject_id: str, at: int) -> dict[str, Any]:
    return {
        "kind": kind,
        "subject_id": subject_id,
        "first_seen": at,
        "last_seen": at,
        "resurrected_at": None,
        "events": 0,
        "sessions": 0,
        "last_session_sid": 0,
        "active_days": 0,
        "last_day": 0,
        "devices": [],
        "traits": {},
        "counts": {},
        "vector": {},
        "vector_at": at,
        "top_events": {},
        "updated_at": at,
    }


def day_number(ms: int, zone: ZoneInfo | None) -> int:
    """The day of ``ms`` in the app's timezone, as a day count."""
    if zone is None:
        return ms // vectors.DAY_MS
    return datetime.fromtimestamp(ms / 1000, zone).toordinal()


class Folder:
    """Folds events into profiles under one app's settings."""

    def __init__(self, config: PersonalizationSettings, timezone: str = "UTC"):
        self.half_life = half_life_ms(config)
        # Read for every event: plain containers rather than the settings model's attributes.
        self.sources = tuple(config.dimensions)
        self.weights = dict(config.weights)
        self.zone = None if timezone == "UTC" else ZoneInfo(timezone)

    def fold(self, profile: dict[str, Any], event: Mapping[Any, Any], device: str | None) -> None:
        """Count one event (a row with id, name, occurred_at, path, properties, session_sid)."""
        at = int(event["occurred_at"])
        profile["events"] += 1
        if at < profile["first_seen"]:
            profile["first_seen"] = at
        if at > profile["last_seen"]:
            if at - profile["last_seen"] > RESURRECT_GAP_MS:
                profile["resurrected_at"] = at
            profile["last_seen"] = at
        sid = int(event["session_sid"])
        if sid > profile["last_session_sid"]:
            profile["sessions"] += 1
            profile["last_session_sid"] = sid
        day = day_number(at, self.zone)
        if day > profile["last_day"]:
            profile["active_days"] += 1
            profile["last_day"] = day
        counts = profile["counts"]
        name = event["name"]
        if name in counts or len(counts) < MAX_COUNTED_TYPES:
            counts[name] = counts.get(name, 0) + 1
        if device is not None and profile["kind"] == "user" and device not in profile["devices"]:
            profile["devices"] = [*profile["devices"], device][-MAX_DEVICES:]
        properties = event["properties"] or {}
        dims = vectors.dimensions_of(name, event["path"], properties, self.sources)
        if dims:
            weight = self.weights.get(name, 1.0)
            profile["vector_at"] = vectors.add_event(
                profile["vector"],
                profile["vector_at"],
                profile["top_events"],
                event,
                dims,
                weight,
                self.half_life,
            )
            vectors.prune(profile["vector"], profile["top_events"])


def subject_key(user: str | None, device: str | None) -> Key | None:
    if user:
        return ("user", user)
    if device:
        return ("device", device)
    return None


def absorb(
    conn: Connection,
    app_id: str,
    events: Sequence[Mapping[Any, Any]],
    states: Mapping[str, Mapping[Any, Any]],
    settings: AppSettings,
    now: int,
) -> None:
    """Fold a batch of stored events into their subjects' profiles (in the ingest write).

    ``events``: the events of the batch whose sessions have a device or user, each with
    what ``Folder.fold`` reads (its ``properties`` as sent).
    """
    if not events:
        return
    by_sid = {state["sid"]: state for state in states.values()}
    anonymous = {
        st["device_id"] for st in by_sid.values() if st["user_id"] is None and st["device_id"]
    }
    links = pq.linked_users(conn, app_id, anonymous) if anonymous else {}
    # Each session's subject, once: (key, device, user), or None for a session of nobody.
    subjects: dict[int, tuple[Key, str | None, str | None] | None] = {}
    for sid, state in by_sid.items():
        device = state["device_id"]
        user = state["user_id"] or links.get(device or "")
        key = subject_key(user, device)
        subjects[sid] = None if key is None else (key, device, user)
    grouped: dict[Key, list[tuple[Mapping[Any, Any], str | None]]] = {}
    pairs: dict[Key, tuple[str | None, str | None]] = {}
    for row in events:
        subject = subjects.get(row["session_sid"])
        if subject is None:
            continue
        key, device, user = subject
        grouped.setdefault(key, []).append((row, device))
        pairs[key] = (device, user)
    refused = refused_personalization(conn, app_id, settings.consent_mode, set(pairs.values()))
    if refused:
        grouped = {k: v for k, v in grouped.items() if pairs[k] not in refused}
    if not grouped:
        return
    folder = Folder(config_of(conn, app_id), settings.timezone)
    stored = q.load_profiles(conn, app_id, grouped)
    new, changed = [], []
    for key, rows in grouped.items():
        profile = stored.get(key)
        if profile is None:
            profile = new_profile(key[0], key[1], int(rows[0][0]["occurred_at"]))
            new.append(profile)
        else:
            changed.append(profile)
        for row, device in rows:
            folder.fold(profile, row, device)
        profile["updated_at"] = now
    q.save_profiles(conn, app_id, new, changed)


def combine(
    user: dict[str, Any], device: Mapping[Any, Any], device_id: str, half_life: int
) -> dict[str, Any]:
    """The user's profile with the device's folded in (the user's traits win)."""
    merged = dict(user)
    merged["first_seen"] = min(user["first_seen"], device["first_seen"])
    merged["last_seen"] = max(user["last_seen"], device["last_seen"])
    merged["events"] = user["events"] + device["events"]
    merged["sessions"] = user["sessions"] + device["sessions"]
    merged["last_session_sid"] = max(user["last_session_sid"], device["last_session_sid"])
    # Days both were active on count twice here; a rebuild from raw events is exact.
    merged["active_days"] = user["active_days"] + device["active_days"]
    merged["last_day"] = max(user["last_day"], device["last_day"])
    devices = [d for d in user["devices"] if d != device_id]
    merged["devices"] = [*devices, device_id][-MAX_DEVICES:]
    merged["traits"] = {**device["traits"], **user["traits"]}
    counts = dict(user["counts"])
    for name, count in device["counts"].items():
        counts[name] = counts.get(name, 0) + count
    merged["counts"] = counts
    merged["vector"], merged["vector_at"] = vectors.merge(
        user["vector"], user["vector_at"], device["vector"], device["vector_at"], half_life
    )
    top = {k: list(v) for k, v in user["top_events"].items()}
    for dim, items in device["top_events"].items():
        both = sorted([*top.get(dim, []), *items], key=lambda i: i["at"])
        top[dim] = both[-vectors.TOP_EVENTS :]
    merged["top_events"] = top
    vectors.prune(merged["vector"], merged["top_events"])
    return merged


def merge_on_identify(
    conn: Connection, app_id: str, device_id: str, user_id: str, now: int
) -> bool:
    """Fold the device's anonymous profile into the user's (inside identify's write)."""
    stored = q.load_profiles(conn, app_id, [("device", device_id), ("user", user_id)])
    device = stored.get(("device", device_id))
    if device is None:
        return False
    half_life = half_life_ms(config_of(conn, app_id))
    user = stored.get(("user", user_id))
    q.delete_profile(conn, app_id, ("device", device_id))
    if user is None:
        moved = {**device, "kind": "user", "subject_id": user_id, "updated_at": now}
        moved["devices"] = [device_id]
        q.save_profiles(conn, app_id, [moved], [])
    else:
        merged = combine(user, device, device_id, half_life)
        merged["updated_at"] = now
        q.save_profiles(conn, app_id, [], [merged])
    return True
