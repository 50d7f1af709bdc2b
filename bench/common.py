"""What every benchmark shares: real uvicorn servers on loopback, wrk, resident memory, the
statistics of repeated runs, and the tools from Debian."""

from __future__ import annotations

import logging
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness import processes
from harness.ports import free_port
from harness.readiness import wait_for_health

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
API_KEY = "bench-key-0123456789abcdef"
#: Debian packages the benchmarks run, by the command each provides.
DEBIAN_TOOLS = {"wrk": "wrk", "hyperfine": "hyperfine"}


def ensure_tools(*commands: str) -> None:
    """Install the Debian packages of ``commands`` that are missing (needs root and apt)."""
    missing = [DEBIAN_TOOLS[c] for c in commands if shutil.which(c) is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SystemExit(
            f"missing {', '.join(missing)}: sudo apt-get install -y {' '.join(missing)}"
        )
    logger.warning("installing %s from Debian", " ".join(missing))
    subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True)  # nosec B603 B607


@dataclass(frozen=True)
class Served:
    """A running uvicorn: where it answers, and its process id."""

    base_url: str
    pid: int


@contextmanager
def serve(
    app: str,
    workdir: Path,
    env: dict[str, str] | None = None,
    extra_args: Sequence[str] = (),
    name: str = "server",
    module: str = "uvicorn",
) -> Iterator[Served]:
    """``uvicorn APP`` on a free 127.0.0.1 port, one worker, its output in workdir/NAME.log;
    with ``module="app.server"`` (and ``app=""``), the service as it ships (app/server.py)."""
    port = free_port()
    command = [sys.executable, "-m", module, *([app] if app else [])]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    command += list(extra_args)
    full_env = {**os.environ, "PYTHONPATH": f"{workdir}:{REPO_ROOT}", **(env or {})}
    with (workdir / f"{name}.log").open("wb") as log:
        process = subprocess.Popen(  # nosec B603 - a fixed command, no shell
            command, cwd=workdir, env=full_env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_for_health(base_url, timeout=60, still_alive=lambda: process.poll() is None)
            yield Served(base_url, process.pid)
        finally:
            processes.stop(process, timeout=30)


def rss_mib(pid: int) -> tuple[float, float]:
    """Resident memory of a process now, and its peak, in MiB (from /proc)."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


@dataclass(frozen=True)
class WrkResult:
    """Requests per second and latency percentiles of one wrk run; with ``strict=False``,
    also what went wrong (requests unanswered within wrk's timeout, socket errors, non-2xx
    answers)."""

    rps: float
    p50_ms: float
    p99_ms: float
    timeouts: int = 0
    socket_errors: int = 0
    non_2xx: int = 0


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


def wrk(
    url: str,
    seconds: float,
    *,
    connections: int = 32,
    script: Path | None = None,
    threads: int = 1,
    timeout: float | None = None,
    strict: bool = True,
) -> WrkResult:
    """One wrk run; with ``strict``, fails if any request failed or answered non-2xx, else
    counts them. ``timeout``: wrk's own (seconds; a request unanswered by then is counted as
    a timeout)."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    if timeout is not None:
        command += ["--timeout", f"{timeout:g}s"]
    if script is not None:
        command += ["-s", str(script)]
    result = subprocess.run(  # nosec B603 B607 - wrk from PATH, fixed arguments
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    )
    out = result.stdout
    if strict and ("Non-2xx" in out or "Socket errors" in out):
        raise RuntimeError(f"wrk saw errors:\n{out}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    if rps is None or p50 is None or p99 is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    return WrkResult(
        float(rps.group(1)),
        _ms(p50.group(1)),
        _ms(p99.group(1)),
        timeouts=int(errors.group(4)) if errors else 0,
        socket_errors=sum(int(errors.group(i)) for i in (1, 2, 3)) if errors else 0,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
    )


@dataclass(frozen=True)
class Spread:
    """The median of repeated measurements, and their lowest and highest."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values), len(values))

    def show(self, fmt: str = "{:.2f}") -> str:
        return f"{fmt.format(self.median)} ({fmt.format(self.low)} to {fmt.format(self.high)})"

    def as_dict(self) -> dict[str, float]:
        return {"median": self.median, "low": self.low, "high": self.high, "n": self.n}


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return one, five, fifteen


def interleaved_ms(
    calls: Mapping[str, Callable[[], object]], *, repeats: int, warmup: int
) -> dict[str, list[float]]:
    """Milliseconds per call of each kind: ``warmup`` rounds not counted, then ``repeats``
    rounds, every kind once a round, in a new order each round (a cheap call right after a
    costly one is not always the same one: a deep page evicts caches the next call refills)."""
    order = list(calls)
    shuffle = random.Random(20261127).shuffle  # nosec B311 - an order, not a secret
    times: dict[str, list[float]] = {kind: [] for kind in calls}
    for round_number in range(warmup + repeats):
        shuffle(order)
        for kind in order:
            started = time.perf_counter()
            calls[kind]()
            if round_number >= warmup:
                times[kind].append((time.perf_counter() - started) * 1000)
    return times
