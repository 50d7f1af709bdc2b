"""The SQLite update log on its own."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.store import LogStore, StoreError
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
    assert store.page(1, 10) == ([], 0)
    store.check()


def test_creates_missing_directory_and_schema(db_path: Path) -> None:
    assert not db_path.parent.exists()
    LogStore(db_path).close()
    assert db_path.exists()
    with sqlite3.connect(db_path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"logs", "logs_newest_first"} <= tables


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
    items, total = store.page(page, limit)
    assert total == rows
    assert len(items) == expected_len
    newest_first = ids[::-1]
    assert [item.id for item in items] == newest_first[(page - 1) * limit : page * limit]


def test_newest_first_by_time_then_by_id(store: LogStore) -> None:
    late = store.append("2026-01-02T00:00:00.000000Z", STATE_A, STATE_B)
    tie_one = store.append("2026-01-01T00:00:00.000000Z", STATE_A, STATE_B)
    tie_two = store.append("2026-01-01T00:00:00.000000Z", STATE_A, STATE_B)
    items, _ = store.page(1, 10)
    assert [item.id for item in items] == [late, tie_two, tie_one]
    newest = store.newest()
    assert newest is not None
    assert newest.id == late


def test_a_page_far_past_the_end_is_empty_without_overflow(store: LogStore) -> None:
    fill(store, 3)
    assert store.page(10**30, 100) == ([], 3)


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
