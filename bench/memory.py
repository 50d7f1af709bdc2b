"""Resident memory of the service: at rest, and after 100,000 updates (POST /update under wrk,
32 connections, until the log holds them). Memory while serving a 1M-row table is measured by
bench/logs.py, at each table size."""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import rss_mib, serve, wrk
from bench.throughput import POST_SCRIPT

logger = logging.getLogger(__name__)


def log_total(base_url: str) -> int:
    with urllib.request.urlopen(f"{base_url}/logs?limit=1", timeout=10) as answer:  # nosec B310
        total: int = json.load(answer)["total"]
        return total


def measure(workdir: Path, *, updates: int) -> dict[str, Any]:
    post = workdir / "memory-post.lua"
    post.write_text(POST_SCRIPT.format(key="bench"))
    env = {"DATABASE_PATH": str(workdir / "memory.db"), "API_KEY": "bench"}
    # As shipped: app.server's settings (the garbage collector's among them) hold.
    with serve("", workdir, env, name="memory", module="app.server") as served:
        time.sleep(1)  # whatever start-up allocates, allocated
        at_rest = rss_mib(served.pid)[0]
        started = time.perf_counter()
        samples = []
        while (total := log_total(served.base_url)) < updates:
            wrk(f"{served.base_url}/update", 5, script=post)
            samples.append((total, rss_mib(served.pid)[0]))
            logger.info("%d updates, %.1f MiB", total, samples[-1][1])
        took = time.perf_counter() - started
        time.sleep(1)
        after, peak = rss_mib(served.pid)
    return {
        "server": "python -m app.server",
        "at_rest_mib": at_rest,
        "after_updates_mib": after,
        "peak_mib": peak,
        "updates": total,
        "updates_per_second": total / took,
        "samples": samples,
    }
