"""Resident memory of the service: at rest, after 100,000 updates (POST /update under wrk,
32 connections, until the log holds them), then after as many refused requests (four kinds of
bad input in turn, until wrk has counted them), the traffic that used to leave errors in
reference cycles for the garbage collector (app/errors.py). Memory while serving a 1M-row
table is measured by bench/logs.py, at each table size."""

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

#: Four refusals in turn: a body that is not JSON (400), a wrong type (400), an unknown path
#: (404), a wrong key (401).
REFUSED_SCRIPT = """
wrk.method = "POST"
counter = 0
request = function()
  counter = counter + 1
  local json = {{["Content-Type"] = "application/json", ["X-API-KEY"] = "{key}"}}
  local kind = counter % 4
  if kind == 0 then return wrk.format(nil, "/update", json, '{{"counter": 1, "mess')
  elseif kind == 1 then return wrk.format(nil, "/update", json, '{{"counter": "x"}}')
  elseif kind == 2 then return wrk.format(nil, "/nowhere", json, '{{}}')
  end
  local wrong = {{["Content-Type"] = "application/json", ["X-API-KEY"] = "not-{key}"}}
  return wrk.format(nil, "/update", wrong, '{{"counter": 1, "message": "m"}}')
end
"""


def log_total(base_url: str) -> int:
    with urllib.request.urlopen(f"{base_url}/logs?limit=1", timeout=10) as answer:  # nosec B310
        total: int = json.load(answer)["total"]
        return total


def measure(workdir: Path, *, updates: int) -> dict[str, Any]:
    post = workdir / "memory-post.lua"
    post.write_text(POST_SCRIPT.format(key="bench"))
    refuse = workdir / "memory-refused.lua"
    refuse.write_text(REFUSED_SCRIPT.format(key="bench"))
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
        after = rss_mib(served.pid)[0]
        refused = 0
        while refused < updates:
            result = wrk(f"{served.base_url}/update", 5, script=refuse, strict=False)
            if result.socket_errors or result.timeouts:
                raise RuntimeError(f"refused requests went unanswered: {result}")
            refused += result.non_2xx
            logger.info("%d refused requests, %.1f MiB", refused, rss_mib(served.pid)[0])
        time.sleep(1)
        after_refused, peak = rss_mib(served.pid)
        if log_total(served.base_url) != total:
            raise RuntimeError("a refused request changed the log")
    return {
        "server": "python -m app.server",
        "at_rest_mib": at_rest,
        "after_updates_mib": after,
        "peak_mib": peak,
        "updates": total,
        "updates_per_second": total / took,
        "refused": refused,
        "after_refused_mib": after_refused,
        "samples": samples,
    }
