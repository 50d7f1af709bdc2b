"""A small driver of the Docker command line: the image, containers, volumes and networks the
harness makes, all labelled with the project and the run's id.

It drives the ``docker`` client with subprocess (no SDK): every call is bounded by a timeout,
so a missing or hung engine fails fast instead of hanging a test run. The client may be newer
than the engine (a Docker 28 client beside Debian's 20.10 engine): it negotiates the API
version by itself.

The base image is decided here and only here (:func:`choose_base_image`): the Dockerfile's
default (the official slim Python image) when it is present or can be pulled, else a local
Debian base made by ``scripts/build_base_image.sh``. ``.ci/run`` and the ``local`` target both
ask this module (``python -m harness.docker base-image``).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import TargetError
from harness.naming import PROJECT

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = "Dockerfile"
BUILD_BASE_SCRIPT = REPO_ROOT / "scripts" / "build_base_image.sh"

#: The image built from this repository; its tag is a hash of what goes into it.
IMAGE_REPOSITORY = PROJECT
#: The base made from Debian packages where no registry can be reached.
LOCAL_BASE_IMAGE = f"{PROJECT}-base:bookworm"
#: The port the service listens on inside the container.
CONTAINER_PORT = 5000

#: Labels on everything the harness creates: the same keys as the AWS tags.
LABEL_PROJECT = "Project"
LABEL_RUN_ID = "RunId"
LABEL_MANAGED_BY = "ManagedBy"
MANAGED_BY = "harness"

#: What the Dockerfile copies (besides itself): must match its COPY lines and .dockerignore.
IMAGE_INPUTS = ("requirements.txt", "app")
#: Never part of the image (.dockerignore), so never part of its content hash.
IGNORED_PARTS = ("__pycache__",)
IGNORED_SUFFIXES = (".pyc", ".pyo", ".pyd")

#: Images of this repository kept (newest first) when a new one is built; older ones go.
KEEP_IMAGES = 3

QUICK = 10.0
"""Seconds for a call that should answer at once (inspect, ls, rm)."""
BUILD_TIMEOUT = 900.0
PULL_TIMEOUT = 120.0
ENGINE_TIMEOUT = 5.0


class DockerError(TargetError):
    """A docker command failed; the message says which and why."""


class EngineUnavailable(DockerError):
    """No Docker engine answers (or no docker client is installed)."""


HOW_TO_START_AN_ENGINE = (
    "start one with 'sudo scripts/ensure_docker.sh', or run the scenarios without a "
    "container with --target=process"
)


@dataclass(frozen=True)
class Labels:
    """The labels of one run's resources."""

    run_id: str
    project: str = PROJECT
    managed_by: str = MANAGED_BY

    def as_dict(self) -> dict[str, str]:
        return {
            LABEL_PROJECT: self.project,
            LABEL_RUN_ID: self.run_id,
            LABEL_MANAGED_BY: self.managed_by,
        }


@dataclass(frozen=True)
class Leftovers:
    """Resources that carry a run's id."""

    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.containers or self.volumes or self.networks)

    def describe(self) -> list[str]:
        return (
            [f"container {name}" for name in self.containers]
            + [f"volume {name}" for name in self.volumes]
            + [f"network {name}" for name in self.networks]
        )


def image_files(root: Path = REPO_ROOT) -> list[Path]:
    """The Dockerfile and every file it copies, in a fixed order: what the image is made of."""
    paths = [root / DOCKERFILE]
    for name in IMAGE_INPUTS:
        path = root / name
        if path.is_dir():
            paths += sorted(p for p in path.rglob("*") if p.is_file() and _in_image(p))
        else:
            paths.append(path)
    return paths


