"""Where the service's time goes under load: py-spy samples the service (only the thread
holding the GIL, so waiting is left out) while wrk loads one route. The report gives the share
of samples spent in each package's own code (the frame a sample was taken in), and the frames
most often on the stack."""

from __future__ import annotations

import collections
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from bench.common import API_KEY, serve, wrk
from bench.throughput import POST_SCRIPT

#: Frames every request passes through in uvicorn's and asyncio's own loop: left out.
_PLUMBING = (
    "click/",
    "uvicorn:",
    "uvicorn/main.py",
    "uvicorn/__main__.py",
    "uvicorn/server.py",
    "_compat.py",
    "runners.py",
    "runpy",
    "threading.py",
)


def _package(frame: str) -> str:
    """``f (fastapi/routing.py:12)`` -> ``fastapi``; the standard library by module."""
    where = frame.rpartition(" (")[2].rstrip(")")
    path = where.rpartition(":")[0]
    if path.startswith("app/") or "/app/" in path:
        return "app (the service)"
    first = path.split("/")[0]
    return first.removesuffix(".py") or "(native)"


def by_package(raw: Path) -> list[tuple[float, str]]:
    """(share of samples, package) by the frame each sample was taken in."""
    total = 0
    own: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        own[_package(stack.split(";")[-1])] += int(count)
    return [(n / total, package) for package, n in own.most_common(12)]


def top_frames(raw: Path, top: int) -> list[tuple[float, str]]:
    """(share of samples, frame) of the frames most often on the stack."""
    total = 0
    inclusive: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        for frame in set(stack.split(";")):
            inclusive[frame] += n
    ranked = [
        (n / total, frame)
        for frame, n in inclusive.most_common()
        if frame and not any(p in frame for p in _PLUMBING)
    ]
    return ranked[:top]


def measure(workdir: Path, *, seconds: float = 8, top: int = 25) -> dict[str, Any]:
    post = workdir / "profile-post.lua"
    post.write_text(POST_SCRIPT.format(key=API_KEY))
    env = {"DATABASE_PATH": str(workdir / "profile.db"), "API_KEY": API_KEY}
    report: dict[str, Any] = {}
    py_spy = Path(sys.executable).parent / "py-spy"
    with serve("app.main:app", workdir, env, name="profile") as served:
        for route, path, script in (
            ("GET /status", "/status", None),
            ("POST /update", "/update", post),
        ):
            load = threading.Thread(
                target=wrk, args=(served.base_url + path, seconds + 2), kwargs={"script": script}
            )
            load.start()
            raw = workdir / f"profile-{path.strip('/')}.txt"
            command = [str(py_spy), "record", "--pid", str(served.pid)]
            command += ["--duration", str(int(seconds)), "--rate", "250", "--gil"]
            command += ["--nonblocking", "--format", "raw", "--output", str(raw)]
            # py-spy beside our interpreter, fixed arguments
            subprocess.run(command, check=True, capture_output=True)  # nosec B603
            load.join()
            report[route] = {"packages": by_package(raw), "frames": top_frames(raw, top)}
    return report
