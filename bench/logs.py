"""How cost grows with the log: at 1k, 100k and 1M rows, GET /logs (the first, a middle and
the last page, by page number and by cursor, side by side), resident memory while serving each
table, and GET /status and POST /update req/s beside the bare app's in the same minute.

Each table is written straight into SQLite through the service's own schema (LogStore), rows
10 µs apart, then served by one uvicorn worker. Latency is the median (and p90) of requests
made one after another over one keep-alive connection, the six kinds interleaved (in a new
order each round) so that whatever else runs on the machine falls on all of them alike. Beside
the HTTP figures, the same pages are read in-process through the store, and through the
queries the service ran before (``SELECT COUNT(*)`` for the total on every page, ``OFFSET`` for
the position): the baseline of this run.
"""

from __future__ import annotations

import functools
import http.client
import json
import logging
import sqlite3
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from app.store import LogStore
from bench.common import Spread, interleaved_ms, rss_mib, serve, wrk
from bench.throughput import BARE_APP, POST_SCRIPT

logger = logging.getLogger(__name__)

LIMIT = 10
KINDS = (
    "first by page",
    "middle by page",
    "last by page",
    "first by cursor",
    "middle by cursor",
    "last by cursor",
)
STATE = json.dumps({"counter": 0, "message": "bench"})


