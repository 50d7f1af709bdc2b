"""The harness's own speed: wall time of ``pytest features/`` on the process and local targets,
one process and ``-n 2`` (pytest-xdist, a deployment per worker), interleaved and repeated; and,
optionally, the README's test command from a fresh clone, stage by stage (bootstrap of the
virtual environments, static checks, tests and scenarios) with the ten slowest tests."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, Spread

logger = logging.getLogger(__name__)

CONFIGURATIONS = {
    "process": ["--target=process"],
    "process, -n 2": ["--target=process", "-n", "2"],
    "local": ["--target=local"],
    "local, -n 2": ["--target=local", "-n", "2"],
}


def run_pytest(args: list[str], cwd: Path = REPO_ROOT) -> tuple[float, str]:
    """Seconds a pytest run took, and its closing line; fails if the run failed."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    started = time.perf_counter()
    completed = subprocess.run(  # nosec B603 - our own interpreter, fixed arguments
        command, cwd=cwd, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    lines = completed.stdout.strip().splitlines()
    closing = lines[-1].strip("= ") if lines else "(no output)"
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stdout[-3000:]}")
    return elapsed, closing


def measure_features(*, rounds: int) -> dict[str, Any]:
    # One run first, not timed: the local target builds the image if this tree's is missing.
    run_pytest(["features/", "--target=local", "-x"])
    times: dict[str, list[float]] = {name: [] for name in CONFIGURATIONS}
    closing: dict[str, str] = {}
    for _ in range(rounds):
        for name, args in CONFIGURATIONS.items():
            elapsed, closing[name] = run_pytest(["features/", *args])
            times[name].append(elapsed)
            logger.info("pytest features/ %s: %.1fs (%s)", name, elapsed, closing[name])
    return {
        name: {
            "seconds": Spread.of(values).as_dict(),
            "closing": closing[name],
        }
        for name, values in times.items()
    } | {
        "speed_up": {
            target: Spread.of(
                [
                    one / many
                    for one, many in zip(times[target], times[f"{target}, -n 2"], strict=True)
                ]
            ).as_dict()
            for target in ("process", "local")
        }
    }


#: The lines scripts/test.sh prints as it moves from one stage to the next, and the stage
#: each one begins (the static checks begin with the script). The rehearsal starts with the
#: script and runs beside the first two stages; the third is what is left of it.
FIRST_STAGE = "static checks (scripts/lint.sh, incl. .venv-checkov), the rehearsal beside"
STAGE_MARKERS = (
    ("== tests and scenarios", "tests and scenarios but the rehearsal, the rehearsal beside"),
    ("== the cloud path's rehearsal (", "the rest of the rehearsal (pytest -n 3), alone"),
    ("== report", "the report (Allure, the summary)"),
)


def measure_fresh_clone() -> dict[str, Any]:
    """The README's test command (scripts/test.sh) in a fresh clone of HEAD, stage by stage,
    as the script itself announces its stages; then the slowest tests of its pytest runs."""
    with tempfile.TemporaryDirectory(prefix="state-api-clone-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(  # nosec B603 B607 - git from PATH, fixed arguments
            ["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True
        )
        env = {k: v for k, v in os.environ.items() if k not in ("VENV", "CHECKOV_VENV")}
        stages: dict[str, float] = {}
        started = time.perf_counter()
        subprocess.run(  # nosec B603 - the clone's own script
            ["scripts/bootstrap.sh"], cwd=clone, env=env, check=True, capture_output=True
        )
        stages["bootstrap: .venv from requirements-dev.txt"] = time.perf_counter() - started
        logger.info(
            "fresh clone, bootstrap: %.1fs", stages["bootstrap: .venv from requirements-dev.txt"]
        )
        output: list[str] = []
        stage = FIRST_STAGE
        started = time.perf_counter()
        with subprocess.Popen(  # nosec B603 - the clone's own script
            ["scripts/test.sh"],
            cwd=clone,
            env={**env, "PYTEST_ADDOPTS": "--durations=10"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                output.append(line.rstrip())
                for marker, next_stage in STAGE_MARKERS:
                    if line.startswith(marker):
                        stages[stage] = time.perf_counter() - started
                        logger.info("fresh clone, %s: %.1fs", stage, stages[stage])
                        stage, started = next_stage, time.perf_counter()
        stages[stage] = time.perf_counter() - started
    text = "\n".join(output)
    slowest = re.findall(r"^([\d.]+)s (call|setup|teardown)\s+(\S+)$", text, re.MULTILINE)
    closings = re.findall(r"^=+ (.*(?:passed|failed|error).*?) =+$", text, re.MULTILINE)
    return {
        "stages_s": stages,
        "total_s": sum(stages.values()),
        # A failing test is part of the figure, not a reason to lose it: the closing lines say.
        "closing": "; ".join(closings),
        "exit_code": process.returncode,
        "failed": re.findall(r"^FAILED (\S+)", text, re.MULTILINE),
        "slowest": sorted(((float(s), phase, test) for s, phase, test in slowest), reverse=True)[
            :10
        ],
    }
