"""The shared state, changed only together with the log row that records the change."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from app.models import INITIAL_STATE, State
from app.store import LogRow, LogStore, StoreError


def utc_timestamp(moment: datetime | None = None) -> str:
    """UTC, ISO 8601, microseconds, ending in Z."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    # isoformat, not strftime: the same text in a fifth of the time (it runs per request).
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


class StateService:
    """Holds the state in memory and appends every change to the log under one lock."""

    def __init__(self, store: LogStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._started = time.monotonic()
        newest = store.newest()
        self._state = _restored(newest) if newest else INITIAL_STATE
        self._last_timestamp = newest.timestamp if newest else ""

    @property
    def state(self) -> State:
        """The current state (an immutable snapshot)."""
        return self._state

    def uptime_seconds(self) -> float:
        """Seconds since the service started."""
        return round(time.monotonic() - self._started, 3)

    def update(self, changes: dict[str, Any]) -> tuple[State, State, LogRow]:
        """Apply changes and log them, both or neither. Returns (old, new, log row).

        Raises StoreError, with the state left as it was, when the log cannot be written.
        """
        with self._lock:
            old = self._state
            new = old.model_copy(update=changes)
            # Never let a wall clock stepping back reorder the log: timestamp order is id order.
            timestamp = max(utc_timestamp(), self._last_timestamp)
            old_value, new_value = old.model_dump(), new.model_dump()
            row_id = self._store.append(timestamp, old_value, new_value)
            self._state = new
            self._last_timestamp = timestamp
        return old, new, LogRow(row_id, timestamp, old_value, new_value)


def _restored(row: LogRow) -> State:
    try:
        return State.model_validate(row.new_value)
    except ValueError as exc:
        raise StoreError(f"log row {row.id} does not hold a valid state: {exc}") from exc