def content_hash(root: Path = REPO_ROOT, *, extra: Iterable[str] = ()) -> str:
    """A hash of the Dockerfile and every file it copies (plus ``extra`` strings such as the
    base image): an unchanged tree gives the same hash, so its image can be reused."""
    digest = hashlib.sha256()
    for path in image_files(root):
        relative = path.relative_to(root).as_posix()
        content = path.read_bytes()
        # Length-prefixed, so that moving bytes between a name and a content changes the hash.
        for part in (relative.encode(), content):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    for text in extra:
        digest.update(b"extra")
        digest.update(len(text).to_bytes(8, "big"))
        digest.update(text.encode())
    return digest.hexdigest()


def _in_image(path: Path) -> bool:
    return not any(part in IGNORED_PARTS for part in path.parts) and (
        path.suffix not in IGNORED_SUFFIXES
    )


def image_tag(root: Path = REPO_ROOT, *, base_image: str) -> str:
    """The tag of the image built from ``root`` on ``base_image``."""
    return f"{IMAGE_REPOSITORY}:{content_hash(root, extra=[base_image])[:16]}"


def dockerfile_default_base(root: Path = REPO_ROOT) -> str:
    """The default of the Dockerfile's ``ARG BASE_IMAGE``: the one place it is written."""
    text = (root / DOCKERFILE).read_text()
    match = re.search(r"^ARG\s+BASE_IMAGE=(\S+)\s*$", text, re.MULTILINE)
    if match is None:
        raise DockerError(f"{root / DOCKERFILE} has no 'ARG BASE_IMAGE=...' line")
    return match.group(1)


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


