"""The SQLite update log on its own."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.cursor import InvalidCursor
from app.store import LogSlice, LogStore, StoreError
from tests.conftest import failing_writes

STATE_A = {"counter": 1, "message": "a"}
STATE_B = {"counter": 2, "message": "b"}


def fill(store: LogStore, count: int, timestamp: str | None = None) -> list[int]:
    return [
        store.append(
            timestamp or f"2026-01-01T00:00:{n:02d}.000000Z",
            STATE_A,
            {"counter": n, "message": "x"},
        )
        for n in range(count)
    ]


def test_empty_log(store: LogStore) -> None:
    assert store.count() == 0
    assert store.newest() is None
    assert store.page(1, 10) == LogSlice([], 0, more=False)
    assert store.page_after(None, 10) == LogSlice([], 0, more=False)
    store.check()


def test_creates_missing_directory_and_schema(db_path: Path) -> None:
    assert not db_path.parent.exists()
    LogStore(db_path).close()
    assert db_path.exists()
    with sqlite3.connect(db_path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"logs", "logs_newest_first", "log_count", "log_meta"} <= tables


def test_opening_twice_keeps_the_rows(db_path: Path) -> None:
    first = LogStore(db_path)
    first.append("2026-01-01T00:00:00.000000Z", STATE_A, STATE_B)
    first.close()
    second = LogStore(db_path)
    assert second.count() == 1
    newest = second.newest()
    assert newest is not None
    assert (newest.old_value, newest.new_value) == (STATE_A, STATE_B)
    second.close()


def test_uses_wal_and_the_configured_synchronous_mode(db_path: Path) -> None:
    store = LogStore(db_path, synchronous="FULL")
    with store._connection() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    store.close()


def test_paging_reads_the_index_instead_of_sorting(store: LogStore) -> None:
    fill(store, 5)
    with store._connection() as conn:
        plan = " ".join(
            str(row[-1])
            for row in conn.execute(
                "EXPLAIN QUERY PLAN SELECT * FROM logs "
                "ORDER BY timestamp DESC, id DESC LIMIT 10 OFFSET 0"
            )
        )
    assert "logs_newest_first" in plan
    assert "TEMP B-TREE" not in plan


@pytest.mark.parametrize(
    ("rows", "page", "limit", "expected_len"),
    [
        (20, 1, 10, 10),
        (20, 2, 10, 10),
        (20, 3, 10, 0),
        (21, 3, 10, 1),
        (1, 1, 1, 1),
        (1, 2, 1, 0),
        (5, 1, 100, 5),
    ],
)
def test_page_boundaries(
    store: LogStore, rows: int, page: int, limit: int, expected_len: int
) -> None:
    ids = fill(store, rows)
    found = store.page(page, limit)
    assert found.total == rows
    assert len(found.rows) == expected_len
    newest_first = ids[::-1]
    assert [item.id for item in found.rows] == newest_first[(page - 1) * limit : page * limit]
    assert found.more == (page * limit < rows)


def test_newest_first_by_time_then_by_id(store: LogStore) -> None:
    late = store.append("2026-01-02T00:00:00.000000Z", STATE_A, STATE_B)
    tie_one = store.append("2026-01-01T00:00:00.000000Z", STATE_A, STATE_B)
    tie_two = store.append("2026-01-01T00:00:00.000000Z", STATE_A, STATE_B)
    items = store.page(1, 10).rows
    assert [item.id for item in items] == [late, tie_two, tie_one]
    newest = store.newest()
    assert newest is not None
    assert newest.id == late


def test_a_page_far_past_the_end_is_empty_without_overflow(store: LogStore) -> None:
    fill(store, 3)
    assert store.page(10**30, 100) == LogSlice([], 3, more=False)


def test_a_failed_write_writes_nothing(store: LogStore, db_path: Path) -> None:
    fill(store, 2)
    with failing_writes(db_path), pytest.raises(StoreError, match="disk is full"):
        store.append("2026-01-03T00:00:00.000000Z", STATE_A, STATE_B)
    assert store.count() == 2
    store.append("2026-01-03T00:00:00.000000Z", STATE_A, STATE_B)
    assert store.count() == 3


def test_a_database_path_that_cannot_be_opened_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open the log database"):
        LogStore(tmp_path / "taken" / "logs.db")


def test_a_closed_store_refuses_to_work(db_path: Path) -> None:
    store = LogStore(db_path)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.count()


# -- the kept count ---------------------------------------------------------------------------


def test_the_count_is_kept_exact_through_writes_failures_and_deletes(
    store: LogStore, db_path: Path
) -> None:
    fill(store, 7)
    assert store.count() == 7
    with failing_writes(db_path), pytest.raises(StoreError):
        store.append_many([("2026-01-03T00:00:00.000000Z", STATE_A, STATE_B)] * 3)
    assert store.count() == 7
    with sqlite3.connect(db_path) as conn:
        conn.execute("DELETE FROM logs WHERE id <= 2")
        (counted,) = conn.execute("SELECT COUNT(*) FROM logs").fetchone()
    assert store.count() == counted == 5
    assert store.page(1, 1).total == 5


def test_a_log_written_before_the_count_was_kept_is_counted_once_on_open(db_path: Path) -> None:
    store = LogStore(db_path)
    fill(store, 4)
    store.close()
    with sqlite3.connect(db_path) as conn:  # as an older version of the service left it
        conn.executescript(
            "DROP TRIGGER log_count_insert; DROP TRIGGER log_count_delete; DROP TABLE log_count;"
        )
        conn.execute("INSERT INTO logs (timestamp, old_value, new_value) VALUES ('t', '{}', '{}')")
    reopened = LogStore(db_path)
    assert reopened.count() == 5
    fill(reopened, 1)
    assert reopened.count() == 6
    reopened.close()


def test_the_count_is_read_by_key_not_counted(store: LogStore) -> None:
    with store._connection() as conn:
        plan = " ".join(
            str(row[-1])
            for row in conn.execute("EXPLAIN QUERY PLAN SELECT n FROM log_count WHERE id = 1")
        )
    assert "USING INTEGER PRIMARY KEY" in plan, plan


def test_many_changes_are_appended_in_order_in_one_transaction(store: LogStore) -> None:
    rows = [
        (f"2026-01-01T00:00:0{n}.000000Z", STATE_A, {"counter": n, "message": "x"})
        for n in range(5)
    ]
    ids = store.append_many(rows)
    assert ids == sorted(ids)
    assert len(set(ids)) == 5
    listed = store.page(1, 10).rows[::-1]
    assert [row.id for row in listed] == ids
    assert [row.new_value["counter"] for row in listed] == list(range(5))


# -- keyset paging ----------------------------------------------------------------------------


def walk(store: LogStore, limit: int) -> list[list[int]]:
    """Every page by cursor, from the newest; each page's ids."""
    pages: list[list[int]] = []
    position = None
    while True:
        found = store.page_after(position, limit)
        pages.append([row.id for row in found.rows])
        if not found.more:
            return pages
        last = found.rows[-1]
        position = store.cursors.decode(store.cursors.encode(last.timestamp, last.id))


