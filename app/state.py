"""The shared state, changed only together with the log rows that record the changes.

Updates are group-committed: one writer thread takes every update waiting, applies them in
order, writes their log rows in one transaction (one commit, one fsync) and only then makes
the new state visible and answers each of them. Under load many updates share an fsync; alone,
an update is committed at once. The log's order is the order in which the state changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.models import INITIAL_STATE, State
from app.store import LogRow, LogStore, StoreError

#: The most updates one commit holds: bounds a transaction, and the wait of the first in it.
MAX_BATCH = 512

#: An applied update: (state before, state after, its log row).
Applied = tuple[State, State, LogRow]


def utc_timestamp(moment: datetime | None = None) -> str:
    """UTC, ISO 8601, microseconds, ending in Z."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    # isoformat, not strftime: the same text in a fifth of the time (it runs per request).
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


@dataclass
class _Pending:
    """An update waiting for its commit, and whom to tell: a thread (a concurrent Future) or
    a coroutine on an event loop (an asyncio Future, settled on its loop)."""

    changes: dict[str, Any]
    future: Future[Applied] | asyncio.Future[Applied]
    loop: asyncio.AbstractEventLoop | None = None


class StateService:
    """Holds the state in memory; every change goes through the writer thread."""

    def __init__(self, store: LogStore) -> None:
        self._store = store
        self._started = time.monotonic()
        newest = store.newest()
        self._state = _restored(newest) if newest else INITIAL_STATE
        self._last_timestamp = newest.timestamp if newest else ""
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._closed = False
        self._close_lock = threading.Lock()
        self._writer = threading.Thread(target=self._write_loop, name="log-writer", daemon=True)
        self._writer.start()

    @property
    def state(self) -> State:
        """The current state (an immutable snapshot): only ever one whose row is on disk."""
        return self._state

    def uptime_seconds(self) -> float:
        """Seconds since the service started."""
        return round(time.monotonic() - self._started, 3)

    def submit(self, changes: dict[str, Any]) -> Future[Applied]:
        """Queue ``changes``; the future resolves once they are committed, to (old, new, row),
        or fails with StoreError, the state left as it was, when the log cannot be written."""
        future: Future[Applied] = Future()
        self._put(_Pending(changes, future))
        return future

    def update(self, changes: dict[str, Any]) -> Applied:
        """Apply changes and log them, both or neither, and wait for it: see submit()."""
        return self.submit(changes).result()

    async def apply(self, changes: dict[str, Any]) -> Applied:
        """update() for a coroutine: waits for the commit without holding a thread."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Applied] = loop.create_future()
        self._put(_Pending(changes, future, loop))
        return await future

    def _put(self, pending: _Pending) -> None:
        with self._close_lock:
            if self._closed:
                raise StoreError("the service is shutting down")
            self._queue.put(pending)

    def close(self) -> None:
        """Commit what is queued, then stop the writer. Safe to call twice."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._writer.join()

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            try:
                self._commit(batch)
            except Exception as exc:  # a bug, not a write failure: still, nobody may hang
                _settle(
                    batch, [StoreError(f"the update could not be applied: {exc!r}")] * len(batch)
                )
            if stop:
                return

    def _commit(self, batch: list[_Pending]) -> None:
        state, last_timestamp = self._state, self._last_timestamp
        applied: list[tuple[State, State, str]] = []
        for pending in batch:
            new = state.model_copy(update=pending.changes)
            # Never let a wall clock stepping back reorder the log: timestamp order is id order.
            timestamp = max(utc_timestamp(), last_timestamp)
            applied.append((state, new, timestamp))
            state, last_timestamp = new, timestamp
        rows = [(ts, old.model_dump(), new.model_dump()) for old, new, ts in applied]
        outcomes: list[Applied | StoreError]
        try:
            ids = self._store.append_many(rows)
        except Exception as exc:  # whatever it is, every waiting update must hear of it
            error = exc if isinstance(exc, StoreError) else StoreError(repr(exc))
            outcomes = [error] * len(batch)
        else:
            # On disk: only now does anyone see the new state, or hear that it was applied.
            self._state, self._last_timestamp = state, last_timestamp
            outcomes = [
                (old, new, LogRow(row_id, ts, old_value, new_value))
                for (old, new, _), row_id, (ts, old_value, new_value) in zip(
                    applied, ids, rows, strict=True
                )
            ]
        _settle(batch, outcomes)


def _settle(batch: list[_Pending], outcomes: list[Applied | StoreError]) -> None:
    """Tell every update of a batch its outcome: threads at once, each event loop with one
    wake-up for all of its coroutines (not one per update)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Pending, Applied | StoreError]]] = {}
    for pending, outcome in zip(batch, outcomes, strict=True):
        if pending.loop is None:
            _set(pending.future, outcome)
        else:
            by_loop.setdefault(pending.loop, []).append((pending, outcome))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            loop.call_soon_threadsafe(_set_all, settled)


def _set_all(settled: list[tuple[_Pending, Applied | StoreError]]) -> None:
    for pending, outcome in settled:
        _set(pending.future, outcome)


def _set(future: Future[Applied] | asyncio.Future[Applied], outcome: Applied | StoreError) -> None:
    if future.done():  # an asyncio waiter that was cancelled (its client went away)
        return
    if isinstance(outcome, StoreError):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _restored(row: LogRow) -> State:
    try:
        return State.model_validate(row.new_value)
    except ValueError as exc:
        raise StoreError(f"log row {row.id} does not hold a valid state: {exc}") from exc
