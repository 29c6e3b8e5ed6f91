"""Statements compiled once and run on the driver's cursor: the fast lane of the hot paths.

For a one-row query SQLAlchemy Core spends most of the time building the statement,
computing its cache key, setting up an execution context and wrapping the result, not in
the database. Validate, heartbeat, create and the key lookup run a few fixed statements
thousands of times a second, so they keep the SQL compiled per dialect and call the DBAPI
cursor directly, inside the same transaction as everything else on the connection.

Types still convert as SQLAlchemy would (its own bind and result processors), driver
errors are wrapped into SQLAlchemy's exception classes (so ``IntegrityError`` still means
a conflict), and rows come back as plain dicts keyed by column name.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

Row = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Any])
_MISSING: Any = object()


def single_statement(fn: F) -> F:
    """Mark a query function that runs exactly one statement.

    One statement reads one consistent snapshot by itself, so ``Database.read`` runs such
    a function on SQLite without a BEGIN and COMMIT of its own: that is most of the cost
    of a point read, like the key lookup every request makes.
    """
    fn.single_statement = True  # type: ignore[attr-defined]
    return fn


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    params: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]  # (name, default, processor)
    keys: tuple[str, ...]  # result columns
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column index, processor)


class Prepared:
    """A statement with named ``bindparam`` values, compiled once per dialect (and key set)."""

    __slots__ = ("_compiled", "_statement")

    def __init__(self, statement: ClauseElement):
        self._statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...] | None], _Compiled] = {}

    def _compile(self, dialect: Dialect, column_keys: tuple[str, ...] | None) -> _Compiled:
        compiled = self._statement.compile(
            dialect=dialect, column_keys=list(column_keys) if column_keys is not None else None
        )
        assert isinstance(compiled, SQLCompiler)
        if compiled.positiontup is None or compiled.insert_prefetch or compiled.update_prefetch:
            raise TypeError("Prepared needs a positional driver and no Python-side defaults")
        params = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            default = _MISSING if bind.required else bind.effective_value
            impl = bind.type.dialect_impl(dialect)
            params.append((name, default, impl.bind_processor(dialect)))
        columns = list(getattr(self._statement, "exported_columns", ()))
        keys = tuple(column.key for column in columns)
        processors = []
        for index, column in enumerate(columns):
            processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if processor is not None:
                processors.append((index, processor))
        return _Compiled(compiled.string, tuple(params), keys, tuple(processors))

    def _run(
        self, conn: Connection, values: Mapping[str, Any], column_keys: tuple[str, ...] | None
    ) -> tuple[Any, _Compiled]:
        dialect = conn.dialect
        compiled = self._compiled.get((dialect.name, column_keys))
        if compiled is None:
            compiled = self._compiled[(dialect.name, column_keys)] = self._compile(
                dialect, column_keys
            )
        args = []
        for name, default, processor in compiled.params:
            value = values.get(name, default)
            if value is _MISSING:
                raise KeyError(f"no value for bind parameter {name!r}")
            args.append(processor(value) if processor is not None else value)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, tuple(args))
        except dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(
                compiled.sql, tuple(args), exc, dialect.loaded_dbapi.Error, dialect=dialect
            ) from exc
        return cursor, compiled

    def first(
        self, conn: Connection, values: Mapping[str, Any], column_keys: Iterable[str] | None = None
    ) -> Row | None:
        """Run the statement; its first row as a dict, or None."""
        cursor, compiled = self._run(
            conn, values, tuple(column_keys) if column_keys is not None else None
        )
        row = cursor.fetchone()
        cursor.close()
        return _to_dict(row, compiled) if row is not None else None

    def all(self, conn: Connection, values: Mapping[str, Any]) -> list[Row]:
        """Run the statement; every row as a dict."""
        cursor, compiled = self._run(conn, values, None)
        rows = cursor.fetchall()
        cursor.close()
        return [_to_dict(row, compiled) for row in rows]

    def scalar(self, conn: Connection, values: Mapping[str, Any]) -> Any:
        """Run the statement; the first column of its first row, or None."""
        row = self.first(conn, values)
        return None if row is None else next(iter(row.values()))

    def rowcount(self, conn: Connection, values: Mapping[str, Any]) -> int:
        """Run the statement; how many rows it changed."""
        cursor, _ = self._run(conn, values, None)
        count: int = cursor.rowcount
        cursor.close()
        return count


def _to_dict(row: Any, compiled: _Compiled) -> Row:
    data = dict(zip(compiled.keys, row, strict=True))
    keys = compiled.keys
    for index, processor in compiled.processors:
        key = keys[index]
        data[key] = processor(data[key])
    return data


# -- SQLite bulk inserts --------------------------------------------------------------------

# Rows per INSERT … VALUES statement: chunks are powers of two up to this, so a table has at
# most seven statements in the driver's cache (100 rows go as 64 + 32 + 4).
_SQLITE_CHUNK = 64


@functools.lru_cache(maxsize=256)
def _sqlite_values_sql(table: str, columns: tuple[str, ...], count: int) -> str:
    row = "(" + ", ".join("?" * len(columns)) + ")"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join([row] * count)


def sqlite_insert(
    conn: Connection, table: str, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) in their order, on SQLite's driver cursor.

    A statement inserts up to 64 rows at once (``INSERT … VALUES (…), (…)``): a third
    cheaper per row than ``executemany``, which steps and resets a statement for each row.
    Driver errors become SQLAlchemy's, as ``Prepared`` does (``IntegrityError`` is a conflict).
    """
    start, total = 0, len(rows)
    with _sqlite_cursor(conn) as run:
        while start < total:
            count = min(_SQLITE_CHUNK, 1 << ((total - start).bit_length() - 1))
            chunk = rows[start : start + count]
            run(_sqlite_values_sql(table, columns, count), [v for row in chunk for v in row])
            start += count


def sqlite_rows(conn: Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run a query on SQLite's driver cursor; its rows as tuples, nothing converted.

    For a query run many times a second whose columns need no conversion: through
    ``exec_driver_sql`` SQLAlchemy builds a result and its metadata each time, which cost
    more than the lookup itself.
    """
    with _sqlite_cursor(conn) as run:
        rows: list[tuple[Any, ...]] = run(sql, params).fetchall()
    return rows


@contextlib.contextmanager
def sqlite_savepoint(conn: Connection, name: str) -> Iterator[None]:
    """Undo what the block wrote if it raises (SQLite, in the open transaction).

    On the driver's cursor: ``Connection.begin_nested`` costs more Python than the writes
    of a small batch.
    """
    with _sqlite_cursor(conn) as run:
        run(f"SAVEPOINT {name}", ())
        try:
            yield
        except BaseException:
            run(f"ROLLBACK TO {name}", ())
            raise
        finally:
            run(f"RELEASE {name}", ())


@contextlib.contextmanager
def _sqlite_cursor(conn: Connection) -> Iterator[Callable[[str, Sequence[Any]], Any]]:
    """A function running statements on the driver's cursor, its errors made SQLAlchemy's."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()

    def run(sql: str, params: Sequence[Any]) -> Any:
        try:
            return cursor.execute(sql, params)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc

    try:
        yield run
    finally:
        cursor.close()
