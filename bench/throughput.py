"""Requests per second of the service against a bare FastAPI app, measured side by side.

All apps run at once, each as one uvicorn worker on 127.0.0.1 (the service as it ships,
``python -m app.server``; the bare app by ``python -m uvicorn``);
wrk (one thread, the same connections) loads one route of one app at a time, and the rounds
interleave the apps so that whatever else runs on the machine falls on all of them alike.
Each round gives a ratio (service / baseline of that round); the report is their median and
spread, with wrk's p50 and p99 latency beside the req/s.

Baselines: the bare app's routes are ``async def`` like the service's (faster than ``def``
ones, which run in a thread pool), so the bar is the fastest bare route. The headline baseline
runs on uvicorn's defaults (so it writes uvicorn's access line per request, as the service
writes its own); a second one runs with ``--no-access-log``.
"""

from __future__ import annotations

import itertools
import logging
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import API_KEY, Served, Spread, WrkResult, serve, wrk

logger = logging.getLogger(__name__)

BARE_APP = """
from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Update(BaseModel):
    counter: int | None = None
    message: str | None = None


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/status")
async def status() -> dict[str, object]:
    return {"state": {"counter": 0, "message": "initial"}}


@app.post("/update")
async def update(body: Update) -> Update:
    return body
"""

POST_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-KEY"] = "{key}"
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, '{{"counter": ' .. counter .. ', "message": "bench"}}')
end
"""

#: (name in the report, uvicorn app, extra uvicorn arguments, extra environment). The service
#: runs as it ships (``python -m app.server``: app is ""). The last one only shows what the
#: service's access line costs: LOG_LEVEL=WARNING turns it off.
APPS: tuple[tuple[str, str, tuple[str, ...], dict[str, str]], ...] = (
    ("bare", "bare_app:app", (), {}),
    ("bare, no access log", "bare_app:app", ("--no-access-log",), {}),
    ("service", "", (), {}),
    ("service, no access log", "", (), {"LOG_LEVEL": "WARNING"}),
)
ROUTES = ("GET /status", "POST /update")


@dataclass
class RouteFigures:
    runs: dict[str, list[WrkResult]]

    def ratios(self, of: str, to: str) -> Spread:
        return Spread.of([a.rps / b.rps for a, b in zip(self.runs[of], self.runs[to], strict=True)])


def measure(workdir: Path, *, rounds: int, seconds: float) -> dict[str, Any]:
    (workdir / "bare_app.py").write_text(BARE_APP)
    post = workdir / "post.lua"
    post.write_text(POST_SCRIPT.format(key=API_KEY))
    service_env = {
        "DATABASE_PATH": str(workdir / "throughput.db"),
        "API_KEY": API_KEY,
        "SQLITE_SYNCHRONOUS": "FULL",
    }
    figures = {route: RouteFigures({name: [] for name, *_ in APPS}) for route in ROUTES}
    with ExitStack() as stack:
        servers: dict[str, Served] = {}
        for name, app, extra, extra_env in APPS:
            label = name.replace(" ", "-").replace(",", "")
            env = {}
            module = "uvicorn"
            if not app:
                env = {**service_env, "DATABASE_PATH": str(workdir / f"{label}.db"), **extra_env}
                module = "app.server"
            servers[name] = stack.enter_context(
                serve(app, workdir, env, extra, name=label, module=module)
            )
        order = [name for name, *_ in APPS]
        for round_number in range(rounds):
            # Rotate who goes first, so no app always runs right after another.
            shift = round_number % len(order)
            for name, route in itertools.product(order[shift:] + order[:shift], ROUTES):
                method, path = route.split()
                script = post if method == "POST" else None
                result = wrk(f"{servers[name].base_url}{path}", seconds, script=script)
                figures[route].runs[name].append(result)
                logger.info("round %d %s %s: %.0f req/s", round_number + 1, name, route, result.rps)
    report: dict[str, Any] = {"rounds": rounds, "seconds": seconds, "routes": {}}
    for route, route_figures in figures.items():
        report["routes"][route] = {
            name: {
                "rps": Spread.of([r.rps for r in runs]).as_dict(),
                "p50_ms": Spread.of([r.p50_ms for r in runs]).as_dict(),
                "p99_ms": Spread.of([r.p99_ms for r in runs]).as_dict(),
            }
            for name, runs in route_figures.runs.items()
        }
        report["routes"][route]["ratio"] = route_figures.ratios("service", "bare").as_dict()
        report["routes"][route]["ratio_no_access_log"] = route_figures.ratios(
            "service", "bare, no access log"
        ).as_dict()
        report["routes"][route]["ratio_neither_logs"] = route_figures.ratios(
            "service, no access log", "bare, no access log"
        ).as_dict()
    return report
