"""Requests per second of the service, relative to a bare FastAPI app measured in the same run.

Both run as one uvicorn worker on 127.0.0.1, loaded by wrk (Debian's ``wrk`` package) with one
thread and 32 connections. Machines drift, so only the ratios mean anything across machines:

    python -m bench.throughput --seconds 10

The baseline has the same two routes with nothing behind them: ``GET /status`` returns a
constant, ``POST /update`` parses a JSON body into a pydantic model and returns it. The
service adds the API-key check, validation, the body-size and access-log middleware, and for
an update a fsynced SQLite write (``SQLITE_SYNCHRONOUS=FULL``, the default) under one lock.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from harness.ports import free_port
from harness.readiness import wait_for_health

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-key-0123456789abcdef"

BASELINE = """
from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()

class Update(BaseModel):
    counter: int | None = None
    message: str | None = None

@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}

@app.get("/status")
def status() -> dict[str, object]:
    return {"state": {"counter": 0, "message": "initial"}}

@app.post("/update")
def update(body: Update) -> Update:
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


@contextmanager
def uvicorn(app: str, workdir: Path, env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--log-level", "warning"]
    with (workdir / f"{port}.log").open("wb") as log:
        process = subprocess.Popen(  # nosec B603 - a fixed command, no shell
            command, cwd=workdir, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_for_health(base_url, timeout=30)
            yield base_url
        finally:
            process.terminate()
            process.wait(timeout=10)


def wrk(url: str, seconds: int, script: Path | None = None) -> float:
    """Requests per second, or an error if any request failed or answered non-2xx."""
    command = ["wrk", "-t1", "-c32", f"-d{seconds}s"]
    if script is not None:
        command += ["-s", str(script)]
    result = subprocess.run(  # nosec B603 B607 - wrk from PATH, fixed arguments
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    )
    if "Non-2xx" in result.stdout or "Socket errors" in result.stdout:
        raise RuntimeError(f"wrk saw errors:\n{result.stdout}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if match is None:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{result.stdout}")
    return float(match.group(1))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        logger.error("wrk is not installed: apt-get install -y wrk")
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "baseline.py").write_text(BASELINE)
        post = workdir / "post.lua"
        post.write_text(POST_SCRIPT.format(key=KEY))
        service_env = {
            "DATABASE_PATH": str(workdir / "logs.db"),
            "API_KEY": KEY,
            "PYTHONPATH": str(REPO_ROOT),
        }
        results: dict[str, dict[str, float]] = {}
        for name, app, env in (
            ("baseline", "baseline:app", {}),
            ("service", "app.main:app", service_env),
        ):
            with uvicorn(app, workdir, env) as base_url:
                results[name] = {
                    "GET /status": wrk(f"{base_url}/status", args.seconds),
                    "POST /update": wrk(f"{base_url}/update", args.seconds, post),
                }
    report = {
        route: {
            "baseline req/s": round(results["baseline"][route]),
            "service req/s": round(results["service"][route]),
            "service / baseline": round(results["service"][route] / results["baseline"][route], 2),
        }
        for route in results["baseline"]
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    raise SystemExit(main())
