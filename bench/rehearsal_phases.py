"""Where a rehearsed deployment's time goes: one nested ``pytest --target=aws --rehearse``
session (``features/test_status.py``) against an emulator of its own, every line it prints
stamped with the seconds since the emulator was asked to start. The report keeps the lines
that mark a phase (init, apply, the instance's creation, the first boot, the delivery,
/health, destroy, the teardown check). Nothing here sends a request anywhere but 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT
from harness.rehearsal.emulator import Emulator

FEATURE = "features/test_status.py"
#: The lines kept: where each phase begins or ends.
MARKERS = re.compile(
    r"terraform (init|apply|destroy|output)|Read complete after [1-9]\d*s|"
    r"aws_instance\.api: (Creation|Destruction) complete|Apply complete|Destroy complete|"
    r"first boot|sent the application|healthy:|instance ended|teardown verified|"
    r"\d+ passed|failed"
)


def measure() -> dict[str, Any]:
    started = time.monotonic()
    lines: list[tuple[float, str]] = []
    with Emulator() as emulator, tempfile.TemporaryDirectory(prefix="bench-rehearsal-") as tmp:
        lines.append((time.monotonic() - started, f"emulator up at {emulator.url}"))
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("AWS_", "TF_LOG", "PYTEST_"))
        }
        command = [sys.executable, "-m", "pytest", FEATURE, "--target=aws", "--rehearse"]
        command += [f"--emulator-url={emulator.url}", "--region=us-east-1"]
        command += [f"--runs-dir={Path(tmp) / 'runs'}", "--teardown-timeout=10"]
        command += ["-p", "no:cacheprovider", "-q"]
        with subprocess.Popen(  # nosec B603 - our own interpreter, fixed arguments
            command,
            cwd=REPO_ROOT,
            env={**env, "PYTHONDONTWRITEBYTECODE": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as session:
            assert session.stdout is not None
            for line in session.stdout:
                if MARKERS.search(line):
                    lines.append((time.monotonic() - started, line.strip()[:160]))
        if session.returncode != 0:
            raise RuntimeError(f"the rehearsed session failed (exit {session.returncode})")
    return {
        "feature": FEATURE,
        "total_s": time.monotonic() - started,
        "lines": lines,
    }
