"""Start-up: ``docker run`` to the first answered /health, beside the floors under it, measured
in the same run: ``docker run`` of the image doing nothing (the engine's own cost), Python
importing FastAPI alone and the whole service inside the image, and an import-time profile
(``python -X importtime``) of the service in the image."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.common import Spread
from bench.image import time_to_healthy
from harness.docker import Docker, choose_base_image, ensure_image
from harness.targets.base import new_run_id

logger = logging.getLogger(__name__)


def hyperfine(commands: dict[str, str], runs: int) -> dict[str, dict[str, float]]:
    """Seconds per run of each command (hyperfine, interleaved is not its way: one after the
    other, each with a warm-up run)."""
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "hyperfine.json"
        names = list(commands)
        command = ["hyperfine", "--style", "none", "-N", "--warmup", "1", "--runs", str(runs)]
        command += ["--export-json", str(export)]
        for name in names:
            command += ["--command-name", name, commands[name]]
        subprocess.run(command, check=True, capture_output=True, text=True)  # nosec B603
        results = json.loads(export.read_text())["results"]
    return {name: Spread.of(r["times"]).as_dict() for name, r in zip(names, results, strict=True)}


def import_profile(image: str, top: int = 12) -> list[tuple[str, float, float]]:
    """The slowest imports of ``import app.main`` in the image: (module, cumulative ms, own ms),
    the median of three runs."""
    runs: list[dict[str, tuple[float, float]]] = []
    for _ in range(3):
        command = ["docker", "run", "--rm", "--read-only", "--entrypoint", "python3", image]
        command += ["-X", "importtime", "-c", "import app.main"]
        completed = subprocess.run(  # nosec B603 B607 - docker from PATH, fixed arguments
            command,
            capture_output=True,
            text=True,
            check=True,
        )
        found: dict[str, tuple[float, float]] = {}
        for line in completed.stderr.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
            if match:
                own, cumulative, _, module = match.groups()
                found[module] = (int(cumulative) / 1000, int(own) / 1000)
        runs.append(found)
    modules = set.intersection(*(set(run) for run in runs))
    median = {
        m: (sorted(r[m][0] for r in runs)[1], sorted(r[m][1] for r in runs)[1]) for m in modules
    }
    ranked = sorted(median.items(), key=lambda item: -item[1][0])[:top]
    return [(module, cumulative, own) for module, (cumulative, own) in ranked]


def measure(*, runs: int) -> dict[str, Any]:
    docker = Docker()
    image = ensure_image(docker, base_image=choose_base_image(docker))
    healthy = []
    for _ in range(runs):
        healthy.append(time_to_healthy(docker, image, new_run_id())[0])
    run = f"docker run --rm --read-only --entrypoint python3 {image}"
    floors = hyperfine(
        {
            "docker run, python3 -c pass": f"{run} -c pass",
            "docker run, import fastapi": f"{run} -c 'import fastapi'",
            "docker run, import app.main": f"{run} -c 'import app.main'",
        },
        runs,
    )
    return {
        "image": image,
        "run_to_healthy_s": Spread.of(healthy).as_dict(),
        "floors_s": floors,
        "import_profile_ms": import_profile(image),
    }