def build_log(path: Path, rows: int) -> None:
    """A log of ``rows`` rows, written in bulk (one transaction per 100,000 rows)."""
    LogStore(path).close()  # the schema, the count, the cursor key: as the service makes them
    start = datetime(2026, 1, 1, tzinfo=UTC)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")  # bulk loading; the service itself runs FULL
    chunk = 100_000
    for first in range(0, rows, chunk):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO logs (timestamp, old_value, new_value) VALUES (?, ?, ?)",
            (
                (
                    (start + timedelta(microseconds=10 * n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    STATE,
                    STATE,
                )
                for n in range(first, min(rows, first + chunk))
            ),
        )
        conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def queries(path: Path, rows: int) -> dict[str, dict[str, Any]]:
    """The query string of each kind of request; cursors made with the log's own key."""
    pages = -(-rows // LIMIT)
    middle = pages // 2
    store = LogStore(path)
    try:

        def cursor_before(page: int) -> dict[str, Any]:
            # The cursor that a walk holds when it is about to read ``page``: the position of
            # the last row of the page before it.
            if page == 1:
                return {"limit": LIMIT}
            last = store.page(page - 1, LIMIT).rows[-1]
            return {"limit": LIMIT, "cursor": store.cursors.encode(last.timestamp, last.id)}

        return {
            "first by page": {"page": 1, "limit": LIMIT},
            "middle by page": {"page": middle, "limit": LIMIT},
            "last by page": {"page": pages, "limit": LIMIT},
            "first by cursor": cursor_before(1),
            "middle by cursor": cursor_before(middle),
            "last by cursor": cursor_before(pages),
        }
    finally:
        store.close()


def http_latencies(
    base_url: str, params: dict[str, dict[str, Any]], repeats: int
) -> dict[str, list[float]]:
    """Milliseconds per request of each kind, interleaved, over one keep-alive connection."""
    host = urlsplit(base_url)
    conn = http.client.HTTPConnection(host.hostname or "127.0.0.1", host.port, timeout=30)
    expected: dict[str, bytes] = {}

    def get(kind: str, path: str) -> None:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
        # Every answer must be the same page each time.
        if expected.setdefault(kind, body) != body:
            raise RuntimeError(f"{kind}: the page changed between requests")

    calls = {
        kind: functools.partial(get, kind, "/logs?" + urlencode(query))
        for kind, query in params.items()
    }
    times = interleaved_ms(calls, repeats=repeats, warmup=3)
    conn.close()
    return times


def store_latencies(
    path: Path, params: dict[str, dict[str, Any]], repeats: int
) -> dict[str, list[float]]:
    """Milliseconds per read in-process: the store as the service uses it now, and the
    queries it ran before (COUNT(*) on every page, OFFSET for the position)."""
    store = LogStore(path)
    old = sqlite3.connect(path, isolation_level=None)

    def before(page: int) -> None:
        old.execute("BEGIN")
        old.execute("SELECT COUNT(*) FROM logs").fetchone()
        old.execute(
            "SELECT * FROM logs ORDER BY timestamp DESC, id DESC LIMIT ? OFFSET ?",
            (LIMIT, (page - 1) * LIMIT),
        ).fetchall()
        old.execute("COMMIT")

    reads: dict[str, Callable[[], object]] = {}
    for kind, query in params.items():
        if "page" in query:
            page = int(query["page"])
            reads[f"store: {kind}"] = functools.partial(store.page, page, LIMIT)
            reads[f"before (COUNT + OFFSET): {kind}"] = functools.partial(before, page)
        else:
            position = store.cursors.decode(query["cursor"]) if "cursor" in query else None
            reads[f"store: {kind}"] = functools.partial(store.page_after, position, LIMIT)
    try:
        times = interleaved_ms(reads, repeats=repeats, warmup=2)
    finally:
        store.close()
        old.close()
    return times


def throughput_beside_bare(
    service: str, bare: str, post: Path, seconds: float, rounds: int
) -> dict[str, Any]:
    """req/s of the service and the bare app, interleaved, and the ratios per round."""
    figures: dict[str, Any] = {}
    routes = (("GET /status", "/status", None), ("POST /update", "/update", post))
    for route, path, script in routes:
        ratios, ours = [], []
        for _ in range(rounds):
            theirs = wrk(bare + path, seconds, script=script).rps
            ours.append(wrk(service + path, seconds, script=script).rps)
            ratios.append(ours[-1] / theirs)
        figures[route] = {"rps": Spread.of(ours).as_dict(), "ratio": Spread.of(ratios).as_dict()}
    return figures


def measure(
    workdir: Path, *, sizes: tuple[int, ...], repeats: int, seconds: float = 3, rounds: int = 3
) -> dict[str, Any]:
    report: dict[str, Any] = {"limit": LIMIT, "repeats": repeats, "sizes": {}}
    (workdir / "bare_app.py").write_text(BARE_APP)
    post = workdir / "post.lua"
    post.write_text(POST_SCRIPT.format(key="bench"))
    for rows in sizes:
        path = workdir / f"logs-{rows}.db"
        started = time.perf_counter()
        build_log(path, rows)
        logger.info("built a log of %d rows in %.1fs", rows, time.perf_counter() - started)
        params = queries(path, rows)
        env = {"DATABASE_PATH": str(path), "API_KEY": "bench"}
        with serve("app.main:app", workdir, env, name=f"logs-{rows}") as served:
            at_rest = rss_mib(served.pid)[0]
            http_times = http_latencies(served.base_url, params, repeats)
            serving, peak = rss_mib(served.pid)
            in_process = store_latencies(path, params, repeats)
            # Last, as it adds rows: /status and /update over this table, beside the bare app.
            with serve("bare_app:app", workdir, name="bare") as bare:
                throughput = throughput_beside_bare(
                    served.base_url, bare.base_url, post, seconds, rounds
                )
        figures: dict[str, Any] = {
            "http_ms": {
                kind: {
                    **Spread.of(values).as_dict(),
                    "p90": statistics.quantiles(values, n=10)[-1],
                }
                for kind, values in http_times.items()
            },
            "in_process_ms": {name: Spread.of(v).as_dict() for name, v in in_process.items()},
            "rss_mib": {"started": at_rest, "serving": serving, "peak": peak},
            "throughput": throughput,
            "database_mib": sum(p.stat().st_size for p in workdir.glob(path.name + "*")) / 2**20,
        }
        report["sizes"][str(rows)] = figures
        first = figures["http_ms"]["first by cursor"]["median"]
        logger.info(
            "%d rows: first page %.2f ms, last by page %.2f ms, last by cursor %.2f ms (%.2fx)",
            rows,
            figures["http_ms"]["first by page"]["median"],
            figures["http_ms"]["last by page"]["median"],
            figures["http_ms"]["last by cursor"]["median"],
            figures["http_ms"]["last by cursor"]["median"] / first,
        )
        path.unlink()
        for extra in workdir.glob(path.name + "-*"):
            extra.unlink()
    return report
