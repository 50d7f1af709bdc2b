"""The update log: one SQLite file in WAL mode.

A write is one ``INSERT`` statement, committed on its own (no ``BEGIN``): SQLite makes it a
transaction of its own, all its rows or none. Writes are serialised by the caller (one writer
thread) and, should another connection write too, by SQLite's write lock, waited for up to the
busy timeout. Every thread reads through a connection of its own, so no connection is ever
shared across threads.

The number of rows is kept in ``log_count`` by triggers, in the same transaction as the rows
themselves: exact, and read in one lookup instead of a ``COUNT(*)`` over the whole table.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.cursor import CursorCodec

SCHEMA = """
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TEXT NOT NULL,
    old_value TEXT NOT NULL,
    new_value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_newest_first ON logs (timestamp DESC, id DESC);
CREATE TABLE IF NOT EXISTS log_count (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS log_count_insert AFTER INSERT ON logs
BEGIN UPDATE log_count SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS log_count_delete AFTER DELETE ON logs
BEGIN UPDATE log_count SET n = n - 1 WHERE id = 1; END;
CREATE TABLE IF NOT EXISTS log_meta (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
"""

INSERT_SQL = "INSERT INTO logs (timestamp, old_value, new_value) VALUES (?, ?, ?)"
# Every query in full, newest first along the index; only bound parameters vary.
NEWEST_SQL = "SELECT * FROM logs ORDER BY timestamp DESC, id DESC LIMIT ?"
PAGE_SQL = "SELECT * FROM logs ORDER BY timestamp DESC, id DESC LIMIT ? OFFSET ?"
# The row value comparison is a seek in the index (timestamp DESC, id DESC).
AFTER_SQL = (
    "SELECT * FROM logs WHERE (timestamp, id) < (?, ?) ORDER BY timestamp DESC, id DESC LIMIT ?"
)


class StoreError(Exception):
    """The log database could not be read or written."""


@dataclass(frozen=True)
class LogSlice:
    """Some rows of the log, newest first; how many rows it holds; whether more follow."""

    rows: list[LogRow]
    total: int
    more: bool


@dataclass(frozen=True)
class LogRow:
    """One row of the log, its values decoded."""

    id: int
    timestamp: str
    old_value: dict[str, Any]
    new_value: dict[str, Any]


class LogStore:
    """Append-only log of state changes."""

    def __init__(self, path: Path, *, synchronous: str = "FULL", busy_timeout_ms: int = 5000):
        self.path = path
        self._synchronous = synchronous
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._connection() as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                #: Signs and reads the cursors of page_after(), with this log's own key.
                self.cursors = CursorCodec(_prepare(conn))
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the log database at {path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: the sqlite3 module begins no transaction of its own. A statement
        # outside BEGIN commits by itself (append_many's INSERT); BEGIN is written out where
        # several statements must share one transaction (a page and its total, the schema).
        # check_same_thread=False only so that close() may run on the shutdown thread; a
        # connection is otherwise used by the thread that opened it alone.
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,
            timeout=self._busy_timeout_ms / 1000,
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """This thread's own connection, opened on first use."""
        if self._closed:
            raise StoreError("the log database is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        yield conn

    def append(self, timestamp: str, old_value: dict[str, Any], new_value: dict[str, Any]) -> int:
        """Record one change durably; returns its id. Raises StoreError, writing nothing."""
        (row_id,) = self.append_many([(timestamp, old_value, new_value)])
        return row_id

    def append_many(self, rows: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> list[int]:
        """Record changes, in order, in one transaction (one commit, one fsync); returns their
        ids. Raises StoreError, writing none of them."""
        if not rows:
            return []
        # One INSERT statement for the whole batch, outside BEGIN/COMMIT: on its own it is a
        # transaction (all its rows or none, durable when it returns). One statement, because
        # the sqlite3 module lets go of the GIL around every statement, and a writer thread
        # taking it back from a busy event loop waits up to the switch interval (5 ms) each
        # time: BEGIN, INSERT per row and COMMIT cost a batch of 32 up to 34 such waits.
        values: list[str] = []
        for timestamp, old_value, new_value in rows:
            values += (timestamp, json.dumps(old_value), json.dumps(new_value))
        insert = INSERT_SQL + ", (?, ?, ?)" * (len(rows) - 1)
        try:
            with self._connection() as conn:
                last = conn.execute(insert, values).lastrowid
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to the log database: {exc}") from exc
        assert last is not None  # an INSERT always sets it
        # One statement, one write transaction: AUTOINCREMENT numbered its rows one after
        # another, the last one ``last``.
        return list(range(last - len(rows) + 1, last + 1))

    def newest(self) -> LogRow | None:
        """The most recent change, or None when the log is empty."""
        rows = self._select(NEWEST_SQL, (1,))
        return rows[0] if rows else None

    def count(self) -> int:
        """How many changes are recorded."""
        try:
            with self._connection() as conn:
                return _count(conn)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the log database: {exc}") from exc

    def page(self, page: int, limit: int) -> LogSlice:
        """Page ``page`` of ``limit`` changes, newest first, with the total (one snapshot).

        Its cost grows with the page number (SQLite steps over the rows before it): see
        page_after() for deep pages."""
        offset = (page - 1) * limit

        def read(conn: sqlite3.Connection, total: int) -> list[tuple[Any, ...]]:
            # Python integers are unbounded, SQLite's are not: never bind an offset past the
            # end, which could overflow and can only yield nothing.
            if offset >= total:
                return []
            return conn.execute(PAGE_SQL, (limit + 1, offset)).fetchall()

        return self._slice(read, limit)

    def page_after(self, position: tuple[str, int] | None, limit: int) -> LogSlice:
        """``limit`` changes, newest first, from just after ``position`` (timestamp, id), or
        from the newest when None: keyset paging, as cheap for the last page as the first."""

        def read(conn: sqlite3.Connection, total: int) -> list[tuple[Any, ...]]:
            if position is None:
                return conn.execute(NEWEST_SQL, (limit + 1,)).fetchall()
            return conn.execute(AFTER_SQL, (*position, limit + 1)).fetchall()

        return self._slice(read, limit)

    def _slice(
        self,
        read: Callable[[sqlite3.Connection, int], list[tuple[Any, ...]]],
        limit: int,
    ) -> LogSlice:
        """``read`` up to limit + 1 rows (the one more says whether more follow) in the same
        read transaction as the total."""
        try:
            with self._connection() as conn:
                conn.execute("BEGIN")
                try:
                    total = _count(conn)
                    rows = read(conn, total)
                finally:
                    conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the log database: {exc}") from exc
        return LogSlice([_decode(row) for row in rows[:limit]], total, len(rows) > limit)

    def check(self) -> None:
        """Raise StoreError unless the log table can be read."""
        self._select("SELECT * FROM logs LIMIT 1", ())

    def _select(self, sql: str, params: tuple[Any, ...]) -> list[LogRow]:
        try:
            with self._connection() as conn:
                rows = conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the log database: {exc}") from exc
        return [_decode(row) for row in rows]

    def close(self) -> None:
        """Close every thread's connection."""
        with self._connections_lock:
            self._closed = True
            for conn in self._connections:
                conn.close()
            self._connections.clear()


def _prepare(conn: sqlite3.Connection) -> bytes:
    """Create what is missing (tables, index, triggers, the count, the cursor key) in one
    transaction, so that the count starts exact; returns the key that signs cursors."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in SCHEMA.split(";\n"):
            if statement.strip():
                conn.execute(statement)
        if conn.execute("SELECT n FROM log_count WHERE id = 1").fetchone() is None:
            # A log written before the count was kept: counted once, here.
            conn.execute("INSERT INTO log_count (id, n) SELECT 1, COUNT(*) FROM logs")
        found = conn.execute("SELECT value FROM log_meta WHERE name = 'cursor_key'").fetchone()
        if found is None:
            key = secrets.token_bytes(32)
            conn.execute("INSERT INTO log_meta (name, value) VALUES ('cursor_key', ?)", (key,))
        else:
            key = bytes(found[0])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return key


def _count(conn: sqlite3.Connection) -> int:
    (total,) = conn.execute("SELECT n FROM log_count WHERE id = 1").fetchone()
    return int(total)


def _decode(row: tuple[Any, ...]) -> LogRow:
    row_id, timestamp, old_value, new_value = row
    try:
        return LogRow(row_id, timestamp, json.loads(old_value), json.loads(new_value))
    except (TypeError, ValueError) as exc:
        raise StoreError(f"log row {row_id} is not valid JSON") from exc
