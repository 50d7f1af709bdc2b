"""``python -m bench SECTION``: measure, keep the figures in bench/results.json, and write
bench/RESULTS.md and bench/growth.png from them.

Sections: throughput (the service beside a bare FastAPI app), growth (GET /logs, memory and
throughput at 1k, 100k and 1M rows), memory (100,000 updates), overload (1,000 connections
beside 32), slow-clients (a container under more slow clients than its file limit), startup
(docker run to /health, and its floors), profile (py-spy under load), harness (pytest's own
wall time; with --fresh-clone, the README's test command from a fresh clone), all (every one,
in that order), rehearsal-phases (one rehearsed deployment, phase by phase), report (only
re-render RESULTS.md and growth.png).

Exit codes: 0 measured and written; 1 a measurement failed; 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import shlex
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import (
    harness_speed,
    logs,
    memory,
    overload,
    profile,
    rehearsal_phases,
    report,
    slow_clients,
    startup,
    throughput,
)
from bench.common import ensure_tools, load_average

logger = logging.getLogger("bench")

SECTIONS = (
    "throughput",
    "growth",
    "memory",
    "overload",
    "slow-clients",
    "startup",
    "profile",
    "harness",
    "rehearsal-phases",
)


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    meminfo = Path("/proc/meminfo").read_text()
    total_kib = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))  # type: ignore[union-attr]

    def version_of(command: list[str]) -> str:
        try:
            out = subprocess.run(  # nosec B603 - fixed tool names from PATH
                command, capture_output=True, text=True, timeout=30, check=False
            )
        except OSError:
            return "(not installed)"
        return (out.stdout or out.stderr).strip().splitlines()[0]

    packages = ("fastapi", "starlette", "uvicorn", "pydantic", "uvloop", "httptools")
    return {
        "cores": str(os.cpu_count()),
        "memory": f"{total_kib / 2**20:.1f} GiB",
        "CPU": model.group(1).strip() if model else platform.processor(),
        "kernel": platform.release(),
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
        "packages": ", ".join(f"{p} {metadata.version(p)}" for p in packages),
        "wrk": version_of(["wrk", "-v"]),
        "hyperfine": version_of(["hyperfine", "--version"]),
        "Docker engine": version_of(["docker", "version", "--format", "{{.Server.Version}}"]),
    }


def run_section(name: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    quick = args.quick
    runners: dict[str, Callable[[], dict[str, Any]]] = {
        "throughput": lambda: throughput.measure(
            workdir, rounds=2 if quick else 5, seconds=2 if quick else 5
        ),
        "growth": lambda: logs.measure(
            workdir,
            sizes=(1_000, 10_000) if quick else (1_000, 100_000, 1_000_000),
            repeats=20 if quick else 100,
            seconds=2 if quick else 3,
            rounds=1 if quick else 3,
        ),
        "memory": lambda: memory.measure(workdir, updates=2_000 if quick else 100_000),
        "overload": lambda: overload.measure(
            workdir, rounds=1 if quick else 5, seconds=5 if quick else 20
        ),
        "slow-clients": lambda: slow_clients.measure(seconds=15 if quick else 40),
        "rehearsal-phases": rehearsal_phases.measure,
        "startup": lambda: startup.measure(runs=2 if quick else 5),
        "profile": lambda: {"routes": profile.measure(workdir, seconds=3 if quick else 8)},
        "harness": lambda: {
            "features": harness_speed.measure_features(rounds=1 if quick else 2),
            **({"fresh_clone": harness_speed.measure_fresh_clone()} if args.fresh_clone else {}),
        },
    }
    before = load_average()
    started = datetime.now(UTC)
    figures = runners[name]()
    command = f"{report.ENTRY} {name}" + (" --quick" if quick else "")
    if name == "harness" and args.fresh_clone:
        command += " --fresh-clone"
    return {
        **figures,
        "command": command,
        "when": f"{started:%Y-%m-%d %H:%M} UTC",
        "load_before": before,
        "load_after": load_average(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("section", choices=[*SECTIONS, "all", "report"], help="what to measure")
    parser.add_argument("--quick", action="store_true", help="small sizes and short runs")
    parser.add_argument(
        "--fresh-clone",
        action="store_true",
        help="harness: also time scripts/test.sh's stages in a fresh clone (slow)",
    )
    parser.add_argument(
        "--max-load",
        type=float,
        default=None,
        help="refuse to start while the 1-minute load average is above this",
    )
    args = parser.parse_args(argv)
    if args.max_load is not None and load_average()[0] > args.max_load:
        print(f"error: load average {load_average()[0]:.2f} > {args.max_load}", file=sys.stderr)
        return 1
    results: dict[str, Any] = (
        json.loads(report.RESULTS_JSON.read_text()) if report.RESULTS_JSON.exists() else {}
    )
    sections = SECTIONS if args.section == "all" else (args.section,)
    if args.section != "report":
        ensure_tools("wrk", "hyperfine")
        results["machine"] = machine()
        with tempfile.TemporaryDirectory(prefix="state-api-bench-") as tmp:
            for name in sections:
                logger.info("== %s", name)
                try:
                    results[name] = run_section(name, args, Path(tmp))
                except Exception as exc:
                    logger.error("%s failed: %s", name, exc)
                    return 1
                report.RESULTS_JSON.write_text(json.dumps(results, indent=1) + "\n")
    report.plot(results)
    report.RESULTS_MD.write_text(report.render(results))
    print(f"wrote {report.RESULTS_MD} ({shlex.join(sys.argv)})")
    return 0


if __name__ == "__main__":
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    raise SystemExit(main())
