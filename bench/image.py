"""Figures of the image: its size, what the project adds on top of its base, the time from
``docker run`` to a healthy /health, the time ``docker stop`` takes, and the wall time of
``pytest features/`` on the local target with the image already built.

Usage: .venv/bin/python -m bench.image [--runs N] [--skip-pytest]
Prints a Markdown report on stdout (bench/image.md is one). Needs a Docker engine.
Exit codes: 0 measured; 1 a measurement failed; 3 no Docker engine answers.
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import requests

from harness.docker import CONTAINER_PORT, Docker, DockerError, choose_base_image, ensure_image
from harness.labels import PROJECT, run_labels
from harness.paths import REPO_ROOT
from harness.ports import free_port
from harness.targets.base import new_run_id

logger = logging.getLogger(__name__)

HEALTH_DEADLINE = 30.0
POLL_INTERVAL = 0.01


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def time_to_healthy(docker: Docker, image: str, run_id: str) -> tuple[float, float]:
    """Seconds from `docker run` to the first 200 on /health (read-only root, tmpfs /tmp, a
    fresh named volume on /data), and seconds `docker stop` then takes."""
    labels = run_labels(run_id)
    volume = docker.create_volume(f"{PROJECT}-{run_id}-data", labels)
    port = free_port()
    url = f"http://127.0.0.1:{port}/health"
    name = f"{PROJECT}-{run_id}"
    try:
        started = time.perf_counter()
        docker.run_container(
            image,
            name=name,
            labels=labels,
            publish=("127.0.0.1", port, CONTAINER_PORT),
            env={"API_KEY": "bench"},
            volumes={volume: "/data"},
        )
        while True:
            try:
                if requests.get(url, timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.perf_counter() - started > HEALTH_DEADLINE:
                raise DockerError(f"{url} not healthy after {HEALTH_DEADLINE:.0f}s")
            time.sleep(POLL_INTERVAL)
        healthy = time.perf_counter() - started
        started = time.perf_counter()
        docker.run("stop", "--time", "10", name, timeout=30)
        stopped = time.perf_counter() - started
        return healthy, stopped
    finally:
        docker.remove_run(run_id)


def pytest_wall_time() -> tuple[float, str]:
    """Seconds `pytest features/` takes on the local target, and its closing line."""
    started = time.perf_counter()
    completed = subprocess.run(  # nosec B603 - a fixed command, no shell
        [sys.executable, "-m", "pytest", "features/", "-q", "-p", "no:cacheprovider"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    lines = completed.stdout.strip().splitlines()
    closing = lines[-1] if lines else "(no output)"
    if completed.returncode != 0:
        raise DockerError(f"pytest features/ failed: {closing}")
    return elapsed, closing


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.image", description=__doc__)
    parser.add_argument(
        "--runs", type=int, default=5, help="containers started for the timing (default: 5)"
    )
    parser.add_argument("--skip-pytest", action="store_true", help="do not time pytest features/")
    args = parser.parse_args(argv)

    docker = Docker()
    problem = docker.engine_problem()
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 3
    try:
        base = choose_base_image(docker)
        image = ensure_image(docker, base_image=base)
        size = docker.image_size(image)
        base_size = docker.image_size(base)
        runs = [time_to_healthy(docker, image, new_run_id()) for _ in range(args.runs)]
        pytest_figures = None if args.skip_pytest else pytest_wall_time()
    except DockerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    healthy = sorted(run[0] for run in runs)
    stops = sorted(run[1] for run in runs)
    server = docker.run("version", "--format", "{{.Server.Version}}").stdout.strip()
    print(
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"(Docker engine {server}), image `{image}` on base `{base}`.\n"
    )
    print("| figure | value | goal |")
    print("|---|---|---|")
    print(f"| image size | {megabytes(size)} | — |")
    print(f"| base image size | {megabytes(base_size)} | — |")
    print(
        f"| layers the project adds on top of its base | {megabytes(size - base_size)} | < 60 MB |"
    )
    print(
        f"| `docker run` → healthy `/health` (median of {len(healthy)}; min to max) | "
        f"{statistics.median(healthy):.2f} s ({healthy[0]:.2f} to {healthy[-1]:.2f} s) | < 2 s |"
    )
    print(
        f"| `docker stop` (SIGTERM → exit; median; max) | "
        f"{statistics.median(stops):.2f} s ({stops[-1]:.2f} s) | well under the 10 s grace |"
    )
    if pytest_figures is not None:
        elapsed, closing = pytest_figures
        print(f"| `pytest features/` on `local`, image built | {elapsed:.1f} s ({closing}) | — |")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    raise SystemExit(main())
