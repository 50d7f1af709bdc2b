"""The package index this machine's pip uses, for pip inside ``docker build``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

from harness.docker.cli import QUICK


def pip_build_args(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The package index this machine's pip uses, as build arguments for the builder stage.

    Read at run time from the environment or ``pip config``, never written into the
    repository. Only http(s) indexes are passed: a ``file://`` index or a local directory on
    the host does not exist inside ``docker build``. Nothing is passed when pip uses its
    default index.
    """
    environ = os.environ if environ is None else environ
    args: dict[str, str] = {}
    for variable, key in (
        ("PIP_INDEX_URL", "global.index-url"),
        ("PIP_EXTRA_INDEX_URL", "global.extra-index-url"),
    ):
        value = environ.get(variable) or _pip_config(key)
        urls = [url for url in value.split() if url.startswith(("http://", "https://"))]
        if variable == "PIP_INDEX_URL":
            urls = urls[:1]
        if urls:
            args[variable] = " ".join(urls)
    return args


def _pip_config(key: str) -> str:
    try:
        completed = subprocess.run(  # nosec B603 - a fixed command, no shell
            [sys.executable, "-m", "pip", "config", "get", key],
            capture_output=True,
            text=True,
            timeout=QUICK,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return completed.stdout.strip() if completed.returncode == 0 else ""
