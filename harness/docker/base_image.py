"""The base image to build on, decided here and only here: the Dockerfile's default (the
official slim Python image) when it is present or can be pulled, else a local Debian base made
by ``build_base_image.sh`` beside this file (the only way where no registry answers).
``.ci/run`` and the ``local`` target both ask this module (``python -m harness.docker
base-image``).
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from harness.docker.cli import BUILD_TIMEOUT, Docker, DockerError
from harness.labels import PROJECT
from harness.paths import REPO_ROOT

logger = logging.getLogger(__name__)

DOCKERFILE = "Dockerfile"
#: Makes LOCAL_BASE_IMAGE from Debian packages (debootstrap, as root).
BUILD_BASE_SCRIPT = Path(__file__).resolve().with_name("build_base_image.sh")
#: The base made from Debian packages where no registry can be reached.
LOCAL_BASE_IMAGE = f"{PROJECT}-base:bookworm"


def dockerfile_default_base(root: Path = REPO_ROOT) -> str:
    """The default of the Dockerfile's ``ARG BASE_IMAGE``: the one place it is written."""
    text = (root / DOCKERFILE).read_text()
    match = re.search(r"^ARG\s+BASE_IMAGE=(\S+)\s*$", text, re.MULTILINE)
    if match is None:
        raise DockerError(f"{root / DOCKERFILE} has no 'ARG BASE_IMAGE=...' line")
    return match.group(1)


#: Images a pull already failed for, in this process.
_UNPULLABLE: set[str] = set()


def choose_base_image(
    docker: Docker,
    *,
    build_if_missing: bool = True,
    root: Path = REPO_ROOT,
    progress: Callable[[str], None] | None = None,
) -> str:
    """The base image to build on: the Dockerfile's default when present or pullable (the
    normal path), else the local Debian base, made now if it is missing and allowed."""
    default = dockerfile_default_base(root)
    if docker.image_exists(default):
        return default
    if default not in _UNPULLABLE:
        if docker.pull(default):
            logger.info("pulled %s", default)
            return default
        _UNPULLABLE.add(default)  # asked once per process: a registry that said no says no
    logger.info("%s cannot be pulled: using the local base %s", default, LOCAL_BASE_IMAGE)
    if docker.image_exists(LOCAL_BASE_IMAGE):
        return LOCAL_BASE_IMAGE
    if not build_if_missing:
        raise DockerError(
            f"{default} cannot be pulled and {LOCAL_BASE_IMAGE} does not exist: "
            "make it with 'sudo scripts/build_base_image.sh'"
        )
    say(progress, f"making {LOCAL_BASE_IMAGE} from Debian packages (about a minute, once)")
    try:
        completed = subprocess.run(  # nosec B603 B607 - our own script, bash from PATH
            ["bash", str(BUILD_BASE_SCRIPT), LOCAL_BASE_IMAGE],
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise DockerError(f"{BUILD_BASE_SCRIPT.name} took more than {BUILD_TIMEOUT:.0f}s") from exc
    if completed.returncode != 0:
        raise DockerError(
            f"{default} cannot be pulled and {BUILD_BASE_SCRIPT.name} failed: "
            f"{completed.stderr.strip()[-2000:]}"
        )
    return LOCAL_BASE_IMAGE


def say(progress: Callable[[str], None] | None, line: str) -> None:
    """Tell a long step: to the caller's terminal when given one, always to the log."""
    logger.info("%s", line)
    if progress is not None:
        progress(line)
