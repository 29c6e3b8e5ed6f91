"""Queries for experiments: definitions, sticky assignments (exposures), goal events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, insert, select, update

from sessionhub import crypto
from sessionhub.storage.dialect import insert_ignore
from sessionhub.storage.schema import events, sessions
from sessionhub.storage.schema_personalization import experiment_exposures, experiments

x = experiments.c
a = experiment_exposures.c
e = events.c
s = sessions.c


def get(conn: Connection, app_id: str, key: str) -> RowMapping | None:
    query = select(experiments).where(x.app_id == app_id, x.key == key)
    return conn.execute(query).mappings().first()


def all_of(conn: Connection, app_id: str, status: str | None = None) -> list[RowMapping]:
    query = select(experiments).where(x.app_id == app_id)
    if status is not None:
        query = query.where(x.status == status)
    return list(conn.execute(query.order_by(x.key)).mappings())


def add(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(experiments).values(**row))


def change(conn: Connection, app_id: str, key: str, values: dict[str, Any]) -> None:
    conn.execute(update(experiments).where(x.app_id == app_id, x.key == key).values(**values))


def assignments(
    conn: Connection, app_id: str, unit_ids: Sequence[str]
) -> dict[tuple[str, str], str]:
    """(experiment, unit) -> the stored variant, for the given units."""
    if not unit_ids:
        return {}
    query = select(a.experiment_key, a.unit_id, a.variant).where(
        a.app_id == app_id, a.unit_id.in_(list(unit_ids))
    )
    return {(row[0], row[1]): row[2] for row in conn.execute(query)}


def expose(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store first exposures; a unit already exposed keeps its first row (sticky)."""
    if rows:
        conn.execute(insert_ignore(conn, experiment_exposures), list(rows))


def exposure_rows(conn: Connection, app_id: str, key: str) -> list[tuple[str, str]]:
    query = select(a.variant, a.unit_id).where(a.app_id == app_id, a.experiment_key == key)
    return [(row[0], row[1]) for row in conn.execute(query)]


def goal_events(
    conn: Connection, app_id: str, key: str, unit: str, goal: str
) -> list[tuple[str, str, Any]]:
    """(variant, unit, properties) of each goal event a unit did after its exposure."""
    column = {"user": s.user_id, "device": s.device_id, "session": s.id}[unit]
    query = (
        select(a.variant, a.unit_id, e.properties)
        .select_from(
            experiment_exposures.join(
                sessions, and_(s.app_id == a.app_id, column == a.unit_id)
            ).join(events, e.session_sid == s.sid)
        )
        .where(
            a.app_id == app_id,
            a.experiment_key == key,
            s.deleted_at.is_(None),
            e.name == goal,
            e.occurred_at >= a.exposed_at,
        )
    )
    return [
        (row[0], row[1], crypto.open_json(row[2], "events.properties"))
        for row in conn.execute(query)
    ]
