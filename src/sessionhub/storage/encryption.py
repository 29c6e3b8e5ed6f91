"""Queries of encryption at rest: the key history in the audit log, and the re-encryption sweep.

The sweep walks each encrypted column in primary-key order, a page at a time, reading the
stored text as it is (``CAST(… AS TEXT)``: a JSON column's text too), and rewrites a row
only if that text is still what it read: a row changed meanwhile keeps its newer value
(and is looked at again on the next pass).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, Table, Text, cast, select, tuple_, update

from sessionhub.storage.schema import events, messages, state_entries
from sessionhub.storage.schema_audit import audit_log

KEY_ACTIONS = ("encryption.key_added", "encryption.key_retired")


@dataclass(frozen=True)
class Target:
    """One encrypted column: its table, primary key, column, and whether it holds JSON."""

    name: str
    table: Table
    key: tuple[Column[Any], ...]
    column: Column[Any]
    json: bool

    @property
    def purpose(self) -> str:
        return self.name


TARGETS = (
    Target("messages.content", messages, (messages.c.seq,), messages.c.content, False),
    Target("events.properties", events, (events.c.eid,), events.c.properties, True),
    Target(
        "state.value",
        state_entries,
        (state_entries.c.app_id, state_entries.c.scope, state_entries.c.owner, state_entries.c.key),
        state_entries.c.value,
        True,
    ),
)


def key_history(conn: Connection) -> list[tuple[str, str]]:
    """(action, key id) of every key added or retired, oldest first."""
    query = (
        select(audit_log.c.action, audit_log.c.target)
        .where(audit_log.c.action.in_(KEY_ACTIONS))
        .order_by(audit_log.c.seq)
    )
    return [(row.action, row.target) for row in conn.execute(query)]


def _after(target: Target, after: tuple[Any, ...]) -> Any:
    if len(target.key) == 1:
        return target.key[0] > after[0]
    # Row values compare in order on both backends (SQLite 3.15+, PostgreSQL).
    return tuple_(*target.key) > tuple_(*after)


def page(
    conn: Connection, target: Target, after: tuple[Any, ...] | None, limit: int
) -> list[tuple[tuple[Any, ...], str]]:
    """The next ``limit`` rows after ``after``: (primary key, stored text)."""
    query = select(*target.key, cast(target.column, Text)).order_by(*target.key).limit(limit)
    if after is not None:
        query = query.where(_after(target, after))
    width = len(target.key)
    return [(tuple(row[:width]), row[width]) for row in conn.execute(query)]


def rewrite(
    conn: Connection, target: Target, changes: list[tuple[tuple[Any, ...], str, Any]]
) -> int:
    """Store each (key, text read, new value) unless the row changed since; rows rewritten."""
    done = 0
    for key, seen, value in changes:
        where = [k == v for k, v in zip(target.key, key, strict=True)]
        query = (
            update(target.table)
            .where(*where, cast(target.column, Text) == seen)
            .values({target.column.key: value})
        )
        done += conn.execute(query).rowcount
    return done
