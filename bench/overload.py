"""Overload: does any request starve at 1,000 connections?

``wrk -t2 -c1000 --timeout 5s --latency`` on ``GET /status`` against one process of the
service, beside ``wrk -t2 -c32`` on the same process in the same round (the throughput a
thousand connections should keep). Three servers run at once and the rounds interleave them:

- *before*: ``python -m uvicorn app.main:app`` with uvicorn's defaults (uvloop, httptools),
  the command the service was started with until app/server.py;
- *the interpreter's GC thresholds*: app.server without its garbage-collector setting
  (``bench/interpreter_gc_server.py``), the baseline of ``YOUNG_GC_THRESHOLD``;
- *as shipped*: ``python -m app.server``, the command of the image, scripts/run.sh and the
  process target.

Goal: no request unanswered within 5 s, p99 at most 0.5 s at 1,000 connections, and their
req/s at least 0.9 of the req/s at 32. Each server's peak resident memory (VmHWM) is kept
too. The 1-minute load average is kept beside every run:
wrk, the server and everything else on the machine share its cores.
"""

from __future__ import annotations

import logging
import os
import resource
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.common import Served, Spread, WrkResult, rss_mib, serve, wrk

logger = logging.getLogger(__name__)

#: (name in the report, uvicorn app or "", the module run with -m).
SERVERS = (
    ("before: uvicorn's defaults", "app.main:app", "uvicorn"),
    ("app.server, the interpreter's GC thresholds", "", "bench.interpreter_gc_server"),
    ("as shipped: app.server", "", "app.server"),
)
MANY = 1000
FEW = 32
WRK_TIMEOUT = 5.0


def measure(workdir: Path, *, rounds: int, seconds: float) -> dict[str, Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < MANY + 100:
        # wrk runs as our child and needs a descriptor per connection too.
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    runs: dict[str, dict[str, list[WrkResult]]] = {
        name: {"few": [], "many": []} for name, *_ in SERVERS
    }
    loads: dict[str, list[float]] = {name: [] for name, *_ in SERVERS}
    with ExitStack() as stack:
        servers: dict[str, Served] = {}
        for name, app, module in SERVERS:
            label = "overload-" + module.replace(".", "-")
            env = {"DATABASE_PATH": str(workdir / f"{label}.db")}
            servers[name] = stack.enter_context(serve(app, workdir, env, name=label, module=module))
        order = [name for name, *_ in SERVERS]
        for round_number in range(rounds):
            shift = round_number % len(order)
            for name in order[shift:] + order[:shift]:
                url = f"{servers[name].base_url}/status"
                loads[name].append(os.getloadavg()[0])
                few = wrk(url, seconds / 2, connections=FEW, threads=2, timeout=WRK_TIMEOUT)
                many = wrk(
                    url,
                    seconds,
                    connections=MANY,
                    threads=2,
                    timeout=WRK_TIMEOUT,
                    strict=False,
                )
                runs[name]["few"].append(few)
                runs[name]["many"].append(many)
                logger.info(
                    "round %d %s: %.0f req/s at %d, %.0f at %d (p99 %.0f ms, %d timeouts)",
                    round_number + 1,
                    name,
                    few.rps,
                    FEW,
                    many.rps,
                    MANY,
                    many.p99_ms,
                    many.timeouts,
                )
        # The collector's setting trades memory for time: what each server held at most.
        peak_mib = {name: rss_mib(served.pid)[1] for name, served in servers.items()}
    report: dict[str, Any] = {
        "rounds": rounds,
        "seconds": seconds,
        "connections": [FEW, MANY],
        "servers": {},
    }
    for name, by_level in runs.items():
        few_runs, many_runs = by_level["few"], by_level["many"]
        report["servers"][name] = {
            "rps_few": Spread.of([r.rps for r in few_runs]).as_dict(),
            "rps_many": Spread.of([r.rps for r in many_runs]).as_dict(),
            "ratio": Spread.of(
                [m.rps / f.rps for m, f in zip(many_runs, few_runs, strict=True)]
            ).as_dict(),
            "p50_ms_many": Spread.of([r.p50_ms for r in many_runs]).as_dict(),
            "p99_ms_many": Spread.of([r.p99_ms for r in many_runs]).as_dict(),
            "p99_ms_few": Spread.of([r.p99_ms for r in few_runs]).as_dict(),
            "timeouts": [r.timeouts for r in many_runs],
            "socket_errors": [r.socket_errors for r in many_runs],
            "non_2xx": [r.non_2xx for r in many_runs],
            "load": loads[name],
            "peak_rss_mib": peak_mib[name],
        }
    return report