@pytest.mark.parametrize(("rows", "limit"), [(1, 1), (10, 3), (12, 4), (25, 10), (3, 100)])
def test_a_walk_by_cursor_gives_the_same_pages_as_page_numbers(
    store: LogStore, rows: int, limit: int
) -> None:
    fill(store, rows)
    by_cursor = walk(store, limit)
    pages = -(-rows // limit)
    by_number = [[row.id for row in store.page(n, limit).rows] for n in range(1, pages + 1)]
    assert by_cursor == by_number


def test_a_walk_by_cursor_keeps_ties_in_time_apart_by_id(store: LogStore) -> None:
    ids = fill(store, 9, timestamp="2026-01-01T00:00:00.000000Z")  # all at the same moment
    assert [i for page in walk(store, 2) for i in page] == ids[::-1]


def test_a_walk_by_cursor_is_not_shifted_by_updates_arriving_during_it(store: LogStore) -> None:
    ids = fill(store, 6)
    first = store.page_after(None, 3)
    last = first.rows[-1]
    store.append("2026-01-02T00:00:00.000000Z", STATE_A, STATE_B)  # newer: never in the walk
    rest = store.page_after((last.timestamp, last.id), 3)
    assert [row.id for row in first.rows + rest.rows] == ids[::-1]
    assert (rest.total, rest.more) == (7, False)


def test_paging_by_cursor_seeks_in_the_index(store: LogStore) -> None:
    fill(store, 5)
    with store._connection() as conn:
        plan = " ".join(
            str(row[-1])
            for row in conn.execute(
                "EXPLAIN QUERY PLAN SELECT * FROM logs WHERE (timestamp, id) < (?, ?) "
                "ORDER BY timestamp DESC, id DESC LIMIT 11",
                ("2026-01-01T00:00:03.000000Z", 4),
            )
        )
    assert "SEARCH logs USING INDEX logs_newest_first" in plan, plan
    assert "TEMP B-TREE" not in plan


def test_cursors_are_signed_with_the_log_s_own_key(db_path: Path, tmp_path: Path) -> None:
    store = LogStore(db_path)
    cursor = store.cursors.encode("2026-01-01T00:00:00.000000Z", 42)
    assert store.cursors.decode(cursor) == ("2026-01-01T00:00:00.000000Z", 42)
    store.close()
    reopened = LogStore(db_path)  # the key is kept with the log: cursors outlive a restart
    assert reopened.cursors.decode(cursor) == ("2026-01-01T00:00:00.000000Z", 42)
    reopened.close()
    other = LogStore(tmp_path / "other.db")
    with pytest.raises(InvalidCursor):
        other.cursors.decode(cursor)
    other.close()
