"""The update log: one SQLite file in WAL mode.

Writes are serialised by the caller's lock and by ``BEGIN IMMEDIATE``; every thread reads
through a connection of its own, so no connection is ever shared across threads.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TEXT NOT NULL,
    old_value TEXT NOT NULL,
    new_value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_newest_first ON logs (timestamp DESC, id DESC);
"""

NEWEST_FIRST = "ORDER BY timestamp DESC, id DESC"


class StoreError(Exception):
    """The log database could not be read or written."""


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
                conn.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the log database at {path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are begun explicitly, writes with BEGIN IMMEDIATE.
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
        try:
            with self._connection() as conn:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    cursor = conn.execute(
                        "INSERT INTO logs (timestamp, old_value, new_value) VALUES (?, ?, ?)",
                        (timestamp, json.dumps(old_value), json.dumps(new_value)),
                    )
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to the log database: {exc}") from exc
        row_id = cursor.lastrowid
        assert row_id is not None  # an INSERT always sets it
        return row_id

    def newest(self) -> LogRow | None:
        """The most recent change, or None when the log is empty."""
        # NEWEST_FIRST is a constant of this module: nothing from a request reaches the SQL.
        rows = self._select(f"SELECT * FROM logs {NEWEST_FIRST} LIMIT 1", ())  # nosec B608
        return rows[0] if rows else None

    def count(self) -> int:
        """How many changes are recorded."""
        try:
            with self._connection() as conn:
                (total,) = conn.execute("SELECT COUNT(*) FROM logs").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the log database: {exc}") from exc
        return int(total)

    def page(self, page: int, limit: int) -> tuple[list[LogRow], int]:
        """One page of changes, newest first, and the total count (read in one snapshot)."""
        offset = (page - 1) * limit
        try:
            with self._connection() as conn:
                conn.execute("BEGIN")
                try:
                    (total,) = conn.execute("SELECT COUNT(*) FROM logs").fetchone()
                    # Python integers are unbounded, SQLite's are not: never bind an offset
                    # past the end, which could overflow and can only yield nothing.
                    rows = (
                        conn.execute(
                            # A constant order; limit and offset are bound parameters.
                            f"SELECT * FROM logs {NEWEST_FIRST} LIMIT ? OFFSET ?",  # nosec B608
                            (limit, offset),
                        ).fetchall()
                        if offset < total
                        else []
                    )
                finally:
                    conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the log database: {exc}") from exc
        return [_decode(row) for row in rows], int(total)

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


def _decode(row: tuple[Any, ...]) -> LogRow:
    row_id, timestamp, old_value, new_value = row
    try:
        return LogRow(row_id, timestamp, json.loads(old_value), json.loads(new_value))
    except (TypeError, ValueError) as exc:
        raise StoreError(f"log row {row_id} is not valid JSON") from exc