class Docker:
    """The ``docker`` command line, every call bounded by a timeout."""

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable or shutil.which("docker") or "docker"
        # The classic builder: what Debian's 20.10 engine offers without the buildx plugin,
        # and what a client without buildx falls back to anyway. Set explicitly so that a
        # client that defaults to BuildKit does not fail for want of buildx.
        self.env = {**os.environ, "DOCKER_BUILDKIT": "0"}

    def run(
        self,
        *args: str,
        timeout: float = QUICK,
        check: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        command = [self.executable, *args]
        logger.debug("running %s", " ".join(command))
        try:
            completed = subprocess.run(  # nosec B603 - a fixed executable, no shell
                command,
                capture_output=True,
                text=True,
                timeout=timeout,
                env={**self.env, **(env or {})},
                check=False,
            )
        except FileNotFoundError as exc:
            raise EngineUnavailable(
                f"no docker client ({self.executable}): {HOW_TO_START_AN_ENGINE}"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise DockerError(
                f"'docker {' '.join(args[:2])}' took more than {timeout:.0f}s"
            ) from exc
        if check and completed.returncode != 0:
            raise DockerError(
                f"'docker {' '.join(args[:2])}' failed ({completed.returncode}): "
                f"{completed.stderr.strip()[-2000:]}"
            )
        return completed

    # -- the engine -------------------------------------------------------------------------

    def engine_problem(self, timeout: float = ENGINE_TIMEOUT) -> str | None:
        """Why no engine answers, or None when one does. Never waits more than ``timeout``."""
        try:
            completed = self.run(
                "version", "--format", "{{.Server.Version}}", timeout=timeout, check=False
            )
        except EngineUnavailable:
            return f"no docker client is installed ({self.executable})"
        except DockerError:
            return f"the Docker engine did not answer within {timeout:.0f}s"
        if completed.returncode != 0 or not completed.stdout.strip():
            last_line = (completed.stderr.strip().splitlines() or ["no answer"])[-1]
            return f"no Docker engine answers ({last_line})"
        return None

    def engine_available(self, timeout: float = ENGINE_TIMEOUT) -> bool:
        """Whether an engine answers, within ``timeout`` seconds."""
        return self.engine_problem(timeout) is None

    def require_engine(self) -> None:
        """EngineUnavailable, with one line saying what to do, unless an engine answers."""
        problem = self.engine_problem()
        if problem is not None:
            raise EngineUnavailable(f"{problem}: {HOW_TO_START_AN_ENGINE}")

    # -- images -----------------------------------------------------------------------------

    def image_exists(self, reference: str) -> bool:
        return self.run("image", "inspect", reference, check=False).returncode == 0

    def pull(self, reference: str, timeout: float = PULL_TIMEOUT) -> bool:
        """Pull ``reference``; False (logged) when it cannot be pulled in time."""
        try:
            completed = self.run("pull", "--quiet", reference, timeout=timeout, check=False)
        except DockerError as exc:
            logger.info("could not pull %s: %s", reference, exc)
            return False
        if completed.returncode != 0:
            logger.info("could not pull %s: %s", reference, completed.stderr.strip())
            return False
        return True

    def build(
        self,
        context: Path,
        tag: str,
        *,
        build_args: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        timeout: float = BUILD_TIMEOUT,
    ) -> None:
        args = ["build", "--quiet", "--tag", tag]
        for key, value in (build_args or {}).items():
            args += ["--build-arg", f"{key}={value}"]
        for key, value in (labels or {}).items():
            args += ["--label", f"{key}={value}"]
        self.run(*args, str(context), timeout=timeout)

    def prune_images(self, repository: str, *, keep: int) -> None:
        """Remove all but the ``keep`` newest tags of ``repository``; one that a container
        still uses stays (the engine refuses, which is fine)."""
        listed = self.run("image", "ls", repository, "--format", "{{.Repository}}:{{.Tag}}")
        for reference in self._listed(listed.stdout)[keep:]:
            completed = self.run("image", "rm", reference, timeout=60.0, check=False)
            if completed.returncode == 0:
                logger.info("removed the old image %s", reference)

    def image_size(self, reference: str) -> int:
        return int(self.run("image", "inspect", reference, "--format", "{{.Size}}").stdout)

    # -- containers, volumes, networks ------------------------------------------------------

    def create_volume(self, name: str, labels: Mapping[str, str]) -> str:
        args = ["volume", "create"]
        for key, value in labels.items():
            args += ["--label", f"{key}={value}"]
        return self.run(*args, name).stdout.strip()

    def create_network(self, name: str, labels: Mapping[str, str]) -> str:
        args = ["network", "create", "--driver", "bridge"]
        for key, value in labels.items():
            args += ["--label", f"{key}={value}"]
        self.run(*args, name)
        return name

    def run_container(
        self,
        image: str,
        *,
        name: str,
        labels: Mapping[str, str],
        publish: tuple[str, int, int] | None = None,
        env: Mapping[str, str] | None = None,
        volumes: Mapping[str, str] | None = None,
        network: str | None = None,
        read_only: bool = True,
    ) -> str:
        """Start a detached container; returns its id. ``publish`` is (host ip, host port,
        container port)."""
        args = ["run", "--detach", "--name", name]
        for key, value in labels.items():
            args += ["--label", f"{key}={value}"]
        if publish is not None:
            host, host_port, container_port = publish
            args += ["--publish", f"{host}:{host_port}:{container_port}"]
        for key in env or {}:
            # The value goes through the environment of the docker client, not its argv, so
            # that a key never shows in `ps`.
            args += ["--env", key]
        for source, target in (volumes or {}).items():
            args += ["--volume", f"{source}:{target}"]
        if network is not None:
            args += ["--network", network]
        if read_only:
            args += ["--read-only", "--tmpfs", "/tmp"]  # nosec B108 - the container's own tmpfs
        args.append(image)
        return self.run(*args, timeout=60.0, env=env).stdout.strip()

    def logs(self, container: str, tail: int = 200) -> str:
        completed = self.run("logs", "--tail", str(tail), container, check=False)
        return (completed.stdout + completed.stderr).strip()

    def restart(self, container: str, stop_timeout: int = 10) -> None:
        self.run("restart", "--time", str(stop_timeout), container, timeout=stop_timeout + 30)

    def running(self, container: str) -> bool:
        completed = self.run(
            "container", "inspect", "--format", "{{.State.Running}}", container, check=False
        )
        return completed.returncode == 0 and completed.stdout.strip() == "true"

    def inspect(self, container: str) -> dict[str, Any]:
        """``docker container inspect``, as a dict."""
        data = json.loads(self.run("container", "inspect", container).stdout)
        result: dict[str, Any] = data[0]
        return result

    def remove_container(self, container: str, stop_timeout: int = 10) -> None:
        """Stop (SIGTERM, then SIGKILL after ``stop_timeout``; 0: SIGKILL at once) and remove;
        gone is fine."""
        if stop_timeout > 0:
            completed = self.run(
                "stop",
                "--time",
                str(stop_timeout),
                container,
                timeout=stop_timeout + 30,
                check=False,
            )
            if completed.returncode != 0 and not _is_gone(completed.stderr):
                logger.warning("could not stop %s: %s", container, completed.stderr.strip())
        completed = self.run("rm", "--force", "--volumes", container, timeout=60.0, check=False)
        if completed.returncode != 0 and not _is_gone(completed.stderr):
            raise DockerError(f"removing container {container}: {completed.stderr.strip()}")

    def remove_volume(self, name: str) -> None:
        completed = self.run("volume", "rm", "--force", name, timeout=30.0, check=False)
        if completed.returncode != 0 and not _is_gone(completed.stderr):
            raise DockerError(f"removing volume {name}: {completed.stderr.strip()}")

    def remove_network(self, name: str) -> None:
        completed = self.run("network", "rm", name, timeout=30.0, check=False)
        if completed.returncode != 0 and not _is_gone(completed.stderr):
            raise DockerError(f"removing network {name}: {completed.stderr.strip()}")

    def containers(self, labels: Mapping[str, str], *, running_only: bool = False) -> list[str]:
        """Names of the containers carrying all ``labels``, newest first."""
        args = ["ps", "--format", "{{.Names}}"]
        if not running_only:
            args.append("--all")
        return self._listed(self.run(*args, *_label_filters(labels)).stdout)

    def volumes(self, labels: Mapping[str, str]) -> list[str]:
        args = ["volume", "ls", "--format", "{{.Name}}", *_label_filters(labels)]
        return self._listed(self.run(*args).stdout)

    def networks(self, labels: Mapping[str, str]) -> list[str]:
        args = ["network", "ls", "--format", "{{.Name}}", *_label_filters(labels)]
        return self._listed(self.run(*args).stdout)

    def leftovers(self, run_id: str) -> Leftovers:
        """Everything that still carries ``run_id``."""
        labels = {LABEL_RUN_ID: run_id}
        return Leftovers(self.containers(labels), self.volumes(labels), self.networks(labels))

    def remove_run(
        self,
        run_id: str,
        *,
        containers: Sequence[str] = (),
        volumes: Sequence[str] = (),
        networks: Sequence[str] = (),
        stop_timeout: int = 10,
    ) -> None:
        """Remove the named resources and anything else labelled with ``run_id``, containers
        first (a volume or a network in use cannot go). Already gone is fine."""
        found = self.leftovers(run_id)
        for container in dict.fromkeys([*containers, *found.containers]):
            self.remove_container(container, stop_timeout=stop_timeout)
        for volume in dict.fromkeys([*volumes, *found.volumes]):
            self.remove_volume(volume)
        for network in dict.fromkeys([*networks, *found.networks]):
            self.remove_network(network)

    @staticmethod
    def _listed(output: str) -> list[str]:
        return [line.strip() for line in output.splitlines() if line.strip()]


def _label_filters(labels: Mapping[str, str]) -> list[str]:
    filters: list[str] = []
    for key, value in labels.items():
        filters += ["--filter", f"label={key}={value}"]
    return filters


def _is_gone(stderr: str) -> bool:
    text = stderr.lower()
    # "already in progress": a container started with --rm is being removed by the engine.
    return "no such" in text or "not found" in text or "already in progress" in text


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
            f"make it with 'sudo {BUILD_BASE_SCRIPT.relative_to(REPO_ROOT)}'"
        )
    _say(progress, f"making {LOCAL_BASE_IMAGE} from Debian packages (about a minute, once)")
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


def _say(progress: Callable[[str], None] | None, line: str) -> None:
    """Tell a long step: to the caller's terminal when given one, always to the log."""
    logger.info("%s", line)
    if progress is not None:
        progress(line)


def ensure_image(
    docker: Docker,
    *,
    root: Path = REPO_ROOT,
    base_image: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> str:
    """The service's image for the tree at ``root``: reused when one with the same content
    hash exists, built otherwise. Returns its tag.

    One process at a time: pytest-xdist workers each start a deployment, and all but the first
    to arrive wait here for its build, then reuse the image."""
    with _build_lock():
        base = base_image or choose_base_image(docker, root=root, progress=progress)
        tag = image_tag(root, base_image=base)
        if docker.image_exists(tag):
            logger.info("reusing image %s (nothing it is built from changed)", tag)
            return tag
        build_args = {"BASE_IMAGE": base, **pip_build_args()}
        _say(progress, f"building image {tag} on {base} (its inputs changed or it is new)")
        docker.build(root, tag, build_args=build_args, labels={LABEL_PROJECT: PROJECT})
        docker.prune_images(IMAGE_REPOSITORY, keep=KEEP_IMAGES)
        return tag


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    """An exclusive lock, across processes, on building the project's images."""
    path = Path(tempfile.gettempdir()) / f"{PROJECT}-image-build.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def clean(docker: Docker, *, run_id: str | None, every_run: bool) -> int:
    """Remove one run's resources (or every run's); exit code 2 when neither is named."""
    if every_run:
        labels = {LABEL_PROJECT: PROJECT, LABEL_MANAGED_BY: MANAGED_BY}
        run_ids = {
            docker.run(
                "inspect", "--format", f'{{{{index .Config.Labels "{LABEL_RUN_ID}"}}}}', name
            ).stdout.strip()
            for name in docker.containers(labels)
        }
        run_ids |= {
            docker.run(
                "volume", "inspect", "--format", f'{{{{index .Labels "{LABEL_RUN_ID}"}}}}', name
            ).stdout.strip()
            for name in docker.volumes(labels)
        }
        run_ids |= {
            docker.run(
                "network", "inspect", "--format", f'{{{{index .Labels "{LABEL_RUN_ID}"}}}}', name
            ).stdout.strip()
            for name in docker.networks(labels)
        }
    elif run_id:
        run_ids = {run_id}
    else:
        print("error: clean needs --run-id RUN or --all", file=sys.stderr)
        return 2
    for each in sorted(run_ids - {""}):
        docker.remove_run(each)
        print(f"removed what carried {LABEL_RUN_ID}={each}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``base-image``: print the base image to build on (making the local one if needed).
    ``image``: print the tag of the service's image, building it if needed.
    ``engine``: exit 0 when an engine answers, 1 (with the reason) otherwise.
    ``clean``: remove every container, volume and network labelled with --run-id (or, with
    --all, every one the harness made)."""
    parser = argparse.ArgumentParser(prog="python -m harness.docker", description=main.__doc__)
    parser.add_argument(
        "command",
        choices=["base-image", "image", "engine", "clean"],
        help="what to do (see above)",
    )
    parser.add_argument("--run-id", help="clean: the run whose resources to remove")
    parser.add_argument(
        "--all", action="store_true", help="clean: every run's resources the harness made"
    )
    parser.add_argument(
        "--no-build-base",
        action="store_true",
        help="fail instead of making the local base image when the default cannot be pulled",
    )
    args = parser.parse_args(argv)
    docker = Docker()
    try:
        if args.command == "engine":
            docker.require_engine()
            return 0
        docker.require_engine()
        if args.command == "clean":
            return clean(docker, run_id=args.run_id, every_run=args.all)
        base = choose_base_image(docker, build_if_missing=not args.no_build_base)
        print(base if args.command == "base-image" else ensure_image(docker, base_image=base))
    except DockerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    raise SystemExit(main())
