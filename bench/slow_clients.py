"""Slow clients: more connections sending one header byte a second than the container has
file descriptors, while a normal client keeps using the service.

The image runs twice, one container at a time, each with ``--ulimit nofile=N:N`` (a low N, so
that a few hundred loopback connections are enough): once with the image's own entrypoint
(``python -m app.server``: a deadline for each request's head, a connection cap below the file
limit), once with uvicorn's defaults as the image used to start (``uvicorn app.main:app``).
Each container is measured first quiet, then under the slow clients, for the same time:

- the normal client: ``wrk -t1 -c4`` on ``GET /status`` over kept-alive connections (p99,
  requests unanswered within 5 s), and a new connection every 0.25 s asking ``GET /health``
  (a newcomer: is it served at all, and how fast);
- the slow clients: each sends ``GET /status HTTP/1.1`` and then a header one byte a second,
  and connects again as soon as the server drops it (as an attacker would); what the server
  answered them is counted;
- the container's open file descriptors, sampled during the attack.

Everything stays on 127.0.0.1 and the container this section starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from bench.common import wrk
from harness.docker import CONTAINER_PORT, Docker, DockerError, choose_base_image, ensure_image
from harness.labels import PROJECT, run_labels
from harness.ports import free_port
from harness.targets.base import new_run_id

logger = logging.getLogger(__name__)

#: (name in the report, what replaces the image's entrypoint, or None for the image's own).
CONFIGURATIONS: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("as shipped: app.server", None),
    (
        "before: uvicorn's defaults",
        ("uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", str(CONTAINER_PORT)),  # nosec B104 - inside the container
    ),
)
PROBE_INTERVAL = 0.25
PROBE_TIMEOUT = 5.0


@dataclass
class SlowTally:
    """What happened to the slow clients' connections."""

    opened: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    dropped: int = 0
    connect_failures: int = 0


async def _slow_client(host: str, port: int, stop: asyncio.Event, tally: SlowTally) -> None:
    while not stop.is_set():
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        except (OSError, TimeoutError):
            tally.connect_failures += 1
            await asyncio.sleep(1)
            continue
        tally.opened += 1
        writer.write(b"GET /status HTTP/1.1\r\nHost: bench\r\nX-Slow: ")
        read = asyncio.ensure_future(reader.read(64))
        try:
            while not stop.is_set() and not read.done():
                writer.write(b"a")
                await asyncio.wait([read], timeout=1.0)
            if read.done():
                data = read.result() if read.exception() is None else b""
                status = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else ""
                if status:
                    tally.answers[status] += 1
                else:
                    tally.dropped += 1
        except OSError:
            tally.dropped += 1
        finally:
            read.cancel()
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _attack(host: str, port: int, count: int, seconds: float, tally: SlowTally) -> None:
    async def run() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.ensure_future(_slow_client(host, port, stop, tally)) for _ in range(count)]
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(run())


def _probe(url: str, seconds: float) -> dict[str, Any]:
    """A new connection every PROBE_INTERVAL: how many were answered 200, and how fast."""
    latencies: list[float] = []
    failures = 0
    ended = time.monotonic() + seconds
    while time.monotonic() < ended:
        started = time.perf_counter()
        try:
            answered = requests.get(url, timeout=PROBE_TIMEOUT, headers={"Connection": "close"})
            if answered.status_code == 200:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                failures += 1
        except requests.RequestException:
            failures += 1
        time.sleep(PROBE_INTERVAL)
    latencies.sort()
    return {
        "answered": len(latencies),
        "failed": failures,
        "median_ms": statistics.median(latencies) if latencies else None,
        "max_ms": latencies[-1] if latencies else None,
    }


def _open_files(docker: Docker, name: str) -> int:
    out = docker.run("exec", name, "sh", "-c", "ls /proc/1/fd | wc -l", timeout=30).stdout
    return int(out.strip())


def _phase(docker: Docker, name: str, port: int, seconds: float, slow: int) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    tally = SlowTally()
    attack = threading.Thread(
        target=_attack, args=("127.0.0.1", port, slow, seconds + 2, tally), daemon=True
    )
    probe_result: dict[str, Any] = {}
    probe = threading.Thread(
        target=lambda: probe_result.update(_probe(f"{base}/health", seconds)), daemon=True
    )
    open_files: list[int] = []
    load = os.getloadavg()[0]
    if slow:
        attack.start()
        time.sleep(2)  # the slow clients connect first
    probe.start()
    sampler_stop = threading.Event()

    def sample() -> None:
        while not sampler_stop.wait(2):
            with contextlib.suppress(DockerError, ValueError):
                open_files.append(_open_files(docker, name))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    normal = wrk(f"{base}/status", seconds, connections=4, timeout=PROBE_TIMEOUT, strict=False)
    probe.join()
    sampler_stop.set()
    sampler.join()
    if slow:
        attack.join()
    return {
        "load": load,
        "normal": {
            "rps": normal.rps,
            "p50_ms": normal.p50_ms,
            "p99_ms": normal.p99_ms,
            "timeouts": normal.timeouts,
            "socket_errors": normal.socket_errors,
            "non_2xx": normal.non_2xx,
        },
        "newcomers": probe_result,
        "slow": {
            "opened": tally.opened,
            "answers": dict(tally.answers),
            "dropped": tally.dropped,
            "connect_failures": tally.connect_failures,
        },
        "open_files_max": max(open_files) if open_files else None,
    }


def measure(*, seconds: float, slow: int = 500, nofile: int = 256) -> dict[str, Any]:
    docker = Docker()
    image = ensure_image(docker, base_image=choose_base_image(docker))
    report: dict[str, Any] = {
        "image": image,
        "seconds": seconds,
        "slow_clients": slow,
        "nofile": nofile,
        "configurations": {},
    }
    for label, entrypoint in CONFIGURATIONS:
        run_id = new_run_id()
        name = f"{PROJECT}-{run_id}"
        port = free_port()
        args = ["run", "--detach", "--name", name, "--read-only", "--tmpfs", "/tmp"]  # nosec B108
        for key, value in run_labels(run_id).items():
            args += ["--label", f"{key}={value}"]
        args += ["--ulimit", f"nofile={nofile}:{nofile}"]
        args += ["--publish", f"127.0.0.1:{port}:{CONTAINER_PORT}"]
        if entrypoint is not None:
            args += ["--entrypoint", entrypoint[0], image, *entrypoint[1:]]
        else:
            args.append(image)
        try:
            docker.run(*args, timeout=60)
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(requests.RequestException):
                    if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok:
                        break
                if time.monotonic() > deadline:
                    raise DockerError(f"{label}: not healthy after 60 s")
                time.sleep(0.1)
            phases = {}
            for phase, count in (("quiet", 0), ("under slow clients", slow)):
                phases[phase] = _phase(docker, name, port, seconds, count)
                logger.info("slow clients, %s, %s: %s", label, phase, phases[phase])
            report["configurations"][label] = phases
        finally:
            docker.remove_run(run_id)
    return report
